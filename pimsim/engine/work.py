"""What each operator asks of the PIM channels and of the ASIC around them.

A PIM operator is a program per channel (from the mapping) plus the ASIC work that finishes it:
summing partial sums (one per input chunk, and without an adder tree one per MAC lane), and
the attention positions the ASIC holds itself (the newest, partly filled V column; the new
token's score against its own key, which needs no DRAM round trip). Weight VMMs can stream
that work: the channels report when each output tile (a few DRAM rows of every MAC unit) of
each chunk is done, and the ASIC accumulates tile by tile while the PIM computes the next
(`Streaming`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pimsim.asic import reduction_cycles, reduction_ops
from pimsim.config.schema import HardwareConfig
from pimsim.core.errors import PimsimInputError
from pimsim.dram.programs import ChannelProgram
from pimsim.mapping import ModelMapping
from pimsim.mapping.programs import split_even


@dataclass(frozen=True)
class Streaming:
    """Tile-by-tile accumulation of a weight VMM's partial sums on the ASIC.

    Pass (k, j) adds the results of tile j of chunk k; passes run in the order the channels
    produce them. `pass_ps` are the passes' ASIC times in that order (only passes with work),
    `index` their positions in the flattened (chunks, tiles) table of tile completion cycles,
    and `suffix_ps[i]` the time of passes i.. to the end. With pass i ready at r_i and the
    vector unit free at f, the last pass ends at max(f + total, max_i(r_i + suffix_i))."""

    tile_rows: int
    tiles: int
    index: np.ndarray
    pass_ps: np.ndarray
    suffix_ps: np.ndarray

    @property
    def total_ps(self) -> int:
        return int(self.pass_ps.sum())


@dataclass(frozen=True)
class OperatorWork:
    """One PIM operator: its channel programs and the ASIC work around them."""

    programs: list[ChannelProgram]  # rows relative to `OperatorWorks.row_base_of`
    row_base: int  # (0: see OperatorWorks.row_base_of)
    active: bool  # some channel has a program
    finish_ps: int  # ASIC time after the PIM part (summing partial results), not streamed
    lane_ops: int  # ASIC lane operations of all its ASIC work (the same when streamed)
    streaming: Streaming | None = None  # weight VMMs in overlap mode
    # ASIC work that needs nothing from the channels (the attention positions the ASIC holds):
    # in overlap mode it runs while the channels work, before the finishing sum
    parallel_ps: int = 0

    @property
    def asic_ps(self) -> int:
        return self.parallel_ps + self.finish_ps


class OperatorWorks:
    """Builds (and caches) the `OperatorWork` of every PIM operator of a mapped model."""

    def __init__(
        self, hw: HardwareConfig, mapping: ModelMapping, stream: bool, batch: int = 1
    ) -> None:
        self.hw = hw
        self.mapping = mapping
        self.batch = batch  # sequences every operator serves (their own KV caches)
        self.stream = stream and hw.asic.reduction_tile_rows > 0
        pim = hw.pim
        self.lane_values = 1 if pim.adder_tree else pim.mac_lanes  # values per unit result
        self.cycle_ps = hw.asic.cycle_ps
        self._weights: dict[tuple[str, int], OperatorWork] = {}
        self._kv: dict[tuple, OperatorWork] = {}
        self._row_bases = [kv.row_base for kv in mapping.kv]  # [layer * sequences + seq]

    def of(
        self, kind: str, layer: int, weight: str, context: int, m: int, rows: int | None = None
    ) -> OperatorWork:
        """The work of one operator; `rows`: a weight VMM's input vectors over the batch
        (default m rows of every sequence; an expert slot's m already counts the batch)."""
        if kind in ("vmm", "gemm"):
            rows = int(m) * self.batch if rows is None else int(rows)
            found = self._weights.get((weight, rows))
            if found is None:
                found = self._weights[(weight, rows)] = self._weight(weight, rows)
            return found
        # every layer's KV region has the same shape: one program set for all layers, its
        # rows relative to the layer's row base (`row_base_of`)
        key = (kind, context, m)
        found = self._kv.get(key)
        if found is None:
            if len(self._kv) > 64:  # contexts only grow
                self._kv.clear()
            found = self._kv[key] = self._attention(kind, context, m)
        return found

    def row_base_of(self, kind: str, layer: int, slot: int = 0) -> int:
        """The row every program of an operator (of one row slot of a batch's KV caches:
        `ModelMapping.kv_place`) is relative to."""
        if kind in ("vmm", "gemm"):
            return 0
        return self._row_bases[layer * self.mapping.kv_slots + slot]

    def slot_programs(self, work: OperatorWork, slot: int) -> list[ChannelProgram]:
        """An attention operator's programs for the sequences in row slot `slot`: each channel
        group runs its sequence's (every slot but a partial last one runs all groups)."""
        mapping = self.mapping
        groups = min(mapping.kv_groups, self.batch - slot * mapping.kv_groups)
        if groups == mapping.kv_groups:
            return work.programs
        return self._tiled(work.programs[: mapping.kv_channels], groups)

    def _tiled(self, programs: list[ChannelProgram], groups: int) -> list[ChannelProgram]:
        """One KV group's programs (over its channels) repeated for `groups` groups side by
        side, the rest of the channels idle."""
        if groups == 1 and len(programs) == self.mapping.geo.channels:
            return programs
        from pimsim.dram.programs import EMPTY

        tiled = list(programs) * groups
        return tiled + [EMPTY] * (self.mapping.geo.channels - len(tiled))

    def vectors_per_pass(self, weight: str) -> int:
        """Input vectors one pass of a weight VMM serves per opened row (`ModelMapping`)."""
        return self.mapping.vectors_per_pass(weight)

    # -- weights -----------------------------------------------------------------------------

    def _weight(self, weight: str, rows: int) -> OperatorWork:
        """A weight VMM (`rows` > 1: a gemm, one GEMV per row, reduced after the last)."""
        layout = self.mapping.matrices.get(weight)
        if layout is None:
            raise PimsimInputError(
                f"operator uses weight {weight!r}, which the model mapping does not hold",
                key="weight",
            )
        active = any(not p.is_empty for p in layout.programs)
        grouped = any(p.group_segments for p in layout.programs)
        # results per output: one per chunk (read after each), or one for all of them when
        # the unit's registers accumulate over the chunks; one per lane without an adder tree
        values = (1 if grouped else layout.partials) * self.lane_values
        cycles, ops = self._reduction(values, layout.out_features * rows)
        # streamed tile by tile when one pass serves every input vector (for each tile, the
        # sums of all the pass's vectors); several passes pipeline pass by pass instead
        one_pass = rows == 1 or (not grouped and rows <= self.mapping.vectors_per_pass(weight))
        streamed = self.stream and active and one_pass
        streaming = self._streaming(layout, rows) if streamed else None
        return OperatorWork(layout.programs, 0, active, cycles * self.cycle_ps, ops, streaming)

    def _streaming(self, layout, vectors: int = 1) -> Streaming | None:
        """Passes of the tile-by-tile accumulation of `vectors` input vectors' sums (None when
        there is nothing to add)."""
        geo = self.mapping.geo
        tile_rows = self.hw.asic.reduction_tile_rows
        programs = [p for p in layout.programs if not p.is_empty]
        if programs[0].group_segments:
            return self._grouped_streaming(layout, programs, tile_rows)
        chunks = programs[0].chunks
        per_row = chunks[:, 1] * geo.banks_per_unit  # segments of a unit per DRAM row, by chunk
        most = max(p.segments for p in programs)
        tiles = max(math.ceil(math.ceil(most / int(r)) / tile_rows) for r in per_row)
        # real outputs per channel (the mapping deals outputs over channels, then units)
        outputs = split_even(layout.out_features, layout.channels or geo.channels)
        lane_values = self.lane_values
        pass_ps, index = [], []
        for k, rows_per in enumerate(per_row):
            per_tile = int(rows_per) * tile_rows * geo.units  # outputs of one channel per tile
            for j in range(tiles):
                covered = sum(min(max(n - j * per_tile, 0), per_tile) for n in outputs)
                # values in: covered x lanes; the first chunk's values start the sums
                adds = (covered * lane_values - (covered if k == 0 else 0)) * vectors
                if adds > 0:
                    cycles = self.hw.asic.pipeline_latency_cycles + math.ceil(
                        adds / self.hw.asic.vector_lanes
                    )
                    pass_ps.append(cycles * self.cycle_ps)
                    index.append(k * tiles + j)
        if not pass_ps:
            return None
        times = np.array(pass_ps, dtype=np.int64)
        suffix = np.cumsum(times[::-1])[::-1].copy()
        return Streaming(tile_rows, tiles, np.array(index, dtype=np.int64), times, suffix)

    def _grouped_streaming(self, layout, programs, tile_rows: int) -> Streaming | None:
        """Output-stationary weights: group j's results are final when read; the ASIC adds
        their lanes (no adder tree) while the channels work on the next group."""
        geo = self.mapping.geo
        group = programs[0].group_segments
        tiles = math.ceil(max(p.segments for p in programs) / group)
        outputs = split_even(layout.out_features, layout.channels or geo.channels)
        per_tile = group * geo.units
        pass_ps, index = [], []
        for j in range(tiles):
            covered = sum(min(max(n - j * per_tile, 0), per_tile) for n in outputs)
            adds = covered * (self.lane_values - 1)
            if adds > 0:
                cycles = self.hw.asic.pipeline_latency_cycles + math.ceil(
                    adds / self.hw.asic.vector_lanes
                )
                pass_ps.append(cycles * self.cycle_ps)
                index.append(j)
        if not pass_ps:
            return None
        times = np.array(pass_ps, dtype=np.int64)
        suffix = np.cumsum(times[::-1])[::-1].copy()
        return Streaming(max(tile_rows, 1), tiles, np.array(index, dtype=np.int64), times, suffix)

    # -- attention and KV-cache writes -------------------------------------------------------

    def _attention(self, kind: str, context: int, m: int) -> OperatorWork:
        kv = self.mapping.kv[0]  # (every layer's programs are the same relative to its rows)
        if kind == "attn_score":
            # one token: the scores against the keys already in DRAM, plus its own key on the
            # ASIC (q . k for each head: d_head multiply-adds); batched rows read all of them
            own = 1 if m == 1 else 0
            in_dram = context - own
            programs = kv.score_programs(in_dram) if in_dram > 0 else _empty(self.mapping)
            values = self.lane_values if in_dram > 0 else 0
            cycles, ops = self._reduction(values, kv.heads * in_dram)
            held_cycles, held_ops = self._macs(own * kv.heads * kv.d_head)
        elif kind == "attn_value":
            chunks, held = kv.value_partials(context)
            outputs = kv.heads * kv.d_head
            # each chunk's result per lane, plus one more partial for the positions the ASIC
            # holds (the newest, partly filled V column: softmax x V of those on the ASIC)
            values = chunks * self.lane_values + (1 if held else 0)
            programs = kv.value_programs(context)
            cycles, ops = self._reduction(values, outputs)
            held_cycles, held_ops = self._macs(outputs * held)
        else:
            programs, cycles, ops, held_cycles, held_ops = (
                kv.write_range_programs(context - m, context),  # (a batched prefill: m rows)
                0,
                0,
                0,
                0,
            )
        programs = self._tiled(programs, min(self.mapping.kv_groups, self.batch))
        active = any(not p.is_empty for p in programs)
        batch = self.batch  # (every sequence's own attention, one after another on the ASIC)
        return OperatorWork(
            programs,
            0,
            active,
            cycles * self.cycle_ps * batch,
            (ops + held_ops) * batch,
            parallel_ps=held_cycles * self.cycle_ps * batch,
        )

    def _reduction(self, values: int, outputs: int) -> tuple[int, int]:
        """(ASIC cycles, lane operations) to sum `values` results of each of `outputs`."""
        if values <= 1:
            return 0, 0
        return reduction_cycles(values, outputs, self.hw.asic), reduction_ops(values, outputs)

    def _macs(self, macs: int) -> tuple[int, int]:
        """(ASIC cycles, lane operations) of `macs` multiply-adds (2 operations each)."""
        if not macs:
            return 0, 0
        asic = self.hw.asic
        return asic.pipeline_latency_cycles + math.ceil(2 * macs / asic.vector_lanes), 2 * macs


def _empty(mapping: ModelMapping) -> list[ChannelProgram]:
    from pimsim.dram.programs import EMPTY

    return [EMPTY] * mapping.geo.channels
