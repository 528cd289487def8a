"""pimsim's side of each reference point: the value the point's `pimsim:` spec computes.

Spec kinds (keys besides `kind`):

- `gemv`: `hw`, `set` (list of KEY=VALUE), `rows`, `cols`, `metric` (cycles | time_s |
  energy_j): `pimsim gemv`;
- `replay`: `hw`, `set`, `trace` (a generator spec `{generator, requests, ...}`,
  `pimsim.validation.traces`, or a trace file's path), `mapping`, `metric` (cycles |
  mean_read_latency_cycles | row_hits): `pimsim replay`;
- `baseline`: `device` (gpu | cpu), `name` (NAME[:RUNTIME]), `model`, `context` (decode: the
  step attending over `context` positions) or `prompt` (prefill: one batched pass), `batch`
  (sequences decoding together, default 1: s_per_token is then a step's time, j_per_token a
  step's energy over the batch), `metric` (s_per_token | j_per_token);
- `run`: `hw`, `set` (hardware keys, or `gpu.KEY=V` / `cpu.KEY=V` for the baselines), `model`,
  `prompt_len`, `gen_len`, `mode`, `gpu`, `cpu`, `metric` (a dotted key path into the
  pimsim.report.v1 report, e.g. `pim.row_hit_rate`); `over`: a second key path of the same
  report that divides it (a share); `divide_by`: a second run spec (same keys, merged over the
  first) whose value of `metric` divides this one;
- `compare`: the keys of `run` with `models` (a list) instead of `model`, and `reduce` (min |
  max | mean) over the models' values of `metric`, as `pimsim compare` tabulates them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pimsim.core.errors import PimsimInputError

# the repository in a source checkout (workloads/, hw_configs/, pimsim/validation/hw/), the
# folder holding the package when installed (pimsim/validation/hw/ only)
ROOT = Path(__file__).resolve().parents[2]


class Evaluator:
    """Computes the pimsim values of points, caching shared work (runs, tables, hardware)."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def value(self, spec: dict[str, Any]) -> float:
        kind = spec["kind"]
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise PimsimInputError(
                f"unknown point kind {kind!r}",
                key="pimsim.kind",
                expected="gemv, replay, baseline, run or compare",
            )
        return float(handler(spec))

    @staticmethod
    def _metric(spec: dict, allowed: tuple[str, ...]) -> str:
        metric = spec.get("metric", allowed[0])
        if metric not in allowed:
            raise PimsimInputError(
                f"got {metric!r}", key="pimsim.metric", expected="one of " + ", ".join(allowed)
            )
        return metric

    def _cached(self, key: Any, build):
        text = json.dumps(key, sort_keys=True, default=str)
        if text not in self._cache:
            self._cache[text] = build()
        return self._cache[text]

    def _hw(self, spec: dict):
        from pimsim.config import load_hw

        return self._cached(
            ("hw", spec["hw"], spec.get("set", [])),
            lambda: load_hw(_path_or_name(spec["hw"]), list(spec.get("set", []))),
        )

    # -- kinds -------------------------------------------------------------------------------

    def _gemv(self, spec: dict) -> float:
        from pimsim.gemv import simulate_gemv

        def run():
            return simulate_gemv(self._hw(spec), int(spec["rows"]), int(spec["cols"]))

        metric = self._metric(spec, ("cycles", "time_s", "energy_j"))
        result = self._cached(("gemv", spec), run)
        return getattr(result, metric)

    def _replay(self, spec: dict) -> float:
        from pimsim.dram.replay import DEFAULT_MAPPING, read_trace, replay
        from pimsim.validation.traces import generated_trace

        def run():
            source = spec["trace"]
            if isinstance(source, dict):
                trace = generated_trace(source)
            else:
                trace = read_trace(_path_or_name(str(source)))
            return replay(self._hw(spec), trace, spec.get("mapping", DEFAULT_MAPPING))

        metric = self._metric(
            spec, ("cycles", "mean_read_latency_cycles", "row_hits", "row_hit_rate")
        )
        result = self._cached(("replay", spec), run)
        return getattr(result, metric)

    def _baseline(self, spec: dict) -> float:
        from pimsim.baselines import evaluate, load_device
        from pimsim.workload import lower, resolve_model

        metric = self._metric(spec, ("s_per_token", "j_per_token"))
        device = load_device(spec["device"], spec["name"], spec.get("set"))
        model = resolve_model(_path_or_name(spec["model"]))
        batch = int(spec.get("batch", 1))  # sequences in lockstep (per-token: per step)
        if "prompt" in spec:
            key = ("prefill", spec["model"], spec["prompt"], batch)
            table = self._cached(
                key,
                lambda: lower(model, int(spec["prompt"]), 1, batched_prefill=True, batch=batch),
            )
            result = evaluate(device, table)
            return result.total_s if metric == "s_per_token" else result.total_j
        context = int(spec["context"])
        key = ("decode", spec["model"], context, batch)
        table = self._cached(
            key, lambda: lower(model, prompt_len=context - 1, gen_len=2, batch=batch)
        )
        result = evaluate(device, table)
        return result.latency_s_per_token if metric == "s_per_token" else result.energy_j_per_token

    def _simulation(self, spec: dict):
        """(hw, prepared run, simulation result) of a run spec, cached without its baselines."""
        from pimsim.baselines.options import split_set_options
        from pimsim.config import load_hw
        from pimsim.engine import simulate
        from pimsim.pipeline import prepare_run

        def run():
            hw_sets, _ = split_set_options(spec.get("set", []))
            hw = load_hw(_path_or_name(spec["hw"]), hw_sets)
            prepared = prepare_run(
                hw,
                model=_path_or_name(spec["model"]),
                prompt_len=int(spec.get("prompt_len", 1)),
                gen_len=int(spec.get("gen_len", 8)),
            )
            sim = simulate(hw, prepared.table, prepared.mapping, mode=spec.get("mode", "overlap"))
            return hw, prepared, sim

        keys = ("hw", "set", "model", "prompt_len", "gen_len", "mode")
        return self._cached(("sim", {k: spec.get(k) for k in keys}), run)

    def _report(self, spec: dict) -> dict:
        from pimsim.baselines.options import split_set_options
        from pimsim.pipeline import full_report

        def run():
            hw, prepared, sim = self._simulation(spec)
            _, base_sets = split_set_options(spec.get("set", []))
            return full_report(
                hw,
                prepared,
                sim,
                gpu=spec.get("gpu"),
                cpu=spec.get("cpu"),
                exact=False,
                baseline_overrides=base_sets,
            )

        keys = ("hw", "set", "model", "prompt_len", "gen_len", "mode", "gpu", "cpu")
        return self._cached(("run", {k: spec.get(k) for k in keys}), run)

    def _run(self, spec: dict) -> float:
        report = self._report(spec)
        value = _dig(report, spec["metric"])
        if "over" in spec:  # a share: one key of the report over another
            value /= _dig(report, spec["over"])
        if "divide_by" in spec:
            other = {**spec, **spec["divide_by"]}
            other.pop("divide_by")
            value /= _dig(self._report(other), spec["metric"])
        return value

    def _compare(self, spec: dict) -> float:
        import numpy as np

        values = np.array(
            [_dig(self._report({**spec, "model": m}), spec["metric"]) for m in spec["models"]],
            dtype=float,
        )
        return float(getattr(np, spec.get("reduce", "mean"))(values))


def _dig(report: dict, path: str) -> float:
    node: Any = report
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise PimsimInputError(
                f"the report has no {path!r}",
                key="pimsim.metric",
                expected="a key path of pimsim.report.v1",
            )
        node = node[part]
    return float(node)


def _path_or_name(name: str) -> str:
    """A path as points files write them (relative to the repository, or `pimsim/...` inside
    the package) or a catalogue name."""
    candidate = ROOT / name
    return str(candidate) if ("/" in name and candidate.exists()) else name
