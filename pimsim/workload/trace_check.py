"""Validating a trace's operators: explicit op records into typed columns, repeat records
expanded from the ops before them, and the whole table's ranges, id order and dependencies.
Every problem raises `PimsimInputError` naming the line and field."""

from __future__ import annotations

from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pimsim.workload.table import INT_COLUMNS, NONNEGATIVE_COLUMNS, OP_COLUMNS
from pimsim.workload.trace_format import _ENUMS, _err

if TYPE_CHECKING:
    from pimsim.workload.trace_read import _Chunks, _Records

Ops = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]  # cols, counts, flat, lines


def _column_values(recs: _Records, name: str, path: Path) -> list[Any]:
    try:
        return list(map(itemgetter(name), recs.dicts))
    except KeyError:
        line = next(ln for ln, r in zip(recs.lines, recs.dicts, strict=True) if name not in r)
        raise _err(line, name, "missing field", path) from None


def _first_bad(recs: _Records, values: list[Any], ok) -> int:
    return next(recs.lines[i] for i, v in enumerate(values) if not ok(v))


def _is_int(v: Any) -> bool:
    return type(v) is int


def _all_of_type(values: list[Any], kind: type) -> bool:
    return set(map(type, values)) <= {kind}


def _int_column(recs: _Records, name: str, values: list[Any], path: Path) -> np.ndarray:
    if not _all_of_type(values, int):
        line = _first_bad(recs, values, _is_int)
        raise _err(line, name, "must be an integer", path)
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        line = _first_bad(recs, values, lambda v: -(2**63) <= v < 2**63)
        raise _err(line, name, "integer out of range", path) from None


def _str_column(recs: _Records, name: str, values: list[Any], path: Path) -> np.ndarray:
    if not _all_of_type(values, str):
        line = _first_bad(recs, values, lambda v: type(v) is str)
        raise _err(line, name, "must be a string", path)
    allowed = _ENUMS.get(name)
    if allowed is not None and not set(values) <= set(allowed):
        line = _first_bad(recs, values, lambda v, a=allowed: v in a)
        raise _err(line, name, "unknown value", path, f"one of {list(allowed)}")
    return np.array(values, dtype=object)


def _deps_column(
    recs: _Records, name: str, values: list[Any], path: Path
) -> tuple[np.ndarray, np.ndarray]:
    """(dependency counts, dependency ids) of the records' lists of op ids."""
    if not _all_of_type(values, list):
        line = _first_bad(recs, values, lambda v: type(v) is list)
        raise _err(line, name, "must be a list of op ids", path)
    flat_list = list(chain.from_iterable(values))
    if not _all_of_type(flat_list, int):
        line = _first_bad(recs, values, lambda v: _all_of_type(v, int))
        raise _err(line, name, "op ids must be integers", path)
    counts = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    try:
        flat = np.array(flat_list, dtype=np.int64)
    except OverflowError:
        line = _first_bad(recs, values, lambda v: all(abs(x) < 2**63 for x in v))
        raise _err(line, name, "op id out of range", path) from None
    return counts, flat


def _explicit_ops(recs: _Records, path: Path) -> Ops:
    cols: dict[str, np.ndarray] = {}
    counts = flat = np.zeros(0, dtype=np.int64)
    for name, kind in OP_COLUMNS:
        values = _column_values(recs, name, path)
        if kind is int:
            cols[name] = _int_column(recs, name, values, path)
        elif kind is str:
            cols[name] = _str_column(recs, name, values, path)
        else:  # deps
            counts, flat = _deps_column(recs, name, values, path)
    lines = np.array(recs.lines, dtype=np.int64)
    return cols, counts, flat, lines


