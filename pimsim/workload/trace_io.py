"""Operator traces on disk: JSON lines, schema `pimsim.trace.v1` (see traces/README.md).

Line 1 is a header object; every further line is either one operator (all table columns)
or, in the compact encoding, a repeat record that replays the previous `ops` operators
`count` times with per-field integer strides. A file whose name ends in `.gz` is gzipped.
`read_trace` validates everything and raises `PimsimInputError` naming the line and field.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from pimsim import __version__
from pimsim.core.dtypes import DTYPE_BYTES
from pimsim.core.errors import PimsimInputError
from pimsim.core.io import atomic_writer
from pimsim.core.kinds import KINDS
from pimsim.workload.spec import ModelSpec
from pimsim.workload.table import (
    COLUMN_NAMES,
    INT_COLUMNS,
    NONNEGATIVE_COLUMNS,
    OP_COLUMNS,
    STR_COLUMNS,
    TRACE_SCHEMA,
    deps_csr,
    gc_paused,
    make_op_table,
)

ENCODINGS = ("auto", "plain", "compact")
AUTO_COMPACT_MIN_OPS = 100_000  # `auto` writes plain below this many ops, compact above
HEADER_KEYS = ("schema", "model", "prompt_len", "gen_len", "batched_prefill", "n_ops")
_ENUMS = {"kind": KINDS, "phase": ("prefill", "decode"), "dtype": tuple(DTYPE_BYTES)}


# ---------------------------------------------------------------------------------------------
# writing


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
        body: dict[str, Any] = {}
        for j, name in enumerate(INT_COLUMNS):
            col = d[:, j]
            if col.any():
                body[name] = int(col[0]) if (col == col[0]).all() else col.tolist()
        rec = {"repeat": {"ops": len(d), "count": count, "delta": body}}
        yield json.dumps(rec, separators=(",", ":")) + "\n"
        i += count


# ---------------------------------------------------------------------------------------------
# reading


def _err(line: int, field: str | None, message: str, file: Path, expected: str | None = None):
    key = f"line {line}" + (f": field '{field}'" if field else "")
    return PimsimInputError(message, file=file, key=key, expected=expected)


def _open_text(path: Path) -> IO[str]:
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise PimsimInputError(f"cannot read: {exc.strerror}", file=path) from None
    magic = raw.read(2)
    raw.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8", newline="\n")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) with truncation and corruption turned into input errors."""
    f = _open_text(path)
    lineno = 0
    try:
        with f:
            for lineno, line in enumerate(f, start=1):  # noqa: B007
                if not line.endswith("\n"):
                    raise _err(lineno, None, "truncated: the last line has no end of line", path)
                yield lineno, line
    except (EOFError, gzip.BadGzipFile, OSError, UnicodeDecodeError) as exc:
        raise _err(lineno + 1, None, f"truncated or corrupt file ({exc})", path) from None


def _parse(lineno: int, line: str, path: Path) -> dict[str, Any]:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _err(lineno, None, f"not valid JSON ({exc.msg})", path) from None
    if not isinstance(rec, dict):
        raise _err(lineno, None, "not a JSON object", path)
    return rec


