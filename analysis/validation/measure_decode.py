"""Measure real decode (and prefill) time and energy per token of GPT/LLaMA-shaped models.

Runs on a GPU (CUDA) or the CPU with random weights (nothing is downloaded), in three ways
people run a model:

- ``graph``: one whole decode step captured once as a CUDA graph and replayed (the way
  TensorRT-LLM / vLLM-style engines run decode; GPU only);
- ``eager``: the same decode step in plain PyTorch, each kernel launched from Python
  (torch.nn.functional ops, scaled_dot_product_attention, a static KV cache);
- ``hf``: Hugging Face transformers' own model code (GPT2LMHeadModel / LlamaForCausalLM built
  from a config, random init), eager, with its KV cache, as many papers measured baselines.

A decode step at context c attends over c positions (the cache holds c - 1, plus the new one).
`graph` and `eager` time the step at exactly context c (replayed at the same position);
`hf` decodes `--steps` tokens after a c - 1-token prefill and reports the mean. Energy per
token comes from NVML's total-energy counter over a loop of at least `--energy-seconds`.

    python analysis/validation/measure_decode.py --device cuda --models gpt2-xl,llama-2-7b \\
        --runtimes graph,eager,hf --contexts 128,1024 --out results.json

The model shapes are the ones pimsim ships (workloads/*.yaml), written out here so the script
runs without pimsim installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Shape:
    name: str
    family: str  # gpt2 (LayerNorm, GELU, biases, learned positions, tied head) | llama
    layers: int
    d_model: int
    heads: int
    kv_heads: int
    d_ffn: int
    vocab: int
    max_context: int

    @property
    def d_head(self) -> int:
        return self.d_model // self.heads


SHAPES = {
    s.name: s
    for s in (
        Shape("gpt2-small", "gpt2", 12, 768, 12, 12, 3072, 50257, 1024),
        Shape("gpt2-medium", "gpt2", 24, 1024, 16, 16, 4096, 50257, 1024),
        Shape("gpt2-large", "gpt2", 36, 1280, 20, 20, 5120, 50257, 1024),
        Shape("gpt2-xl", "gpt2", 48, 1600, 25, 25, 6400, 50257, 1024),
        Shape("gpt3-small", "gpt2", 12, 768, 12, 12, 3072, 50257, 2048),
        Shape("gpt3-medium", "gpt2", 24, 1024, 16, 16, 4096, 50257, 2048),
        Shape("gpt3-large", "gpt2", 24, 1536, 16, 16, 6144, 50257, 2048),
        Shape("gpt3-xl", "gpt2", 24, 2048, 16, 16, 8192, 50257, 2048),
        Shape("tinyllama-1.1b", "llama", 22, 2048, 32, 4, 5632, 32000, 2048),
        Shape("llama-2-7b", "llama", 32, 4096, 32, 32, 11008, 32000, 4096),
        Shape("llama-3-8b", "llama", 32, 4096, 32, 8, 14336, 128256, 8192),
    )
}


# ---------------------------------------------------------------------------------------------
# a plain PyTorch decoder with a static KV cache (eager and graph)


class Decoder:
    """Random weights for `shape`, a static KV cache for `batch` x `max_ctx` positions, and a
    decode step written with torch.nn.functional (one kernel launch per op)."""

    def __init__(self, shape: Shape, batch: int, max_ctx: int, device, dtype) -> None:
        self.s, self.batch, self.device, self.dtype = shape, batch, device, dtype
        d, h, kvh, dh, f = shape.d_model, shape.heads, shape.kv_heads, shape.d_head, shape.d_ffn
        gen = torch.Generator(device=device).manual_seed(0)

        def w(*size):
            return (torch.randn(*size, generator=gen, device=device) * 0.02).to(dtype)

        gpt = shape.family == "gpt2"
        self.tok = w(shape.vocab, d)
        self.pos = w(shape.max_context, d) if gpt else None
        self.layers = []
        for _ in range(shape.layers):
            layer = {
                "n1": torch.ones(d, device=device, dtype=dtype),
                "qkv": w((h + 2 * kvh) * dh, d),
                "o": w(d, h * dh),
                "n2": torch.ones(d, device=device, dtype=dtype),
            }
            if gpt:
                layer.update(
                    b1=torch.zeros(d, device=device, dtype=dtype),
                    b2=torch.zeros(d, device=device, dtype=dtype),
                    qkv_b=torch.zeros((h + 2 * kvh) * dh, device=device, dtype=dtype),
                    o_b=torch.zeros(d, device=device, dtype=dtype),
                    fc1=w(f, d),
                    fc1_b=torch.zeros(f, device=device, dtype=dtype),
                    fc2=w(d, f),
                    fc2_b=torch.zeros(d, device=device, dtype=dtype),
                )
            else:
                layer.update(gate_up=w(2 * f, d), down=w(d, f))
            self.layers.append(layer)
        self.nf = torch.ones(d, device=device, dtype=dtype)
        self.head = self.tok if gpt else w(shape.vocab, d)
        cache = (shape.layers, 2, batch, kvh, max_ctx, dh)
        self.cache = torch.zeros(cache, device=device, dtype=dtype)
        if not gpt:
            inv = 1.0 / (10000 ** (torch.arange(0, dh, 2, dtype=torch.float32) / dh))
            ang = torch.arange(max_ctx, dtype=torch.float32)[:, None] * inv[None, :]
            self.cos = ang.cos().to(device=device, dtype=dtype)
            self.sin = ang.sin().to(device=device, dtype=dtype)
        self.ids = torch.zeros(batch, 1, dtype=torch.long, device=device)

    def _rope(self, x, pos: int):
        x1, x2 = x[..., ::2], x[..., 1::2]
        c, s = self.cos[pos], self.sin[pos]
        return torch.stack((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1).flatten(-2)

    def _attention_out_and_ffn(self, x, att, p):
        """The layer after attention: output projection and residual, norm, FFN, residual."""
        s = self.s
        if s.family == "gpt2":
            x = x + F.linear(att, p["o"], p["o_b"])
            y = F.layer_norm(x, (s.d_model,), p["n2"], p["b2"])
            y = F.gelu(F.linear(y, p["fc1"], p["fc1_b"]), approximate="tanh")
            return x + F.linear(y, p["fc2"], p["fc2_b"])
        x = x + F.linear(att, p["o"])
        y = F.rms_norm(x, (s.d_model,), p["n2"])
        gate, up = F.linear(y, p["gate_up"]).chunk(2, dim=-1)
        return x + F.linear(F.silu(gate) * up, p["down"])

    def step(self, pos: int):
        """One decode step of every sequence at position `pos` (attends over pos + 1)."""
        s, b = self.s, self.batch
        h, kvh, dh = s.heads, s.kv_heads, s.d_head
        gpt = s.family == "gpt2"
        x = F.embedding(self.ids, self.tok)
        if gpt:
            x = x + self.pos[pos]
        for i, p in enumerate(self.layers):
            if gpt:
                y = F.layer_norm(x, (s.d_model,), p["n1"], p["b1"])
                qkv = F.linear(y, p["qkv"], p["qkv_b"])
            else:
                y = F.rms_norm(x, (s.d_model,), p["n1"])
                qkv = F.linear(y, p["qkv"])
            q, k, v = qkv.split((h * dh, kvh * dh, kvh * dh), dim=-1)
            q = q.view(b, 1, h, dh).transpose(1, 2)
            k = k.view(b, 1, kvh, dh).transpose(1, 2)
            v = v.view(b, 1, kvh, dh).transpose(1, 2)
            if not gpt:
                q, k = self._rope(q, pos), self._rope(k, pos)
            self.cache[i, 0, :, :, pos : pos + 1] = k
            self.cache[i, 1, :, :, pos : pos + 1] = v
            keys = self.cache[i, 0, :, :, : pos + 1]
            values = self.cache[i, 1, :, :, : pos + 1]
            att = F.scaled_dot_product_attention(q, keys, values, enable_gqa=kvh != h)
            x = self._attention_out_and_ffn(x, att.transpose(1, 2).reshape(b, 1, h * dh), p)
        x = F.layer_norm(x, (s.d_model,), self.nf) if gpt else F.rms_norm(x, (s.d_model,), self.nf)
        return F.linear(x, self.head)

    def prefill(self, tokens: int):
        """One forward pass over `tokens` prompt positions of every sequence (causal)."""
        s, b = self.s, self.batch
        h, kvh, dh = s.heads, s.kv_heads, s.d_head
        gpt = s.family == "gpt2"
        ids = torch.zeros(b, tokens, dtype=torch.long, device=self.device)
        x = F.embedding(ids, self.tok)
        if gpt:
            x = x + self.pos[:tokens]
        for i, p in enumerate(self.layers):
            y = (
                F.layer_norm(x, (s.d_model,), p["n1"], p["b1"])
                if gpt
                else F.rms_norm(x, (s.d_model,), p["n1"])
            )
            qkv = F.linear(y, p["qkv"], p["qkv_b"]) if gpt else F.linear(y, p["qkv"])
            q, k, v = qkv.split((h * dh, kvh * dh, kvh * dh), dim=-1)
            q = q.view(b, tokens, h, dh).transpose(1, 2)
            k = k.view(b, tokens, kvh, dh).transpose(1, 2)
            v = v.view(b, tokens, kvh, dh).transpose(1, 2)
            self.cache[i, 0, :, :, :tokens] = k
            self.cache[i, 1, :, :, :tokens] = v
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=kvh != h)
            x = self._attention_out_and_ffn(x, att.transpose(1, 2).reshape(b, tokens, h * dh), p)
        last = x[:, -1:]
        last = (
            F.layer_norm(last, (s.d_model,), self.nf)
            if gpt
            else F.rms_norm(last, (s.d_model,), self.nf)
        )
        return F.linear(last, self.head)


# ---------------------------------------------------------------------------------------------
# timing and energy


class Energy:
    """NVML's total-energy counter of GPU 0 (mJ), or nothing."""

    def __init__(self, device: str) -> None:
        self.handle = None
        if device != "cuda":
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self.driver = pynvml.nvmlSystemGetDriverVersion()
        except Exception as exc:  # noqa: BLE001 (a measurement without energy still counts)
            print(f"no NVML energy: {exc}", file=sys.stderr)

    def read_j(self) -> float | None:
        if self.handle is None:
            return None
        return self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1000.0


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


