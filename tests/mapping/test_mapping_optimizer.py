"""The mapping on its own: `map_model` is handed its cost model, so these tests give it simple
cost functions (no DRAM engine) and check that it follows them, places every matrix and KV
region without overlap inside the banks, and covers every matrix element."""

from __future__ import annotations

import math

import pytest

from pimsim.config import load_hw
from pimsim.core.errors import PimsimInputError
from pimsim.mapping.optimizer import map_model
from pimsim.workload import resolve_model

CONTEXT = 256


def fewest_partials(programs) -> int:
    """A cost that prefers wide chunks (few partial sums), then few segments."""
    busy = [p for p in programs if not p.is_empty]
    return max(len(p.chunks) * 1000 + p.segments for p in busy)


def most_partials(programs) -> int:
    """The opposite preference: narrow chunks win."""
    busy = [p for p in programs if not p.is_empty]
    return 10**6 - max(len(p.chunks) for p in busy) * 1000


@pytest.fixture(scope="module")
def hw():
    return load_hw("gddr6_aim")


@pytest.fixture(scope="module")
def spec():
    return resolve_model("gpt2-small")


def _shape_options(mapping, layout):
    shape = (layout.out_features, layout.in_features)
    return {
        cand: cycles for (key, cand), cycles in mapping.candidate_cycles.items() if key == shape
    }


@pytest.mark.parametrize("cost", [fewest_partials, most_partials])
def test_each_matrix_takes_the_cheapest_candidate_of_the_cost_it_is_handed(hw, spec, cost):
    mapping = map_model(hw, spec, CONTEXT, cost)
    assert mapping.matrices
    for layout in mapping.matrices.values():
        options = _shape_options(mapping, layout)
        assert len(options) >= 2
        assert options[layout.candidate] == min(options.values()), layout.name
        assert options[layout.candidate] == cost(layout.programs)


def test_the_choice_follows_the_cost_model(hw, spec):
    wide = map_model(hw, spec, CONTEXT, fewest_partials)
    narrow = map_model(hw, spec, CONTEXT, most_partials)
    for name, layout in wide.matrices.items():
        other = narrow.matrices[name]
        assert layout.candidate.chunk_columns > other.candidate.chunk_columns, name
        assert layout.partials < other.partials, name


def test_regions_are_disjoint_consecutive_and_inside_the_banks(hw, spec):
    mapping = map_model(hw, spec, CONTEXT, fewest_partials)
    regions = [(m.first_row, m.rows_used, m.name) for m in mapping.matrices.values()]
    for layer, kv in enumerate(mapping.kv):
        regions.append((kv.k_first_row, kv.rows_used, f"kv{layer}"))
    regions.sort()
    row = 0
    for first, rows, name in regions:
        assert first == row and rows > 0, name
        row += rows
    assert row == mapping.rows_used <= hw.dram.organization.rows
    assert len(mapping.kv) == spec.layers


def test_every_matrix_element_has_a_mac_lane(hw, spec):
    mapping = map_model(hw, spec, CONTEXT, fewest_partials)
    geo = mapping.geo
    for layout in mapping.matrices.values():
        busy = [p for p in layout.programs if not p.is_empty]
        assert len(layout.programs) == geo.channels
        # inputs: the chunks span the input vector, short of one column access at most per chunk
        widths = [int(c[0]) for c in busy[0].chunks]
        covered = sum(widths) * geo.elems_per_column
        assert (
            layout.in_features <= covered < layout.in_features + len(widths) * geo.elems_per_column
        )
        # outputs: every output feature has a segment of some MAC unit
        outputs = sum(p.segments for p in busy) * geo.units
        assert layout.out_features <= outputs
        assert outputs - layout.out_features < geo.channels * geo.units, layout.name
        # every chunk's rows lie in the matrix's region
        for program in busy:
            rows = {int(c[2]) for c in program.chunks}
            assert min(rows) >= layout.first_row
            assert max(rows) < layout.first_row + layout.rows_used