def _check_header(header: dict[str, Any], path: Path) -> ModelSpec:
    schema = header.get("schema")
    if schema != TRACE_SCHEMA:
        raise _err(1, "schema", f"unsupported schema {schema!r}", path, TRACE_SCHEMA)
    for key in HEADER_KEYS:
        if key not in header:
            raise _err(1, key, "missing field", path)
    for key in ("prompt_len", "gen_len", "n_ops"):
        value = header[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _err(1, key, f"must be a non-negative integer, got {value!r}", path)
    if not isinstance(header["batched_prefill"], bool):
        raise _err(1, "batched_prefill", "must be true or false", path)
    model = header["model"]
    if not isinstance(model, dict):
        raise _err(1, "model", "must be an object (the model spec)", path)
    try:
        return ModelSpec.from_dict(model)
    except PimsimInputError as exc:
        raise _err(1, f"model.{exc.key}", exc.detail, path, exc.expected) from None
    except TypeError as exc:  # pragma: no cover - from_dict checks keys first
        raise _err(1, "model", str(exc), path) from None


class _Chunks:
    """Validated columns accumulated in chunks, with the source line of every op."""

    def __init__(self) -> None:
        self.cols: list[dict[str, np.ndarray]] = []
        self.counts: list[np.ndarray] = []
        self.flat: list[np.ndarray] = []
        self.lines: list[np.ndarray] = []
        self.n = 0

    def add(self, cols: dict[str, np.ndarray], counts, flat, lines) -> None:
        self.cols.append(cols)
        self.counts.append(counts)
        self.flat.append(flat)
        self.lines.append(lines)
        self.n += len(counts)

    def tail(self, k: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """The last k ops (columns, dep counts, dep ids)."""
        need, j = k, len(self.counts)
        while need > 0:
            j -= 1
            need -= len(self.counts[j])
        cols = {c: np.concatenate([p[c] for p in self.cols[j:]])[-k:] for c in self.cols[j]}
        counts_all = np.concatenate(self.counts[j:])
        flat_all = np.concatenate(self.flat[j:])
        counts = counts_all[-k:]
        flat = flat_all[len(flat_all) - int(counts.sum()) :]
        return cols, counts, flat


class _Records:
    """Op records parsed from consecutive lines, not yet validated."""

    def __init__(self) -> None:
        self.dicts: list[dict[str, Any]] = []
        self.lines: list[int] = []

    def __len__(self) -> int:
        return len(self.dicts)

    def clear(self) -> None:
        self.dicts = []
        self.lines = []


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


def _explicit_ops(
    recs: _Records, path: Path
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    counts = flat = np.zeros(0, dtype=np.int64)
    for name, kind in OP_COLUMNS:
        values = _column_values(recs, name, path)
        if kind is int:
            if not _all_of_type(values, int):
                line = _first_bad(recs, values, _is_int)
                raise _err(line, name, "must be an integer", path)
            try:
                cols[name] = np.array(values, dtype=np.int64)
            except OverflowError:
                line = _first_bad(recs, values, lambda v: -(2**63) <= v < 2**63)
                raise _err(line, name, "integer out of range", path) from None
        elif kind is str:
            if not _all_of_type(values, str):
                line = _first_bad(recs, values, lambda v: type(v) is str)
                raise _err(line, name, "must be a string", path)
            allowed = _ENUMS.get(name)
            if allowed is not None and not set(values) <= set(allowed):
                line = _first_bad(recs, values, lambda v, a=allowed: v in a)
                raise _err(line, name, "unknown value", path, f"one of {list(allowed)}")
            cols[name] = np.array(values, dtype=object)
        else:  # deps
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
    lines = np.array(recs.lines, dtype=np.int64)
    return cols, counts, flat, lines


def _repeat_ops(
    rec: dict[str, Any], lineno: int, chunks: _Chunks, n_ops: int, path: Path
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
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


def read_trace_header(path: str | Path) -> dict[str, Any]:
    """The validated header of a trace file (line 1)."""
    path = Path(path)
    for lineno, line in _lines(path):
        header = _parse(lineno, line, path)
        _check_header(header, path)
        return header
    raise _err(1, None, "empty file: missing header", path)


def read_trace(path: str | Path) -> pd.DataFrame:
    """Load and validate a trace (plain, compact, gzipped or not) into the op table."""
    path = Path(path)
    header: dict[str, Any] | None = None
    chunks = _Chunks()
    pending = _Records()
    last = n_ops = 0

    def flush() -> None:
        if pending:
            chunks.add(*_explicit_ops(pending, path))
            pending.clear()

    with gc_paused():
        for lineno, line in _lines(path):
            last = lineno
            rec = _parse(lineno, line, path)
            if header is None:
                header = rec
                _check_header(header, path)
                n_ops = header["n_ops"]
                continue
            if "repeat" in rec:
                flush()
                chunks.add(*_repeat_ops(rec, lineno, chunks, n_ops, path))
            else:
                pending.dicts.append(rec)
                pending.lines.append(lineno)
                if chunks.n + len(pending) > n_ops:
                    raise _err(lineno, None, f"more ops than the header's n_ops = {n_ops}", path)
            if len(pending) >= 65536:
                flush()
        flush()
    if header is None:
        raise _err(1, None, "empty file: missing header", path)
    if chunks.n != n_ops:
        raise _err(
            last + 1,
            None,
            f"truncated: the header declares n_ops = {n_ops} but the file holds {chunks.n}",
            path,
        )
    if n_ops == 0:
        cols = {name: np.zeros(0, dtype=np.int64 if k is int else object) for name, k in OP_COLUMNS}
        counts = flat = lines = np.zeros(0, dtype=np.int64)
    else:
        cols = {c: np.concatenate([p[c] for p in chunks.cols]) for c in chunks.cols[0]}
        counts = np.concatenate(chunks.counts)
        flat = np.concatenate(chunks.flat)
        lines = np.concatenate(chunks.lines)
    _check_values(cols, counts, flat, lines, path)
    table = make_op_table(cols, counts, flat)
    table.attrs.update({k: header[k] for k in HEADER_KEYS if k != "n_ops"})
    return table


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
