"""Randomised GEMVs on every shipped PIM config: the engine's command logs are legal and tight
under the independent checker, and the fast path (burst fast-forward, symmetric channels) gives
bit-identical cycles and command counts to the command-by-command path."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.core.errors import PimsimInputError
from pimsim.dram.channel import ChannelModel, log_frame
from pimsim.dram.checker import check_log
from pimsim.gemv import plan_gemv, simulate_gemv

# shipped configs plus variants that make refresh (all-bank and per-bank) and closed-page
# policies show up in small programs
VARIANTS = {
    "gddr6_aim": [],
    "hbm_pim": [],
    "gddr6_aim/refresh-often": ["dram.timing.nREFI=700"],
    "gddr6_aim/eager-refresh": ["dram.timing.nREFI=700", "dram.refresh_postpone=0"],
    "gddr6_aim/per-bank": ["dram.refresh=per_bank"],
    "gddr6_aim/closed": ["dram.page_policy=closed", "dram.timing.nREFI=900"],
    "hbm_pim/refresh-often": ["dram.timing.nREFI=500"],
    "hbm_pim/per-bank-closed": ["dram.refresh=per_bank", "dram.page_policy=closed"],
}
SHAPES = 32


def _hw(variant: str):
    return load_hw(variant.split("/")[0], VARIANTS[variant])


def _shapes(seed: int, hw) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    units = hw.dram.channels * hw.dram.organization.banks // hw.pim.banks_per_mac_unit
    shapes = []
    for _ in range(SHAPES):
        rows = int(rng.integers(1, 3 * units + 1))
        cols = int(rng.integers(1, 2500))
        shapes.append((rows, cols))
    # shapes that straddle a DRAM row, a chunk, a bank and a channel exactly
    per_row = hw.dram.organization.columns * 16
    shapes += [(units, per_row), (units + 1, per_row + 1), (hw.dram.channels, 17)]
    return shapes


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_random_gemvs_are_legal_and_tight(variant):
    hw = _hw(variant)
    model = ChannelModel(hw)
    for rows, cols in _shapes(zlib.crc32(variant.encode()), hw):
        plan = plan_gemv(hw, rows, cols)
        segments = max(plan.segments_per_unit)
        run = model.run_gemv(plan.chunks, segments, fast=False, log_capacity=200_000)
        total = sum(run.command_counts.values())
        assert len(run.log) == total, "log must hold the whole program"
        violations = check_log(log_frame(run.log), hw, tight=True)
        assert violations == [], (variant, rows, cols, violations[:3])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fast_path_is_bit_identical(variant):
    hw = _hw(variant)
    for rows, cols in _shapes(1 + zlib.crc32(variant.encode()), hw):
        fast = simulate_gemv(hw, rows, cols)
        exact = simulate_gemv(hw, rows, cols, exact=True)
        assert fast.cycles == exact.cycles, (rows, cols)
        assert fast.command_counts == exact.command_counts, (rows, cols)
        assert fast.row_hit_rate == exact.row_hit_rate
        for a, b in zip(fast.channel_runs, exact.channel_runs, strict=True):
            assert a.end_cycle == b.end_cycle
            assert np.array_equal(a.counters, b.counters)


def test_checker_flags_a_perturbed_engine_log():
    hw = load_hw("gddr6_aim", ["dram.timing.nREFI=700"])
    plan = plan_gemv(hw, 300, 1500)
    run = ChannelModel(hw).run_gemv(
        plan.chunks, max(plan.segments_per_unit), fast=False, log_capacity=100_000
    )
    frame = log_frame(run.log)
    rng = np.random.default_rng(5)
    refi = hw.dram.t("nREFI")
    # commands that wait only for a refresh due time are legal earlier (not tight there)
    movable = [i for i in range(1, len(frame)) if frame.loc[i, "cycle"] % refi != 0]
    for index in rng.choice(movable, size=25, replace=False):
        early = frame.copy()
        early.loc[index, "cycle"] -= 1
        flagged = [v for v in check_log(early, hw) if v.index == index]
        assert flagged, int(index)


def test_refresh_livelock_is_a_clear_error():
    hw = load_hw("gddr6_aim", ["dram.refresh=per_bank", "dram.timing.nREFI=1600"])
    plan = plan_gemv(hw, 300, 1500)
    with pytest.raises(PimsimInputError, match="never make progress"):
        ChannelModel(hw).run_gemv(plan.chunks, max(plan.segments_per_unit))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_row_fast_forward_is_bit_identical(variant):
    """Long row runs (many segments per unit) exercise the periodic-row fast-forward."""
    hw = _hw(variant)
    model = ChannelModel(hw)
    rng = np.random.default_rng(zlib.crc32(variant.encode()) + 7)
    for _ in range(6):
        units = hw.dram.channels * hw.dram.organization.banks // hw.pim.banks_per_mac_unit
        rows = units * int(rng.integers(20, 120)) + int(rng.integers(0, units))
        cols = int(rng.integers(16, 3000))
        plan = plan_gemv(hw, rows, cols)
        segments = max(plan.segments_per_unit)
        fast_state, exact_state = model.new_state(), model.new_state()
        start = int(rng.integers(0, 5000))  # an op that starts mid refresh interval
        fast = model.run_gemv(plan.chunks, segments, state=fast_state, start=start)
        exact = model.run_gemv(plan.chunks, segments, state=exact_state, start=start, fast=False)
        assert fast.end_cycle == exact.end_cycle, (variant, rows, cols)
        assert np.array_equal(fast.counters, exact.counters), (variant, rows, cols)
        # and the channel goes on identically afterwards
        again_fast = model.run_gemv(plan.chunks[:1], 3, state=fast_state, start=0)
        again_exact = model.run_gemv(plan.chunks[:1], 3, state=exact_state, start=0, fast=False)
        assert again_fast.end_cycle == again_exact.end_cycle


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_chunk_fast_forward_is_bit_identical(variant):
    """Attention programs (one same-shape chunk per head, rows a fixed step apart) exercise the
    chunk fast-forward: random contexts, random start cycles, random prior state."""
    from pimsim.mapping.model_map import kv_layout
    from pimsim.mapping.programs import Geometry

    hw = _hw(variant)
    model = ChannelModel(hw)
    geo = Geometry.of(hw)
    rng = np.random.default_rng(zlib.crc32(variant.encode()) + 11)
    for _ in range(8):
        heads = int(rng.integers(2, 40))
        d_head = int(rng.choice([32, 64, 80, 128]))
        layout = kv_layout(geo, heads, heads, d_head, 2048, int(rng.integers(0, 50)))
        context = int(rng.integers(1, 2048))
        for programs in (layout.score_programs(context), layout.value_programs(context)):
            program = next((p for p in programs if not p.is_empty), None)
            if program is None:
                continue
            fast_state, exact_state = model.new_state(), model.new_state()
            # some prior work leaves rows open and timers running
            prior = plan_gemv(hw, 64, int(rng.integers(16, 900)))
            for state, fast in ((fast_state, True), (exact_state, False)):
                model.run_gemv(prior.chunks, 1, state=state, fast=fast)
            where = {"start": int(rng.integers(0, 5000)), "row_base": layout.row_base}
            fast = model.run_gemv(program.chunks, program.segments, state=fast_state, **where)
            exact = model.run_gemv(
                program.chunks, program.segments, state=exact_state, fast=False, **where
            )
            assert fast.end_cycle == exact.end_cycle, (variant, heads, d_head, context)
            assert np.array_equal(fast.counters, exact.counters), (variant, heads, context)
            assert np.array_equal(fast_state, exact_state) or (
                model.run_gemv(prior.chunks, 2, state=fast_state).end_cycle
                == model.run_gemv(prior.chunks, 2, state=exact_state, fast=False).end_cycle
            )
