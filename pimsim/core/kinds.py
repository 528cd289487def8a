"""The operator kinds of a trace, and where each runs.

One row per kind: the unit that executes it (`pim`: the banks' MAC units; `vector`: the ASIC's
vector unit; `link`: a transfer between the ASIC and the PIM devices; `net`: a collective over
the interconnect between PIM devices, tensor parallelism) and whether it is a
matrix product streamed from the banks (the bandwidth and layout bounds count its bytes). The
order is the trace format's kind code order (`pimsim.trace.v1`): append, never reorder.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorKind:
    name: str
    unit: str  # pim | vector | link | net
    matrix_product: bool  # a VMM / GEMM / attention product read from the banks
    description: str
    # an element-wise kind: FLOPs per element (transcendentals count as one) and how many
    # activation tensors it reads (binary ops: 2); 0 for the kinds with their own cost rule
    # (matrix products, attention, softmax, rope, embed, kv_write: pimsim.workload.costs)
    elementwise_flops: int = 0
    inputs: int = 1
    # an activation a model's FFN may name (`ffn: gelu`: fc1 -> activation -> fc2)
    ffn_activation: bool = False
    label: str = ""  # the name figures show (default: the description)

    @property
    def figure_label(self) -> str:
        return self.label or self.description


KIND_TABLE: dict[str, OperatorKind] = {
    k.name: k
    for k in (
        OperatorKind(
            "embed", "link", False, "token (+ position) embedding lookup", label="embedding lookup"
        ),
        OperatorKind("vmm", "pim", True, "vector x weight matrix", label="VMM (weights)"),
        OperatorKind(
            "gemm", "pim", True, "matrix x weight matrix (batched rows)", label="GEMM (weights)"
        ),
        OperatorKind("layernorm", "vector", False, "LayerNorm", elementwise_flops=7),
        OperatorKind("rmsnorm", "vector", False, "RMSNorm", elementwise_flops=4),
        OperatorKind("rope", "vector", False, "rotary position embedding", label="RoPE"),
        OperatorKind(
            "kv_write", "pim", False, "append K and V to the cache in the banks", label="KV write"
        ),
        OperatorKind(
            "attn_score", "pim", True, "q . K^T over the cached keys", label="attention q.K"
        ),
        OperatorKind("softmax", "vector", False, "softmax"),
        OperatorKind(
            "attn_value",
            "pim",
            True,
            "softmax(.) x V over the cached values",
            label="attention s.V",
        ),
        OperatorKind(
            "add", "vector", False, "element-wise add (residual)", 1, inputs=2, label="residual add"
        ),
        OperatorKind(
            "mul", "vector", False, "element-wise multiply (gated FFN)", 1, inputs=2, label="gate"
        ),
        OperatorKind(
            "gelu", "vector", False, "GELU (tanh form)", elementwise_flops=8, ffn_activation=True
        ),
        OperatorKind("relu", "vector", False, "ReLU", elementwise_flops=1, ffn_activation=True),
        OperatorKind("silu", "vector", False, "SiLU", elementwise_flops=4),
        # mixture of experts: the router's softmax over the expert logits and the top-k choice
        # (softmax 6 per logit, as `softmax`, + 1 compare per logit per insertion into the
        # k-entry list), and the gate-weighted sum of the chosen experts' outputs (multiply,
        # accumulate: in_features = k x d_model)
        OperatorKind(
            "moe_route",
            "vector",
            False,
            "router softmax and top-k expert choice",
            elementwise_flops=7,
            label="MoE routing",
        ),
        OperatorKind(
            "moe_combine",
            "vector",
            False,
            "gate-weighted sum of the chosen experts' outputs",
            elementwise_flops=2,
            label="MoE combine",
        ),
        # tensor parallelism: each device's partial sums summed over the devices (ring all-reduce,
        # the sums on the way), and each device's share of the logits gathered
        OperatorKind("allreduce", "net", False, "all-reduce of partial sums over the devices"),
        OperatorKind("allgather", "net", False, "all-gather of each device's share"),
    )
}
KINDS: tuple[str, ...] = tuple(KIND_TABLE)
# kinds whose work runs in the PIM banks (matrix products and cache writes)
PIM_KINDS: tuple[str, ...] = tuple(k for k, v in KIND_TABLE.items() if v.unit == "pim")
# matrix products read from the banks (weights and KV cache)
PIM_VMM_KINDS: tuple[str, ...] = tuple(k for k, v in KIND_TABLE.items() if v.matrix_product)
# kinds the engine runs as PIM <-> ASIC transfers
LINK_KINDS: tuple[str, ...] = tuple(k for k, v in KIND_TABLE.items() if v.unit == "link")
# element-wise kinds (norms, activations, residual adds, gates): FLOPs per element
ELEMENTWISE_FLOPS: dict[str, int] = {
    k: v.elementwise_flops for k, v in KIND_TABLE.items() if v.elementwise_flops
}
# activations an ungated FFN may use
FFN_ACTIVATIONS: tuple[str, ...] = tuple(k for k, v in KIND_TABLE.items() if v.ffn_activation)
# collectives over the interconnect between devices (tensor parallelism)
NET_KINDS: tuple[str, ...] = tuple(k for k, v in KIND_TABLE.items() if v.unit == "net")
# kinds the ASIC cost model prices (everything that is not PIM work or a collective, the
# embedding included)
ASIC_KINDS: frozenset[str] = frozenset(KINDS) - frozenset(PIM_KINDS) - frozenset(NET_KINDS)
