"""Per-channel command programs for PIM operators, given a layout and a base row.

Every all-bank program is a GEMV in the kernel's terms: chunks of the input vector (each written
into the channel's global buffer) times `segments` matrix-row slices per MAC unit. A DRAM row
holds `slots` slices side by side per bank; a unit serving U banks takes U slices per slot.
Position bookkeeping helpers tell where segment `seg` of a unit lives (bank, row, column) so the
KV-cache writes land exactly where the attention programs later read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd


@dataclass(frozen=True)
class Geometry:
    """What a layout needs to know about one channel."""

    channels: int
    banks: int
    units: int  # MAC units per channel
    banks_per_unit: int
    columns: int  # column accesses per DRAM row
    elems_per_column: int  # operand elements per column access
    gb_columns: int  # global-buffer capacity in columns
    rows: int  # rows per bank
    result_registers: int = 1  # accumulators per MAC unit (> 1: output-stationary weights)

    @classmethod
    def of(cls, hw: HardwareConfig) -> Geometry:
        org, pim = hw.dram.organization, hw.pim
        return cls(
            channels=hw.dram.channels,
            banks=org.banks,
            units=org.banks // pim.banks_per_mac_unit,
            banks_per_unit=pim.banks_per_mac_unit,
            columns=org.columns,
            elems_per_column=org.access_bytes // pim.dtype_bytes,
            gb_columns=max(1, min(org.columns, pim.global_buffer_bytes // org.access_bytes)),
            rows=org.rows,
            result_registers=pim.result_registers,
        )

    def width_of(self, elems: int) -> int:
        return math.ceil(elems / self.elems_per_column)

    def slots_for(self, width: int) -> int:
        return max(1, self.columns // width)

    def rows_for(self, segments: int, width: int) -> int:
        """DRAM rows a chunk of `width` columns needs for `segments` slices per unit."""
        return math.ceil(segments / (self.slots_for(width) * self.banks_per_unit))

    def place(self, seg: int, width: int) -> tuple[int, int, int]:
        """(row offset, first column, bank parity) of segment `seg` of a chunk."""
        per_row = self.slots_for(width) * self.banks_per_unit
        g, rest = divmod(seg, per_row)
        slot, parity = divmod(rest, self.banks_per_unit)
        return g, slot * width, parity


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


def chunk_widths(geo: Geometry, elems: int, chunk_columns: int) -> list[int]:
    """Column widths of the chunks an input vector of `elems` is cut into."""
    per_chunk = chunk_columns * geo.elems_per_column
    widths = []
    remaining = elems
    while remaining > 0:
        take = min(remaining, per_chunk)
        widths.append(geo.width_of(take))
        remaining -= take
    return widths


def gemv_chunks(
    geo: Geometry,
    widths: list[int],
    reserve_segments: int,
    first_row: int,
    pitches: list[int] | None = None,
) -> tuple[np.ndarray, int]:
    """Chunk table; each chunk reserves rows for `reserve_segments` slices per unit at its
    slot pitch (a KV chunk still filling up keeps the pitch of a full one). Returns
    (chunks, rows used)."""
    pitches = widths if pitches is None else pitches
    rows = []
    row = first_row
    for width, pitch in zip(widths, pitches, strict=True):
        rows.append((width, geo.slots_for(pitch), row, pitch))
        row += geo.rows_for(reserve_segments, pitch)
    return np.array(rows, dtype=np.int64).reshape(-1, 4), row - first_row


def split_even(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]
