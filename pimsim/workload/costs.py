"""FLOPs and bytes of every operator kind, vectorised over numpy columns.

Conventions (per op; `m` rows = tokens processed together, `B` = bytes per element):

- Matrix products count 2 FLOPs per multiply-accumulate. `vmm` / `gemm`: 2*m*in*out, plus
  m*out for the bias add when the layer has a bias.
- Attention, per query head. `S` is the number of (query, key) pairs of one head: `context`
  for one token; for a causal batched prefill of m rows ending at `context`,
  S = m*context - m*(m-1)/2 (masked pairs are not counted).
  `attn_score` (q.K^T): 2*heads*d_head*S. `attn_value` (P.V): 2*heads*d_head*S.
- Element-wise ops, FLOPs per element (transcendentals count as one; the numbers live in the
  kind table, `pimsim.core.kinds`):
  layernorm 7 (mean: 1, variance: subtract, square, accumulate = 3, scale by 1/std: 1,
  gain and bias: 2); rmsnorm 4 (square, accumulate, scale, gain); softmax 6 per score
  (1/sqrt(d_head) scaling, running max, subtract, exp, sum, multiply by the reciprocal);
  gelu 8 (tanh form); relu 1; silu 4 (negate, exp, add 1, divide); add 1; mul 1;
  rope 3 per rotated element of q and k (two multiplies, one add); embed: 1 add per element
  per extra table row summed (token + position = 1); kv_write 0. Per-row reductions
  (1/sqrt, reciprocals) are not counted.
- `kv_write` counts the bytes written to the cache (its input is the QKV output, already
  counted there).
- Bytes = parameters read (`weight_bytes`: matrix + bias, norm gains, embedding rows)
  + KV cache read or written (`kv_bytes`) + activations read and written once each.
  A KV-cache read is counted once per op, not once per query row.
- A batch of sequences decoding together (`batch`): everything per sequence times the batch,
  except the weights, which one pass serves to all of them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pimsim.core.kinds import ELEMENTWISE_FLOPS, KIND_TABLE, KINDS

SOFTMAX_FLOPS = 6
ROPE_FLOPS = 3


def score_pairs(m: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Causal (query, key) pairs per head for m query rows ending at position `context`."""
    return m * context - m * (m - 1) // 2


def op_costs(
    cols: Mapping[str, np.ndarray],
    param_elems: np.ndarray,
    bytes_per_element: int,
    batch: int | np.ndarray = 1,
) -> dict[str, np.ndarray]:
    """`flops`, `bytes`, `weight_bytes`, `kv_bytes` (int64 arrays) for the ops in `cols`, each
    op serving `batch` sequences in lockstep (`m` rows each): FLOPs, activations and the KV
    cache scale with the batch, weights (matrices, biases, norm gains) are read once for all
    sequences; each sequence reads its own embedding rows. `batch` may be per op (an expert
    slot's `m` already counts the rows of the whole batch: 1).

    `cols["kind_code"]` indexes `table.KINDS`; `param_elems` holds, per op, the parameter
    elements it reads: matrix + bias for a matrix product, gains for a norm, embedding-table
    elements per row for `embed`.
    """
    kind = cols["kind_code"]
    m = cols["m"]
    n_in = cols["in_features"]
    n_out = cols["out_features"]
    heads, kv_heads, d_head = cols["heads"], cols["kv_heads"], cols["d_head"]
    context = cols["context"]
    B = bytes_per_element
    n = len(kind)
    flops = np.zeros(n, dtype=np.int64)
    act = np.zeros(n, dtype=np.int64)  # activation elements moved
    wb = np.zeros(n, dtype=np.int64)  # parameter bytes
    kvb = np.zeros(n, dtype=np.int64)

    def where(*names: str) -> np.ndarray:
        return np.flatnonzero(np.isin(kind, [KINDS.index(name) for name in names]))

    i = where("vmm", "gemm")
    mat = n_in[i] * n_out[i]
    flops[i] = 2 * m[i] * mat + m[i] * (param_elems[i] - mat)  # second term: bias adds
    wb[i] = param_elems[i] * B
    act[i] = m[i] * (n_in[i] + n_out[i])

    for k, per_element in ELEMENTWISE_FLOPS.items():
        i = where(k)
        flops[i] = per_element * m[i] * n_in[i]
        act[i] = m[i] * (KIND_TABLE[k].inputs * n_in[i] + n_out[i])
        wb[i] = param_elems[i] * B

    i = where("embed")
    flops[i] = m[i] * (param_elems[i] + n_in[i] - n_out[i])
    wb[i] = m[i] * param_elems[i] * B
    act[i] = m[i] * (n_in[i] + n_out[i])

    i = where("rope")
    flops[i] = ROPE_FLOPS * m[i] * n_in[i]
    act[i] = m[i] * (n_in[i] + n_out[i] + d_head[i])  # + cos/sin of each position

    i = where("kv_write")
    kvb[i] = m[i] * n_in[i] * B

    i = where("attn_score", "attn_value")
    pairs = score_pairs(m[i], context[i])
    flops[i] = 2 * heads[i] * d_head[i] * pairs
    kvb[i] = kv_heads[i] * d_head[i] * context[i] * B
    act[i] = m[i] * heads[i] * d_head[i] + heads[i] * pairs

    i = where("allreduce", "allgather")  # (the vector each device sends and receives)
    act[i] = m[i] * (n_in[i] + n_out[i])

    i = where("softmax")
    pairs = score_pairs(m[i], context[i])
    flops[i] = SOFTMAX_FLOPS * heads[i] * pairs
    act[i] = 2 * heads[i] * pairs

    flops, act, kvb = _for_the_batch(batch, flops, act, kvb, wb, where("embed"))
    return {
        "flops": flops,
        "bytes": wb + kvb + act * B,
        "weight_bytes": wb,
        "kv_bytes": kvb,
    }


def _for_the_batch(batch, flops, act, kvb, wb, embed):
    """Scale per-sequence costs by each op's sequences (weights are read once for all; each
    sequence reads its own embedding rows, so those scale too, in place)."""
    factor = np.broadcast_to(np.asarray(batch, dtype=np.int64), flops.shape)
    if (factor != 1).any():
        flops, act, kvb = flops * factor, act * factor, kvb * factor
        wb[embed] *= factor[embed]
    return flops, act, kvb
