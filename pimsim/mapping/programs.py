"""Per-channel command programs for PIM operators, given a layout and a base row.

Every all-bank program is a GEMV in the kernel's terms: chunks of the input vector (each written
into the channel's global buffer) times `segments` matrix-row slices per MAC unit. A DRAM row
holds `slots` slices side by side per bank; a unit serving U banks takes U slices per slot.
Position bookkeeping helpers tell where segment `seg` of a unit lives (bank, row, column) so the
KV-cache writes land exactly where the attention programs later read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pimsim.config.schema import HardwareConfig


@dataclass(frozen=True)
class Geometry:
    """What a layout needs to know about one channel."""

    channels: int
    banks: int
    units: int  # MAC units per channel
    banks_per_unit: int
    columns: int  # column accesses per DRAM row
    elems_per_column: int  # operand elements per column access
    gb_columns: int  # global-buffer columns one input chunk may use (at most one row's)
    rows: int  # rows per bank
    result_registers: int = 1  # accumulators per MAC unit (> 1: output-stationary weights)
    gb_total_columns: int = 0  # the whole global buffer in columns (chunks of a batch)

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
            gb_total_columns=max(1, pim.global_buffer_bytes // org.access_bytes),
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
