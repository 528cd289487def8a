"""Engine cycles against hand-derived formulas on small GEMVs (refresh off).

With one segment per MAC unit and one input chunk of w columns, a channel runs exactly:
ACT16 (the chunk's row is opened first), w x WRGB, w x MAC16, RDMAC. The rule table links
these commands only through
  WRGB -> WRGB   nCCDS (data bus)           ACT16 -> MAC16  nRCDRDMAC
  WRGB -> MAC16  nCWLGB + nBL (buffer data)  MAC16 -> MAC16  max(nCCDS, nCCDL)
  MAC16 -> RDMAC nMACRES                     any -> any      1 (command bus, in order)
so each command issues at the maximum of those gates, and the run ends when the RDMAC data has
arrived (nCLREG + nBL later). Units without an adder tree (HBM-PIM) need one RDMAC burst per
lane group, spaced by nCCDS. The formula is therefore exact, not an approximation.
"""

from __future__ import annotations

import pytest

from pimsim.config import load_hw
from pimsim.dram.tables import result_bursts
from pimsim.gemv import simulate_gemv


def _single_segment_cycles(hw, width: int) -> int:
    t = hw.dram.t
    bus = 1
    wrgb_gap = max(bus, t("nCCDS"))
    act = 0
    last_wrgb = act + bus + (width - 1) * wrgb_gap
    first_mac = max(act + t("nRCDRDMAC"), last_wrgb + t("nCWLGB") + t("nBL"))
    last_mac = first_mac + (width - 1) * max(bus, t("nCCDS"), t("nCCDL"))
    rdmac = last_mac + max(bus, t("nMACRES"))
    rdmac += (result_bursts(hw) - 1) * max(bus, t("nCCDS"))
    return rdmac + t("nCLREG") + t("nBL")


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
@pytest.mark.parametrize("width", [1, 2, 5, 8])
def test_single_segment_matches_formula(config, width):
    hw = load_hw(config, ["dram.refresh=none"])
    units = hw.dram.channels * hw.dram.organization.banks // hw.pim.banks_per_mac_unit
    per_column = hw.dram.organization.access_bytes // hw.pim.dtype_bytes
    result = simulate_gemv(hw, units, width * per_column)
    assert result.cycles == _single_segment_cycles(hw, width)
    counts = result.command_counts
    channels = hw.dram.channels
    assert counts["MAC16"] == width * channels
    assert counts["WRGB"] == width * channels
    assert counts["ACT16"] == channels and counts["RDMAC"] == channels * result_bursts(hw)
    # one activate per w column accesses: all but the first access of each channel are hits
    assert result.row_hit_rate == pytest.approx((width - 1) / width)


def _multi_row_cycles(hw, segments: int) -> int:
    """Full-row segments (w = columns): each new segment precharges and re-activates.

    Per segment: [PREA], ACT16, w x MAC16, RDMAC, with the extra gates
      MAC16 -> PREA nRTP, ACT16 -> PREA nRAS, PREA -> ACT16 nRP, ACT16 -> ACT16 nRC,
      RDMAC -> MAC16 nCLREG + nBL.
    """
    t = hw.dram.t
    width = hw.dram.organization.columns
    mac_gap = max(1, t("nCCDS"), t("nCCDL"))
    act = 0
    last_wrgb = act + 1 + (width - 1) * max(1, t("nCCDS"))
    mac0 = max(act + t("nRCDRDMAC"), last_wrgb + t("nCWLGB") + t("nBL"))
    rdmac = last_mac = 0  # set by the first segment before use
    for seg in range(segments):
        if seg:
            prea = max(last_mac + t("nRTP"), act + t("nRAS"), rdmac + 1)
            act = max(prea + t("nRP"), act + t("nRC"))
            mac0 = max(act + t("nRCDRDMAC"), rdmac + t("nCLREG") + t("nBL"))
        last_mac = mac0 + (width - 1) * mac_gap
        rdmac = last_mac + max(1, t("nMACRES"))
    return rdmac + t("nCLREG") + t("nBL")


@pytest.mark.parametrize("segments", [2, 3, 7])
def test_row_switching_matches_recurrence(segments):
    hw = load_hw("gddr6_aim", ["dram.refresh=none"])
    units = hw.dram.channels * hw.dram.organization.banks
    row_elems = hw.dram.organization.columns * 16
    result = simulate_gemv(hw, units * segments, row_elems)
    assert result.cycles == _multi_row_cycles(hw, segments)
    assert result.command_counts["PREA"] == (segments - 1) * hw.dram.channels


@pytest.mark.parametrize("lanes", [4, 8, 16, 32])
def test_narrow_mac_units_take_several_passes_per_column(lanes):
    # a unit with fewer lanes than a column's 16 elements spaces MACs by ceil(16/lanes) x tCCD
    base = load_hw("gddr6_aim", ["dram.refresh=none"])
    hw = load_hw("gddr6_aim", ["dram.refresh=none", f"pim.mac_lanes={lanes}"])
    units = hw.dram.channels * hw.dram.organization.banks
    width = 8
    t = hw.dram.t
    passes = -(-16 // lanes)
    gap = max(1, passes * max(t("nCCDS"), t("nCCDL")))
    expected = _single_segment_cycles(base, width) + (width - 1) * (
        gap - max(1, t("nCCDS"), t("nCCDL"))
    )
    assert simulate_gemv(hw, units, width * 16).cycles == expected
