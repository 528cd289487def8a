"""Parameters, weight matrices and KV-cache size, all derived from the decoder graph."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pimsim.workload.graph import DecoderGraph, GraphNode, build_graph, expert_weight
from pimsim.workload.spec import ModelSpec


@dataclass(frozen=True)
class WeightMatrix:
    """A matrix that a `vmm` / `gemm` op multiplies by: y[out] = x[in] @ W[in, out].

    `bytes` is the matrix alone; `bias_bytes` its bias vector (0 if none). A tied LM head has
    `tied_to="tok_embed"`: it is the token-embedding table, stored once; the `embed` op reads
    the `in_features` weights of one output (one vocabulary entry) per token.
    """

    name: str
    layer: int
    in_features: int
    out_features: int
    bytes: int
    bias_bytes: int = 0
    tied_to: str = ""


@dataclass(frozen=True)
class EmbeddingTable:
    """A lookup table read one row per token (`rows` x `width`), not multiplied."""

    name: str
    rows: int
    width: int
    bytes: int


def _layer_names(spec: ModelSpec, graph: DecoderGraph) -> list[tuple[int, GraphNode]]:
    """(layer, node) for every node of the model in graph order; layer -1 outside layers. A
    mixture's expert slots stand for all its experts: each weight VMM of slot 0 once per
    expert (reading that expert's weights), the other slots' nodes not at all."""
    layer_nodes = _stored_nodes(spec, graph.layer)
    out = [(-1, n) for n in graph.pre]
    for layer in range(spec.layers):
        out.extend((layer, n) for n in layer_nodes)
    out.extend((-1, n) for n in graph.post)
    return out


def _stored_nodes(spec: ModelSpec, nodes: tuple[GraphNode, ...]) -> list[GraphNode]:
    out = []
    for node in nodes:
        if not node.routed:
            out.append(node)
        elif node.kind == "vmm" and node.weight.startswith(expert_weight(0, "")):
            part = node.weight.rsplit(".", 1)[1]
            out.extend(
                dataclasses.replace(node, weight=expert_weight(e, part))
                for e in range(spec.experts)
            )
    return out


def qualified_name(layer: int, node_name: str) -> str:
    """Model-wide name of a node or its weight: `L3.qkv` inside layer 3, the bare name outside."""
    return f"L{layer}.{node_name}" if layer >= 0 else node_name


def weight_matrices(spec: ModelSpec) -> list[WeightMatrix]:
    """Every matrix a VMM runs over, in execution order (layers 0..L-1, then the head)."""
    graph = build_graph(spec)
    bpe = spec.bytes_per_element
    return [
        WeightMatrix(
            name=qualified_name(layer, node.weight),
            layer=layer,
            in_features=node.in_features,
            out_features=node.out_features,
            bytes=node.matrix_params * bpe,
            bias_bytes=node.bias_params * bpe,
            tied_to=node.tied_to,
        )
        for layer, node in _layer_names(spec, graph)
        if node.kind == "vmm"
    ]


def embedding_tables(spec: ModelSpec) -> list[EmbeddingTable]:
    """Token (and learned position) embedding tables; a tied LM head shares `tok_embed`."""
    bpe = spec.bytes_per_element
    tables = [EmbeddingTable("tok_embed", spec.vocab_size, spec.d_embed, 0)]
    if spec.position_embedding == "learned":
        tables.append(EmbeddingTable("pos_embed", spec.max_context_tokens, spec.d_model, 0))
    return [EmbeddingTable(t.name, t.rows, t.width, t.rows * t.width * bpe) for t in tables]


def kv_cache_bytes(spec: ModelSpec, context_len: int) -> int:
    """Bytes of K and V for all layers holding `context_len` positions."""
    if context_len < 0:
        raise ValueError("context_len must be >= 0")
    return spec.layers * 2 * spec.kv_heads * spec.d_head * context_len * spec.bytes_per_element


def parameter_breakdown(spec: ModelSpec) -> dict[str, int]:
    """Parameters by category, summed over the graph; a tied LM head is counted once (as the
    token embedding)."""
    graph = build_graph(spec)
    totals = {"matrices": 0, "biases": 0, "norms": 0, "embeddings": 0}
    for _, node in _layer_names(spec, graph):
        if not node.tied_to:
            totals["matrices"] += node.matrix_params
        totals["biases"] += node.bias_params
        totals["norms"] += node.norm_params
        totals["embeddings"] += node.table_params
    return totals


def count_parameters(spec: ModelSpec) -> int:
    """Total parameters: weights + embeddings + norms + biases, tied LM head counted once."""
    return sum(parameter_breakdown(spec).values())
