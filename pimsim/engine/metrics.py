"""What a simulated run achieved, measured from its result: when tokens came out (TTFT, the
decode steps) and how close the PIM work came to its layout and bandwidth bounds.

Per-token figures are taken over the decode steps (`pimsim.workload.windows`): time to first
token (TTFT) is when the first LM head finished, time per output token (TPOT) the mean gap
between consecutive LM heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd
from pimsim.core.kinds import PIM_VMM_KINDS
from pimsim.engine.accounting import Timing, account
from pimsim.engine.simulate import SimResult
from pimsim.workload.windows import TokenWindow, output_token_window

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
    vmm = table["kind"].isin(PIM_VMM_KINDS).to_numpy() & (sim.op_unit == 0)  # (on PIM)
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