REPEATS = 1  # timed loops per point (--repeats): the median is reported, all are kept


def time_loop(fn, device: str, steps: int, energy: Energy, min_s: float) -> dict:
    """Median over REPEATS loops of the mean seconds per call of `fn` over `steps` (after 3
    warm-ups), and joules per call over a loop of at least `min_s` seconds."""
    for _ in range(3):
        fn()
    _sync(device)
    loops = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        _sync(device)
        loops.append((time.perf_counter() - t0) / steps)
    per_call = float(sorted(loops)[len(loops) // 2])
    out = {"s_per_call": per_call, "timed_calls": steps, "s_per_call_loops": loops}
    if energy.handle is not None:
        calls = max(steps, math.ceil(min_s / max(per_call, 1e-6)))
        e0, t0 = energy.read_j(), time.perf_counter()
        for _ in range(calls):
            fn()
        _sync(device)
        e1, t1 = energy.read_j(), time.perf_counter()
        out.update(
            j_per_call=(e1 - e0) / calls,
            energy_calls=calls,
            mean_power_W=(e1 - e0) / (t1 - t0),
            s_per_call_energy_loop=(t1 - t0) / calls,
        )
    return out


def measure_static(shape, runtime, batch, context, args, energy) -> dict:
    dtype = torch.float16 if args.device == "cuda" else getattr(torch, args.cpu_dtype)
    model = Decoder(shape, batch, context + 8, args.device, dtype)
    pos = context - 1  # attends over `context` positions
    with torch.inference_mode():
        if runtime == "eager":
            fn = lambda: model.step(pos)  # noqa: E731
        else:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    model.step(pos)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                model.step(pos)
            fn = graph.replay
        result = time_loop(fn, args.device, args.steps, energy, args.energy_seconds)
    return result


def measure_prefill(shape, batch, tokens, args, energy) -> dict:
    dtype = torch.float16 if args.device == "cuda" else getattr(torch, args.cpu_dtype)
    model = Decoder(shape, batch, tokens + 8, args.device, dtype)
    with torch.inference_mode():
        result = time_loop(
            lambda: model.prefill(tokens), args.device, max(2, args.steps // 8), energy, 1.0
        )
    return result


def _hf_model(shape: Shape, device, dtype):
    import transformers

    if shape.family == "gpt2":
        cfg = transformers.GPT2Config(
            n_layer=shape.layers,
            n_embd=shape.d_model,
            n_head=shape.heads,
            n_inner=shape.d_ffn,
            vocab_size=shape.vocab,
            n_positions=shape.max_context + 64,  # (room for the timed steps past the context)
        )
        cls = transformers.GPT2LMHeadModel
    else:
        cfg = transformers.LlamaConfig(
            num_hidden_layers=shape.layers,
            hidden_size=shape.d_model,
            num_attention_heads=shape.heads,
            num_key_value_heads=shape.kv_heads,
            intermediate_size=shape.d_ffn,
            vocab_size=shape.vocab,
            max_position_embeddings=shape.max_context + 64,
        )
        cls = transformers.LlamaForCausalLM
    torch.manual_seed(0)
    with torch.device(device):
        model = cls(cfg).to(dtype)
    return model.eval()


def energy_loop(fn, fresh, per_call: float, args, energy: Energy) -> dict:
    """Joules per call of `fn` over a loop of at least `--energy-seconds` (`fresh` rewinds a
    growing KV cache every `--steps` calls), with the loop's mean power and pace; {} without
    an energy counter."""
    if energy.handle is None:
        return {}
    calls = max(args.steps, math.ceil(args.energy_seconds / per_call))
    done, e0, t0 = 0, energy.read_j(), time.perf_counter()
    while done < calls:
        if fresh:
            fresh()
        for _ in range(min(args.steps, calls - done)):
            fn()
            done += 1
    _sync(args.device)
    e1, t1 = energy.read_j(), time.perf_counter()
    return {
        "j_per_call": (e1 - e0) / calls,
        "energy_calls": calls,
        "mean_power_W": (e1 - e0) / (t1 - t0),
        "s_per_call_energy_loop": (t1 - t0) / calls,
    }


def measure_hf(shape, batch, context, args, energy) -> dict:
    dtype = torch.float16 if args.device == "cuda" else getattr(torch, args.cpu_dtype)
    model = _hf_model(shape, args.device, dtype)
    with torch.inference_mode():
        prompt = torch.zeros(batch, context - 1, dtype=torch.long, device=args.device)
        out = model(prompt, use_cache=True)
        base_cache = out.past_key_values
        token = torch.zeros(batch, 1, dtype=torch.long, device=args.device)

        state = {"cache": base_cache}

        def one():
            o = model(token, past_key_values=state["cache"], use_cache=True)
            state["cache"] = o.past_key_values

        # each call adds a position: the loop stays near the context (steps << context)
        def fresh():
            extra = state["cache"].get_seq_length() - (context - 1)
            if extra > 0:
                state["cache"].crop(-extra)

        for _ in range(3):
            one()
        loops = []
        for _ in range(REPEATS):
            fresh()
            _sync(args.device)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                one()
            _sync(args.device)
            loops.append((time.perf_counter() - t0) / args.steps)
        per_call = float(sorted(loops)[len(loops) // 2])
        result = {"s_per_call": per_call, "timed_calls": args.steps, "s_per_call_loops": loops}
        result.update(energy_loop(one, fresh, per_call, args, energy))
    return result


def measure_interleaved(names, contexts, runtimes, args, energy) -> list[dict]:
    """Host-bound runtimes, interleaved: every (model, runtime, context) point is set up once,
    then `--interleave` rounds each time one loop of every point in turn, so that a drift of
    the host over minutes spreads over all points instead of landing on a few (the median over
    rounds is reported, every loop is kept)."""
    dtype = torch.float16 if args.device == "cuda" else getattr(torch, args.cpu_dtype)
    setups = []  # (point header, fn, fresh)
    with torch.inference_mode():
        for name in names:
            shape = SHAPES[name]
            ctxs = [c for c in contexts if c <= shape.max_context]
            if "eager" in runtimes:
                dec = Decoder(shape, 1, max(ctxs) + 8, args.device, dtype)
                for c in ctxs:
                    setups.append(
                        (
                            {"model": name, "runtime": "eager", "context": c},
                            (lambda d=dec, pos=c - 1: d.step(pos)),
                            None,
                        )
                    )
            if "hf" in runtimes:
                model = _hf_model(shape, args.device, dtype)
                token = torch.zeros(1, 1, dtype=torch.long, device=args.device)
                for c in ctxs:
                    prompt = torch.zeros(1, c - 1, dtype=torch.long, device=args.device)
                    state = {"cache": model(prompt, use_cache=True).past_key_values}

                    def one(m=model, st=state, tok=token):
                        st["cache"] = m(
                            tok, past_key_values=st["cache"], use_cache=True
                        ).past_key_values

                    def fresh(st=state, base=c - 1):
                        extra = st["cache"].get_seq_length() - base
                        if extra > 0:
                            st["cache"].crop(-extra)

                    setups.append(({"model": name, "runtime": "hf", "context": c}, one, fresh))
        loops: list[list[float]] = [[] for _ in setups]
        for _ in range(3):  # warm-up round (the first loops after a prefill are slow)
            for _, fn, fresh in setups:
                if fresh:
                    fresh()
                for _ in range(args.steps):
                    fn()
        _sync(args.device)
        for _ in range(args.interleave):
            for i, (_, fn, fresh) in enumerate(setups):
                if fresh:
                    fresh()
                _sync(args.device)
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    fn()
                _sync(args.device)
                loops[i].append((time.perf_counter() - t0) / args.steps)
        points = []
        for (head, fn, fresh), samples in zip(setups, loops, strict=False):
            per_call = float(sorted(samples)[len(samples) // 2])
            point = {
                **head,
                "shape": asdict(SHAPES[head["model"]]),
                "phase": "decode",
                "batch": 1,
                "dtype": str(dtype).replace("torch.", ""),
                "s_per_call": per_call,
                "s_per_token": per_call,
                "timed_calls": args.steps,
                "s_per_call_loops": samples,
                "interleaved_rounds": args.interleave,
            }
            point.update(energy_loop(fn, fresh, per_call, args, energy))
            points.append(point)
            print(json.dumps({k: point[k] for k in point if k != "shape"}), flush=True)
    return points


# ---------------------------------------------------------------------------------------------


def environment(device: str, energy: Energy) -> dict:
    env = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "script": "analysis/validation/measure_decode.py",
    }
    try:
        import transformers

        env["transformers"] = transformers.__version__
    except ImportError:
        env["transformers"] = None
    if device == "cuda":
        env.update(
            gpu=torch.cuda.get_device_name(0),
            cuda=torch.version.cuda,
            driver=getattr(energy, "driver", None),
        )
    else:
        try:
            with open("/proc/cpuinfo") as f:
                names = [line.split(":", 1)[1].strip() for line in f if "model name" in line]
            env["cpu"] = names[0] if names else platform.processor()
        except OSError:
            env["cpu"] = platform.processor()
    return env


def _argv_for(argv, model: str, out: str) -> list[str]:
    """This run's arguments for one model, written to `out`, in this process's way."""
    args = list(sys.argv[1:] if argv is None else argv)
    for flag, value in (("--models", model), ("--out", out)):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return [*args, "--in-process"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--models", default="gpt2-small")
    ap.add_argument("--runtimes", default="graph,eager,hf")
    ap.add_argument("--contexts", default="128,1024")
    ap.add_argument("--batches", default="1")
    ap.add_argument("--prefill", default="", help="prompt lengths to time a prefill pass for")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=1, help="timed loops per point (median)")
    ap.add_argument("--energy-seconds", type=float, default=2.0)
    ap.add_argument("--cpu-dtype", default="float32")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument(
        "--interleave",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="eager/hf batch-1 decode only: set every point up in one process, then time "
        "ROUNDS rounds of one loop per point in turn (median over rounds)",
    )
    ap.add_argument("--out", required=True)
    ap.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    global REPEATS
    REPEATS = max(1, args.repeats)
    energy = Energy(args.device)
    results = {"environment": environment(args.device, energy), "points": []}
    if args.device == "cuda":
        results["environment"]["driver"] = getattr(energy, "driver", None)

    def save():
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=1)
        os.replace(tmp, args.out)

    models = args.models.split(",")
    if args.interleave:
        contexts = [int(c) for c in args.contexts.split(",")]
        runtimes = [r for r in args.runtimes.split(",") if r in ("eager", "hf")]
        results["points"] = measure_interleaved(models, contexts, runtimes, args, energy)
        save()
        return 0
    if len(models) > 1 and not args.in_process:
        # one process per model: a device fault in one (a CUDA assert poisons the context)
        # costs only that model's points
        import subprocess

        for name in models:
            part = f"{args.out}.{name}.json"
            cmd = [sys.executable, __file__, *_argv_for(argv, name, part)]
            done = subprocess.run(cmd, check=False)
            if os.path.exists(part):
                with open(part) as f:
                    results["points"] += json.load(f)["points"]
                os.remove(part)
            else:
                results["points"].append({"model": name, "error": f"exit {done.returncode}"})
            save()
        return 0
    for name in models:
        shape = SHAPES[name]
        for batch in (int(b) for b in args.batches.split(",")):
            for context in (int(c) for c in args.contexts.split(",")):
                if context > shape.max_context:
                    continue
                for runtime in args.runtimes.split(","):
                    if runtime == "graph" and args.device != "cuda":
                        continue
                    t0 = time.time()
                    try:
                        if runtime == "hf":
                            r = measure_hf(shape, batch, context, args, energy)
                        else:
                            r = measure_static(shape, runtime, batch, context, args, energy)
                    except Exception as exc:  # noqa: BLE001 (record and go on)
                        r = {"error": f"{type(exc).__name__}: {exc}"}
                    point = {
                        "model": name,
                        "shape": asdict(shape),
                        "phase": "decode",
                        "runtime": runtime,
                        "batch": batch,
                        "context": context,
                        "dtype": "float16" if args.device == "cuda" else args.cpu_dtype,
                        **r,
                        "wall_s": round(time.time() - t0, 2),
                    }
                    if "s_per_call" in r:
                        point["s_per_token"] = r["s_per_call"]  # one token per sequence
                    results["points"].append(point)
                    print(json.dumps({k: point[k] for k in point if k != "shape"}), flush=True)
                    save()
                    if args.device == "cuda":
                        torch.cuda.empty_cache()
            for tokens in (int(t) for t in args.prefill.split(",") if t):
                try:
                    r = measure_prefill(shape, batch, tokens, args, energy)
                except Exception as exc:  # noqa: BLE001
                    r = {"error": f"{type(exc).__name__}: {exc}"}
                point = {
                    "model": name,
                    "shape": asdict(shape),
                    "phase": "prefill",
                    "runtime": "eager",
                    "batch": batch,
                    "prompt": tokens,
                    "dtype": "float16" if args.device == "cuda" else args.cpu_dtype,
                    **r,
                }
                results["points"].append(point)
                print(json.dumps({k: point[k] for k in point if k != "shape"}), flush=True)
                save()
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
