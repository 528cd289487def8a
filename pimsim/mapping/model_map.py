"""Place a model's weights and KV cache on channels, banks and rows; build every PIM program.

Layouts (all-bank PIM: every MAC unit of a channel works in lock step):
- weight matrix (out x in): output rows dealt over channels, then over the units of a channel;
  the input vector is cut into chunks of `chunk_columns` columns (a candidate the optimizer picks,
  trading partial sums against row packing); `balanced` pads rows so every channel runs the same
  program. The ASIC sums the per-chunk partial sums.
- K cache (q.K^T): positions dealt over channels, then units; each position's key of one KV head
  is one slice of d_head elements, 16 positions per DRAM row per bank (AiM); the global buffer
  holds q for one head per chunk, so every q head reads the K slices of its KV head. The unit
  of a position is rotated by its KV head index: all units read the same slots in lock step, so
  reads do not change, but the slices one new position writes land in different banks, so
  the write program activates each head's row two heads ahead of its writes and the
  activations overlap the writes.
- V cache (softmax x V): the heads of one KV group live on one channel (heads over channels);
  the d_head output rows of a head are dealt over the channel's units and the context runs along
  the rows in chunks of the global buffer; each new position appends one column per row.
- KV writes: one WR per column of K (on the position's channel). V is appended a column at a
  time: a column access holds `elems_per_column` positions, so the ASIC keeps the newest,
  partly filled column in SRAM, computes softmax x V for those tail positions itself, and
  writes the column (one WR per V row) when it is full.
Rows are reserved for the model's full context up front, so nothing moves as the cache grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd
from pimsim.core.errors import PimsimInputError
from pimsim.dram.programs import EMPTY, ChannelProgram
from pimsim.mapping.programs import (
    Geometry,
    chunk_widths,
    gemv_chunks,
    split_even,
)


@dataclass(frozen=True)
class MatrixCandidate:
    chunk_columns: int
    balanced: bool


@dataclass
class MatrixLayout:
    name: str
    in_features: int
    out_features: int
    candidate: MatrixCandidate
    first_row: int
    rows_used: int
    programs: list[ChannelProgram] = field(repr=False)
    channels: int = 0  # channels holding it (0: all; an expert on a channel group: its size)

    @property
    def partials(self) -> int:
        return len(self.programs[0].chunks) if self.programs else 0


@dataclass
class KvLayout:
    """K and V regions of one layer (reserved for `max_context` positions)."""

    heads: int
    kv_heads: int
    d_head: int
    max_context: int
    k_first_row: int
    k_rows_per_head: int
    v_first_row: int
    v_rows_per_head: int
    v_rows_per_chunk: int
    geo: Geometry = field(repr=False)
    _v_cache: tuple | None = field(default=None, repr=False)
    # programs by (kind, context), shared by every layer's layout: programs are built with rows
    # relative to `row_base`, and all layers have the same shape
    programs_cache: dict = field(default_factory=dict, repr=False)

    @property
    def row_base(self) -> int:
        """The first row of this layer's region; every KV program's rows are relative to it."""
        return self.k_first_row

    @property
    def _v_offset(self) -> int:
        return self.v_first_row - self.k_first_row

    def _cached(self, kind: str, context: int, build) -> list[ChannelProgram]:
        key = (kind, context)
        programs = self.programs_cache.get(key)
        if programs is None:
            if len(self.programs_cache) >= 64:  # contexts only grow: keep the recent ones
                self.programs_cache.clear()
            programs = self.programs_cache[key] = build(context)
        return programs

    @property
    def rows_used(self) -> int:
        heads_per_channel = math.ceil(self.kv_heads / self.geo.channels)
        return self.kv_heads * self.k_rows_per_head + heads_per_channel * self.v_rows_per_head

    def group(self, head: int) -> int:
        return head // (self.heads // self.kv_heads)

    def v_channel(self, kv_head: int) -> int:
        return kv_head % self.geo.channels

    def _k_width(self) -> int:
        return self.geo.width_of(self.d_head)

    def _v_chunk_elems(self) -> int:
        return self.geo.gb_columns * self.geo.elems_per_column

    def _v_slot(self, kv_head: int) -> int:
        return kv_head // self.geo.channels  # index of this KV head among its channel's

    def score_programs(self, context: int) -> list[ChannelProgram]:
        """q.K^T over `context` positions, per channel (rows relative to `row_base`)."""
        return self._cached("score", context, self._build_score)

    def value_programs(self, context: int) -> list[ChannelProgram]:
        """softmax x V over the positions in DRAM, per channel (rows relative to `row_base`)."""
        return self._cached("value", context, self._build_value)

    def write_programs(self, position: int) -> list[ChannelProgram]:
        """WR requests storing K and V of one new position (rows relative to `row_base`)."""
        return self._cached("write", position, self._build_write)

    def write_range_programs(self, first: int, end: int) -> list[ChannelProgram]:
        """WR requests storing K and V of positions first .. end - 1 (a batched prefill): on
        each channel, the programs of its positions one after the other, as if written one
        step at a time back to back."""
        if end - first == 1:
            return self.write_programs(first)
        per_channel: list[list[np.ndarray]] = [[] for _ in range(self.geo.channels)]
        for position in range(first, end):
            for channel, program in enumerate(self._build_write(position)):
                if len(program.requests):
                    per_channel[channel].append(program.requests)
        return [
            ChannelProgram(requests=np.concatenate(parts) if parts else np.zeros((0, 5), np.int64))
            for parts in per_channel
        ]

    def _build_score(self, context: int) -> list[ChannelProgram]:
        geo, width = self.geo, self._k_width()
        chunks = np.array(
            [
                (width, geo.slots_for(width), self.group(h) * self.k_rows_per_head, width)
                for h in range(self.heads)
            ],
            dtype=np.int64,
        )
        by_segments: dict[int, ChannelProgram] = {0: EMPTY}
        programs = []
        for positions in split_even(context, geo.channels):
            segments = math.ceil(positions / geo.units)
            if segments not in by_segments:
                by_segments[segments] = ChannelProgram(chunks, segments)
            programs.append(by_segments[segments])
        return programs

    def value_positions_in_dram(self, context: int) -> int:
        """Positions of V already written to DRAM (whole columns); the rest wait in the ASIC."""
        epc = self.geo.elems_per_column
        return (context // epc) * epc

    def value_partials(self, context: int) -> tuple[int, int]:
        """(global-buffer chunks of one head's softmax row in DRAM, V positions the ASIC holds)."""
        in_dram = self.value_positions_in_dram(context)
        chunks = len(chunk_widths(self.geo, in_dram, self.geo.gb_columns))
        return chunks, context - in_dram

    def _build_value(self, context: int) -> list[ChannelProgram]:
        geo = self.geo
        segments = math.ceil(self.d_head / geo.units)
        full = geo.gb_columns
        widths = chunk_widths(geo, self.value_positions_in_dram(context), full)
        per_channel: list[list[tuple]] = [[] for _ in range(geo.channels)]
        for h in range(self.heads):
            g = self.group(h)
            base = self._v_offset + self._v_slot(g) * self.v_rows_per_head
            for k, width in enumerate(widths):
                per_channel[self.v_channel(g)].append(
                    (width, geo.slots_for(full), base + k * self.v_rows_per_chunk, full)
                )
        return [
            ChannelProgram(np.array(rows, dtype=np.int64), segments) if rows else EMPTY
            for rows in per_channel
        ]

    def _build_write(self, position: int) -> list[ChannelProgram]:
        geo = self.geo
        per_channel = [[] for _ in range(geo.channels)]
        # K: the position's channel and unit, one slice of d_head elements per KV head; the
        # unit is rotated by the KV head, so one position's slices land in different banks
        channel, local = position % geo.channels, position // geo.channels
        unit, seg = local % geo.units, local // geo.units
        width = self._k_width()
        g_row, col0, parity = geo.place(seg, width)
        per_channel[channel].append(self._k_writes(unit, g_row, col0, parity, width))
        # V: when a column fills up, one WR per d_head row of every KV head
        column_full = (position + 1) % geo.elems_per_column == 0
        per_kv_head = 1 if column_full else 0
        chunk, within = divmod(position, self._v_chunk_elems())
        col_in_chunk = within // geo.elems_per_column
        banks, row_offsets, cols = self._v_static()
        for g in range(self.kv_heads * per_kv_head):
            base = self._v_offset + self._v_slot(g) * self.v_rows_per_head
            v = np.empty((self.d_head, 5), dtype=np.int64)
            v[:, 0] = int(Cmd.WR)
            v[:, 1] = banks
            v[:, 2] = base + chunk * self.v_rows_per_chunk + row_offsets
            v[:, 3] = cols + col_in_chunk
            v[:, 4] = 1  # one write per row: closed page may precharge after it
            per_channel[self.v_channel(g)].append(v)
        programs = []
        for parts in per_channel:
            if not parts:
                programs.append(ChannelProgram(requests=np.zeros((0, 5), dtype=np.int64)))
                continue
            # one PREA first: the banks written hold rows of the previous (all-bank) operator,
            # and closing them together lets each bank's activate follow the previous bank's
            # writes directly (the next all-bank operator precharges them anyway)
            writes = np.concatenate(parts)
            arr = np.zeros((len(writes) + 1, 5), dtype=np.int64)
            arr[0, :4] = (int(Cmd.PREA), 0, -1, -1)
            arr[1:] = writes
            programs.append(ChannelProgram(requests=arr))
        return programs

    def _k_writes(self, unit: int, g_row: int, col0: int, parity: int, width: int) -> np.ndarray:
        """WR requests (cmd, bank, row, col, close_after) of one position's K slices, one per KV
        head, each head's row activated two heads ahead of its writes (a request with column
        -1 only activates), so activations overlap the writes of the heads before them; a bank
        that a head shares with an earlier one (more heads than units) is precharged three
        heads before that activation."""
        geo = self.geo
        heads = np.arange(self.kv_heads)
        banks = (unit + heads) % geo.units * geo.banks_per_unit + parity
        rows = heads * self.k_rows_per_head + g_row
        ahead = min(2, geo.units - 1)  # heads this close apart sit in different banks
        close_ahead = ahead + 3
        wr, pre = int(Cmd.WR), int(Cmd.PRE)
        out = [(wr, banks[h], rows[h], -1, 0) for h in range(min(ahead, self.kv_heads))]
        for h in range(self.kv_heads):
            j = h + close_ahead
            if ahead and j < self.kv_heads and j - geo.units >= 0 and j - geo.units < h:
                out.append((pre, banks[j], -1, -1, 0))  # its earlier head is written by now
            if h + ahead < self.kv_heads and ahead:
                out.append((wr, banks[h + ahead], rows[h + ahead], -1, 0))
            out.extend((wr, banks[h], rows[h], col0 + c, int(c == width - 1)) for c in range(width))
        return np.array(out, dtype=np.int64)

    def _v_static(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bank, row offset and first column of each of the d_head V rows of a head."""
        if self._v_cache is None:
            geo = self.geo
            d = np.arange(self.d_head)
            unit, seg = d % geo.units, d // geo.units
            per_row = geo.slots_for(geo.gb_columns) * geo.banks_per_unit
            g_row, rest = np.divmod(seg, per_row)
            slot, parity = np.divmod(rest, geo.banks_per_unit)
            self._v_cache = (unit * geo.banks_per_unit + parity, g_row, slot * geo.gb_columns)
        return self._v_cache


def matrix_programs(
    geo: Geometry, out_features: int, in_features: int, cand: MatrixCandidate, first_row: int
) -> tuple[list[ChannelProgram], int]:
    widths = chunk_widths(geo, in_features, cand.chunk_columns)
    if cand.balanced:
        per_channel = [math.ceil(out_features / geo.channels)] * geo.channels
    else:
        per_channel = split_even(out_features, geo.channels)
    reserve = math.ceil(max(per_channel) / geo.units)
    chunks, rows = gemv_chunks(geo, widths, reserve, first_row)
    shared: dict[int, ChannelProgram] = {}  # one object per distinct program (cached keys)
    for n in per_channel:
        if n and n not in shared:
            group = geo.result_registers if geo.result_registers > 1 else 0
            shared[n] = ChannelProgram(
                chunks, math.ceil(n / geo.units), reusable=True, group_segments=group
            )
    return [shared[n] if n else EMPTY for n in per_channel], rows


def kv_layout(
    geo: Geometry,
    heads: int,
    kv_heads: int,
    d_head: int,
    max_context: int,
    first_row: int,
    programs_cache: dict | None = None,
) -> KvLayout:
    k_width = geo.width_of(d_head)
    k_segments = math.ceil(math.ceil(max_context / geo.channels) / geo.units)
    k_rows = geo.rows_for(k_segments, k_width)
    v_segments = math.ceil(d_head / geo.units)
    v_rows_per_chunk = geo.rows_for(v_segments, geo.gb_columns)
    v_chunks = math.ceil(max_context / (geo.gb_columns * geo.elems_per_column))
    v_rows = v_chunks * v_rows_per_chunk
    layout = KvLayout(
        heads,
        kv_heads,
        d_head,
        max_context,
        first_row,
        k_rows,
        first_row + kv_heads * k_rows,
        v_rows,
        v_rows_per_chunk,
        geo,
        programs_cache=programs_cache if programs_cache is not None else {},
    )
    return layout


def capacity_error(hw: HardwareConfig, rows_needed: int, what: str) -> PimsimInputError:
    org = hw.dram.organization
    bytes_per_row_all = org.row_bytes * org.banks * hw.dram.channels
    need_gib = rows_needed * bytes_per_row_all / 2**30
    have_gib = org.rows * bytes_per_row_all / 2**30
    return PimsimInputError(
        f"{what} does not fit the PIM capacity: the layout needs {rows_needed} rows per bank "
        f"({need_gib:.2f} GiB over all channels) but a bank has {org.rows} rows "
        f"({have_gib:.2f} GiB)",
        file=hw.source,
        key="dram.organization.rows",
        expected="a larger PIM system (more channels or rows) or a smaller model / context",
    )
