"""Build the pimsim.report.v1 dictionary, the per-op table and the Perfetto timeline.

Per-token figures are taken over the decode steps (`pimsim.workload.windows`): time to first
token (TTFT) is when the first LM head finished, time per output token (TPOT) the mean gap
between consecutive LM heads (with its p50 and p99), and energy per token the decode steps'
energy (their commands and ASIC work, plus background and static power from TTFT to the end)
over the tokens they produce. The latency breakdown gives every picosecond of the run to one
category (`pimsim.engine.accounting`), so it sums to the latency exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd, family_counts
from pimsim.core.kinds import PIM_VMM_KINDS
from pimsim.dram.tables import N_CMDS
from pimsim.engine.accounting import Timing, account
from pimsim.engine.simulate import NONE, UNIT_LINK, UNIT_PIM, SimResult
from pimsim.workload.windows import TokenWindow, output_token_window

UNITS = ("pim", "vector", "link")
PS = 1e-12


@dataclass(frozen=True)
class TokenTimes:
    """When tokens came out (ps) and the span the per-token figures cover."""

    window: TokenWindow
    ttft_ps: int  # end of the first LM head (the whole run if there is none)
    step_ps: np.ndarray  # time of each step in the window (gaps between LM heads)
    span_ps: tuple[int, int]  # [begin, end) of the per-token window (decode: TTFT to the end)

    @property
    def per_token_ps(self) -> float:
        return float(self.step_ps.mean()) if len(self.step_ps) else 0.0


def token_times(sim: SimResult, table: pd.DataFrame) -> TokenTimes:
    """TTFT, the decode steps' times and the window they span."""
    window = output_token_window(table)
    heads = np.array(sorted(sim.lm_head_end_ps), dtype=np.int64)
    if window.decode:
        steps = np.diff(heads)
        return TokenTimes(window, int(heads[0]), steps, (int(heads[0]), int(sim.end_ps)))
    # one output token (or none): the step that produced it, from the end of the step before
    end = int(heads[0]) if len(heads) else int(sim.end_ps)
    earlier = table["token"].to_numpy() < window.first_head_position
    begin = int(sim.op_end_ps[earlier].max()) if earlier.any() else 0
    return TokenTimes(window, end, np.array([end - begin], dtype=np.int64), (begin, end))


