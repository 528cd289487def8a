"""ASIC vector-op cost model: hand-computed cycles, first principles, vectorised == per-op."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest
from asic_ops import op
from hypothesis import given, settings
from hypothesis import strategies as st

from pimsim.asic import (
    PIM_KINDS,
    VECTOR_KINDS,
    asic_cycles_for_table,
    op_count_table,
    table_ops,
    vector_op_breakdown,
    vector_op_cycles,
)
from pimsim.asic.vector import MODES
from pimsim.config import AsicConfig, load_hw
from pimsim.core.errors import PimsimInputError
from pimsim.workload import KINDS, lower, resolve_model
from pimsim.workload.costs import ELEMENTWISE_FLOPS, ROPE_FLOPS

# A tiny ASIC so that every count below is easy to redo by hand:
# lanes L = 4, pipeline latency 2, exp terms T = 3, reciprocal NR R = 2, rsqrt NR S = 1.
TINY = AsicConfig(
    vector_lanes=4,
    pipeline_latency_cycles=2,
    exp_taylor_terms=3,
    reciprocal_nr_iterations=2,
    rsqrt_nr_iterations=1,
)


# (op, serial cycles, pipelined cycles), each worked out from the documented stage counts.
# serial = 2 + ceil(total_ops / 4); pipelined = 2 + sum over steps (ceil(units / 4) + depth).
HAND = [
    # add, 10 elements, 1 op each: 10 ops. serial 2 + 3 = 5; pipelined 2 + (3 + 1) = 6.
    (op("add", in_features=10, out_features=10), 5, 6),
    (op("mul", in_features=10, out_features=10), 5, 6),
    (op("relu", in_features=10, out_features=10), 5, 6),
    # layernorm, 10 elements, 1 row. Per element 7 (mean 1; center, square, sum 3; normalise,
    # gain, bias 3); per row mean scale 1 + (scale, eps) 2 + rsqrt 3 + 4*S = 7 -> 10.
    # total 70 + 10 = 80 ops: serial 2 + 20 = 22.
    # pipelined steps: mean (3 + 1), mean scale (1 + 1), variance (3 + 3),
    # rsqrt (1 + 2 + 7), normalise (3 + 3): 2 + 4 + 2 + 6 + 10 + 6 = 30.
    (op("layernorm", in_features=10, out_features=10), 22, 30),
    # rmsnorm, 10 elements: per element 4, per row 2 + 7 = 9; 49 ops: serial 2 + 13 = 15.
    # pipelined: (3 + 2) + (1 + 9) + (3 + 2) + 2 = 22.
    (op("rmsnorm", in_features=10, out_features=10), 15, 22),
    # softmax, 2 heads x context 5 = 10 scores, 2 rows. Per score: scale 1, max 1, subtract 1,
    # exp 2T = 6, sum 1, normalise 1 = 11 -> 110; per row reciprocal 1 + 3R = 7 -> 14.
    # 124 ops: serial 2 + 31 = 33. pipelined: (3 + 2) + (3 + 8) + (1 + 7) + (3 + 1) + 2 = 30.
    (op("softmax", heads=2, context=5, in_features=5, out_features=5), 33, 30),
    # gelu, 10 elements, per element 5 + 1 + 2T + 1 + (1 + 3R) + 2 + 3 = 25 -> 250 ops.
    # serial 2 + ceil(250 / 4) = 65; pipelined 2 + 3 + 25 = 30.
    (op("gelu", in_features=10, out_features=10), 65, 30),
    # silu, 10 elements, per element 1 + 2T + 1 + (1 + 3R) + 1 = 16 -> 160 ops.
    # serial 2 + 40 = 42; pipelined 2 + 3 + 16 = 21.
    (op("silu", in_features=10, out_features=10), 42, 21),
    # rope over 8 elements of q and k, 3 per element: 24 ops. serial 2 + 6; pipelined 2 + 2 + 3.
    (op("rope", in_features=8, out_features=8, heads=1, kv_heads=1, d_head=4), 8, 7),
    # GPT-2 embedding: token + position tables (weight_bytes = 2 rows x 8 x 2 B), 8 adds.
    # serial 2 + 2 = 4; pipelined 2 + 2 + 1 = 5.
    (op("embed", out_features=8, weight_bytes=32), 4, 5),
    # LLaMA embedding: one table, no arithmetic (only the link fetch): 0 cycles.
    (op("embed", out_features=8, weight_bytes=16), 0, 0),
    # batched causal softmax: m = 3 rows ending at context 5, 1 head: 5 + 4 + 3 = 12 scores
    # (3*5 - 3*2/2), 3 rows. 12 * 11 + 3 * 7 = 153 ops: serial 2 + 39 = 41.
    # pipelined: (3 + 2) + (3 + 8) + (1 + 7) + (3 + 1) + 2 = 30.
    (op("softmax", m=3, heads=1, context=5, in_features=5, out_features=5), 41, 30),
    # MoE routing over 8 expert logits, 1 row. Per logit: max 1; subtract 1, exp 2T = 6, sum 1;
    # normalise 1, top-k 2 = 12 -> 96; per row reciprocal 1 + 3R = 7: 103 ops, serial
    # 2 + 26 = 28. pipelined: (2 + 1) + (2 + 8) + (1 + 7) + (2 + 3) + 2 = 28.
    (op("moe_route", in_features=8, out_features=1), 28, 28),
    # MoE combine of 2 experts x 5 outputs (in_features = k x d = 10): 2 per element -> 20 ops.
    # serial 2 + 5 = 7; pipelined 2 + 3 + 2 = 7.
    (op("moe_combine", in_features=10, out_features=5), 7, 7),
]


@pytest.mark.parametrize("row, serial, pipelined", HAND, ids=[f"{h[0]['kind']}" for h in HAND])
def test_hand_computed_cycles(row, serial, pipelined):
    assert vector_op_cycles(row, TINY, mode="serial") == serial
    assert vector_op_cycles(row, TINY, mode="pipelined") == pipelined
    table = pd.DataFrame([row])
    assert asic_cycles_for_table(table, TINY, mode="serial").tolist() == [serial]
    assert asic_cycles_for_table(table, TINY, mode="pipelined").tolist() == [pipelined]


def test_every_vector_kind_has_a_hand_computed_case():
    assert {h[0]["kind"] for h in HAND} == set(VECTOR_KINDS)
    from pimsim.core.kinds import NET_KINDS  # (collectives: timed on the interconnect)

    assert set(VECTOR_KINDS) | set(PIM_KINDS) | set(NET_KINDS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(PIM_KINDS))
def test_pim_kinds_cost_the_asic_nothing(kind):
    row = op(kind, in_features=64, out_features=64, heads=2, kv_heads=2, d_head=32, context=9)
    assert vector_op_breakdown(row, TINY) == []
    assert vector_op_cycles(row, TINY) == 0
    assert asic_cycles_for_table(pd.DataFrame([row]), TINY).tolist() == [0]


def test_default_mode_is_pipelined():
    row = op("gelu", in_features=10, out_features=10)
    assert vector_op_cycles(row, TINY) == vector_op_cycles(row, TINY, mode="pipelined")


def test_breakdown_lists_stages_with_counts():
    row = op("softmax", heads=2, context=5, in_features=5, out_features=5)
    stages = {c.stage: c for c in vector_op_breakdown(row, TINY)}
    assert stages["exp"].units == 10 and stages["exp"].ops_per_unit == 2 * 3
    assert stages["reciprocal"].unit == "row" and stages["reciprocal"].units == 2
    assert stages["reciprocal"].ops == 2 * (1 + 3 * 2)
    assert sum(c.ops for c in stages.values()) == 124


def test_op_count_table_documents_every_kind():
    t = op_count_table(TINY)
    assert set(t["kind"]) == set(VECTOR_KINDS)
    per_kind = t.groupby(["kind", "unit"])["ops_per_unit"].sum()
    assert per_kind[("softmax", "element")] == 5 + 2 * 3
    assert per_kind[("softmax", "row")] == 1 + 3 * 2
    assert per_kind[("layernorm", "row")] == 1 + 2 + 3 + 4 * 1
    formulas = dict(zip(t["stage"] + "/" + t["kind"], t["formula"], strict=True))
    assert formulas["exp/softmax"] == "2*T"
    assert formulas["reciprocal/softmax"] == "1 + 3*R"
    assert formulas["rsqrt/layernorm"] == "3 + 4*S"


@pytest.mark.parametrize("kind", ["layernorm", "rmsnorm", "add", "mul", "relu", "rope"])
def test_element_ops_match_lowering_flops_for_plain_arithmetic(kind):
    # Kinds with no transcendental: the ASIC's per-element op count equals the lowering's FLOPs
    # per element (pimsim.workload.costs), so both models count the same arithmetic.
    t = op_count_table(TINY)
    per_element = t[(t["kind"] == kind) & (t["unit"] == "element")]["ops_per_unit"].sum()
    assert per_element == (ROPE_FLOPS if kind == "rope" else ELEMENTWISE_FLOPS[kind])


# --- first principles -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["gelu", "layernorm", "add"])
def test_cycles_scale_inversely_with_lanes_for_large_vectors(mode, kind):
    row = op(kind, in_features=1 << 20, out_features=1 << 20)
    narrow = vector_op_cycles(row, AsicConfig(vector_lanes=16), mode=mode)
    wide = vector_op_cycles(row, AsicConfig(vector_lanes=64), mode=mode)
    assert narrow / wide == pytest.approx(4.0, rel=0.01)


@pytest.mark.parametrize("mode", MODES)
def test_softmax_grows_with_taylor_terms_and_newton_iterations(mode):
    row = op("softmax", heads=25, context=512, in_features=512, out_features=512)
    by_terms = [
        vector_op_cycles(row, AsicConfig(exp_taylor_terms=t), mode=mode) for t in (2, 4, 8, 16)
    ]
    by_iters = [
        vector_op_cycles(row, AsicConfig(reciprocal_nr_iterations=r), mode=mode)
        for r in (1, 2, 3, 4)
    ]
    assert by_terms == sorted(set(by_terms))
    assert by_iters == sorted(set(by_iters))
    if mode == "serial":
        # Each extra term is one multiply + one add per score: 2 * 25 * 512 / 64 = 400 cycles.
        assert np.diff(by_terms).tolist() == [800, 1600, 3200]


@pytest.mark.parametrize("mode", MODES)
def test_layernorm_grows_with_rsqrt_iterations(mode):
    row = op("layernorm", m=64, in_features=1600, out_features=1600)
    c = [vector_op_cycles(row, AsicConfig(rsqrt_nr_iterations=s), mode=mode) for s in (1, 2, 3)]
    assert c == sorted(set(c))


@pytest.mark.parametrize("mode", MODES)
def test_softmax_cost_is_linear_in_context(mode):
    def cycles(context: int) -> int:
        row = op("softmax", heads=16, context=context, in_features=context, out_features=context)
        return vector_op_cycles(row, AsicConfig(), mode=mode)

    steps = [cycles(c) for c in (256, 512, 768, 1024, 1280)]
    slopes = np.diff(steps)
    assert (slopes > 0).all()
    assert slopes.max() - slopes.min() <= 4  # equal steps up to the ceil of each pass


# --- vectorised == per-op on lowered models ---------------------------------------------------


def _check_vectorised(table: pd.DataFrame, asic: AsicConfig) -> None:
    for mode in MODES:
        fast = asic_cycles_for_table(table, asic, mode=mode)
        slow = [vector_op_cycles(r, asic, mode=mode) for r in table.itertuples(index=False)]
        assert fast.dtype == np.int64
        assert fast.tolist() == slow
    ops = table_ops(table, asic)
    assert ops.tolist() == [
        sum(c.ops for c in vector_op_breakdown(r, asic)) for _, r in table.iterrows()
    ]


def test_vectorised_matches_per_op_gpt2_small():
    table = lower(resolve_model("gpt2-small"), prompt_len=3, gen_len=3)
    asic = load_hw("gddr6_aim", ["asic.vector_lanes=32"]).asic
    _check_vectorised(table, asic)
    cycles = asic_cycles_for_table(table, asic)
    assert (cycles[table["kind"].isin(sorted(PIM_KINDS)).to_numpy()] == 0).all()
    assert (cycles[table["kind"].isin(sorted(VECTOR_KINDS)).to_numpy()] > 0).all()


@pytest.mark.parametrize("batched", [False, True])
def test_vectorised_matches_per_op_tinyllama(batched):
    table = lower(resolve_model("tinyllama-1.1b"), prompt_len=3, gen_len=3, batched_prefill=batched)
    assert {"rmsnorm", "silu", "mul", "rope", "softmax"} <= set(table["kind"])
    _check_vectorised(table, TINY)
    _check_vectorised(table, AsicConfig())


def test_embed_adds_match_lowering_flops():
    # GPT-2 adds the learned position row to the token row; the lowering counts those adds as
    # the embed op's FLOPs, and the ASIC must count the same number of table adds.
    table = lower(resolve_model("gpt2-small"), prompt_len=2, gen_len=2)
    emb = table[table["kind"] == "embed"]
    assert table_ops(emb, TINY).tolist() == emb["flops"].tolist()


def test_unknown_kind_is_an_input_error():
    with pytest.raises(PimsimInputError) as e:
        vector_op_cycles(op("conv2d", id=7, name="L0.conv"), TINY)
    msg = str(e.value)
    for text in ("conv2d", "7", "L0.conv", "layernorm", "softmax", "gelu"):
        assert text in msg
    table = pd.DataFrame([op("add", in_features=4), op("conv2d", id=9, name="L1.conv")])
    with pytest.raises(PimsimInputError, match=r"op 9 'L1.conv'.*conv2d"):
        asic_cycles_for_table(table, TINY)


def test_unknown_mode_is_an_input_error():
    with pytest.raises(PimsimInputError, match="asic.vector_model"):
        vector_op_cycles(op("add", in_features=4), TINY, mode="magic")


def test_namedtuple_and_series_rows_work():
    table = pd.DataFrame([op("gelu", in_features=10, out_features=10)])
    expected = vector_op_cycles(table.iloc[0].to_dict(), TINY)
    assert vector_op_cycles(table.iloc[0], TINY) == expected
    assert vector_op_cycles(next(table.itertuples(index=False)), TINY) == expected


# --- GPT2-XL sanity ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpt2_xl_token_512():
    """The ops of one GPT2-XL decode step that attends over 512 positions."""
    table = lower(resolve_model("gpt2-xl"), prompt_len=511, gen_len=2)
    step = table[table["token"] == 511]
    assert set(step["phase"]) == {"decode"}
    assert set(step.loc[step["kind"] == "softmax", "context"]) == {512}
    return step


def test_gpt2_xl_token_asic_time_is_small(gpt2_xl_token_512):
    # PIM-GPT (arXiv 2310.09385) reports non-VMM work at about 1.16 % of GPT3-XL latency and a
    # GPT2-XL-sized token taking about 1 ms on their PIM; 100 us is a generous ceiling (10 %).
    asic = load_hw("gddr6_aim").asic
    cycles = asic_cycles_for_table(gpt2_xl_token_512, asic)
    total_us = cycles.sum() * asic.cycle_ps / 1e6
    print(f"GPT2-XL decode token @ context 512, default ASIC: {total_us:.1f} us")
    assert 10 < total_us < 100
    # The serial model (one op per lane per cycle) is the pessimistic bound.
    serial = asic_cycles_for_table(gpt2_xl_token_512, asic, mode="serial").sum()
    assert serial > cycles.sum()


def test_vectorised_speed_on_a_600k_op_table():
    table = lower(resolve_model("gpt2-xl"), prompt_len=512, gen_len=512)
    assert len(table) > 600_000
    asic = AsicConfig()
    asic_cycles_for_table(table, asic)
    start = time.perf_counter()
    asic_cycles_for_table(table, asic)
    elapsed = time.perf_counter() - start
    print(f"asic_cycles_for_table on {len(table)} ops: {elapsed * 1e3:.0f} ms")
    assert elapsed < 1.0


def test_cycles_do_not_depend_on_clock():
    row = op("gelu", in_features=6400, out_features=6400)
    slow = dataclasses.replace(AsicConfig(), clock_GHz=0.1)
    assert vector_op_cycles(row, slow) == vector_op_cycles(row, AsicConfig())
    assert slow.cycle_ps == 10 * AsicConfig().cycle_ps


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(sorted(KINDS)),
            st.integers(0, 4),  # m
            st.integers(0, 300),  # in_features / context
            st.integers(0, 40),  # heads
            st.integers(1, 3),  # embedding tables summed
        ),
        min_size=1,
        max_size=30,
    ),
    lanes=st.integers(1, 128),
    latency=st.integers(0, 16),
    terms=st.integers(1, 12),
)
def test_vectorised_matches_per_op_on_random_rows(rows, lanes, latency, terms):
    table = pd.DataFrame(
        [
            op(
                kind,
                id=i,
                m=m,
                in_features=n,
                out_features=n,
                heads=h,
                kv_heads=h,
                d_head=8,
                context=n,
                weight_bytes=tables * m * n * 2,
            )
            for i, (kind, m, n, h, tables) in enumerate(rows)
        ]
    )
    asic = AsicConfig(vector_lanes=lanes, pipeline_latency_cycles=latency, exp_taylor_terms=terms)
    for mode in MODES:
        fast = asic_cycles_for_table(table, asic, mode=mode).tolist()
        assert fast == [vector_op_cycles(r, asic, mode=mode) for r in table.to_dict("records")]
        assert all(c == 0 or c > latency for c in fast)
