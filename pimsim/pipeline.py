"""The pipeline, in one place: workload -> operator table -> mapping -> simulation -> energy ->
baselines -> report. `pimsim run`, `compare`, `sweep`, `validate` and the Python API all go
through these functions; `pimsim gemv` runs one matrix on the same layout (`pimsim.gemv`).

    from pimsim.config import load_hw
    from pimsim.pipeline import run

    result = run(load_hw("gddr6_aim"), model="gpt2-small", gen_len=4)
    result.report["pim"]["tpot_s"]        # the pimsim.report.v1 dictionary
    result.sim.op_end_ps                  # per-operator times of the simulation
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.errors import PimsimInputError
from pimsim.dram.program_cost import ProgramCycles
from pimsim.mapping import ModelMapping, map_model
from pimsim.run_shape import (
    AUTO,
    beside_pim,
    check_mac_dtype,
    check_no_routing,
    choose_tensor_parallel,
    trace_table,
    whole_table,
    with_dtype,
    with_parallel,
)


@dataclass
class PreparedRun:
    """A run checked against the hardware and mapped, ready to simulate."""

    spec: object  # pimsim.workload.ModelSpec
    table: pd.DataFrame  # the operator table
    mapping: ModelMapping
    prompt_len: int
    gen_len: int
    parallel_choice: dict | None = None  # how `--tensor-parallel auto` chose (None: not asked)


@dataclass
class Run:
    """A simulated run: its hardware, the prepared run, the simulation and the report."""

    hw: HardwareConfig
    prepared: PreparedRun
    sim: Any  # pimsim.engine.SimResult
    report: dict[str, Any]
    offload: Any = None  # pimsim.baselines.offload.PrefillOffload (the prompt on a GPU)


def prepare_run(
    hw: HardwareConfig,
    *,
    model: str | None = None,
    trace: str | None = None,
    prompt_len: int = 1,
    gen_len: int = 8,
    max_context: int | None = None,
    batch: int = 1,
    batched_prefill: bool = False,
    dtype: str | None = None,
    routing: str | None = None,
    expert_groups: int = 1,
    tensor_parallel: int | str = 1,
    hybrid: bool = False,
) -> PreparedRun:
    """Lower `model` (or read `trace`), check it against the hardware, and map it. The KV
    cache is reserved for the model's whole context, or for `max_context` positions, for each
    of `batch` sequences decoding together (a trace says its own batch). A mixture of
    experts chooses them by `routing` (`workload.moe`; a trace holds its choices) and places
    them over `expert_groups` channel groups (1: every expert on every channel). With
    `tensor_parallel` N the run is one of N identical devices' shard (`ModelSpec`); with "auto"
    the fewest devices whose shard fits one (`run_shape.choose_tensor_parallel`)."""
    from pimsim.workload import lower, resolve_model, trace_spec
    from pimsim.workload.lowering import check_batch, table_batch
    from pimsim.workload.moe import parse_routing

    _require_pim(hw)
    choice = mapping = None

    def place(shard, sequences: int):
        # (a sliding-window model keeps only the window: a ring of that many positions)
        reserved = shard.kv_positions(_kv_reservation(shard, prompt_len + gen_len - 1, max_context))
        return map_model(
            hw,
            shard,
            reserved,
            ProgramCycles(hw),
            sequences=sequences,
            expert_groups=expert_groups,
            place_weights=not hybrid,  # (a hybrid run's weights live on the GPU)
        )

    if trace:
        if tensor_parallel == AUTO:
            raise PimsimInputError(
                "a trace is one device's operators",
                file=trace,
                key="--tensor-parallel",
                expected="a model name (or a trace lowered for the split)",
            )
        table = trace_table(trace, batch, dtype, routing)
        spec = trace_spec(table)
        prompt_len = int(table.attrs.get("prompt_len", prompt_len))
        gen_len = int(table.attrs.get("gen_len", gen_len))
        source = trace
    else:
        spec = with_dtype(resolve_model(model), dtype)
        if tensor_parallel == AUTO:
            sequences = check_batch(batch)
            spec, mapping, choice = choose_tensor_parallel(
                hw, spec, lambda shard: place(shard, sequences)
            )
        else:
            spec = with_parallel(spec, tensor_parallel)
        if not spec.experts:
            check_no_routing(routing, model, f"model {spec.name} has no experts")
        table = lower(
            spec,
            prompt_len=prompt_len,
            gen_len=gen_len,
            batched_prefill=batched_prefill,
            batch=batch,
            routing=None if routing is None else parse_routing(routing),
        )
        source = model
    _check_run(hw, spec, table, prompt_len, gen_len, source)
    if mapping is None:
        mapping = place(spec, table_batch(table))
    return PreparedRun(spec, table, mapping, prompt_len, gen_len, choice)


def _require_pim(hw: HardwareConfig) -> None:
    if not hw.pim.enabled:
        raise PimsimInputError(
            "a run needs in-bank MAC units but pim.enabled is false",
            file=hw.source,
            key="pim.enabled",
            expected="true",
        )


def _check_run(hw: HardwareConfig, spec, table, prompt_len: int, gen_len: int, source) -> None:
    """The lowered run against the hardware and the model: operator kinds the ASIC runs, the
    MAC units' element type, the model's context, the SRAM."""
    from pimsim.asic import VECTOR_KINDS, check_sram_capacity
    from pimsim.engine.simulate import check_kinds

    check_kinds(table, set(VECTOR_KINDS), source)
    check_mac_dtype(hw, spec)
    # the last generated token is not fed back: positions 0 .. prompt + gen - 2 are processed
    context = prompt_len + gen_len - 1
    if context > spec.max_context_tokens:
        raise PimsimInputError(
            f"prompt {prompt_len} + generated {gen_len} needs {context} positions, more than "
            f"the model's context of {spec.max_context_tokens}",
            key="--gen-len",
            expected=f"prompt_len + gen_len <= {spec.max_context_tokens + 1}",
        )
    check_sram_capacity(table, hw.asic, file=hw.source)


def _kv_reservation(spec, positions: int, max_context: int | None) -> int:
    """Positions the KV cache reserves: the model's context, or `max_context` (at least the
    run's positions, at most the model's context)."""
    if max_context is None:
        return spec.max_context_tokens
    if isinstance(max_context, bool) or not isinstance(max_context, int):
        raise PimsimInputError(f"got {max_context!r}", key="--max-context", expected="an integer")
    if not positions <= max_context <= spec.max_context_tokens:
        raise PimsimInputError(
            f"got {max_context}",
            key="--max-context",
            expected=f"{positions} (the run's positions) .. {spec.max_context_tokens} "
            f"(the context of {spec.name})",
        )
    return max_context


def full_report(
    hw: HardwareConfig,
    prepared: PreparedRun,
    sim,
    *,
    gpu: str | None,
    cpu: str | None,
    exact: bool,
    mapping_summary: dict | None = None,
    baseline_overrides: dict[str, dict] | None = None,
    offload=None,
    interconnect=None,
) -> dict[str, Any]:
    """The pimsim.report.v1 dictionary of a simulated run, baselines included (on the whole
    model's operators when the run is a tensor-parallel shard)."""
    from pimsim.baselines import baselines_report
    from pimsim.report.build import build_report

    overrides = baseline_overrides or {}
    baselines = baselines_report(
        whole_table(prepared),
        gpu=gpu,
        cpu=cpu,
        prompt_len=prepared.prompt_len,
        gpu_overrides=overrides.get("gpu"),
        cpu_overrides=overrides.get("cpu"),
    )
    return build_report(
        hw,
        prepared.spec,
        prepared.table,
        sim,
        prompt_len=prepared.prompt_len,
        gen_len=prepared.gen_len,
        mapping_summary=mapping_summary or {},
        exact=exact,
        baselines=baselines,
        expert_groups=prepared.mapping.expert_groups,
        offload=offload,
        interconnect=interconnect,
    )


def run(
    hw: HardwareConfig,
    *,
    model: str | None = None,
    trace: str | None = None,
    prompt_len: int = 1,
    gen_len: int = 8,
    mode: str = "overlap",
    exact: bool = False,
    gpu: str | None = None,
    cpu: str | None = None,
    baseline_overrides: dict[str, dict] | None = None,
    with_mapping_summary: bool = True,
    max_context: int | None = None,
    batch: int = 1,
    batched_prefill: bool = False,
    dtype: str | None = None,
    routing: str | None = None,
    expert_groups: int = 1,
    prefill_on: str | None = None,
    tensor_parallel: int = 1,
    interconnect: str = "cxl",
    hybrid: bool = False,
    **simulate_options: Any,
) -> Run:
    """Prepare, simulate and report one model (or trace) on `hw` against its baselines.
    `simulate_options` go to `pimsim.engine.simulate` (timeline_tokens, progress,
    log_capacity). `prefill_on="gpu"`: the prompt as one step on the `gpu` baseline, its KV
    cache sent to PIM over the host link (`pimsim.baselines.offload`). `tensor_parallel=N`:
    the model split over N identical devices (each `hw`), their collectives over
    `interconnect` (a `pimsim.system` preset; `baseline_overrides["interconnect"]` changes its
    numbers)."""
    from pimsim.engine import simulate

    prepared = prepare_run(
        hw,
        model=model,
        trace=trace,
        prompt_len=prompt_len,
        gen_len=gen_len,
        max_context=max_context,
        batch=batch,
        batched_prefill=batched_prefill or prefill_on is not None,
        dtype=dtype,
        routing=routing,
        expert_groups=expert_groups,
        tensor_parallel=tensor_parallel,
        hybrid=hybrid,
    )
    devices = prepared.spec.tensor_parallel
    link, offload = beside_pim(prepared, prefill_on, hybrid, gpu, baseline_overrides, interconnect)
    device_ps = None if offload is None else offload.time_ps
    sim = simulate(
        hw,
        prepared.table,
        prepared.mapping,
        mode=mode,
        exact=exact,
        device_ps=device_ps,
        interconnect=link,
        devices=devices,
        **simulate_options,
    )
    report = full_report(
        hw,
        prepared,
        sim,
        gpu=gpu,
        cpu=cpu,
        exact=exact,
        mapping_summary=prepared.mapping.summary() if with_mapping_summary else None,
        baseline_overrides=baseline_overrides,
        offload=offload,
        interconnect=link,
    )
    if prepared.parallel_choice is not None:
        report["parallel_choice"] = prepared.parallel_choice
    return Run(hw, prepared, sim, report, offload)


def result_row(
    hw: HardwareConfig,
    model: str,
    *,
    prompt_len: int = 1,
    gen_len: int = 8,
    mode: str = "overlap",
    gpu: str | None = None,
    cpu: str | None = None,
    baseline_overrides: dict[str, dict] | None = None,
    max_context: int | None = None,
    batch: int = 1,
    dtype: str | None = None,
    routing: str | None = None,
    expert_groups: int = 1,
    tensor_parallel: int = 1,
    interconnect: str = "cxl",
) -> dict[str, Any]:
    """Simulate `model` on `hw` and evaluate the baselines: PIM, GPU and CPU latency and energy
    per token, their ratios, and the PIM latency / energy breakdowns (one `compare` / sweep
    row)."""
    result = run(
        hw,
        model=model,
        prompt_len=prompt_len,
        gen_len=gen_len,
        mode=mode,
        gpu=gpu,
        cpu=cpu,
        baseline_overrides=baseline_overrides,
        with_mapping_summary=False,
        max_context=max_context,
        batch=batch,
        dtype=dtype,
        routing=routing,
        expert_groups=expert_groups,
        tensor_parallel=tensor_parallel,
        interconnect=interconnect,
        progress=False,  # (a row of a table: the table's own bar, if any, shows progress)
    )
    return flat_row(hw, result.report)


def flat_row(hw: HardwareConfig, report: dict[str, Any]) -> dict[str, Any]:
    """A report as one flat table row (the columns of `pimsim compare --csv` and sweeps)."""
    baselines = report["baselines"]
    pim = report["pim"]
    row: dict[str, Any] = {
        "model": report["model"]["name"],
        "params": report["model"]["params"],
        "hw": hw.name,
        "hw_sha256": hw.sha256,
        "prompt_len": report["prompt_len"],
        "gen_len": report["gen_len"],
        "mode": report["mode"],
        "pim_latency_s_per_token": pim["latency_s_per_token"],
        "pim_ttft_s": pim["ttft_s"],
        "pim_tpot_p50_s": pim["tpot_p50_s"],
        "pim_tpot_p99_s": pim["tpot_p99_s"],
        "pim_energy_j_per_token": pim["energy_j_per_token"],
        "pim_tokens_per_s": pim["tokens_per_s"],
        "pim_row_hit_rate": pim["row_hit_rate"],
        "pim_busy_s": pim["bounds"]["pim_busy_s"],
        "layout_bound_s": pim["bounds"]["layout_bound_s"],
        "bandwidth_bound_s": pim["bounds"]["bandwidth_bound_s"],
        "asic_busy_s": pim["overlap"]["asic_busy_s"],
        "asic_hidden_s": pim["overlap"]["asic_hidden_s"],
    }
    moe = report.get("moe")
    if moe:  # (a mixture of experts: how the routed rows loaded the expert groups)
        row["moe_busiest_group_rows"] = moe["busiest_group_rows"]
        row["moe_load_imbalance"] = moe["load_imbalance"]
        row["moe_expert_time_s_per_token"] = moe["expert_time_s_per_token"]
    system = report.get("system")
    if system:  # (several devices: what the links did)
        row["system_devices"] = system["devices"]
        row["system_link_busy_s"] = system["links"]["busy_s"]
        row["system_link_energy_j"] = system["links"]["energy_j"]
    for unit, seconds in pim["time_by_unit_s"].items():
        row[f"time_{unit}_s"] = seconds
    for kind, seconds in sorted(pim["latency_breakdown_s"].items()):
        row[f"latency_{kind}_s"] = seconds
    for part, joules in sorted(pim["energy_breakdown_j"].items()):
        row[f"energy_{part}_j"] = joules
    for key in ("gpu", "cpu"):
        base = baselines[key]
        row[f"{key}_name"] = base["name"]
        row[f"{key}_runtime"] = base["runtime"]
        row[f"{key}_latency_s_per_token"] = base["latency_s_per_token"]
        row[f"{key}_energy_j_per_token"] = base["energy_j_per_token"]
        row[f"speedup_{key}"] = report["speedup"][key]
        row[f"energy_efficiency_{key}"] = report["energy_efficiency"][key]
    return row