def bounds(
    hw: HardwareConfig, sim: SimResult, table: pd.DataFrame, timing: Timing | None = None
) -> dict:
    """Layout-aware and plain-bandwidth lower bounds on the PIM busy time (seconds). PIM busy
    is the time some channel worked on an operator (no ASIC time in it)."""
    if timing is None:
        timing = account(sim, table["kind"].to_numpy())
    counts = sim.pim.counters
    dram, org, pim = hw.dram, hw.dram.organization, hw.pim
    t = dram.t
    tck = dram.tCK_ns * 1e-9
    channels, banks = dram.channels, org.banks
    # activations per bank (mean over the channel's banks; all-bank ACT16 opens every bank)
    bank_acts = (
        counts[Cmd.ACT16] * banks + counts[Cmd.ACT4] * org.banks_per_group + counts[Cmd.ACT]
    ) / (channels * banks)
    # MAC column commands per MAC unit (the shared resource: one unit may serve two banks)
    unit_macs = (counts[Cmd.MAC16] + counts[Cmd.MAC] * pim.banks_per_mac_unit / banks) / channels
    mac_gap = max(1, t("nCCDS"), t("nCCDL"))
    # a row switch costs the last MAC -> precharge delay, the precharge, and activate -> MAC
    switch = t("nRTP") + t("nRP") + t("nRCDRDMAC")
    layout_bound = (bank_acts * switch + unit_macs * mac_gap) * tck
    vmm = table["kind"].isin(PIM_VMM_KINDS)
    bytes_read = float((table.loc[vmm, "weight_bytes"] + table.loc[vmm, "kv_bytes"]).sum())
    units = channels * banks // pim.banks_per_mac_unit
    peak_Bps = units * org.access_bytes / (mac_gap * tck)
    pim_busy = timing.pim_busy_ps * PS
    # time a channel spends refreshing while busy (no layout avoids it; the layout bound leaves
    # it out); refreshes issued while the PIM idled between operators are not busy time
    busy_refreshes = counts[Cmd.REFab] + counts[Cmd.REFpb] - sim.pim.idle_refreshes
    per_refresh = t("nRFC") if dram.refresh == "all_bank" else t("nRFCpb")
    refresh_cycles = busy_refreshes * per_refresh if dram.refresh != "none" else 0
    refresh_s = float(refresh_cycles / channels * tck)
    # broadcasting input vectors into the global buffers (not in the layout bound either)
    wrgb_gap = max(1, *(r.distance_cycles for r in dram.rules if _self_rule(r, "WRGB")))
    fill_s = float(counts[Cmd.WRGB] * wrgb_gap / channels * tck)
    # reading results out (RDMAC bursts; one per lane group without an adder tree)
    rdmac_gap = max(1, *(r.distance_cycles for r in dram.rules if _self_rule(r, "RDMAC")))
    result_s = float(counts[Cmd.RDMAC] * rdmac_gap / channels * tck)
    return {
        "pim_busy_s": pim_busy,
        "layout_bound_s": float(layout_bound),
        "bandwidth_bound_s": bytes_read / peak_Bps,
        "peak_in_bank_bandwidth_GBps": peak_Bps / 1e9,
        "pim_busy_over_layout_bound": pim_busy / layout_bound if layout_bound else 0.0,
        "refresh_while_busy_s": refresh_s,
        "global_buffer_fill_s": fill_s,
        "result_read_s": result_s,
        "pim_busy_less_refresh_over_layout_bound": (
            (pim_busy - refresh_s) / layout_bound if layout_bound else 0.0
        ),
    }


def _self_rule(rule, name: str) -> bool:
    """A plain (not rolling-window) rule spacing command `name` from itself."""
    return not rule.window and name in rule.prev and name in rule.next


def _energy_inputs(hw: HardwareConfig, table: pd.DataFrame, sim: SimResult, mask, counters, s):
    from pimsim.asic import VECTOR_KINDS, table_ops
    from pimsim.energy import EnergyInputs

    kinds = table["kind"].to_numpy()
    vector = np.isin(kinds, sorted(VECTOR_KINDS)) & mask
    lane_ops = table_ops(table, hw.asic)
    embed = (kinds == "embed") & mask
    return EnergyInputs(
        counters,
        s,
        int(lane_ops[mask].sum() + sim.reduce_ops[mask].sum()),
        int(table.loc[vector, "bytes"].sum()),
        int((table.loc[embed, "out_features"] * 2).sum()),
    )


