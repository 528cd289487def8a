"""What a mapping compiles an operator to, per channel: a GEMV program (chunks of the input
vector times matrix-row slices per MAC unit) or a request list, with the identities the
engine's exact reuse keys on."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pimsim.core.commands import Cmd


@dataclass(frozen=True)
class ChannelProgram:
    """One channel's share of an operator: a GEMV program or a request list."""

    chunks: np.ndarray | None = field(default=None, repr=False)  # (width, slots, row, pitch)
    segments: int = 0
    requests: np.ndarray | None = field(default=None, repr=False)  # (cmd, bank, row, col, close)
    reusable: bool = False  # run many times (weights): worth memoising its results
    # > 0: output-stationary GEMV, this many segments per unit accumulate over every chunk in
    # the unit's registers before their results are read (`kernel.run_gemv_grouped`)
    group_segments: int = 0

    @cached_property
    def key(self) -> tuple:
        """Identity of the program: channels with equal keys and equal states stay equal."""
        if self.requests is not None:
            return ("req", self.requests.tobytes())
        return ("gemv", self.segments, self.group_segments, self.chunks.tobytes())

    @cached_property
    def closes_all_first(self) -> bool:
        """A request program whose first command precharges every bank."""
        return (
            self.requests is not None
            and len(self.requests) > 0
            and int(self.requests[0, 0]) == int(Cmd.PREA)
        )

    @cached_property
    def first_row(self) -> int:
        """The row a GEMV program accesses first (in every bank)."""
        return int(self.chunks[0, 2])

    @cached_property
    def relative_key(self) -> bytes:
        """The GEMV's identity up to where its rows are: equal for programs that differ only
        by a row offset (the same matrix shape in another layer)."""
        rel = self.chunks.copy()
        rel[:, 2] -= self.first_row
        head = self.segments.to_bytes(8, "little") + self.group_segments.to_bytes(4, "little")
        return head + rel.tobytes()

    @cached_property
    def is_empty(self) -> bool:
        if self.requests is not None:
            return len(self.requests) == 0
        return self.segments == 0 or self.chunks is None or len(self.chunks) == 0


EMPTY = ChannelProgram(chunks=np.zeros((0, 4), dtype=np.int64), segments=0)
