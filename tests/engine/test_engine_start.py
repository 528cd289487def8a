"""Programs that start later than the channel's floor: the fast path must honour `start`."""

from __future__ import annotations

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.dram import kernel
from pimsim.dram.channel import ChannelModel


def _chunks(widths, first_row=0, slots=1):
    rows = [(w, slots, first_row + 4 * k, w) for k, w in enumerate(widths)]
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("policy", ["open", "closed"])
@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_gemv_after_idle_gap_fast_equals_exact(config, policy):
    hw = load_hw(config, [f"dram.page_policy={policy}"])
    model = ChannelModel(hw)
    results = {}
    for fast in (False, True):
        state = model.new_state()
        first = model.run_gemv(_chunks([1]), 3, state=state, fast=fast)
        start = first.end_cycle + 1000
        second = model.run_gemv(_chunks([1, 1, 1, 1], 40), 3, state=state, start=start, fast=fast)
        canonical = state.copy()  # timers that can never bind again clamped to the floor
        kernel.canonicalize(model.table, canonical, 0)
        results[fast] = (second.end_cycle, second.counters.tolist(), canonical)
    assert results[True][0] == results[False][0]
    assert results[True][1] == results[False][1]
    assert np.array_equal(results[True][2], results[False][2])