def energy_breakdown(
    hw: HardwareConfig, table: pd.DataFrame, sim: SimResult, times: TokenTimes | None = None
) -> dict:
    """Energy by component (J), by operator kind (J), and of the per-token window."""
    from pimsim.asic import VECTOR_KINDS, table_ops
    from pimsim.energy import per_command_energy_j, run_energy_j

    everything = np.ones(len(table), dtype=bool)
    components = run_energy_j(
        hw, _energy_inputs(hw, table, sim, everything, sim.pim.counters, sim.end_ps * PS)
    )
    # by operator kind: the PIM commands each kind issued and the vector work of each kind;
    # background and static power are listed on their own
    kinds = table["kind"].to_numpy()
    vector = np.isin(kinds, sorted(VECTOR_KINDS))
    lane_ops = table_ops(table, hw.asic)
    per_cmd = per_command_energy_j(hw)
    by_kind: dict[str, float] = {}
    for kind, counters in sim.kind_counters.items():
        by_kind[str(kind)] = sum(per_cmd[c.name] * int(counters[c]) for c in Cmd)
    for kind in np.unique(kinds[vector]):
        ops = float(lane_ops[kinds == kind].sum())
        by_kind[str(kind)] = by_kind.get(str(kind), 0.0) + ops * hw.asic.vector_op_pJ * PS
    by_kind["reduction"] = float(sim.reduce_ops.sum()) * hw.asic.vector_op_pJ * PS
    by_kind["background_and_static"] = components["dram_background"] + components["asic_static"]
    out = {"components": components, "by_kind": by_kind, "per_command_j": per_cmd}
    if times is not None:
        window = times.window
        positions = table["token"].to_numpy()
        tokens_in = np.unique(positions[window.mask])
        counters = sim.token_counters[tokens_in].sum(axis=0)
        begin, end = times.span_ps
        decode = run_energy_j(
            hw, _energy_inputs(hw, table, sim, window.mask, counters, (end - begin) * PS)
        )
        out["window_components"] = decode
    return out


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
) -> dict[str, Any]:
    from pimsim.workload import count_parameters

    counts_by_type = {c.name: int(sim.pim.counters[c]) for c in Cmd}
    kinds = table["kind"].to_numpy()
    timing = account(sim, kinds)
    times = token_times(sim, table)
    per_token_s = times.per_token_ps * PS
    energy = energy_breakdown(hw, table, sim, times)
    energy_j = float(sum(energy["components"].values()))
    window_j = float(sum(energy["window_components"].values()))
    tokens = times.window.tokens
    energy_per_token = window_j / tokens
    steps = times.step_ps * PS
    speedup = efficiency = None
    if baselines:
        speedup = {k: v["latency_s_per_token"] / per_token_s for k, v in baselines.items()}
        efficiency = {k: v["energy_j_per_token"] / energy_per_token for k, v in baselines.items()}
    latency_s = sim.end_ps * PS
    phase = "decode" if times.window.decode else "last_prompt_step"
    return {
        "schema": "pimsim.report.v1",
        "hw": {"name": hw.name, "config_sha256": hw.sha256},
        "model": {"name": spec.name, "params": int(count_parameters(spec))},
        "prompt_len": int(prompt_len),
        "gen_len": int(gen_len),
        "mode": sim.mode,
        "exactness": "exact" if exact else "fast",
        "pim": {
            "clock_hz": hw.dram.clock_hz,
            "cycles": int(round(sim.end_ps / (hw.dram.tCK_ns * 1000))),
            "latency_s": latency_s,
            "latency_s_per_token": per_token_s,
            "tokens_per_s": 1.0 / per_token_s if per_token_s else 0.0,
            "ttft_s": times.ttft_ps * PS,
            "tpot_s": per_token_s,
            "tpot_p50_s": float(np.percentile(steps, 50)),
            "tpot_p99_s": float(np.percentile(steps, 99)),
            "per_token_window": {"steps": phase, "tokens": tokens},
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
        },
        "baselines": baselines,
        "speedup": speedup,
        "energy_efficiency": efficiency,
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


def perfetto_trace(sim: SimResult, hw: HardwareConfig) -> dict[str, Any]:
    """Chrome / Perfetto trace-event JSON: one track per hardware unit."""
    tids = {name: i for i, name in enumerate(UNITS)}
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": 0, "args": {"name": f"pimsim {hw.name}"}}
    ]
    events += [
        {"name": "thread_name", "ph": "M", "pid": 0, "tid": tid, "args": {"name": name}}
        for name, tid in tids.items()
    ]
    for unit, name, kind, token, t0, t1 in sim.timeline:
        events.append(
            {
                "name": name,
                "cat": kind,
                "ph": "X",
                "pid": 0,
                "tid": tids[unit],
                "ts": t0 / 1e6,
                "dur": (t1 - t0) / 1e6,
                "args": {"token": token},
            }
        )
    return {"traceEvents": events, "displayTimeUnit": "ns"}


__all__ = [
    "N_CMDS",
    "NONE",
    "UNIT_LINK",
    "bounds",
    "build_report",
    "energy_breakdown",
    "op_table",
    "perfetto_trace",
    "token_times",
]
