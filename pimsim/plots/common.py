"""Shared plot machinery: column checks, labels and units, the paper style, deterministic files.

Figures are built on `matplotlib.figure.Figure` directly (no pyplot state, so nothing leaks
between calls and any backend works) under a fixed style, at a fixed size and dpi, and saved
without timestamps or version metadata: the same rows give the same bytes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pimsim.core.errors import PimsimInputError
from pimsim.core.io import atomic_write_bytes
from pimsim.plots.labels import key_label

DPI = 100
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "hatch.linewidth": 0.6,
    "svg.hashsalt": "pimsim",
    "svg.fonttype": "path",
    "path.simplify": True,
}
# per-format metadata that would otherwise carry a version string or a timestamp
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}
# PIM, GPU, CPU: the same colours and hatches in every figure
SYSTEM_STYLE = {
    "pim": {"color": "#2b6cb0", "hatch": ""},
    "gpu": {"color": "#dd8452", "hatch": "//"},
    "cpu": {"color": "#8c8c8c", "hatch": ".."},
}
# columns that are results, not settings or sweep axes
META_COLUMNS = ("model", "point", "status", "hw", "hw_sha256", "params", "gpu_name", "cpu_name")
_METRIC_RE = re.compile(
    r"^(pim_|gpu_|cpu_|speedup_|energy_efficiency_|latency_|energy_)|_bound_s$|_busy_s$"
)
EXPECTED_TABLE = "a CSV written by `pimsim compare --csv` or a sweep's results.csv"


# what `figure_options` changes for the figures drawn inside it
_OPTIONS: dict = {"dpi": DPI, "figsize": None, "titles": True}


@contextmanager
def figure_options(
    dpi: int | None = None, figsize: tuple[float, float] | None = None, titles: bool = True
):
    """Figures drawn inside: saved at `dpi`, drawn at `figsize` inches (width, height) instead
    of each figure's own size, and without titles when `titles` is false (for a paper whose
    caption says it)."""
    saved = dict(_OPTIONS)
    _OPTIONS.update(dpi=dpi or DPI, figsize=figsize, titles=titles)
    try:
        yield
    finally:
        _OPTIONS.clear()
        _OPTIONS.update(saved)


@contextmanager
def style():
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    size = _OPTIONS["figsize"] or (width, height)
    return Figure(figsize=size, dpi=_OPTIONS["dpi"], layout="constrained")


def save_figure(fig: Figure, path: str | Path | None) -> None:
    """Write `fig` to `path` (PNG, SVG or PDF by suffix) atomically; nothing when path is None.
    SVG and PDF are vector files (text as paths, so they look the same everywhere)."""
    if not _OPTIONS["titles"]:
        if fig.get_suptitle():
            fig.suptitle("")
        for ax in fig.axes:
            ax.set_title("")
    if path is None:
        return
    path = Path(path)
    fmt = figure_format(path)
    buffer = BytesIO()
    with style():
        fig.savefig(buffer, format=fmt, dpi=_OPTIONS["dpi"], metadata=_METADATA[fmt])
    atomic_write_bytes(path, buffer.getvalue())


def figure_format(path: str | Path) -> str:
    """'png', 'svg' or 'pdf' from the path's suffix (none: png); anything else is bad input."""
    fmt = Path(path).suffix.lower().lstrip(".") or "png"
    if fmt not in _METADATA:
        raise PimsimInputError(
            f"cannot write a '.{fmt}' figure", file=path, expected="a .png, .svg or .pdf path"
        )
    return fmt


# ---------------------------------------------------------------------------- input checks


