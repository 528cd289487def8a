"""The controller's refresh policy: a due refresh waits for the next row switch (postponement),
refreshes are pulled into idle gaps that can hold them (pull-in), both within the JEDEC limit
of 8, and the resulting command logs pass the independent checker, tight."""

from __future__ import annotations

import numpy as np

from pimsim.config import load_hw
from pimsim.core.commands import Cmd
from pimsim.dram.channel import ChannelModel, log_frame
from pimsim.dram.checker import check_log
from pimsim.dram.programs import ChannelProgram
from pimsim.dram.system import PimSystem
from pimsim.gemv import plan_gemv


def _rows_and_activations(postpone: int) -> tuple[int, int, int]:
    hw = load_hw("gddr6_aim", [f"dram.refresh_postpone={postpone}"])
    plan = plan_gemv(hw, 128 * 40, 1024)  # one full-row chunk, 40 rows per bank
    run = ChannelModel(hw).run_gemv(
        plan.chunks, max(plan.segments_per_unit), fast=False, log_capacity=100_000
    )
    assert check_log(log_frame(run.log), hw, tight=True) == []
    counts = run.counters
    return 40, int(counts[Cmd.ACT16]), int(counts[Cmd.REFab])


def test_postponed_refresh_never_cuts_a_row():
    rows, activations, refreshes = _rows_and_activations(postpone=8)
    assert refreshes >= 2
    assert activations == rows  # every refresh went in at a row switch
    rows, eager_activations, eager_refreshes = _rows_and_activations(postpone=0)
    assert eager_refreshes == refreshes
    assert eager_activations > rows  # eager refreshes closed rows mid-stream


def _idle_gap_refreshes(pull_in: int, gap_intervals: float) -> tuple[int, int, int, PimSystem]:
    hw = load_hw("gddr6_aim", [f"dram.refresh_pull_in={pull_in}"])
    pim = PimSystem(hw, log_capacity=10_000)
    plan = plan_gemv(hw, 128, 64)
    program = ChannelProgram(plan.chunks, max(plan.segments_per_unit), reusable=True)
    first = pim.run([program] * hw.dram.channels, 0)
    refi = hw.dram.t("nREFI")
    start = first.end_cycle + int(gap_intervals * refi)
    pim.run([program] * hw.dram.channels, start)
    log = pim.command_logs()
    assert check_log(log, hw) == []  # (operators wait for their start: not tight across)
    channel0 = log[log["channel"] == 0]
    refs = channel0[channel0["cmd"] == "REFab"]
    before_start = int((refs["cycle"] + hw.dram.t("nRFC") <= start).sum())
    return len(refs), before_start, start // refi, pim


def test_refreshes_are_pulled_into_an_idle_gap_that_holds_them():
    # the gap ends 0.9 intervals after a due time: room for several refreshes ahead
    refs, done_before_start, due_by_start, pim = _idle_gap_refreshes(8, gap_intervals=29.9)
    assert done_before_start == refs  # none delays the operator
    assert refs == due_by_start + 8  # every due one, then 8 ahead (the limit)
    assert pim.idle_refreshes == refs * pim.hw.dram.channels
    refs, _, due_by_start, _ = _idle_gap_refreshes(3, gap_intervals=29.9)
    assert refs == due_by_start + 3
    refs, _, due_by_start, _ = _idle_gap_refreshes(0, gap_intervals=29.9)
    assert refs == due_by_start


def test_a_short_gap_pulls_in_only_what_completes_before_the_operator():
    hw = load_hw("gddr6_aim")
    gap = hw.dram.t("nRFC") * 3 + hw.dram.t("nRP")  # room for 2 refreshes (and a precharge)
    pim = PimSystem(hw, log_capacity=10_000)
    plan = plan_gemv(hw, 128, 64)
    program = ChannelProgram(plan.chunks, max(plan.segments_per_unit), reusable=True)
    first = pim.run([program] * hw.dram.channels, 0)
    pim.run([program] * hw.dram.channels, first.end_cycle + gap)
    log = pim.command_logs()
    assert check_log(log, hw) == []  # (operators wait for their start: not tight across)
    refs = log[(log["channel"] == 0) & (log["cmd"] == "REFab")]
    assert 1 <= len(refs) <= 3
    assert np.all(refs["cycle"].to_numpy() + hw.dram.t("nRFC") <= first.end_cycle + gap)
