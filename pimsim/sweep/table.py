"""The results table as text: one canonical way to write a row, so that a row appended after a
point finishes reads the same as the whole table rewritten, and rows read back from disk are
written again verbatim (their text is kept, not re-formatted from parsed values).

Values: missing / None / NaN -> empty; bool -> True / False; int -> decimal; float -> Python's
repr (the shortest text that reads back to the same float); text as it is (quoted by the csv
module where it needs to be)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def columns_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every column, in the order they first appear (as pandas builds a frame from dicts)."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def lines(rows: Iterable[Mapping[str, Any]], header: list[str]) -> str:
    """The CSV text of `rows` under `header` (no header line)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in header])
    return out.getvalue()


def table(rows: list[Mapping[str, Any]], header: list[str]) -> str:
    """The whole CSV text: the header line, then the rows."""
    return ",".join(header) + "\n" + lines(rows, header)