def test_a_model_too_big_for_the_banks_is_refused_with_the_capacity(spec):
    small = load_hw("gddr6_aim", ["dram.organization.rows=256"])
    with pytest.raises(PimsimInputError) as error:
        map_model(small, spec, CONTEXT, fewest_partials)
    assert "rows" in str(error.value)


def test_compaction_trades_cycles_for_rows_when_the_fastest_layouts_do_not_fit(hw, spec):
    fast = map_model(hw, spec, CONTEXT, most_partials)  # narrow chunks: the fastest here
    rows_needed = fast.rows_used
    smallest = sum(
        min(_rows_of(fast, layout, cand) for cand in _shape_options(fast, layout))
        for layout in fast.matrices.values()
    ) + sum(kv.rows_used for kv in fast.kv)
    assert smallest < rows_needed  # gddr6_aim's narrow chunks cost rows: compaction has room
    limit = math.ceil((smallest + rows_needed) / 2)
    tight = load_hw("gddr6_aim", [f"dram.organization.rows={limit}"])
    compact = map_model(tight, spec, CONTEXT, most_partials)
    assert compact.rows_used <= limit < rows_needed
    assert sum(_shape_options(compact, m)[m.candidate] for m in compact.matrices.values()) > sum(
        _shape_options(fast, m)[m.candidate] for m in fast.matrices.values()
    )


def _rows_of(mapping, layout, cand) -> int:
    from pimsim.mapping.model_map import matrix_programs

    return matrix_programs(mapping.geo, layout.out_features, layout.in_features, cand, 0)[1]


def test_the_capacity_error_says_what_would_fit():
    spec = resolve_model("llama-3-8b")
    hw = load_hw("gddr6_aim", ["dram.channels=34"])  # the weights fit, the whole context not
    with pytest.raises(PimsimInputError) as error:
        map_model(hw, spec, spec.max_context_tokens, fewest_partials)
    text = str(error.value)
    assert "about 35 channels would hold it" in text
    hint = int(text.split("--max-context ")[1].split(")")[0])
    assert 0 < hint < spec.max_context_tokens
    fits = map_model(hw, spec, hint, fewest_partials)  # the hint is true: it fits ...
    assert fits.rows_used <= hw.dram.organization.rows
    with pytest.raises(PimsimInputError):  # ... and is the longest that does
        map_model(hw, spec, hint + 1, fewest_partials)
    big = load_hw("gddr6_aim", ["dram.channels=35"])
    assert map_model(big, spec, spec.max_context_tokens, fewest_partials).rows_used <= 16384


def test_a_shorter_kv_reservation_uses_fewer_rows(hw):
    spec = resolve_model("gpt3-small")  # context 2048: two global-buffer chunks of V
    full = map_model(hw, spec, spec.max_context_tokens, fewest_partials)
    short = map_model(hw, spec, 64, fewest_partials)
    assert short.rows_used < full.rows_used
    assert {k: m.rows_used for k, m in short.matrices.items()} == {
        k: m.rows_used for k, m in full.matrices.items()
    }


def test_the_capacity_error_names_a_tensor_parallel_split_that_fits():
    """A model too big for one device: the error names a --tensor-parallel degree, and a shard
    of that degree does fit the same device."""
    from pimsim.run_shape import with_parallel

    spec = resolve_model("llama-3-8b")
    hw = load_hw("gddr6_aim")  # 8 channels: a quarter of what the weights alone need
    with pytest.raises(PimsimInputError) as error:
        map_model(hw, spec, 1024, fewest_partials)
    text = str(error.value)
    degree = int(text.split("--tensor-parallel ")[1].split(")")[0])
    assert degree > 1 and spec.heads % degree == 0 and degree & (degree - 1) == 0
    shard = map_model(hw, with_parallel(spec, degree), 1024, fewest_partials)
    assert shard.rows_used <= hw.dram.organization.rows
