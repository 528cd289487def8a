"""Lay a run's results out as the pimsim.report.v1 dictionary, the per-op table and the
Perfetto timeline (the numbers come from `pimsim.engine.metrics`, `pimsim.engine.accounting`
and `pimsim.energy.run`; this module only arranges them).

Per-token figures are over the decode steps: time to first token (TTFT), time per output token
(TPOT, with its p50 and p99), and energy per token the decode steps' energy (their commands
and ASIC work, plus background and static power from TTFT to the end) over the tokens they
produce. The latency breakdown gives every picosecond of the run to one category, so it sums
to the latency exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pimsim import __version__
from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd, family_counts
from pimsim.energy.run import energy_breakdown
from pimsim.engine.accounting import account
from pimsim.engine.metrics import PS, bounds, token_times
from pimsim.engine.simulate import UNIT_PIM, SimResult
from pimsim.report.moe import moe_section
from pimsim.report.system import system_section
from pimsim.report.timeline import perfetto_trace
from pimsim.workload.lowering import table_batch

UNITS = ("pim", "vector", "link")


def build_report(
    hw: HardwareConfig,
    spec,
    table: pd.DataFrame,
    sim: SimResult,
    *,
    prompt_len: int,
    gen_len: int,
    mapping_summary: dict[str, Any],
    exact: bool,
    baselines: dict | None = None,
    expert_groups: int = 1,
    offload=None,
    interconnect=None,
) -> dict[str, Any]:
    from pimsim.workload import count_parameters

    kinds = table["kind"].to_numpy()
    timing = account(sim, kinds)
    times = token_times(sim, table)
    per_token_s = times.per_token_ps * PS
    devices = spec.tensor_parallel
    energy = energy_breakdown(
        hw,
        table,
        sim,
        times,
        None if offload is None else offload.energy_j,
        interconnect=interconnect,
        devices=devices,
    )
    batch = table_batch(table)
    energy_per_token = (
        float(sum(energy["window_components"].values())) / times.window.tokens / batch
    )
    speedup = efficiency = None
    if baselines:
        speedup = {k: v["latency_s_per_token"] / per_token_s for k, v in baselines.items()}
        efficiency = {k: v["energy_j_per_token"] / energy_per_token for k, v in baselines.items()}
    return {
        "schema": "pimsim.report.v1",
        "pimsim_version": __version__,
        "hw": {"name": hw.name, "config_sha256": hw.sha256},
        "model": {"name": spec.name, "params": int(count_parameters(spec.whole()))},
        "prompt_len": int(prompt_len),
        "gen_len": int(gen_len),
        "mode": sim.mode,
        "exactness": "exact" if exact else "fast",
        **({"batch": batch} if batch > 1 else {}),
        **({"moe": moe_section(spec, table, sim, expert_groups)} if spec.experts else {}),
        **({offload.role: offload.summary(sim)} if offload is not None else {}),
        **(
            {"system": system_section(spec, table, sim, timing, energy, interconnect)}
            if devices > 1
            else {}
        ),
        "pim": _pim_section(hw, sim, table, timing, times, energy, mapping_summary),
        "baselines": baselines,
        "speedup": speedup,
        "energy_efficiency": efficiency,
    }


def _pim_section(hw, sim, table, timing, times, energy, mapping_summary) -> dict[str, Any]:
    """The report's `pim` block: latency, tokens, energy, commands, breakdowns, bounds."""
    counts_by_type = {c.name: int(sim.pim.counters[c]) for c in Cmd}
    per_token_s = times.per_token_ps * PS
    energy_j = float(sum(energy["components"].values()))
    window_j = float(sum(energy["window_components"].values()))
    tokens = times.window.tokens
    batch = table_batch(table)  # a step yields one token of each sequence
    steps = times.step_ps * PS
    phase = "decode" if times.window.decode else "last_prompt_step"
    latency_s = sim.end_ps * PS
    energy_per_token = window_j / tokens / batch
    return {
        "clock_hz": hw.dram.clock_hz,
        "cycles": int(round(sim.end_ps / (hw.dram.tCK_ns * 1000))),
        "latency_s": latency_s,
        "latency_s_per_token": per_token_s,
        "tokens_per_s": batch / per_token_s if per_token_s else 0.0,
        "ttft_s": times.ttft_ps * PS,
        "tpot_s": per_token_s,
        "tpot_p50_s": float(np.percentile(steps, 50)),
        "tpot_p99_s": float(np.percentile(steps, 99)),
        "per_token_window": {
            "steps": phase,
            "tokens": tokens,
            **({"sequences": batch} if batch > 1 else {}),
        },
        "prefill_s": times.ttft_ps * PS,
        "energy_j": energy_j,
        "energy_j_per_token": energy_per_token,
        # prefill: everything up to the first token; decode: the decode steps' commands and
        # ASIC work, with background and static power from TTFT to the end (sums to energy_j)
        "energy_by_phase_j": {
            "prefill": energy_j - window_j if times.window.decode else energy_j,
            "decode": window_j if times.window.decode else 0.0,
        },
        "row_hit_rate": sim.pim.row_hit_rate,
        "commands": family_counts(counts_by_type),
        "commands_by_type": counts_by_type,
        "latency_breakdown_s": {k: v * PS for k, v in timing.by_kind_ps.items()},
        "latency_breakdown_ps": dict(timing.by_kind_ps),
        "time_by_unit_s": {k: v * PS for k, v in timing.by_unit_ps.items()},
        "unit_busy_s": {
            "pim": timing.pim_busy_ps * PS,
            "vector": timing.asic_busy_ps * PS,
            "link": timing.link_busy_ps * PS,
        },
        "overlap": {
            "asic_busy_s": timing.asic_busy_ps * PS,
            "asic_hidden_s": timing.asic_hidden_ps * PS,
            "asic_exposed_s": timing.asic_exposed_ps * PS,
            "asic_hidden_fraction": (
                timing.asic_hidden_ps / timing.asic_busy_ps if timing.asic_busy_ps else 0.0
            ),
        },
        "energy_breakdown_j": energy["components"],
        "energy_by_kind_j": energy["by_kind"],
        "bounds": bounds(hw, sim, table, timing),
        "mapping": mapping_summary,
    }


def op_table(table: pd.DataFrame, sim: SimResult) -> pd.DataFrame:
    """Per-operator results (the --out ops.csv). Times in seconds; `dram_start_cycle` is the
    DRAM cycle at which a PIM operator was handed to the channels (-1 for other operators):
    `pimsim check-log --ops` reads it."""
    out = table[["id", "name", "kind", "layer", "token", "phase"]].copy()
    out["unit"] = np.array(UNITS)[sim.op_unit]
    out["start_s"] = sim.op_start_ps * PS
    out["end_s"] = sim.op_end_ps * PS
    out["duration_s"] = out["end_s"] - out["start_s"]
    pim = (sim.op_unit == UNIT_PIM) & (sim.pim_end_ps > sim.dram_start_ps)
    tck = max(sim.tck_ps, 1)
    out["dram_start_cycle"] = np.where(pim, sim.dram_start_ps // tck, -1)
    out["pim_end_s"] = np.where(pim, sim.pim_end_ps * PS, np.nan)
    out["reduction_s"] = sim.reduce_ps * PS
    out["asic_hidden_s"] = sim.asic_hidden_ps * PS
    return out


__all__ = ["build_report", "op_table", "perfetto_trace"]