def _repeat_body(
    rec: dict[str, Any], lineno: int, chunks: _Chunks, n_ops: int, path: Path
) -> tuple[int, int, dict]:
    """(ops, count, delta) of a repeat record, checked against the ops read so far."""
    if set(rec) != {"repeat"} or not isinstance(rec["repeat"], dict):
        raise _err(lineno, "repeat", "a repeat record holds only 'repeat': {...}", path)
    body = rec["repeat"]
    for key in ("ops", "count", "delta"):
        if key not in body:
            raise _err(lineno, f"repeat.{key}", "missing field", path)
    k, count, delta = body["ops"], body["count"], body["delta"]
    if not _is_int(k) or not 1 <= k <= chunks.n:
        raise _err(lineno, "repeat.ops", f"must be 1..{chunks.n} (ops so far), got {k!r}", path)
    if not _is_int(count) or count < 1:
        raise _err(lineno, "repeat.count", f"must be a positive integer, got {count!r}", path)
    if chunks.n + k * count > n_ops:
        raise _err(lineno, "repeat.count", "expands beyond the header's n_ops", path)
    if not isinstance(delta, dict):
        raise _err(lineno, "repeat.delta", "must be an object", path)
    return k, count, delta


def _repeat_ops(rec: dict[str, Any], lineno: int, chunks: _Chunks, n_ops: int, path: Path) -> Ops:
    k, count, delta = _repeat_body(rec, lineno, chunks, n_ops, path)
    base, counts, flat = chunks.tail(k)
    steps = np.arange(1, count + 1, dtype=np.int64)[:, None]
    cols: dict[str, np.ndarray] = {}
    for name in delta:
        if name not in INT_COLUMNS:
            raise _err(lineno, f"repeat.delta.{name}", "not an integer column", path)
    for name in base:
        if name in INT_COLUMNS:
            d = delta.get(name, 0)
            ok = _is_int(d) or (isinstance(d, list) and len(d) == k and all(_is_int(x) for x in d))
            if not ok:
                raise _err(
                    lineno, f"repeat.delta.{name}", "bad stride", path, f"an int or {k} ints"
                )
            stride = np.asarray(d, dtype=np.int64)
            cols[name] = (base[name][None, :] + steps * stride).reshape(-1)
        else:
            cols[name] = np.tile(base[name], count)
    id_stride = np.broadcast_to(np.asarray(delta.get("id", 0), dtype=np.int64), (k,))
    dep_shift = np.repeat(id_stride, counts)
    new_flat = (flat[None, :] + steps * dep_shift[None, :]).reshape(-1)
    new_counts = np.tile(counts, count)
    lines = np.full(k * count, lineno, dtype=np.int64)
    return cols, new_counts, new_flat, lines


def _check_values(
    cols: dict[str, np.ndarray], counts: np.ndarray, flat: np.ndarray, lines: np.ndarray, path
) -> None:
    """Ranges, id order and dependency targets over the whole (expanded) table."""
    for name in NONNEGATIVE_COLUMNS:
        bad = np.flatnonzero(cols[name] < 0)
        if len(bad):
            raise _err(int(lines[bad[0]]), name, f"negative value {cols[name][bad[0]]}", path)
    bad = np.flatnonzero(cols["layer"] < -1)
    if len(bad):
        raise _err(int(lines[bad[0]]), "layer", "must be >= -1 (-1: outside layers)", path)
    ids = cols["id"]
    bad = np.flatnonzero(np.diff(ids) <= 0)
    if len(bad):
        raise _err(int(lines[bad[0] + 1]), "id", "ids must be unique and increasing", path)
    if not len(flat):
        return
    owner = np.repeat(np.arange(len(ids)), counts)
    pos = np.minimum(np.searchsorted(ids, flat), len(ids) - 1)
    exists = ids[pos] == flat
    bad = np.flatnonzero(~exists | (flat >= ids[owner]))
    if len(bad):
        row = owner[bad[0]]
        target = int(flat[bad[0]])
        why = "unknown op id" if not exists[bad[0]] else "not an earlier op"
        raise _err(int(lines[row]), "deps", f"{why} {target} (op {int(ids[row])})", path)
