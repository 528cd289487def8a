"""Property-based: for random small models and run lengths the operator graph is a DAG in id
order, every input is produced before use, and the KV cache grows by one position per token."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pimsim.workload import (
    ModelSpec,
    count_parameters,
    deps_csr,
    kv_cache_bytes,
    lower,
    positions_processed,
)


@st.composite
def models(draw) -> ModelSpec:
    kv_heads = draw(st.integers(1, 3))
    heads = kv_heads * draw(st.integers(1, 3))
    d_head = 2 * draw(st.integers(1, 4))
    d_model = heads * d_head
    return ModelSpec(
        name="random",
        layers=draw(st.integers(1, 3)),
        d_model=d_model,
        heads=heads,
        kv_heads=kv_heads,
        d_head=d_head,
        d_ffn=draw(st.integers(1, 40)),
        vocab_size=draw(st.integers(1, 60)),
        max_context_tokens=draw(st.integers(12, 20)),
        d_embed=draw(st.sampled_from([d_model, d_model + 2])),
        norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
        norm_position=draw(st.sampled_from(["pre", "post"])),
        final_norm=draw(st.booleans()),
        ffn=draw(st.sampled_from(["gelu", "relu", "swiglu"])),
        position_embedding=draw(st.sampled_from(["learned", "rotary", "none"])),
        linear_bias=draw(st.booleans()),
        tied_lm_head=draw(st.booleans()),
        dtype=draw(st.sampled_from(["bf16", "fp32", "int8"])),
    )


def _topological_order_exists(n: int, counts: np.ndarray, flat: np.ndarray) -> bool:
    """Kahn's algorithm, independent of the id order."""
    owner = np.repeat(np.arange(n), counts)
    indegree = counts.copy()
    children = defaultdict(list)
    for child, parent in zip(owner.tolist(), flat.tolist(), strict=True):
        children[parent].append(child)
    ready = [i for i in range(n) if indegree[i] == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return seen == n


@settings(max_examples=60, deadline=None)
@given(
    spec=models(),
    prompt_len=st.integers(1, 5),
    gen_len=st.integers(0, 6),
    batched=st.booleans(),
)
def test_lowered_graph_invariants(spec, prompt_len, gen_len, batched):
    table = lower(spec, prompt_len, gen_len, batched_prefill=batched)
    n = len(table)
    ids = table["id"].to_numpy()
    counts, flat = deps_csr(table)
    owner_id = np.repeat(ids, counts)

    # ids are unique and increasing; every dependency is an existing, earlier op
    assert (np.diff(ids) > 0).all()
    assert np.isin(flat, ids).all()
    assert (flat < owner_id).all()
    assert _topological_order_exists(n, counts, flat)

    # only prompt-token embeddings start from nothing (their token ids come from the prompt)
    no_deps = table[counts == 0]
    assert set(no_deps["kind"]) <= {"embed"}
    assert (no_deps["phase"] == "prefill").all()

    # KV cache: per layer, one write per step, each extending the context by the step's rows
    total = positions_processed(prompt_len, gen_len)
    kv = table[table["kind"] == "kv_write"]
    for _, writes in kv.groupby("layer"):
        context = writes["context"].to_numpy()
        rows = writes["m"].to_numpy()
        assert (context == np.cumsum(rows)).all()
        assert (writes["token"].to_numpy() == context - rows).all()
        assert context[-1] == total
        if not batched:
            assert (rows == 1).all()
    assert kv["kv_bytes"].sum() == kv_cache_bytes(spec, total)

    # attention reads exactly the cache written so far
    attn = table[table["kind"].isin(["attn_score", "attn_value"])]
    assert (attn["context"] == attn["token"] + attn["m"]).all()
    per_position = 2 * spec.kv_heads * spec.d_head * spec.bytes_per_element
    assert (attn["kv_bytes"] * 2 == attn["context"] * per_position).all()

    # every generated token has one LM head; costs are never negative
    assert (table["name"] == "lm_head").sum() == gen_len
    for col in ("flops", "bytes", "weight_bytes", "kv_bytes"):
        assert (table[col] >= 0).all()
    assert count_parameters(spec) > 0
