"""Writing operator traces: the plain and compact encodings, gzip, atomic replacement."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pimsim import __version__
from pimsim.core.io import atomic_writer
from pimsim.workload.table import (
    COLUMN_NAMES,
    INT_COLUMNS,
    OP_COLUMNS,
    STR_COLUMNS,
    TRACE_SCHEMA,
    deps_csr,
)
from pimsim.workload.trace_format import AUTO_COMPACT_MIN_OPS, ENCODINGS, HEADER_KEYS


def write_trace(table: pd.DataFrame, path: str | Path, *, encoding: str = "auto") -> dict:
    """Write `table` (from `lower` or `read_trace`; its `.attrs` give the header) to `path`.

    `encoding`: `plain` (one op per line), `compact` (repeated steps stored once plus repeat
    records), or `auto` (plain below `AUTO_COMPACT_MIN_OPS` ops). Gzipped if `path` ends in
    `.gz`. Written atomically. Returns the header.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    missing = [k for k in HEADER_KEYS if k not in table.attrs and k != "n_ops"]
    if missing:
        raise ValueError(f"table.attrs lacks {missing}: use a table from lower() or read_trace()")
    if encoding == "auto":
        encoding = "compact" if len(table) >= AUTO_COMPACT_MIN_OPS else "plain"
    header = {
        "schema": TRACE_SCHEMA,
        "generator": f"pimsim {__version__}",
        "model": table.attrs["model"],
        "prompt_len": table.attrs["prompt_len"],
        "gen_len": table.attrs["gen_len"],
        "batched_prefill": table.attrs["batched_prefill"],
        "dtype": table.attrs["model"].get("dtype", "bf16"),
        "n_ops": len(table),
        "encoding": encoding,
        "columns": list(COLUMN_NAMES),
    }
    if table.attrs.get("batch", 1) > 1:
        header["batch"] = int(table.attrs["batch"])
    if "routing" in table.attrs:  # (a mixture of experts: the policy that chose them)
        header["routing"] = str(table.attrs["routing"])
    lines = _plain_lines(table) if encoding == "plain" else _compact_lines(table)
    path = Path(path)
    _atomic_write_lines(path, chain([json.dumps(header) + "\n"], lines), gz=_is_gz_name(path))
    return header


def _is_gz_name(path: Path) -> bool:
    return path.name.endswith(".gz")


def _atomic_write_lines(path: Path, lines: Iterator[str], gz: bool) -> None:
    with atomic_writer(path) as raw:
        if gz:  # mtime=0: the same trace gives the same bytes
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as zf:
                _write_chunked(io.TextIOWrapper(zf, encoding="utf-8"), lines)
        else:
            _write_chunked(io.TextIOWrapper(raw, encoding="utf-8"), lines)


def _write_chunked(out: io.TextIOWrapper, lines: Iterator[str]) -> None:
    buf: list[str] = []
    for line in lines:
        buf.append(line)
        if len(buf) >= 8192:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))
    out.flush()
    out.detach()


class _RowWriter:
    """Formats table rows as JSON objects, columns in table order."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self.cache: dict[str, str] = {}
        parts = [f'"{name}":{"%d" if kind is int else "%s"}' for name, kind in OP_COLUMNS]
        self.fmt = "{" + ",".join(parts) + "}\n"

    def lines(self, start: int, stop: int) -> Iterator[str]:
        cache = self.cache
        cols = []
        for name, kind in OP_COLUMNS:
            values = self.table[name].iloc[start:stop].tolist()
            if kind is str:
                values = [cache.get(v) or cache.setdefault(v, json.dumps(v)) for v in values]
            elif kind is list:
                values = ["[" + ",".join(map(str, v)) + "]" for v in values]
            cols.append(values)
        fmt = self.fmt
        for row in zip(*cols, strict=True):
            yield fmt % row


def _plain_lines(table: pd.DataFrame) -> Iterator[str]:
    yield from _RowWriter(table).lines(0, len(table))


def _compact_lines(table: pd.DataFrame) -> Iterator[str]:
    """Operators of each token written once; a later token whose ops equal the previous
    token's plus a constant per-field stride becomes part of a repeat record."""
    n = len(table)
    writer = _RowWriter(table)
    # strings as codes so that "equal strings" is an integer delta of 0
    str_codes = [pd.factorize(table[c])[0].astype(np.int64) for c in STR_COLUMNS]
    ints = np.column_stack([table[c].to_numpy(np.int64) for c in INT_COLUMNS] + str_codes)
    n_int = len(INT_COLUMNS)
    counts, flat = deps_csr(table)
    dep_start = np.concatenate(([0], np.cumsum(counts)))
    id_col = INT_COLUMNS.index("id")
    token = table["token"].to_numpy()
    bounds = [0, *(np.flatnonzero(np.diff(token) != 0) + 1).tolist(), n]
    segments = list(zip(bounds[:-1], bounds[1:], strict=True))

    def delta(prev: tuple[int, int], seg: tuple[int, int]) -> np.ndarray | None:
        (p0, p1), (s0, s1) = prev, seg
        if p1 - p0 != s1 - s0:
            return None
        d = ints[s0:s1] - ints[p0:p1]
        if d[:, n_int:].any() or not np.array_equal(counts[p0:p1], counts[s0:s1]):
            return None
        shift = flat[dep_start[s0] : dep_start[s1]] - flat[dep_start[p0] : dep_start[p1]]
        if not np.array_equal(shift, np.repeat(d[:, id_col], counts[s0:s1])):
            return None
        return d[:, :n_int]

    i = 0
    while i < len(segments):
        d = delta(segments[i - 1], segments[i]) if i else None
        if d is None:
            yield from writer.lines(*segments[i])
            i += 1
            continue
        count = 1
        while i + count < len(segments):
            nxt = delta(segments[i + count - 1], segments[i + count])
            if nxt is None or not np.array_equal(nxt, d):
                break
            count += 1
        yield _repeat_line(d, count)
        i += count


def _repeat_line(d: np.ndarray, count: int) -> str:
    """The repeat record: the previous `len(d)` ops `count` more times, strides `d`."""
    body: dict[str, Any] = {}
    for j, name in enumerate(INT_COLUMNS):
        col = d[:, j]
        if col.any():
            body[name] = int(col[0]) if (col == col[0]).all() else col.tolist()
    rec = {"repeat": {"ops": len(d), "count": count, "delta": body}}
    return json.dumps(rec, separators=(",", ":")) + "\n"