def require_columns(rows: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Every column must be present; the error names the first missing one."""
    if not isinstance(rows, pd.DataFrame):
        raise PimsimInputError(
            f"the {what} plot needs a table, got {type(rows).__name__}", expected=EXPECTED_TABLE
        )
    for column in columns:
        if column not in rows.columns:
            close = difflib.get_close_matches(column, [str(c) for c in rows.columns], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise PimsimInputError(
                f"no such column, needed by the {what} plot{hint}",
                key=column,
                expected=EXPECTED_TABLE,
            )


def numeric(rows: pd.DataFrame, column: str) -> np.ndarray:
    """A column as floats; text that is not a number is an input error naming the column."""
    values = pd.to_numeric(rows[column], errors="coerce")
    bad = values.isna() & rows[column].notna()
    if bad.any():
        example = rows.loc[bad, column].iloc[0]
        raise PimsimInputError(f"not a number: {example!r}", key=column, expected="numbers")
    return values.to_numpy(dtype=float)


def ok_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Drop sweep rows recorded with an error (`status` other than 'ok')."""
    if "status" in rows.columns:
        rows = rows[rows["status"].fillna("ok").astype(str) == "ok"]
    return rows


def one_row_per_model(rows: pd.DataFrame, what: str) -> pd.DataFrame:
    """The rows of a per-model figure, in the table's order; several rows per model is an error."""
    require_columns(rows, ["model"], what)
    rows = ok_rows(rows)
    if rows.empty:
        raise PimsimInputError(f"no result rows to draw the {what} plot from", key="model")
    counts = rows["model"].astype(str).value_counts(sort=False)
    repeated = counts[counts > 1]
    if len(repeated):
        name, n = repeated.index[0], int(repeated.iloc[0])
        raise PimsimInputError(
            f"{n} rows for model '{name}' (a sweep table?): the {what} plot draws one row per "
            "model; pick one sweep point with --where KEY=VALUE",
            key="model",
        )
    return rows.reset_index(drop=True)


def select_rows(rows: pd.DataFrame, where: Sequence[str] | dict | None) -> pd.DataFrame:
    """Keep the rows where every KEY equals VALUE (`["dram.channels=8", ...]` or a dict).

    Numeric columns compare as numbers (8 matches 8.0); others as text.
    """
    if not where:
        return rows
    items = where.items() if isinstance(where, dict) else [_split_where(w) for w in where]
    for key, value in items:
        require_columns(rows, [key], "--where")
        column = rows[key]
        if pd.api.types.is_numeric_dtype(column) and not isinstance(value, str | bool):
            mask = np.isclose(column.to_numpy(dtype=float), float(value))
        elif pd.api.types.is_numeric_dtype(column):
            try:
                target = float(value)
            except ValueError:
                raise PimsimInputError(
                    f"'{value}' is not a number", key=key, expected="a numeric value"
                ) from None
            mask = np.isclose(column.to_numpy(dtype=float), target)
        else:
            mask = (column.astype(str) == str(value)).to_numpy()
        if not mask.any():
            values = ", ".join(str(v) for v in pd.unique(column)[:12])
            raise PimsimInputError(
                f"no row has the value {value!r}", key=key, expected=f"one of {values}"
            )
        rows = rows[mask]
    return rows.reset_index(drop=True)


def _split_where(text: str) -> tuple[str, str]:
    key, sep, value = str(text).partition("=")
    if not sep or not key.strip():
        raise PimsimInputError(f"got '{text}'", key="--where", expected="KEY=VALUE")
    return key.strip(), value.strip()


def is_metric_column(column: str) -> bool:
    return bool(_METRIC_RE.search(str(column)))


def candidate_axes(rows: pd.DataFrame) -> list[str]:
    """Columns that are neither results nor bookkeeping and take more than one value."""
    out = []
    for column in rows.columns:
        if column in META_COLUMNS or is_metric_column(column):
            continue
        if rows[column].nunique(dropna=False) > 1:
            out.append(str(column))
    return out


# ----------------------------------------------------------------------- labels and units

_SI = (("", 1.0), ("m", 1e3), ("µ", 1e6), ("n", 1e9), ("p", 1e12))
_KEY_UNITS = {
    "_GHz": "GHz",
    "_MHz": "MHz",
    "_ns": "ns",
    "_ps": "ps",
    "_us": "µs",
    "_GBps": "GB/s",
    "_pJ": "pJ",
    "_nJ": "nJ",
    "_mW": "mW",
    "_W": "W",
    "_KiB": "KiB",
    "_MiB": "MiB",
    "_bytes": "B",
    "_B": "B",
    "_V": "V",
}


def si_scale(values: Iterable[float], unit: str) -> tuple[str, float]:
    """('ms', 1e3) for seconds around a millisecond: the prefix that makes the median >= 1."""
    finite = np.abs(np.asarray(list(values), dtype=float))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size == 0:
        return unit, 1.0
    median = float(np.median(finite))
    for prefix, factor in _SI:
        if median * factor >= 1.0:
            return prefix + unit, factor
    prefix, factor = _SI[-1]
    return prefix + unit, factor


_SYSTEM_NAMES = {"pim": "PIM", "gpu": "GPU", "cpu": "CPU"}


def metric_label(column: str, values: Iterable[float] = ()) -> tuple[str, float]:
    """(axis label with unit, factor to multiply the column by) for a result column."""
    col = str(column)
    m = re.fullmatch(r"(pim|gpu|cpu)_latency_s_per_token", col)
    if m:
        unit, f = si_scale(values, "s")
        return f"{_SYSTEM_NAMES[m[1]]} latency per token ({unit})", f
    m = re.fullmatch(r"(pim|gpu|cpu)_energy_j_per_token", col)
    if m:
        unit, f = si_scale(values, "J")
        return f"{_SYSTEM_NAMES[m[1]]} energy per token ({unit})", f
    m = re.fullmatch(r"speedup_(gpu|cpu)", col)
    if m:
        return f"speedup of PIM over {_SYSTEM_NAMES[m[1]]} (×)", 1.0
    m = re.fullmatch(r"energy_efficiency_(gpu|cpu)", col)
    if m:
        return f"energy efficiency of PIM vs {_SYSTEM_NAMES[m[1]]} (×)", 1.0
    if col == "pim_tokens_per_s":
        return "PIM tokens per second (1/s)", 1.0
    if col == "pim_row_hit_rate":
        return "PIM row-hit rate (fraction)", 1.0
    m = re.fullmatch(r"latency_(.+)_s", col)
    if m:
        unit, f = si_scale(values, "s")
        return f"{m[1]} operator time, whole run ({unit})", f
    m = re.fullmatch(r"energy_(.+)_j", col)
    if m:
        unit, f = si_scale(values, "J")
        return f"{m[1]} energy, whole run ({unit})", f
    m = re.fullmatch(r"(.+)_s", col)
    if m:
        unit, f = si_scale(values, "s")
        return f"{m[1].replace('_', ' ')} ({unit})", f
    return col, 1.0


def axis_label(key: str) -> str:
    """A sweep axis key in words with its unit: 'ASIC clock (GHz)', 'generated tokens'."""
    key = str(key)
    words = key_label(key)
    if key in ("gen_len", "prompt_len"):
        return words
    for suffix, unit in _KEY_UNITS.items():
        if key.endswith(suffix):
            return f"{words} ({unit})"
    return words


def constant(rows: pd.DataFrame, column: str):
    """The single value of a column, or None when it is absent, empty or varies."""
    if column not in rows.columns:
        return None
    values = rows[column].dropna().unique()
    return values[0] if len(values) == 1 else None


def settings_text(rows: pd.DataFrame, skip: Iterable[str] = ()) -> str:
    """'gddr6_aim, prompt 1, generate 8, overlap mode' from the columns that are constant."""
    skip = set(skip)
    parts = []
    for column, fmt in (
        ("hw", "{}"),
        ("prompt_len", "prompt {}"),
        ("gen_len", "generate {}"),
        ("mode", "{} mode"),
    ):
        value = None if column in skip else constant(rows, column)
        if value is not None:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            parts.append(fmt.format(value))
    return ", ".join(parts)


def system_name(rows: pd.DataFrame, key: str) -> str:
    """'GPU (T4)' when the baseline's name is known and the same on every row."""
    name = constant(rows, f"{key}_name")
    label = _SYSTEM_NAMES[key]
    if key == "pim":
        name = constant(rows, "hw")
    return f"{label} ({name})" if name is not None else label


def grouped_bars(ax, labels: Sequence[str], series: Sequence[tuple[str, np.ndarray, dict]]):
    """Bars side by side per label; returns the bar containers (one per series)."""
    n = max(len(series), 1)
    width = 0.8 / n
    x = np.arange(len(labels), dtype=float)
    containers = []
    for i, (name, values, look) in enumerate(series):
        offset = (i - (n - 1) / 2) * width
        containers.append(
            ax.bar(
                x + offset,
                values,
                width,
                label=name,
                color=look.get("color"),
                hatch=look.get("hatch") or None,
                edgecolor="black",
                linewidth=0.5,
            )
        )
    ax.set_xticks(x, list(labels), rotation=30, ha="right")
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.set_axisbelow(True)
    return containers
