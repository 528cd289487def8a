"""Fast paths audited at every operator boundary, not just at the end of a run.

The operator sequence of a real run (gpt2-small, prompt and decode steps, every PIM operator
kind) is replayed on two PIM systems, one with every reuse path on (channel classes, the
operator memo, bursts, row and chunk fast-forward) and one command by command. After each
operator every channel's state must be the same in both, once timers that can never bind again
are clamped (`kernel.canonicalize`), as must the operator's end cycle, its command counts and
its output-tile completion cycles.
"""

from __future__ import annotations

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.dram import kernel
from pimsim.dram.system import PimSystem
from pimsim.dram.tables import H_S_SC, SC_END, SC_FLOOR
from pimsim.engine import simulate
from pimsim.engine.work import OperatorWorks
from pimsim.pipeline import prepare_run


def _channel_states(system: PimSystem) -> dict[int, np.ndarray]:
    table = system.model.table
    sc = int(table[H_S_SC])
    out = {}
    for cls in system.classes:
        canonical = cls.state.copy()
        kernel.canonicalize(table, canonical, 0)
        # an end-of-work mark below the floor can never show again (any later command
        # completes after the floor); the fast path raises it when it commits an idle gap
        canonical[sc + SC_END] = max(canonical[sc + SC_END], canonical[sc + SC_FLOOR])
        for channel in cls.channels:
            out[channel] = canonical
    return out


@pytest.mark.parametrize(
    ("config", "sets"),
    [
        ("gddr6_aim", []),
        ("gddr6_aim", ["dram.timing.nREFI=900", "dram.page_policy=closed"]),
        ("hbm_pim", []),
        ("hbm_pim", ["dram.refresh=per_bank"]),
    ],
)
def test_fast_and_exact_states_agree_after_every_operator(config, sets):
    hw = load_hw(config, sets)
    prepared = prepare_run(hw, model="gpt2-small", prompt_len=3, gen_len=2)
    sim = simulate(hw, prepared.table, prepared.mapping)  # the start cycles to replay
    works = OperatorWorks(hw, prepared.mapping, stream=True)
    fast, exact = PimSystem(hw), PimSystem(hw, exact=True)
    table = prepared.table
    ops = np.flatnonzero((sim.op_unit == 0) & (sim.pim_end_ps > sim.dram_start_ps))
    checked = 0
    for i in ops:
        row = table.iloc[i]
        work = works.of(row["kind"], row["layer"], row["weight"], row["context"], row["m"])
        start = int(sim.dram_start_ps[i] // sim.tck_ps)
        stream = work.streaming
        row_base = works.row_base_of(row["kind"], row["layer"])
        args = (row_base, stream.tile_rows, stream.tiles) if stream else (row_base,)
        a = fast.run(work.programs, start, *args)
        b = exact.run(work.programs, start, *args)
        assert a.end_cycle == b.end_cycle, (i, row["name"])
        assert np.array_equal(a.counters, b.counters), (i, row["name"])
        if stream:
            assert np.array_equal(a.tile_end, b.tile_end), (i, row["name"])
        sa, sb = _channel_states(fast), _channel_states(exact)
        for channel in range(hw.dram.channels):
            assert np.array_equal(sa[channel], sb[channel]), (i, row["name"], channel)
        checked += 1
    assert checked > 100
    assert fast.memo_hits > 0 and len(fast.classes) < hw.dram.channels
