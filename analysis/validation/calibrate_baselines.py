"""Calibrate a baseline device's runtimes from measured decode times and energies.

For every batch-1 decode point of a measurement file (written by `measure_decode.py`, stored
in `pimsim/validation/data/`), pimsim lowers the same model and takes the decode step the
measurement timed (context c: the step at position c - 1, attending over c positions). Per
runtime it then fits, by least squares over all points,

    time   = bytes / (bandwidth x f) + ops x overhead + step_overhead       (f <= 1)
    energy = idle_W x time + (tdp_W - idle_W) x bytes / bandwidth

(the pimsim baseline model, `pimsim.baselines.model`, for memory-bound decode), prints the fitted
values and each point's measured and modelled time and energy with the ratio, and writes them as
JSON. Prefill points (a gemm per weight: compute-bound) give the achievable compute fraction.

    python analysis/validation/calibrate_baselines.py pimsim/validation/data/h200_decode.json \\
        --kind gpu --device H200-SXM --out pimsim/validation/data/h200_calibration.json

The numbers it prints are what the device preset records, with this command as their source.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pimsim.baselines import load_device
from pimsim.baselines.model import _byte_scale
from pimsim.workload import lower, resolve_model
from pimsim.workload.windows import output_token_window


def decode_step(model: str, context: int, device) -> dict:
    """Bytes (as `device` stores the elements), FLOPs and operators of one decode step at
    `context` (batch 1)."""
    table = lower(resolve_model(model), prompt_len=context - 1, gen_len=2)
    window = output_token_window(table)
    step = table[window.mask]
    return {
        "bytes": float((step["bytes"] * _byte_scale(device, step)).sum()),
        "flops": float(step["flops"].sum()),
        "ops": int(len(step)),
        "table": table,
    }


def prefill_pass(model: str, prompt: int) -> dict:
    """The batched prefill step (every weight a gemm over `prompt` rows) and its token."""
    table = lower(resolve_model(model), prompt_len=prompt, gen_len=1, batched_prefill=True)
    return {"flops": float(table["flops"].sum()), "bytes": float(table["bytes"].sum())}


def load_points(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    runs = data.get("runs", [data])
    return [p for run in runs for p in run["points"] if "error" not in p]


def samples(point: dict) -> list[float]:
    """The warm per-token times a point holds. The first timed loop of `hf` after a prefill
    carries a one-time cost (3-10x the later loops: see the data file's notes), so for hf only
    the later loops and the energy loop (run after the timed loops) count."""
    loops = list(point.get("s_per_call_loops") or [point["s_per_call"]])
    if point["runtime"] == "hf" and not point.get("interleaved_rounds"):
        loops = loops[1:]  # (interleaved runs warm every point up for three rounds first)
    if point.get("s_per_call_energy_loop"):
        loops.append(point["s_per_call_energy_loop"])
    return loops


def merge(points: list[dict]) -> list[dict]:
    """One row per (model, context, runtime) of batch-1 decode: the median of every warm
    sample over all runs, their range, and the energy per token at that median (mean
    measured power x median time). Where a point
    was measured interleaved (`--interleave`: all points of the run timed in turn, round after
    round), only the interleaved measurement counts: points timed minutes apart on a drifting
    host are not comparable with each other."""
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        if p["phase"] == "decode" and p["batch"] == 1:
            groups.setdefault((p["model"], p["context"], p["runtime"]), []).append(p)
    rows = []
    for (model, context, runtime), group in sorted(groups.items()):
        if any(p.get("interleaved_rounds") for p in group):
            group = [p for p in group if p.get("interleaved_rounds")]
        times = [t for p in group for t in samples(p)]
        if not times:
            continue
        # energy per token at the median time: the energy loop runs at its own pace (for the
        # host-bound runtimes up to 1.4x off the median), its mean power does not depend on it
        powers = [p["mean_power_W"] for p in group if p.get("mean_power_W") is not None]
        median = float(np.median(times))
        rows.append(
            {
                "model": model,
                "context": context,
                "runtime": runtime,
                "s_per_token": median,
                "s_min": float(min(times)),
                "s_max": float(max(times)),
                "samples": len(times),
                "j_per_call": float(np.mean(powers)) * median if powers else None,
                "mean_power_W": float(np.mean(powers)) if powers else None,
            }
        )
    return rows


def _nonnegative_fit(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Least squares of relative error (rows weighted by 1/t) with every coefficient >= 0:
    the best fit over the subsets of columns whose unconstrained fit is non-negative."""
    w = 1.0 / t
    best, best_err = np.zeros(x.shape[1]), np.inf
    for mask in range(1, 1 << x.shape[1]):
        cols = [i for i in range(x.shape[1]) if mask >> i & 1]
        coef, *_ = np.linalg.lstsq(x[:, cols] * w[:, None], t * w, rcond=None)
        if (coef < 0).any():
            continue
        full = np.zeros(x.shape[1])
        full[cols] = coef
        err = float(np.sum(((x @ full) * w - 1.0) ** 2))
        if err < best_err:
            best, best_err = full, err
    return best


def fit_runtime(rows: list[dict], bandwidth_Bps: float, fraction: float | None = None) -> dict:
    """Time model over `rows` (bytes, ops, s_per_token): bandwidth fraction, per-operator and
    per-step overhead; with `fraction` given (the kernels are the same as another runtime's)
    only the overheads are fitted."""
    t = np.array([r["s_per_token"] for r in rows])
    memory = np.array([r["bytes"] for r in rows]) / bandwidth_Bps
    ops = np.array([r["ops"] for r in rows], dtype=float)
    if fraction is None:
        coef = _nonnegative_fit(np.column_stack([memory, ops, np.ones(len(rows))]), t)
        fraction = min(1.0, 1.0 / coef[0]) if coef[0] > 0 else 1.0
        overhead, step = coef[1], coef[2]
    else:
        # t - memory / fraction = ops x overhead + step, fitted on relative error of t
        x = np.column_stack([ops, np.ones(len(rows))])
        w = 1.0 / t
        coef = _nonnegative_fit(x * w[:, None] * t[:, None], (t - memory / fraction) * w * t)
        overhead, step = coef
    return {
        "achievable_bandwidth_fraction": float(fraction),
        "overhead_us": float(overhead * 1e6),
        "step_overhead_us": float(step * 1e6),
    }


def fit_idle(rows: list[dict], bandwidth_Bps: float, tdp_W: float) -> float | None:
    """idle_W of the energy model from measured time and energy per token."""
    rows = [r for r in rows if r.get("j_per_call") is not None]
    if not rows:
        return None
    t = np.array([r["s_per_token"] for r in rows])
    e = np.array([r["j_per_call"] for r in rows])
    roof = np.array([r["bytes"] for r in rows]) / bandwidth_Bps
    d = t - roof
    return float(np.dot(d, e - tdp_W * roof) / np.dot(d, d))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("measurements", type=Path)
    ap.add_argument("--kind", choices=("gpu", "cpu"), default="gpu")
    ap.add_argument("--device", required=True, help="the preset whose hardware values to use")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    base = load_device(args.kind, args.device)
    bw = base.bandwidth_Bps
    points = load_points(args.measurements)
    decode = merge(points)
    cache: dict[tuple, dict] = {}
    for p in decode:
        key = (p["model"], p["context"])
        if key not in cache:
            cache[key] = decode_step(*key, base)
        p.update({k: v for k, v in cache[key].items() if k != "table"})
    result = {
        "measurements": str(args.measurements),
        "device": base.name,
        "peak_bandwidth_GBps": base.memory_bandwidth_GBps,
        "runtimes": {},
        "points": [],
    }
    order = {"graph": 0, "eager": 1, "hf": 2}
    runtimes = sorted({p["runtime"] for p in decode}, key=lambda r: (order.get(r, 3), r))
    shared_fraction = None
    for runtime in runtimes:
        rows = [p for p in decode if p["runtime"] == runtime]
        # every runtime runs the same kernels (graph replays what eager and hf launch one by
        # one): they reach the fraction the first runtime (graph on a GPU, eager on a CPU)
        # reaches; what differs is the launch / dispatch and the step overhead
        fit = fit_runtime(rows, bw, shared_fraction)
        if shared_fraction is None:
            shared_fraction = fit["achievable_bandwidth_fraction"]
        idle = fit_idle(rows, bw, base.tdp_W) if base.kind == "gpu" else None
        fit["idle_W"] = idle
        fit["points"] = len(rows)
        result["runtimes"][runtime] = fit
        f, o, s = fit["achievable_bandwidth_fraction"], fit["overhead_us"], fit["step_overhead_us"]
        print(
            f"{runtime}: bandwidth fraction {f:.3f}, {o:.2f} us per operator, "
            f"{s:.1f} us per step, idle_W {idle if idle is None else round(idle, 1)}"
        )
        for p in rows:
            t_model = p["bytes"] / (bw * f) + p["ops"] * o * 1e-6 + s * 1e-6
            e_model = None
            if idle is not None:
                e_model = idle * t_model + (base.tdp_W - idle) * p["bytes"] / bw
            result["points"].append(
                {
                    "model": p["model"],
                    "runtime": runtime,
                    "context": p["context"],
                    "bytes_per_token": p["bytes"],
                    "ops_per_token": p["ops"],
                    "measured_s_per_token": p["s_per_token"],
                    "measured_range_s": [p["s_min"], p["s_max"]],
                    "samples": p["samples"],
                    "fitted_s_per_token": t_model,
                    "time_ratio": t_model / p["s_per_token"],
                    "measured_j_per_token": p.get("j_per_call"),
                    "fitted_j_per_token": e_model,
                }
            )
            ej = p.get("j_per_call")
            spread = f"[{p['s_min'] * 1e3:.2f}, {p['s_max'] * 1e3:.2f}]"
            print(
                f"  {p['model']:<15} ctx {p['context']:>5}  "
                f"measured {p['s_per_token'] * 1e3:8.3f} ms"
                f" {spread:>18}  model {t_model * 1e3:8.3f} ms  ({t_model / p['s_per_token']:.3f})"
                + (f"  energy {ej:.3f} J vs {e_model:.3f} J" if ej and e_model else "")
            )
    prefill = [p for p in points if p["phase"] == "prefill" and p["batch"] == 1]
    fractions = []
    for p in prefill:
        work = prefill_pass(p["model"], p["prompt"])
        achieved = work["flops"] / p["s_per_call"] / base.peak_flops
        fractions.append(achieved)
        print(f"  prefill {p['model']} {p['prompt']} tokens: {achieved:.3f} of peak FLOP/s")
    if fractions:
        result["achievable_compute_fraction"] = float(np.mean(fractions))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
