"""The cost model a layout search is handed: exact cycles of channel programs on a fresh
channel (the engine itself, so a layout is judged by what it will really take)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pimsim.config.schema import HardwareConfig
from pimsim.dram.channel import ChannelModel


class GemvProgram(Protocol):
    """What a program offers the coster (`pimsim.mapping.programs.ChannelProgram`)."""

    chunks: object
    segments: int
    group_segments: int

    @property
    def is_empty(self) -> bool: ...

    @property
    def key(self) -> tuple: ...


class ProgramCycles:
    """`cost(programs)`: the cycles of the slowest program of a set, each run once on a fresh
    channel and cached by its shape."""

    def __init__(self, hw: HardwareConfig) -> None:
        self.model = ChannelModel(hw)
        self.cache: dict[tuple, int] = {}

    def __call__(self, programs: Sequence[GemvProgram]) -> int:
        worst = 0
        for program in programs:
            if program.is_empty:
                continue
            key = program.key
            if key not in self.cache:
                run = self.model.run_gemv(
                    program.chunks, program.segments, group=program.group_segments
                )
                self.cache[key] = run.end_cycle
            worst = max(worst, self.cache[key])
        return worst
