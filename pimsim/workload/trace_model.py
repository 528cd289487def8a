"""A trace's operators checked against the model its header describes: every matrix product
names one of the model's weights with that weight's shape, every attention operator has the
model's heads and a context inside the model's, every operator serves at least one row. A
trace that passes runs as the model it claims to be; one that fails names the line and field
(zero-sized shapes and unknown weights used to run silently or fail deep in the engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pimsim.workload.params import embedding_tables, weight_matrices
from pimsim.workload.spec import ModelSpec
from pimsim.workload.trace_format import _err

_MATRIX_KINDS = ("vmm", "gemm")
_ATTENTION_KINDS = ("attn_score", "attn_value", "softmax", "kv_write")
_HEAD_FIELDS = ("heads", "kv_heads", "d_head")


def check_against_model(table: pd.DataFrame, spec: ModelSpec, lines: np.ndarray, path: Path):
    """Raise `PimsimInputError` (file, line, field) at the first operator the model rules out."""
    if not len(table):
        return
    kinds = table["kind"].to_numpy()

    def first(mask: np.ndarray, field: str, message, expected: str | None = None) -> None:
        bad = np.flatnonzero(mask)
        if len(bad):
            row = int(bad[0])
            text = message(row) if callable(message) else message
            raise _err(int(lines[row]), field, text, path, expected)

    m = table["m"].to_numpy()
    first(m < 1, "m", lambda r: f"must be >= 1 (rows the operator serves), got {m[r]}")
    _check_matrices(table, spec, kinds, first)
    attention = np.isin(kinds, _ATTENTION_KINDS)
    local = {"heads": spec.local_heads, "kv_heads": spec.local_kv_heads, "d_head": spec.d_head}
    for field in _HEAD_FIELDS:
        values = table[field].to_numpy()
        want = local[field]  # (a tensor-parallel shard's own heads)
        first(
            attention & (values != want),
            field,
            lambda r, v=values, f=field, w=want: f"{kinds[r]} has {f} {v[r]}, the model {w}",
        )
    context = table["context"].to_numpy()
    scored = np.isin(kinds, ("attn_score", "attn_value"))
    first(
        scored & ((context < 1) | (context > spec.max_context_tokens)),
        "context",
        lambda r: f"{context[r]} is outside 1..{spec.max_context_tokens} (the model's context)",
    )


def _check_matrices(table: pd.DataFrame, spec: ModelSpec, kinds: np.ndarray, first) -> None:
    weights = table["weight"].to_numpy()
    tables = [t.name for t in embedding_tables(spec)]
    embed = kinds == "embed"
    first(
        embed & ~np.isin(weights, tables),
        "weight",
        lambda r: f"embed reads {weights[r]!r}, not one of the model's tables {tables}",
    )
    first(
        ~embed & ~np.isin(kinds, _MATRIX_KINDS) & (weights != ""),
        "weight",
        lambda r: f"a {kinds[r]} operator reads no weight, got {weights[r]!r}",
        expected='""',
    )
    matrices = np.isin(kinds, _MATRIX_KINDS)
    if not matrices.any():
        return
    shapes = {w.name: (w.in_features, w.out_features) for w in weight_matrices(spec)}
    known = np.isin(weights, list(shapes))
    first(
        matrices & ~known,
        "weight",
        lambda r: f"{weights[r]!r} is not a weight matrix of model {spec.name}",
    )
    for field, index in (("in_features", 0), ("out_features", 1)):
        values = table[field].to_numpy()
        sizes = {name: shape[index] for name, shape in shapes.items()}
        expected = table["weight"].map(sizes).fillna(-1).to_numpy(dtype=np.int64)
        first(
            matrices & (values != expected),
            field,
            lambda r, v=values, e=expected, f=field: (
                f"{v[r]} does not match weight {weights[r]!r} ({f} {e[r]})"
            ),
        )
