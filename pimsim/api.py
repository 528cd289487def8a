"""The Python API: what `import pimsim` offers, and what the command line itself calls.

import pimsim

result = pimsim.simulate("gddr6_aim", "gpt2-small", gen_len=4)
result.report["pim"]["tpot_s"]   # the pimsim.report.v1 dictionary (`pimsim run --json`)
result.ops                       # one row per operator (pandas DataFrame, `--out` ops.csv)
result.energy                    # energy by component, command and kind (J)
result.timeline()                # Perfetto / chrome://tracing trace events
result.to_json("report.json")    # the same bytes as `pimsim run --json report.json`

hw = pimsim.load_hw("hbm_pim", ["dram.channels=32"])
table = pimsim.sweep("analysis/sweeps/channels.yaml", "runs/channels")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from pimsim.config import load_hw as _load_hw
from pimsim.config.schema import HardwareConfig
from pimsim.core.io import atomic_write_json
from pimsim.pipeline import Run
from pimsim.pipeline import run as _run


def load_hw(hw: str | Path | HardwareConfig, overrides: list[str] | None = None) -> HardwareConfig:
    """A hardware description: a shipped name (`pimsim list`), a YAML path, or one already
    loaded; `overrides` are `--set key.path=value` strings."""
    if isinstance(hw, HardwareConfig):
        if overrides:
            raise TypeError("overrides apply to a name or a path, not to a loaded config")
        return hw
    return _load_hw(hw, list(overrides or []))


@dataclass
class Result:
    """A simulated run: the report and the views of it a notebook wants."""

    run: Run = field(repr=False)

    @property
    def hw(self) -> HardwareConfig:
        return self.run.hw

    @property
    def report(self) -> dict[str, Any]:
        """The pimsim.report.v1 dictionary."""
        return self.run.report

    @property
    def tpot_s(self) -> float:
        """Time per output token (s)."""
        return self.report["pim"]["tpot_s"]

    @property
    def ttft_s(self) -> float:
        """Time to first token (s)."""
        return self.report["pim"]["ttft_s"]

    @cached_property
    def ops(self) -> pd.DataFrame:
        """One row per operator: unit, start, end, duration, energy (the `--out` ops.csv)."""
        from pimsim.report.build import op_table

        return op_table(self.run.prepared.table, self.run.sim)

    @cached_property
    def energy(self) -> dict[str, Any]:
        """Energy of the whole run (J): by component, per command type and by operator kind."""
        from pimsim.energy.run import energy_breakdown

        offload = self.run.offload
        energy = energy_breakdown(
            self.hw,
            self.run.prepared.table,
            self.run.sim,
            device_energy_j=None if offload is None else offload.energy_j,
        )
        return {
            "components_j": energy["components"],
            "per_command_j": energy["per_command_j"],
            "by_kind_j": energy["by_kind"],
        }

    def timeline(self) -> dict[str, Any]:
        """The run as Perfetto trace events (load in ui.perfetto.dev or chrome://tracing).
        Operators are recorded for the tokens `simulate(..., timeline_tokens=N)` asked for."""
        from pimsim.report.build import perfetto_trace

        return perfetto_trace(self.run.sim, self.hw, self.run.prepared.table)

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON (sorted keys, the bytes `pimsim run --json` writes); written
        atomically to `path` when one is given."""
        if path is not None:
            atomic_write_json(path, self.report)
        return json.dumps(self.report, indent=2, sort_keys=True) + "\n"

    def __repr__(self) -> str:
        pim = self.report["pim"]
        model = self.report.get("model", {}).get("name", "?")
        return (
            f"Result({model} on {self.hw.name}: TPOT {pim['tpot_s'] * 1e3:.4g} ms, "
            f"TTFT {pim['ttft_s'] * 1e3:.4g} ms, {pim['energy_j_per_token'] * 1e3:.4g} mJ/token)"
        )


def simulate(
    hw: str | Path | HardwareConfig,
    model: str | Path | None = None,
    *,
    trace: str | Path | None = None,
    overrides: list[str] | None = None,
    prompt_len: int = 1,
    gen_len: int = 8,
    mode: str = "overlap",
    exact: bool = False,
    gpu: str | None = None,
    cpu: str | None = None,
    baseline_overrides: dict[str, dict] | None = None,
    timeline_tokens: int = 4,
    progress: bool | None = False,
    log_capacity: int = 0,
    max_context: int | None = None,
    batch: int = 1,
    batched_prefill: bool = False,
    dtype: str | None = None,
    routing: str | None = None,
    expert_groups: int = 1,
    prefill_on: str | None = None,
    tensor_parallel: int | str = 1,
    interconnect: str = "cxl",
    hybrid: bool = False,
) -> Result:
    """Simulate `model` (a shipped name, a workload YAML or a HF config.json) or a `trace`
    file on `hw` and evaluate the GPU and CPU baselines on the same operators (the options of
    `pimsim run`: `gpu="H200-SXM:graph"`, `mode="serial"`, `exact=True`, `max_context=N` to
    reserve the KV cache for N positions instead of the model's whole context, `batch=B`
    sequences decoding together, `batched_prefill=True` for the prompt as one GEMM step,
    `dtype="int8"` for the model's elements on units that multiply int8; a mixture of
    experts: `routing="skew:1.2"` for how rows choose them, `expert_groups=G` to deal them
    over G channel groups; `prefill_on="gpu"` for the prompt on the `gpu` baseline, its KV
    cache sent to PIM over the host link; `tensor_parallel=N` for the model split over N
    devices like `hw` ("auto": the fewest that each hold their share),
    `interconnect=` a `pimsim.system.INTERCONNECTS` preset between them, its numbers changed by
    `baseline_overrides={"interconnect": {...}}`; `hybrid=True` for everything but attention
    on the `gpu` baseline, attention on PIM)."""
    if (model is None) == (trace is None):
        raise TypeError("simulate() needs a model or a trace, not both")
    return Result(
        _run(
            load_hw(hw, overrides),
            model=None if model is None else str(model),
            trace=None if trace is None else str(trace),
            prompt_len=prompt_len,
            gen_len=gen_len,
            mode=mode,
            exact=exact,
            gpu=gpu,
            cpu=cpu,
            baseline_overrides=baseline_overrides,
            max_context=max_context,
            batch=batch,
            batched_prefill=batched_prefill,
            dtype=dtype,
            routing=routing,
            expert_groups=expert_groups,
            prefill_on=prefill_on,
            tensor_parallel=tensor_parallel,
            interconnect=interconnect,
            hybrid=hybrid,
            timeline_tokens=timeline_tokens,
            progress=progress,
            log_capacity=log_capacity,
        )
    )


def sweep(spec: str | Path, out: str | Path, **options: Any) -> pd.DataFrame:
    """Run (or resume) the sweep described by the YAML file `spec` into the folder `out`; the
    options of `pimsim sweep` (`jobs`, `executor`, `scheduler`, `progress`). Returns the whole
    results table."""
    from pimsim.sweep import load_spec, run_sweep, validate

    loaded = load_spec(spec)
    validate(loaded)
    return run_sweep(loaded, out, **options)
