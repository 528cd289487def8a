"""Reading result tables and a sweep's axes, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pimsim.core.errors import PimsimInputError
from pimsim.plots.common import EXPECTED_TABLE


def results_path(path: str | Path) -> Path:
    """A sweep directory stands for its results.csv."""
    path = Path(path)
    return path / "results.csv" if path.is_dir() else path


def load_results(path: str | Path) -> pd.DataFrame:
    """The rows of a compare CSV or a sweep's results.csv (or its directory)."""
    path = results_path(path)
    if not path.exists():
        raise PimsimInputError("no such file", file=path, expected=EXPECTED_TABLE)
    try:
        rows = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise PimsimInputError(
            f"not a readable CSV: {reason}", file=path, expected=EXPECTED_TABLE
        ) from None
    if rows.empty:
        raise PimsimInputError("the table has no rows", file=path, expected=EXPECTED_TABLE)
    return rows


def sweep_axes(path: str | Path) -> list[str] | None:
    """The axes recorded in the sweep.json next to a results.csv, or None when there is none."""
    meta = results_path(path).parent / "sweep.json"
    if not meta.is_file():
        return None
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise PimsimInputError(f"not readable JSON: {exc}", file=meta) from None
    axes = data.get("axes") if isinstance(data, dict) else None
    if not isinstance(axes, list) or not all(isinstance(a, str) for a in axes):
        raise PimsimInputError(
            "missing or malformed", file=meta, key="axes", expected="a list of axis key paths"
        )
    return axes
