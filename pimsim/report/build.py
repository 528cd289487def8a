"""Build the pimsim.report.v1 dictionary, the per-op table and the Perfetto timeline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.dram.commands import Cmd, family_counts
from pimsim.dram.tables import N_CMDS
from pimsim.engine.simulate import SimResult

UNITS = ("pim", "vector", "link")
PIM_VMM_KINDS = ("vmm", "gemm", "attn_score", "attn_value")


def _per_token_latency(
    sim: SimResult,
    table: pd.DataFrame,
    prompt_len: int,
    gen_len: int,
) -> tuple[float, float]:
    """(decode seconds per generated token, prefill seconds before the decode phase)."""
    positions = table["token"].to_numpy()
    first_decode_position = max(prompt_len - 1, 0)
    mask = positions >= first_decode_position
    t_start = int(sim.op_start_ps[mask].min()) if mask.any() else 0
    # generated tokens: the LM heads of the decode window (batched prefill has one more before)
    tokens = max(int(((table["name"] == "lm_head").to_numpy() & mask).sum()), 1)
    decode_ps = sim.end_ps - t_start
    return decode_ps / tokens * 1e-12, t_start * 1e-12


def bounds(hw: HardwareConfig, sim: SimResult, table: pd.DataFrame) -> dict[str, float]:
    """Layout-aware and plain-bandwidth lower bounds on the PIM busy time (seconds)."""
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
    pim_busy = float(((sim.op_end_ps - sim.op_start_ps)[sim.op_unit == 0]).sum()) * 1e-12
    # time a channel spends refreshing while busy (no layout avoids it; the layout bound leaves
    # it out); refreshes issued while the PIM idled between operators are not busy time
    busy_refreshes = counts[Cmd.REFab] + counts[Cmd.REFpb] - sim.pim.idle_refreshes
    per_refresh = t("nRFC") if dram.refresh == "all_bank" else t("nRFCpb")
    refresh_cycles = busy_refreshes * per_refresh if dram.refresh != "none" else 0
    refresh_s = float(refresh_cycles / channels * tck)
    # broadcasting input vectors into the global buffers (not in the layout bound either)
    wrgb_gap = max(1, *(r.distance_cycles for r in dram.rules if _self_rule(r, "WRGB")))
    fill_s = float(counts[Cmd.WRGB] * wrgb_gap / channels * tck)
    return {
        "pim_busy_s": pim_busy,
        "layout_bound_s": float(layout_bound),
        "bandwidth_bound_s": bytes_read / peak_Bps,
        "peak_in_bank_bandwidth_GBps": peak_Bps / 1e9,
        "pim_busy_over_layout_bound": pim_busy / layout_bound if layout_bound else 0.0,
        "refresh_while_busy_s": refresh_s,
        "global_buffer_fill_s": fill_s,
        "pim_busy_less_refresh_over_layout_bound": (
            (pim_busy - refresh_s) / layout_bound if layout_bound else 0.0
        ),
    }


def _self_rule(rule, name: str) -> bool:
    """A plain (not rolling-window) rule spacing command `name` from itself."""
    return not rule.window and name in rule.prev and name in rule.next


def energy_breakdown(hw: HardwareConfig, table: pd.DataFrame, sim: SimResult) -> dict:
    """Energy by component (J) and by operator kind (J) of a simulated run."""
    from pimsim.asic import VECTOR_KINDS, table_ops
    from pimsim.energy import EnergyInputs, per_command_energy_j, run_energy_j

    kinds = table["kind"].to_numpy()
    vector = np.isin(kinds, sorted(VECTOR_KINDS))
    lane_ops = table_ops(table, hw.asic)
    sram_bytes = int(table.loc[vector, "bytes"].sum())
    embed_bytes = int((table.loc[table["kind"] == "embed", "out_features"] * 2).sum())
    inputs = EnergyInputs(
        sim.pim.counters,
        sim.end_ps * 1e-12,
        int(lane_ops.sum() + sim.reduce_ops.sum()),
        sram_bytes,
        embed_bytes,
    )
    components = run_energy_j(hw, inputs)
    # by operator kind: the PIM commands each kind issued and the vector work of each kind;
    # background and static power are listed on their own
    per_cmd = per_command_energy_j(hw)
    by_kind: dict[str, float] = {}
    for kind, counters in sim.kind_counters.items():
        by_kind[str(kind)] = sum(per_cmd[c.name] * int(counters[c]) for c in Cmd)
    for kind in np.unique(kinds[vector]):
        ops = float(lane_ops[kinds == kind].sum())
        by_kind[str(kind)] = by_kind.get(str(kind), 0.0) + ops * hw.asic.vector_op_pJ * 1e-12
    by_kind["reduction"] = float(sim.reduce_ops.sum()) * hw.asic.vector_op_pJ * 1e-12
    by_kind["background_and_static"] = components["dram_background"] + components["asic_static"]
    return {"components": components, "by_kind": by_kind, "per_command_j": per_cmd}


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
    counts_by_type = {c.name: int(sim.pim.counters[c]) for c in Cmd}
    per_token_s, prefill_s = _per_token_latency(sim, table, prompt_len, gen_len)
    durations = (sim.op_end_ps - sim.op_start_ps) * 1e-12
    kind_time = pd.Series(durations).groupby(table["kind"].to_numpy()).sum()
    reductions = float(sim.reduce_ps.sum()) * 1e-12
    breakdown = {str(k): float(v) for k, v in kind_time.sort_index().items()}
    if reductions:
        breakdown["reduction"] = reductions
    unit_busy = {UNITS[u]: float(durations[sim.op_unit == u].sum()) for u in range(3)}
    unit_busy["vector"] += reductions
    from pimsim.workload import count_parameters

    energy = energy_breakdown(hw, table, sim)
    energy_j = float(sum(energy["components"].values()))
    latency_s = sim.end_ps * 1e-12
    first_decode = max(prompt_len - 1, 0)
    tokens = max(int(((table["name"] == "lm_head") & (table["token"] >= first_decode)).sum()), 1)
    # energy of the decode phase, apportioned by time when a prompt was processed first
    decode_share = (per_token_s * tokens) / latency_s if latency_s else 1.0
    energy_per_token = energy_j * min(decode_share, 1.0) / tokens
    speedup = efficiency = None
    if baselines:
        speedup = {k: v["latency_s_per_token"] / per_token_s for k, v in baselines.items()}
        efficiency = {k: v["energy_j_per_token"] / energy_per_token for k, v in baselines.items()}
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
            "latency_s": sim.end_ps * 1e-12,
            "latency_s_per_token": per_token_s,
            "tokens_per_s": 1.0 / per_token_s if per_token_s else 0.0,
            "prefill_s": prefill_s,
            "energy_j": energy_j,
            "energy_j_per_token": energy_per_token,
            "row_hit_rate": sim.pim.row_hit_rate,
            "commands": family_counts(counts_by_type),
            "commands_by_type": counts_by_type,
            "latency_breakdown_s": breakdown,
            "unit_busy_s": unit_busy,
            "energy_breakdown_j": energy["components"],
            "energy_by_kind_j": energy["by_kind"],
            "bounds": bounds(hw, sim, table),
            "mapping": mapping_summary,
        },
        "baselines": baselines,
        "speedup": speedup,
        "energy_efficiency": efficiency,
    }


def op_table(table: pd.DataFrame, sim: SimResult) -> pd.DataFrame:
    """Per-operator results (the --out ops.csv)."""
    out = table[["id", "name", "kind", "layer", "token", "phase"]].copy()
    out["unit"] = np.array(UNITS)[sim.op_unit]
    out["start_s"] = sim.op_start_ps * 1e-12
    out["end_s"] = sim.op_end_ps * 1e-12
    out["duration_s"] = out["end_s"] - out["start_s"]
    out["reduction_s"] = sim.reduce_ps * 1e-12
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


__all__ = ["N_CMDS", "bounds", "build_report", "op_table", "perfetto_trace"]
