"""Choose each weight matrix's layout with a cost model it is handed, then place all.

Candidates per matrix: chunk widths (the global buffer, a half and a quarter of it: narrower
chunks pack rows better but add partial sums and result reads) x balanced or uneven channels.
Each candidate is costed by the cost function (the pipeline passes the exact engine's cycles of
its channel programs on a fresh channel, cached by shape);
the fastest wins, fewer rows breaking ties. If the chosen layouts do not fit, matrices switch to
their most compact candidate, largest saving per lost cycle first, until the model fits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pimsim.config.schema import HardwareConfig
from pimsim.dram.programs import ChannelProgram
from pimsim.mapping.experts import (
    block_rows,
    check_expert_groups,
    expert_of,
    group_geometry,
    group_of,
    on_group,
)
from pimsim.mapping.model_map import (
    KvLayout,
    MatrixCandidate,
    MatrixLayout,
    capacity_error,
    kv_layout,
    matrix_programs,
)
from pimsim.mapping.programs import Geometry


@dataclass
class ModelMapping:
    hw: HardwareConfig
    geo: Geometry
    matrices: dict[str, MatrixLayout]
    kv: list[KvLayout]  # layer l, row slot k of a batch's KV caches: kv[l * kv_slots + k]
    rows_used: int
    candidate_cycles: dict[tuple, int] = field(default_factory=dict, repr=False)
    sequences: int = 1  # sequences decoding together, each with its own KV cache
    kv_groups: int = 1  # channel groups holding the KV caches of a batch side by side
    expert_groups: int = 1  # channel groups a mixture's experts are dealt over (`experts`)

    @property
    def kv_slots(self) -> int:
        """KV regions stacked in the rows of each channel group (sequences / groups)."""
        return -(-self.sequences // self.kv_groups)

    @property
    def kv_channels(self) -> int:
        """Channels of one KV group (the KV layouts' own channel count)."""
        return self.geo.channels // self.kv_groups

    def kv_of(self, layer: int, slot: int = 0) -> KvLayout:
        """The KV region of one layer in row slot `slot` (every group has it on its channels)."""
        return self.kv[layer * self.kv_slots + slot]

    def kv_place(self, sequence: int) -> tuple[int, int]:
        """(channel group, row slot) of one sequence's KV cache."""
        return sequence % self.kv_groups, sequence // self.kv_groups

    def vectors_per_pass(self, weight: str) -> int:
        """Input vectors a batched VMM over `weight` serves per opened row: as many of its
        chunks as the whole global buffer holds (at least one)."""
        width = int(self.matrices[weight].candidate.chunk_columns)
        return max(1, max(self.geo.gb_total_columns, self.geo.gb_columns) // max(width, 1))

    def summary(self) -> dict:
        chosen = {}
        for layout in self.matrices.values():
            key = (layout.out_features, layout.in_features)
            chosen.setdefault(key, layout.candidate)
        return {
            "rows_used_per_bank": self.rows_used,
            "rows_per_bank": self.hw.dram.organization.rows,
            "matrix_layouts": [
                {
                    "out_features": o,
                    "in_features": i,
                    "chunk_columns": c.chunk_columns,
                    "balanced": c.balanced,
                }
                for (o, i), c in sorted(chosen.items())
            ],
        }


def _candidates(geo: Geometry) -> list[MatrixCandidate]:
    widths = sorted({max(1, geo.gb_columns // d) for d in (1, 2, 4)}, reverse=True)
    return [MatrixCandidate(w, b) for w in widths for b in (True, False)]


ProgramCost = Callable[[Sequence[ChannelProgram]], int]


def map_model(
    hw: HardwareConfig,
    spec,
    max_context: int,
    cost: ProgramCost,
    sequences: int = 1,
    expert_groups: int = 1,
    place_weights: bool = True,
) -> ModelMapping:
    """Place every weight matrix and the KV cache of `spec` for up to `max_context` positions
    (of each of `sequences` sequences of a batch, each its own KV region), a mixture's experts
    over all channels or dealt over `expert_groups` channel groups (`mapping.experts`).
    `cost(programs)` gives the cycles a candidate layout's channel programs take (the exact
    engine: `pimsim.dram.program_cost.ProgramCycles(hw)`). Without `place_weights` only the KV
    cache is placed (a hybrid run: the weights live on the GPU)."""
    from pimsim.workload import weight_matrices

    geo = Geometry.of(hw)
    e_groups = check_expert_groups(spec, geo.channels, expert_groups)
    e_geo = group_geometry(geo, e_groups)
    shapes: dict[tuple, list[tuple[int, int, MatrixCandidate]]] = {}
    stored = [m for m in weight_matrices(spec) if not m.tied_to or m.name == "lm_head"]
    matrices = stored if place_weights else []  # (a hybrid run keeps its weights elsewhere)
    groups, kv_geo, slots = kv_grouping(geo, sequences)
    _check_capacity_first(hw, spec, max_context, matrices, geo, sequences)

    def shape(m) -> tuple:  # (a grouped expert is laid out over its group's channels)
        if e_groups > 1 and expert_of(m.name) >= 0:
            return (m.out_features, m.in_features, "expert group")
        return (m.out_features, m.in_features)

    _cost_shapes(shapes, matrices, shape, geo, e_geo, cost)

    choice = {key: 0 for key in shapes}
    kv_rows = _kv_rows(geo, spec, max_context, sequences)
    # rows each matrix adds: a grouped expert's weight counts once per layer, for the block
    # of experts its group stacks (those of group 0 stand for it)
    counted = [
        m for m in matrices if len(shape(m)) == 2 or group_of(expert_of(m.name), e_groups) == 0
    ]

    def compact_weight_rows() -> int:
        return sum(min(o[1] for o in shapes[shape(m)]) for m in counted)

    def total_rows() -> int:
        return kv_rows + sum(shapes[shape(m)][choice[shape(m)]][1] for m in counted)

    if total_rows() > hw.dram.organization.rows:
        # switch shapes to their most compact option, best rows saved per cycle lost first
        moves = []
        for key, options in shapes.items():
            best = min(range(len(options)), key=lambda i: (options[i][1], options[i][0]))
            count = sum(1 for m in counted if shape(m) == key)
            saved = (options[0][1] - options[best][1]) * count
            lost = (options[best][0] - options[0][0]) * count
            if saved > 0:
                moves.append((lost / saved, key, best))
        for _, key, best in sorted(moves):
            choice[key] = best
            if total_rows() <= hw.dram.organization.rows:
                break
    if total_rows() > hw.dram.organization.rows:
        raise _too_big(hw, spec, max_context, total_rows(), compact_weight_rows(), geo, sequences)

    placed, row = _place(
        spec, matrices, geo, e_groups, lambda m: shapes[shape(m)][choice[shape(m)]][2]
    )
    kv, row = _place_kv(spec, kv_geo, max_context, spec.layers * slots, row)
    costs = {(k, o[2]): o[0] for k, opts in shapes.items() for o in opts}
    return ModelMapping(hw, geo, placed, kv, row, costs, sequences, groups, e_groups)


def _place_kv(spec, kv_geo: Geometry, max_context: int, regions: int, row: int):
    """The KV regions (layer by layer, row slot by slot) from `row` on; returns them and the
    next free row. Every layer's KV programs are the same relative to its rows (shared)."""
    kv = []
    shared_programs: dict = {}
    for _ in range(regions):
        layout = kv_layout(
            kv_geo,
            spec.local_heads,
            spec.local_kv_heads,
            spec.d_head,
            max_context,
            row,
            shared_programs,
        )
        kv.append(layout)
        row += layout.rows_used
    return kv, row


def _place(spec, matrices, geo: Geometry, e_groups: int, candidate):
    """Every matrix's layout at its rows, in order; returns (layouts, the next free row).
    Grouped experts: expert e on group e mod G, at row slot e // G of its weight's block."""
    placed: dict[str, MatrixLayout] = {}
    e_geo = group_geometry(geo, e_groups)
    row = block = 0
    for m in matrices:
        expert = expert_of(m.name) if e_groups > 1 else -1
        cand = candidate(m)
        if expert < 0:
            programs, rows = matrix_programs(geo, m.out_features, m.in_features, cand, row)
            placed[m.name] = MatrixLayout(
                m.name, m.in_features, m.out_features, cand, row, rows, programs
            )
            row += rows
            continue
        if expert == 0:
            block = row  # (a weight's experts come one after another: 0 .. experts - 1)
        _, rows = matrix_programs(e_geo, m.out_features, m.in_features, cand, 0)
        first = block + (expert // e_groups) * rows
        programs, _ = matrix_programs(e_geo, m.out_features, m.in_features, cand, first)
        group = group_of(expert, e_groups)
        placed[m.name] = MatrixLayout(
            m.name,
            m.in_features,
            m.out_features,
            cand,
            first,
            rows,
            on_group(programs, geo, group, e_geo.channels),
            channels=e_geo.channels,
        )
        if expert == spec.experts - 1:
            row = block + block_rows(spec, e_groups, rows)
    return placed, row


def _cost_shapes(shapes: dict, matrices, shape, geo: Geometry, e_geo: Geometry, cost) -> None:
    """Cost every candidate layout of each distinct matrix shape, fastest first (fewer rows,
    then wider chunks, breaking ties)."""
    for m in matrices:
        key = shape(m)
        if key in shapes:
            continue
        options = []
        m_geo = e_geo if len(key) > 2 else geo
        for cand in _candidates(m_geo):
            programs, rows = matrix_programs(m_geo, m.out_features, m.in_features, cand, 0)
            options.append((cost(programs), rows, cand))
        options.sort(key=lambda o: (o[0], o[1], -o[2].chunk_columns))
        shapes[key] = options


def kv_grouping(geo: Geometry, sequences: int) -> tuple[int, Geometry, int]:
    """How a batch's KV caches are placed: (channel groups, the geometry of one group, row
    slots). Sequences go side by side on disjoint channel groups (their attention runs in
    parallel, and a short cache does not take a whole row of every bank of every channel),
    and stack in the rows of a group when there are more sequences than channels. One
    sequence: one group of every channel (the single-sequence layout)."""
    groups = max(1, min(sequences, geo.channels))
    kv_geo = dataclasses.replace(geo, channels=geo.channels // groups)
    return groups, kv_geo, -(-sequences // groups)


def _check_capacity_first(
    hw: HardwareConfig, spec, max_context: int, matrices, geo, sequences: int = 1
) -> None:
    """Refuse, before costing any layout, a model whose bytes alone exceed the banks: no layout
    packs a matrix into fewer rows than its bytes fill (costing a huge model's layouts with the
    exact engine would take long only to fail)."""
    org = hw.dram.organization
    row_bytes_all = org.row_bytes * org.banks * hw.dram.channels
    elem_bytes = spec.bytes_per_element
    weight_rows = sum(
        -(-m.out_features * m.in_features * elem_bytes // row_bytes_all) for m in matrices
    )
    rows = weight_rows + _kv_rows(geo, spec, max_context, sequences)
    if rows > org.rows:
        raise _too_big(hw, spec, max_context, rows, weight_rows, geo, sequences)


def _too_big(
    hw: HardwareConfig,
    spec,
    max_context: int,
    rows: int,
    weight_rows: int,
    geo,
    sequences: int = 1,
):
    """The capacity error, with what would fit: a shorter KV reservation, or more channels."""
    org = hw.dram.organization
    fits = 0
    low, high = 1, max_context
    while low <= high:  # the longest reservation whose KV rows fit beside the weights
        mid = (low + high) // 2
        if weight_rows + _kv_rows(geo, spec, mid, sequences) <= org.rows:
            fits, low = mid, mid + 1
        else:
            high = mid - 1
    channels = -(-hw.dram.channels * rows // org.rows)
    hint = f"; about {channels} channels would hold it"
    if fits:
        hint += f", or a KV reservation of at most {fits} positions (--max-context {fits})"
    devices = _devices_hint(spec, -(-channels // hw.dram.channels))
    if devices:
        hint += f", or a split over about {devices} such devices (--tensor-parallel {devices})"
    what = f"model {spec.name} with context {max_context}"
    if sequences > 1:
        what += f" for each of {sequences} sequences"
    error = capacity_error(hw, rows, what)
    return type(error)(error.detail + hint, file=error.file, key=error.key, expected=error.expected)


def _devices_hint(spec, factor: int) -> int:
    """The smallest even split of the model (`ModelSpec.split_degrees`) that gives each device
    at most 1/`factor` of today's share of it (0 when there is none)."""
    if factor <= 1:
        return 0
    wanted = factor * spec.tensor_parallel
    return next((d for d in spec.split_degrees() if d >= wanted), 0)


def _kv_rows(geo: Geometry, spec, max_context: int, sequences: int = 1) -> int:
    _, kv_geo, slots = kv_grouping(geo, sequences)
    layout = kv_layout(kv_geo, spec.local_heads, spec.local_kv_heads, spec.d_head, max_context, 0)
    return layout.rows_used * spec.layers * slots
