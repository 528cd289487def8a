"""Decoder graph: the operators of one decoder layer, plus what runs before and after them.

The graph is per position (one token); `lowering` replicates it over layers and tokens. Each
node lists its dependencies as indices into its own section, with two markers:

- `INPUT`: the section's input (the previous layer's output, or the embedding output);
- `PREV_STEP`: the same node in the previous step (used by `kv_write`: the KV cache of a layer
  is appended in token order, so a cache read at step t transitively waits for every write).
- `PREV_HEAD`: the LM head of the previous step (a decode step embeds the token just sampled);
- `prev_step(k)`: node k of the same section in the previous step (the new token's q.K^T reads
  the key that the previous step's KV write stored).

The score of a token against its own key needs no DRAM round trip (the ASIC has q and k), so
q.K^T runs before the KV write and does not wait for it; softmax x V waits for it (the V
column it may complete is read from DRAM).

Parameters are attached to the node that reads them, so the parameter count comes from the
graph (`params.count_parameters`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pimsim.workload.spec import ModelSpec

INPUT = -1
PREV_STEP = -2
PREV_HEAD = -3
PREV_STEP_BASE = -1000  # prev_step(k) = PREV_STEP_BASE - k


def prev_step(node: int) -> int:
    """Dependency marker: node `node` of this section in the previous step."""
    return PREV_STEP_BASE - node


@dataclass(frozen=True)
class GraphNode:
    """One operator of a section. Shapes are per token (one row); attention widths that grow
    with the context are filled in by the lowering (`attention=True`)."""

    name: str
    kind: str
    deps: tuple[int, ...]
    in_features: int = 0
    out_features: int = 0
    heads: int = 0
    kv_heads: int = 0
    d_head: int = 0
    weight: str = ""  # parameter tensor read (matrix or embedding table), "" if none
    matrix_params: int = 0  # elements of the weight matrix used by a vmm
    bias_params: int = 0
    norm_params: int = 0
    table_params: int = 0  # embedding-table elements owned by this node (counted once)
    table_read: int = 0  # embedding-table elements read per token
    attention: bool = False  # reads or writes the KV cache (context-dependent)
    tied_to: str = ""  # weight shared with another node's tensor (counted once)
    # an expert slot's node (mixture of experts): its rows are those routed to the slot's
    # expert over the whole batch, and the lowering fills in which expert (`moe`)
    routed: bool = False


@dataclass(frozen=True)
class DecoderGraph:
    """`pre` runs once per step before the layers, `layer` once per layer (its last node is the
    layer output), `post` once per step that produces a token (its last node is the LM head)."""

    pre: tuple[GraphNode, ...]
    layer: tuple[GraphNode, ...]
    post: tuple[GraphNode, ...]


def build_graph(spec: ModelSpec, expert_slots: int = 0) -> DecoderGraph:
    """Graph of `spec`; see the module docstring for the dependency markers. A mixture of
    experts gets `expert_slots` expert FFNs per layer (default: `experts_per_token`, one
    token's choice; a step of several rows needs up to all experts: `moe.expert_slots`)."""
    slots = expert_slots or spec.experts_per_token
    return DecoderGraph(pre=_pre(spec), layer=_layer(spec, slots), post=_post(spec))


def _norm(spec: ModelSpec, name: str, deps: tuple[int, ...], width: int) -> GraphNode:
    params = width * (2 if spec.norm == "layernorm" else 1)  # gain (+ bias for LayerNorm)
    return GraphNode(
        name, spec.norm, deps, in_features=width, out_features=width, norm_params=params
    )


def _linear(
    spec: ModelSpec, name: str, deps: tuple[int, ...], n_in: int, n_out: int, bias: bool
) -> GraphNode:
    return GraphNode(
        name,
        "vmm",
        deps,
        in_features=n_in,
        out_features=n_out,
        weight=name,
        matrix_params=n_in * n_out,
        bias_params=n_out if bias else 0,
    )


def _eltwise(
    kind: str, name: str, deps: tuple[int, ...], width: int, routed: bool = False
) -> GraphNode:
    return GraphNode(name, kind, deps, in_features=width, out_features=width, routed=routed)


def _pre(spec: ModelSpec) -> tuple[GraphNode, ...]:
    d, de = spec.d_model, spec.d_embed
    learned = spec.position_embedding == "learned"
    tok_table = spec.vocab_size * de
    if de == d:
        pos_table = spec.max_context_tokens * d if learned else 0
        embed = GraphNode(
            "embed",
            "embed",
            (PREV_HEAD,),
            in_features=0,
            out_features=d,
            weight="tok_embed",
            table_params=tok_table + pos_table,
            table_read=d * (2 if learned else 1),
        )
        return (embed,)
    # Token table narrower than the model (OPT-350m): lookup, project in, then add positions.
    nodes = [
        GraphNode(
            "embed",
            "embed",
            (PREV_HEAD,),
            out_features=de,
            weight="tok_embed",
            table_params=tok_table,
            table_read=de,
        ),
        _linear(spec, "embed_proj_in", (0,), de, d, bias=False),
    ]
    if learned:
        nodes.append(
            GraphNode(
                "pos_embed",
                "embed",
                (1,),
                in_features=d,
                out_features=d,
                weight="pos_embed",
                table_params=spec.max_context_tokens * d,
                table_read=d,
            )
        )
    return tuple(nodes)


def _layer(spec: ModelSpec, slots: int = 0) -> tuple[GraphNode, ...]:
    d, dh, h, kvh = spec.d_model, spec.d_head, spec.local_heads, spec.local_kv_heads
    bias = spec.linear_bias
    nodes: list[GraphNode] = []

    def add(node: GraphNode) -> int:
        nodes.append(node)
        return len(nodes) - 1

    pre = spec.norm_position == "pre"
    x = add(_norm(spec, "attn_norm", (INPUT,), d)) if pre else INPUT
    qkv = add(_linear(spec, "qkv", (x,), d, spec.qkv_out_features, bias or spec.qkv_bias))
    if spec.position_embedding == "rotary":
        rotated = spec.rotated_dims  # (a partial rotary embedding leaves the rest in place)
        qk = add(
            GraphNode(
                "rope",
                "rope",
                (qkv,),
                in_features=(h + kvh) * rotated,
                out_features=(h + kvh) * rotated,
                heads=h,
                kv_heads=kvh,
                d_head=rotated,
            )
        )
    else:
        qk = qkv
    attn_shape = dict(heads=h, kv_heads=kvh, d_head=dh, attention=True)
    kv_index = qk + 2  # the KV write follows the score (checked below)
    score = add(
        GraphNode(
            "attn_score",
            "attn_score",
            (qk, prev_step(kv_index)),
            in_features=dh,
            **attn_shape,
        )
    )
    kv = add(
        GraphNode(
            "kv_write",
            "kv_write",
            (qk, PREV_STEP),
            in_features=2 * kvh * dh,
            out_features=2 * kvh * dh,
            **attn_shape,
        )
    )
    assert kv == kv_index
    prob = add(GraphNode("softmax", "softmax", (score,), **attn_shape))
    ctx = add(GraphNode("attn_value", "attn_value", (prob, kv), out_features=dh, **attn_shape))
    proj = _summed(spec, add, "attn", add(_linear(spec, "attn_out", (ctx,), h * dh, d, bias)))
    res1 = add(_eltwise("add", "attn_residual", (INPUT, proj), d))
    if spec.parallel_block:  # the FFN reads the layer input's norm, not the attention's sum
        y = res1
        z = add(_norm(spec, "ffn_norm", (INPUT,), d)) if spec.parallel_norms == 2 else x
    else:
        y = res1 if pre else add(_norm(spec, "attn_norm", (res1,), d))
        z = add(_norm(spec, "ffn_norm", (y,), d)) if pre else y
    down = _moe(spec, add, z, slots) if spec.experts else _ffn(spec, add, z)
    down = _summed(spec, add, "ffn", down)
    res2 = add(_eltwise("add", "ffn_residual", (y, down), d))
    if not pre:
        add(_norm(spec, "ffn_norm", (res2,), d))
    return tuple(nodes)


def _summed(spec: ModelSpec, add, part: str, node: int) -> int:
    """Tensor parallelism: the devices' partial outputs of `node` summed (an all-reduce)."""
    if spec.tensor_parallel == 1:
        return node
    d = spec.d_model
    return add(GraphNode(f"{part}_allreduce", "allreduce", (node,), in_features=d, out_features=d))


def _ffn(spec: ModelSpec, add, z: int) -> int:
    """The FFN's nodes from input node `z`; returns its output node."""
    d, bias = spec.d_model, spec.linear_bias or spec.mlp_bias
    f = spec.local_d_ffn
    if spec.gated_ffn:
        gate_up = add(_linear(spec, "gate_up", (z,), d, 2 * f, bias))
        act = add(_eltwise("silu", "silu", (gate_up,), f))
        hidden = add(_eltwise("mul", "mul", (act, gate_up), f))
        return add(_linear(spec, "down", (hidden,), f, d, bias))
    fc1 = add(_linear(spec, "fc1", (z,), d, f, bias))
    act = add(_eltwise(spec.ffn, spec.ffn, (fc1,), f))
    return add(_linear(spec, "fc2", (act,), f, d, bias))


def _moe(spec: ModelSpec, add, z: int, slots: int) -> int:
    """A mixture-of-experts FFN from input node `z`: the router (and a shared expert's gate and
    first VMM: they need only `z`), the top-k choice, `slots` expert FFNs (all weight VMMs
    first, so the PIM unit hands the experts on different channels their work together), the
    shared expert's rest, the gate-weighted sum; returns the sum's node. Slot s reads expert
    s's weights here; the lowering names the routed expert per step."""
    d, f, bias = spec.d_model, spec.expert_hidden, spec.linear_bias or spec.mlp_bias
    router = add(_linear(spec, "router", (z,), d, spec.experts, False))
    shared_in = []
    if spec.shared_expert_gate:
        shared_in.append(add(_linear(spec, "shared_gate", (z,), d, 1, False)))
    gated = spec.gated_ffn
    first = "gate_up" if gated else "fc1"
    fs = spec.local_shared_ffn
    if fs:
        up = add(_linear(spec, f"shared.{first}", (z,), d, (2 if gated else 1) * fs, bias))
    route = add(
        GraphNode("route", "moe_route", (router,), in_features=spec.experts, out_features=1)
    )
    ups = [add(_routed(spec, f"moe{s}.{first}", (z, route), d, f, s, bias)) for s in range(slots)]
    ends = [_ffn_rest(spec, add, "shared", up, fs, False)] if fs else []
    ends += [_ffn_rest(spec, add, f"moe{s}", ups[s], f, True, s) for s in range(slots)]
    k = spec.experts_per_token + (1 if fs else 0)  # (the shared expert's output too)
    return add(
        GraphNode(
            "combine",
            "moe_combine",
            (route, *shared_in, *ends),
            in_features=k * d,
            out_features=d,
        )
    )


def _ffn_rest(spec: ModelSpec, add, prefix: str, up: int, f: int, routed: bool, slot=0) -> int:
    """An expert FFN after its first VMM (node `up`): activation (and gate), down VMM."""
    bias = spec.linear_bias or spec.mlp_bias
    if spec.gated_ffn:
        act = add(_eltwise("silu", f"{prefix}.silu", (up,), f, routed=routed))
        hidden = add(_eltwise("mul", f"{prefix}.mul", (act, up), f, routed=routed))
    else:
        hidden = add(_eltwise(spec.ffn, f"{prefix}.{spec.ffn}", (up,), f, routed=routed))
    name = f"{prefix}.{'down' if spec.gated_ffn else 'fc2'}"
    if routed:
        return add(_routed(spec, name, (hidden,), f, spec.d_model, slot, bias))
    return add(_linear(spec, name, (hidden,), f, spec.d_model, bias))


def _routed(
    spec: ModelSpec, name: str, deps: tuple[int, ...], n_in: int, n_out: int, slot: int, bias
) -> GraphNode:
    """An expert slot's weight VMM (gated: gate and up concatenated, 2 x the hidden units)."""
    part = name.split(".", 1)[1]
    width = 2 * n_out if part == "gate_up" else n_out
    node = _linear(spec, name, deps, n_in, width, bias)
    return dataclasses.replace(node, weight=expert_weight(slot, part), routed=True)


def expert_weight(expert: int, part: str) -> str:
    """The name of one expert's weight matrix inside a layer (`L3.experts.5.down`)."""
    return f"experts.{expert}.{part}"


def _post(spec: ModelSpec) -> tuple[GraphNode, ...]:
    nodes: list[GraphNode] = []
    x = INPUT
    if spec.final_norm:
        nodes.append(_norm(spec, "final_norm", (x,), spec.d_model))
        x = len(nodes) - 1
    if spec.d_embed != spec.d_model:
        nodes.append(_linear(spec, "embed_proj_out", (x,), spec.d_model, spec.d_embed, False))
        x = len(nodes) - 1
    # (tensor parallelism: each device's share of the vocabulary; the devices' best tokens are
    # combined in a reduction of one value each, not modelled)
    head = _linear(spec, "lm_head", (x,), spec.d_embed, spec.local_vocab, bias=False)
    if spec.tied_lm_head:
        head = dataclasses.replace(head, tied_to="tok_embed")
    nodes.append(head)
    return tuple(nodes)
