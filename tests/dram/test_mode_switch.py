"""The AiM simulator's access modes (TMOD), in-order activation and the data-bus burst rule:
exact (fast == command by command), legal under both checkers, and caught when wrong."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.core.commands import Cmd
from pimsim.core.errors import PimsimInputError
from pimsim.dram.channel import ChannelModel
from pimsim.dram.checker import check_log
from pimsim.dram.protocol import check_protocol
from pimsim.gemv import simulate_gemv

COMPAT = "pimsim/validation/hw/gddr6_aim_simulator.yaml"


def _log(result):
    """Every channel's command log of a GEMV result, as the checkers read it."""
    import pandas as pd

    from pimsim.dram.channel import log_frame

    return pd.concat(
        [log_frame(run.log, ch) for ch, run in enumerate(result.channel_runs)], ignore_index=True
    )


def _hw(extra=(), channels=1):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / COMPAT
    return load_hw(str(path), [f"dram.channels={channels}", *extra])


def test_tmod_switches_between_register_and_bank_commands():
    hw = _hw()
    r = simulate_gemv(hw, 256, 256, log_capacity=10_000)
    # AiM simulator, same pimsim-order trace (aim_simulator_gemv.json): 33 TMODs, 1969 cycles
    # (pimsim ends 3 cycles earlier: the reference waits for its end-of-command ISR)
    assert r.command_counts["TMOD"] == 33
    assert r.cycles == 1966
    cmds = list(_log(r)["cmd"])
    # the channel starts in bank mode: a TMOD before the first buffer write, then one at
    # every switch between WRGB / RDMAC and PREA / ACT16 / MAC16
    assert cmds[:2] == ["TMOD", "WRGB"]
    switches = sum(
        1
        for a, b in zip(cmds, cmds[1:], strict=False)
        if (a in ("WRGB", "RDMAC")) != (b in ("WRGB", "RDMAC")) and "TMOD" not in (a, b)
    )
    assert switches == 0


def test_mode_switch_off_issues_no_tmod_and_keeps_the_preset_exact():
    on = simulate_gemv(_hw(), 512, 512)
    off = simulate_gemv(_hw(["pim.mode_switch=false"]), 512, 512)
    assert off.command_counts["TMOD"] == 0 and on.command_counts["TMOD"] > 0
    assert on.cycles > off.cycles
    plain = load_hw("gddr6_aim", ["dram.channels=1", "dram.refresh=none"])
    # the shipped system has neither switch: same cycles as before the switches existed
    # (aim_simulator_gemv.json pimsim_cycles, recorded before this change: 14498)
    assert simulate_gemv(plain, 1024, 1024).cycles == 14498


@pytest.mark.parametrize("seed", range(6))
def test_fast_equals_exact_with_mode_switch(seed):
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 40)) * 16
    cols = int(rng.integers(1, 40)) * 32
    channels = int(rng.choice([1, 2, 4]))
    extra = []
    if rng.random() < 0.5:
        extra.append("dram.refresh=all_bank")
    if rng.random() < 0.5:
        extra.append("pim.activate_before_buffer_fill=true")
    if rng.random() < 0.3:
        extra.append("pim.result_registers=8")
    hw = _hw(extra, channels)
    fast = simulate_gemv(hw, rows, cols)
    exact = simulate_gemv(hw, rows, cols, exact=True)
    assert fast.cycles == exact.cycles
    assert fast.command_counts == exact.command_counts


@pytest.mark.parametrize("extra", [[], ["dram.refresh=all_bank"], ["pim.result_registers=4"]])
def test_both_checkers_accept_mode_switch_logs(extra):
    hw = _hw(extra)
    r = simulate_gemv(hw, 320, 1024, exact=True, log_capacity=200_000)
    assert r.command_counts["TMOD"] > 0
    log = _log(r)
    assert check_log(log, hw) == []
    assert check_protocol(log, hw) == []


def test_protocol_checker_catches_mode_errors():
    hw = _hw()
    model = ChannelModel(hw)
    commands = [(Cmd.WRGB, 0, -1, 0), (Cmd.ACT16, 0, 3, -1)]
    cycles = model.run_raw(commands)  # no TMOD: WRGB in bank mode
    from gates import frame

    kinds = {v.kind for v in check_protocol(frame(commands, cycles), hw)}
    assert "state" in kinds
    # a TMOD where the configuration has no access modes
    plain = load_hw("gddr6_aim", ["dram.channels=1", "dram.refresh=none"])
    cmds = [(Cmd.TMOD, 0, -1, -1), (Cmd.WRGB, 0, -1, 0)]
    cyc = ChannelModel(plain).run_raw(cmds)
    assert any("TMOD" in v.message for v in check_protocol(frame(cmds, cyc), plain))


def test_shortened_mode_switch_time_is_caught():
    hw = _hw()
    rules = list(hw.dram.rules)
    index = next(i for i, r in enumerate(rules) if r.prev == ("TMOD",))
    rules[index] = dataclasses.replace(rules[index], distance_cycles=31)
    mutant = dataclasses.replace(hw, dram=dataclasses.replace(hw.dram, rules=tuple(rules)))
    r = simulate_gemv(mutant, 64, 64, exact=True, log_capacity=10_000)
    violations = check_protocol(_log(r), hw)
    assert violations and all("nMODCH" in v.message for v in violations)


def test_mode_switch_needs_its_timing(tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text(
        "version: 1\nname: t\ndram:\n  preset: HBM2_PIM\n  channels: 1\n"
        "pim:\n  enabled: true\n  mode_switch: true\n"
    )
    with pytest.raises(PimsimInputError) as err:
        load_hw(str(path))
    assert "nMODCH" in str(err.value)
    path.write_text(path.read_text().replace("mode_switch: true", "mode_switch: yes please"))
    with pytest.raises(PimsimInputError) as err:
        load_hw(str(path))
    assert "pim.mode_switch" in str(err.value)


def test_activate_after_fill_opens_the_row_behind_the_buffer_writes():
    before = _hw(["pim.mode_switch=false", "pim.activate_before_buffer_fill=true"])
    after = _hw(["pim.mode_switch=false"])
    r_before = simulate_gemv(before, 64, 1024, exact=True, log_capacity=10_000)
    r_after = simulate_gemv(after, 64, 1024, exact=True, log_capacity=10_000)
    order = list(_log(r_after)["cmd"])
    first_act = order.index("ACT16")
    assert all(c == "WRGB" for c in order[:first_act]) and first_act == 1024 // 16
    assert list(_log(r_before)["cmd"])[0] == "ACT16"
    assert r_after.cycles > r_before.cycles


def test_data_bus_holds_a_burst_for_nbl_cycles():
    # plain GDDR6-2000: nBL 8 > nCCDS 4; reads to two bank groups stay a burst apart
    hw = load_hw("gddr6", ["dram.channels=1", "dram.refresh=none"])
    bpg = hw.dram.organization.banks_per_group
    model = ChannelModel(hw)
    commands = [(Cmd.ACT, 0, 1, -1), (Cmd.ACT, bpg, 1, -1), (Cmd.RD, 0, 1, 0), (Cmd.RD, bpg, 1, 0)]
    cycles = model.run_raw(commands)
    assert cycles[3] - cycles[2] == hw.dram.t("nBL") == 8
    from gates import frame

    assert check_protocol(frame(commands, cycles), hw) == []
    early = cycles.copy()
    early[3] -= 1
    assert any("data bus" in v.message for v in check_protocol(frame(commands, early), hw))
