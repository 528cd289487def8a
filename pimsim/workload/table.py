"""The operator table: column names, types, and the one constructor every producer uses.

One row per operator. Lowering and the trace reader both build tables with `make_op_table`
from flat numpy columns plus dependencies in CSR form (`dep_counts`, `dep_flat`), so a table
read back from a trace is identical, dtype for dtype, to the one that was written.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from itertools import chain

import numpy as np
import pandas as pd

TRACE_SCHEMA = "pimsim.trace.v1"
MAX_BATCH = 4096  # sequences decoding together (far beyond any serving batch of one device)
PHASES = ("prefill", "decode")

# (column, python type) in table order.
OP_COLUMNS: tuple[tuple[str, type], ...] = (
    ("id", int),
    ("name", str),
    ("kind", str),
    ("layer", int),
    ("token", int),
    ("phase", str),
    ("deps", list),
    ("m", int),
    ("in_features", int),
    ("out_features", int),
    ("heads", int),
    ("kv_heads", int),
    ("d_head", int),
    ("context", int),
    ("weight", str),
    ("dtype", str),
    ("flops", int),
    ("bytes", int),
    ("weight_bytes", int),
    ("kv_bytes", int),
)
COLUMN_NAMES = tuple(name for name, _ in OP_COLUMNS)
INT_COLUMNS = tuple(name for name, kind in OP_COLUMNS if kind is int)
STR_COLUMNS = tuple(name for name, kind in OP_COLUMNS if kind is str)
# Integer columns that can never be negative (shapes, sizes, costs).
NONNEGATIVE_COLUMNS = (
    "id",
    "token",
    "m",
    "in_features",
    "out_features",
    "heads",
    "kv_heads",
    "d_head",
    "context",
    "flops",
    "bytes",
    "weight_bytes",
    "kv_bytes",
)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building hundreds of thousands of small lists is 3x faster without cyclic GC passes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def csr_to_lists(counts: np.ndarray, flat: np.ndarray) -> list[list[int]]:
    """Dependency lists from CSR form (per-op counts, concatenated ids)."""
    n = len(counts)
    starts = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(counts[:-1], out=starts[1:])
    out: list[list[int]] = [[]] * n
    with gc_paused():
        for k in np.unique(counts).tolist():
            if k == 0:
                continue
            sel = np.flatnonzero(counts == k)
            rows = flat[starts[sel][:, None] + np.arange(k)].tolist()
            for i, row in zip(sel.tolist(), rows, strict=True):
                out[i] = row
        return [row if row else [] for row in out]


def deps_csr(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(counts, flat) int64 arrays of the `deps` column: op i depends on
    flat[sum(counts[:i]) : sum(counts[:i+1])]."""
    deps = table["deps"].tolist()
    counts = np.fromiter(map(len, deps), dtype=np.int64, count=len(deps))
    flat = np.fromiter(chain.from_iterable(deps), dtype=np.int64, count=int(counts.sum()))
    return counts, flat


def make_op_table(
    columns: Mapping[str, np.ndarray], dep_counts: np.ndarray, dep_flat: np.ndarray
) -> pd.DataFrame:
    """The operator table from flat columns (every name in `COLUMN_NAMES` except `deps`)."""
    data: dict[str, pd.Series] = {}
    for name, kind in OP_COLUMNS:
        if name == "deps":
            data[name] = pd.Series(csr_to_lists(dep_counts, dep_flat), dtype=object)
        elif kind is int:
            data[name] = pd.Series(np.asarray(columns[name], dtype=np.int64))
        else:
            data[name] = pd.Series(np.asarray(columns[name], dtype=object), dtype="str")
    return pd.DataFrame(data)
