"""Batched GEMVs (several input vectors per opened row): the command logs are legal and tight
under the independent checker, the fast path is bit-identical to the command-by-command path,
and the counts follow the batch: MAC, RDMAC and buffer writes scale with it, activations do
not."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.core.commands import Cmd
from pimsim.dram.channel import ChannelModel, log_frame
from pimsim.dram.checker import check_log
from pimsim.gemv import plan_gemv

VARIANTS = {
    "gddr6_aim": [],
    "gddr6_aim/refresh-often": ["dram.timing.nREFI=700"],
    "gddr6_aim/closed": ["dram.page_policy=closed", "dram.timing.nREFI=900"],
    "hbm_pim": [],
    "hbm_pim/per-bank": ["dram.refresh=per_bank"],
}


def _cases(seed: int, hw) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    units = hw.dram.channels * hw.dram.organization.banks // hw.pim.banks_per_mac_unit
    return [
        (int(rng.integers(1, 3 * units)), int(rng.integers(1, 1500)), int(rng.integers(2, 6)))
        for _ in range(12)
    ]


def _run(hw, rows, cols, vectors, fast, log_capacity=0):
    plan = plan_gemv(hw, rows, cols)
    model = ChannelModel(hw)
    segments = max(plan.segments_per_unit)
    group = hw.pim.result_registers if hw.pim.result_registers > 1 else 0  # (as simulate_gemv)
    return model.run_gemv(
        plan.chunks, segments, fast=fast, log_capacity=log_capacity, vectors=vectors, group=group
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_batched_gemvs_are_legal_tight_and_fast_equals_exact(variant):
    hw = load_hw(variant.split("/")[0], VARIANTS[variant])
    for rows, cols, vectors in _cases(zlib.crc32(variant.encode()), hw):
        exact = _run(hw, rows, cols, vectors, fast=False, log_capacity=400_000)
        assert len(exact.log) == sum(exact.command_counts.values())
        violations = check_log(log_frame(exact.log), hw, tight=True)
        assert violations == [], (variant, rows, cols, vectors, violations[:3])
        fast = _run(hw, rows, cols, vectors, fast=True)
        assert fast.end_cycle == exact.end_cycle, (rows, cols, vectors)
        assert np.array_equal(fast.counters, exact.counters)


def test_counts_follow_the_batch_on_a_row_sharing_layout():
    hw = load_hw("gddr6_aim")
    one = _run(hw, 512, 1024, 1, fast=True).counters
    four = _run(hw, 512, 1024, 4, fast=True).counters
    for cmd in (Cmd.MAC16, Cmd.RDMAC, Cmd.WRGB):
        assert four[cmd] == 4 * one[cmd], cmd.name
    assert four[Cmd.ACT16] == one[Cmd.ACT16]  # an opened row serves every vector
    # and the time grows less than the batch (the row switches are shared)
    t1 = _run(hw, 512, 1024, 1, fast=True).end_cycle
    t4 = _run(hw, 512, 1024, 4, fast=True).end_cycle
    assert t1 < t4 < 4 * t1
