"""Reading operator traces: lines of a plain or gzipped file, parsed and accumulated in
validated chunks (`pimsim.workload.trace_check`) into the op table."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from pimsim.core.errors import PimsimInputError
from pimsim.workload.table import OP_COLUMNS, gc_paused, make_op_table
from pimsim.workload.trace_check import _check_values, _explicit_ops, _repeat_ops
from pimsim.workload.trace_format import HEADER_KEYS, _check_header, _err
from pimsim.workload.trace_model import check_against_model


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

    def joined(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """All ops: (columns, dep counts, dep ids, source lines)."""
        if self.n == 0:
            cols = {
                name: np.zeros(0, dtype=np.int64 if k is int else object) for name, k in OP_COLUMNS
            }
            counts = flat = lines = np.zeros(0, dtype=np.int64)
            return cols, counts, flat, lines
        cols = {c: np.concatenate([p[c] for p in self.cols]) for c in self.cols[0]}
        counts = np.concatenate(self.counts)
        flat = np.concatenate(self.flat)
        lines = np.concatenate(self.lines)
        return cols, counts, flat, lines


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
    cols, counts, flat, lines = chunks.joined()
    _check_values(cols, counts, flat, lines, path)
    table = make_op_table(cols, counts, flat)
    check_against_model(table, _check_header(header, path), lines, path)
    table.attrs.update({k: header[k] for k in HEADER_KEYS if k != "n_ops"})
    if header.get("batch", 1) > 1:  # (optional: sequences decoding together)
        table.attrs["batch"] = header["batch"]
    if isinstance(header.get("routing"), str):  # (optional: how the experts were chosen)
        table.attrs["routing"] = header["routing"]
    return table
