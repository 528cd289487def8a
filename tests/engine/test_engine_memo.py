"""The exact operator memo and the idle-gap refresh catch-up: on randomised operator sequences
(reusable GEMVs at random row bases, KV-style write programs, random idle gaps, refresh on and
frequent), the default engine (channel classes, memo, fast-forward) gives bit-identical end
cycles, command counts and channel states to the command-by-command path."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.core.commands import Cmd
from pimsim.dram import kernel
from pimsim.dram.programs import EMPTY, ChannelProgram
from pimsim.dram.system import PimSystem
from pimsim.gemv import plan_gemv

# refresh intervals short enough that the memo sees every refresh phase many times
VARIANTS = {
    "gddr6_aim": ["dram.timing.nREFI=600"],
    "gddr6_aim/per-bank": ["dram.refresh=per_bank", "dram.timing.nREFI=9600"],
    "gddr6_aim/closed": ["dram.page_policy=closed", "dram.timing.nREFI=700"],
    "gddr6_aim/eager-refresh": ["dram.timing.nREFI=600", "dram.refresh_postpone=0"],
    "hbm_pim": ["dram.timing.nREFI=500"],
    "hbm_pim/no-refresh": ["dram.refresh=none"],
}
OPS = 900


def _pool(hw, rng) -> list[ChannelProgram]:
    """GEMV programs of a few shapes, one row or many, as the weight layouts make them."""
    pool = []
    for rows, cols in [(16, 16), (40, 300), (200, 1100), (int(rng.integers(1, 300)), 2100)]:
        plan = plan_gemv(hw, rows, cols)
        segments = max(plan.segments_per_unit)
        pool.append(ChannelProgram(plan.chunks, segments, reusable=True))
        # the same work as an attention-like program: memoised only while no refresh meets it
        pool.append(ChannelProgram(plan.chunks, segments))
    return pool


def _writes(hw, rng, row_base_max: int) -> ChannelProgram:
    """A KV-style write program: a few WRs to random banks and rows (not memoised)."""
    org = hw.dram.organization
    n = int(rng.integers(1, 6))
    requests = np.zeros((n, 5), dtype=np.int64)
    requests[:, 0] = int(Cmd.WR)
    requests[:, 1] = rng.integers(0, org.banks, n)
    requests[:, 2] = rng.integers(0, row_base_max + 4, n)  # sometimes a GEMV's first row
    requests[:, 3] = rng.integers(0, org.columns, n)
    requests[:, 4] = 1
    if rng.random() < 0.6:  # as the KV writes: one PREA first (then memoisable)
        requests = np.vstack([[int(Cmd.PREA), 0, -1, -1, 0], requests])
    return ChannelProgram(requests=requests)


def _canonical(pim: PimSystem, channel: int, at: int) -> np.ndarray:
    """A channel's state as of cycle `at`, refreshes due by then issued, in canonical form."""
    state = next(c.state for c in pim.classes if channel in c.channels).copy()
    log, logn = kernel.empty_log(0)
    kernel.catch_up_refresh(pim.model.table, state, pim.model.new_counters(), at, log, logn)
    kernel.canonicalize(pim.model.table, state, at)
    return state


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_memoised_runs_are_bit_identical(variant):
    hw = load_hw(variant.split("/")[0], VARIANTS[variant])
    rng = np.random.default_rng(zlib.crc32(variant.encode()))
    pool = _pool(hw, rng)
    row_bases = [0, 3, 40, 41, 500]
    fast = PimSystem(hw)
    exact = PimSystem(hw, exact=True)
    channels = hw.dram.channels
    now = 0
    for _ in range(OPS):
        if rng.random() < 0.2:
            programs = [_writes(hw, rng, max(row_bases)) for _ in range(channels)]
            row_base = 0
        else:
            program = pool[int(rng.integers(len(pool)))]
            programs = [program if rng.random() < 0.9 else EMPTY for _ in range(channels)]
            row_base = int(rng.choice(row_bases))
        start = now + int(rng.choice([0, 1, 7, 300, 2000]))
        a = fast.run(programs, start, row_base)
        b = exact.run(programs, start, row_base)
        assert a.end_cycle == b.end_cycle
        assert np.array_equal(a.counters, b.counters)
        now = a.end_cycle
    assert np.array_equal(fast.counters, exact.counters)
    later = now + 5000  # both must agree on everything still to come
    for channel in range(channels):
        assert np.array_equal(_canonical(fast, channel, later), _canonical(exact, channel, later))
    # the memo did the work it is there for, and the kernel ran far less often
    assert fast.memo_hits > 40
    assert fast.phase_free_hits > 10
    assert fast.kernel_calls < exact.kernel_calls * 0.75
