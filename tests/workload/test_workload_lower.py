"""Lowering: FLOPs per token, step structure, shapes, batched prefill."""

from __future__ import annotations

import numpy as np
import pytest

from pimsim.core.errors import PimsimInputError
from pimsim.workload import (
    COLUMN_NAMES,
    kv_cache_bytes,
    lower,
    positions_processed,
    resolve_model,
    trace_spec,
    weight_matrices,
)


@pytest.fixture(scope="module")
def xl_table():
    spec = resolve_model("gpt2-xl")
    return spec, lower(spec, prompt_len=1, gen_len=1024)


@pytest.mark.parametrize("context", [1, 2, 100, 512, 1024])
def test_gpt2_xl_flops_per_token(xl_table, context):
    spec, table = xl_table
    d, L, V = spec.d_model, spec.layers, spec.vocab_size
    # Weights used per token: per layer QKV 3d^2 + projection d^2 + FFN 2 x 4d^2 = 12 d^2,
    # plus the (tied) LM head d x V. Attention: q.K^T and P.V each 2 x d_model x context
    # FLOPs per layer (2 FLOPs per multiply-accumulate).
    expected = 2 * (L * 12 * d * d + d * V) + 2 * 2 * L * d * context
    step = table[table["token"] == context - 1]  # the step at position c-1 sees c positions
    assert set(step["context"][step["kind"] == "attn_score"]) == {context}
    assert step["flops"].sum() == pytest.approx(expected, rel=0.01)


def test_gpt2_xl_run_shape(xl_table):
    spec, table = xl_table
    assert list(table.columns) == list(COLUMN_NAMES)
    assert (table["id"].to_numpy() == np.arange(len(table))).all()
    per_token = 1 + 13 * spec.layers + 2  # embed, 13 ops per GELU layer, final norm, LM head
    assert len(table) == 1024 * per_token
    assert (table["kind"] == "vmm").sum() == 1024 * (4 * spec.layers + 1)
    assert (table["name"] == "lm_head").sum() == 1024
    assert set(table["phase"]) == {"prefill", "decode"}
    assert (table["phase"] == "prefill").sum() == per_token
    assert trace_spec(table) == spec


def test_vmm_shapes_match_weight_matrices():
    spec = resolve_model("tinyllama-1.1b")
    table = lower(spec, 2, 3)
    mats = {w.name: w for w in weight_matrices(spec)}
    vmm = table[table["kind"] == "vmm"]
    assert set(vmm["weight"]) == set(mats)
    for row in vmm.drop_duplicates("weight").itertuples():
        w = mats[row.weight]
        assert (row.in_features, row.out_features) == (w.in_features, w.out_features)
        assert row.weight_bytes == w.bytes + w.bias_bytes
    assert set(table["weight"]) - set(mats) == {"", "tok_embed"}


def test_llama_operators():
    spec = resolve_model("tinyllama-1.1b")
    table = lower(spec, 1, 2)
    layer0 = table[(table["layer"] == 0) & (table["token"] == 0)]
    assert list(layer0["kind"]) == [
        "rmsnorm",
        "vmm",
        "rope",
        "attn_score",
        "kv_write",
        "softmax",
        "attn_value",
        "vmm",
        "add",
        "rmsnorm",
        "vmm",
        "silu",
        "mul",
        "vmm",
        "add",
    ]
    attn = layer0[layer0["kind"] == "attn_score"].iloc[0]
    assert (attn.heads, attn.kv_heads, attn.d_head) == (32, 4, 64)
    rope = layer0[layer0["kind"] == "rope"].iloc[0]
    assert rope.in_features == (spec.heads + spec.kv_heads) * spec.d_head


def test_gpt2_operators_have_no_rope_and_layernorm():
    table = lower(resolve_model("gpt2-small"), 1, 1)
    kinds = set(table["kind"])
    assert {"layernorm", "gelu", "embed"} <= kinds
    assert not kinds & {"rope", "rmsnorm", "silu", "gemm"}


@pytest.mark.parametrize(("prompt", "gen"), [(1, 1), (1, 5), (4, 1), (4, 3), (3, 0)])
def test_steps_tokens_and_lm_heads(prompt, gen):
    spec = resolve_model("gpt2-small")
    table = lower(spec, prompt, gen)
    total = positions_processed(prompt, gen)
    assert sorted(set(table["token"])) == list(range(total))
    assert (table["name"] == "lm_head").sum() == gen
    prefill = table[table["phase"] == "prefill"]
    assert set(prefill["token"]) == set(range(prompt))
    kv = table[table["kind"] == "kv_write"]
    assert kv["kv_bytes"].sum() == kv_cache_bytes(spec, total)


def test_decode_embed_waits_for_previous_lm_head():
    table = lower(resolve_model("gpt2-small"), 2, 3)
    heads = table[table["name"] == "lm_head"]["id"].tolist()
    embeds = table[table["name"] == "embed"]
    decode_embeds = embeds[embeds["phase"] == "decode"]
    assert [d[0] for d in decode_embeds["deps"]] == heads[:-1]
    assert all(d == [] for d in embeds[embeds["phase"] == "prefill"]["deps"])


def test_batched_prefill_uses_gemm():
    spec = resolve_model("gpt2-small")
    prompt, gen = 8, 3
    table = lower(spec, prompt, gen, batched_prefill=True)
    first = table[table["token"] == 0]
    assert (first["phase"] == "prefill").all()
    gemm = first[first["kind"] == "gemm"]
    assert len(gemm) == 4 * spec.layers and (gemm["m"] == prompt).all()
    head = first[first["name"] == "lm_head"].iloc[0]
    assert (head.kind, head.m) == ("vmm", 1)  # only the last prompt row is decoded
    score = first[first["kind"] == "attn_score"].iloc[0]
    causal_pairs = prompt * (prompt + 1) // 2
    assert score.flops == 2 * spec.heads * spec.d_head * causal_pairs
    assert score.context == prompt
    # decode steps are the same as without batching
    plain = lower(spec, prompt, gen)
    cols = ["name", "kind", "m", "in_features", "out_features", "context", "flops", "bytes"]
    after_b = table[table["token"] >= prompt][cols].reset_index(drop=True)
    after_p = plain[plain["token"] >= prompt][cols].reset_index(drop=True)
    assert after_b.equals(after_p)

    # the same weight FLOPs in total: batching changes where they run, not how many
    def weight_flops(t):
        return t[t["kind"].isin(["vmm", "gemm"])]["flops"].sum()

    assert weight_flops(table) == weight_flops(plain)
    assert table["flops"].sum() == plain["flops"].sum()  # causal attention counts match too


def test_batched_prefill_single_token_prompt_is_plain():
    spec = resolve_model("gpt2-small")
    a = lower(spec, 1, 4, batched_prefill=True)
    b = lower(spec, 1, 4)
    assert a.equals(b)


@pytest.mark.parametrize(("prompt", "gen"), [(0, 4), (1, -1), (1000, 26), (1, 1025)])
def test_length_errors(prompt, gen):
    with pytest.raises(PimsimInputError) as info:
        lower(resolve_model("gpt2-small"), prompt, gen)
    assert info.value.key in ("prompt_len", "gen_len")


def test_context_limit_is_inclusive():
    table = lower(resolve_model("gpt2-small"), 1, 1024)
    assert table["context"].max() == 1024
