"""Engine speed (pytest-benchmark; figures, not pass/fail timing): a GEMV program of >= 1e7
commands on one GDDR6-AiM channel through the fast path, and a 1e6-command one through the
command-by-command path. Run `python -m pytest tests/dram/test_bench_engine.py --benchmark-only`."""

from __future__ import annotations

import pytest

from pimsim.config import load_hw
from pimsim.dram.channel import ChannelModel
from pimsim.gemv import plan_gemv


def _program(chunks_wanted: int, segments: int):
    # a bank with enough rows to hold a 1e7-command program
    hw = load_hw("gddr6_aim", ["dram.organization.rows=1048576"])
    units = hw.dram.channels * hw.dram.organization.banks
    plan = plan_gemv(hw, units * segments, chunks_wanted * 1024)
    return ChannelModel(hw), plan


@pytest.mark.parametrize(
    "fast,chunks,segments", [(True, 80, 2048), (False, 8, 2048)], ids=["fast-1e7", "exact-1e6"]
)
def test_bench_gemv_channel(benchmark, fast, chunks, segments):
    model, plan = _program(chunks, segments)
    model.run_gemv(plan.chunks[:1], 1, fast=fast)  # compile / load the kernel outside timing
    run = benchmark.pedantic(
        model.run_gemv,
        args=(plan.chunks, plan.segments_per_unit[0]),
        kwargs={"fast": fast},
        rounds=3,
        iterations=1,
    )
    commands = sum(run.command_counts.values())
    benchmark.extra_info["commands"] = commands
    if benchmark.stats:  # (None under --benchmark-disable)
        benchmark.extra_info["M_commands_per_s"] = commands / benchmark.stats.stats.min / 1e6
    assert commands >= (1e7 if fast else 1e6)
    assert run.end_cycle > commands  # at least one cycle per command on the command bus
