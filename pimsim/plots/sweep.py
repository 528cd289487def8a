"""A result metric over the axes of a design-space sweep: lines over one axis, heatmaps over two."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from pimsim.core.errors import PimsimInputError
from pimsim.plots.common import (
    axis_label,
    candidate_axes,
    metric_label,
    new_figure,
    numeric,
    ok_rows,
    require_columns,
    save_figure,
    settings_text,
    style,
)
from pimsim.plots.labels import key_label

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
ANNOTATE_MAX_CELLS = 64


def plot_sweep(
    rows: pd.DataFrame,
    path: str | Path | None = None,
    x: str | None = None,
    metric: str = "pim_latency_s_per_token",
    y: str | None = None,
    *,
    axes: Sequence[str] | None = None,
) -> Figure:
    """`metric` over sweep axis `x`, one line per model; with `y`, one heatmap panel per model.

    `axes` names the swept columns (DIR/sweep.json "axes"); by default every column that is not
    a result or bookkeeping and takes more than one value. An axis other than `x` (and `y`)
    that still varies for a fixed model and x splits the lines (one line per model and value,
    labelled 'model, key=value'); a heatmap needs the other axes fixed (select one value with
    --where KEY=VALUE). Rows recorded with an error (`status` not 'ok') or without a value of
    `metric` are left out (a heatmap cell without a value stays blank). Numeric x axes spanning
    16x or more are drawn on a log scale, and the metric on a log scale when it spans 10x or more.
    """
    if x is None:
        raise PimsimInputError("no sweep axis given for the x axis", key="--x", expected="a column")
    require_columns(rows, ["model", x, metric] + ([y] if y else []), "sweep")
    if y is not None and y == x:
        raise PimsimInputError(f"x and y are both '{x}'", key="--y", expected="a second axis")
    left_out = _error_note(rows)
    rows = ok_rows(rows)
    values = numeric(rows, metric)
    rows = rows[np.isfinite(values)].reset_index(drop=True)
    if rows.empty:
        raise PimsimInputError("no row has a value", key=metric, expected="successful sweep rows")
    others = _splitting_axes(rows, axes, [x] + ([y] if y else []))
    rows["_metric"] = values[np.isfinite(values)]
    label, factor = metric_label(metric, rows["_metric"])
    rows["_metric"] *= factor
    settings = settings_text(rows, skip=[x, y, *(axes or [])])
    with style():
        if y is None:
            fig = _lines(rows, x, others, label)
            title = f"{label.rsplit(' (', 1)[0]} over {key_label(x)}"
        else:
            if others:
                raise PimsimInputError(
                    "more axes vary than the heatmap's two: "
                    + ", ".join(f"{k} ({rows[k].nunique()} values)" for k in others)
                    + "; pick one value of each with --where KEY=VALUE",
                    key=others[0],
                )
            fig = _heatmaps(rows, x, y, label)
            over = f"{key_label(x)} and {key_label(y)}"
            title = f"{label.rsplit(' (', 1)[0]} over {over} (one panel per model)"
        lines = [title, settings, left_out]
        fig.suptitle("\n".join(line for line in lines if line), fontsize=10)
    save_figure(fig, path)
    return fig


def _error_note(rows: pd.DataFrame) -> str:
    """'not drawn: 3 rows with an error status (gpt2-xl)' or ''."""
    if "status" not in rows.columns:
        return ""
    failed = rows[rows["status"].fillna("ok").astype(str) != "ok"]
    if failed.empty:
        return ""
    models = ", ".join(str(m) for m in pd.unique(failed["model"].astype(str)))
    return f"not drawn: {len(failed)} rows with an error status ({models})"


def _splitting_axes(rows: pd.DataFrame, axes: Sequence[str] | None, fixed: list[str]) -> list[str]:
    """Axes besides the plotted ones that vary for a fixed model and plotted value(s)."""
    if axes is None:
        axes = candidate_axes(rows)
    out = []
    for key in axes:
        if key in fixed or key == "model" or key not in rows.columns:
            continue
        per_group = rows.groupby(["model", *fixed], sort=False, dropna=False)[key].nunique(
            dropna=False
        )
        if (per_group > 1).any():
            out.append(str(key))
    return out


def _axis_values(series: pd.Series) -> tuple[np.ndarray, list[str], bool]:
    """(sorted unique values, their tick labels, numeric?)."""
    values = pd.unique(series.dropna())
    if pd.api.types.is_numeric_dtype(series):
        values = np.sort(values.astype(float))
        return values, [_fmt(v) for v in values], True
    return np.asarray(values, dtype=object), [str(v) for v in values], False


def _short(value: float) -> str:
    """Three significant digits without an exponent where that stays short: 1010, 41.2, 0.135."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if 1e-2 <= magnitude < 1e5:
        decimals = max(0, 2 - int(np.floor(np.log10(magnitude))))
        return f"{value:.{decimals}f}"
    return f"{value:.2e}"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _lines(rows: pd.DataFrame, x: str, others: list[str], label: str) -> Figure:
    fig = new_figure(7.0, 4.6)
    ax = fig.subplots()
    xs, tick_labels, is_numeric = _axis_values(rows[x])
    position = None if is_numeric else {v: i for i, v in enumerate(xs)}
    keys = ["model", *others]
    for i, (group, part) in enumerate(rows.groupby(keys, sort=False, dropna=False)):
        group = group if isinstance(group, tuple) else (group,)
        means = part.groupby(x, sort=True, dropna=True)["_metric"].mean()
        if is_numeric:
            px = means.index.to_numpy(dtype=float)
        else:
            means = means.loc[[v for v in xs if v in means.index]]
            px = np.array([position[v] for v in means.index], dtype=float)
        name = str(group[0]) + "".join(
            f", {k}={_fmt(v) if isinstance(v, int | float) else v}"
            for k, v in zip(others, group[1:], strict=True)
        )
        ax.plot(
            px,
            means.to_numpy(),
            marker=MARKERS[i % len(MARKERS)],
            markersize=4,
            linewidth=1.2,
            label=name,
        )
    if is_numeric:
        positive = xs[xs > 0]
        if len(positive) == len(xs) and len(xs) > 1 and xs.max() / xs.min() >= 16:
            ints = all(float(v).is_integer() and (int(v) & (int(v) - 1)) == 0 for v in xs)
            ax.set_xscale("log", base=2 if ints else 10)
        if len(xs) <= 12:
            ax.xaxis.set_major_locator(FixedLocator(xs))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels(tick_labels)
    else:
        ax.set_xticks(np.arange(len(xs)), tick_labels)
    ys = rows["_metric"].to_numpy()
    if (ys > 0).all() and ys.max() / ys.min() >= 10:
        ax.set_yscale("log")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="best")
    return fig


def _heatmaps(rows: pd.DataFrame, x: str, y: str, label: str) -> Figure:
    models = list(pd.unique(rows["model"].astype(str)))
    ncols = min(len(models), 3)
    nrows = -(-len(models) // ncols)
    fig = new_figure(3.6 * ncols + 0.6, 3.2 * nrows + 0.6)
    panels = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    xs, x_labels, _ = _axis_values(rows[x])
    ys, y_labels, _ = _axis_values(rows[y])
    for ax, model in zip(panels, models, strict=False):
        part = rows[rows["model"].astype(str) == model]
        grid = part.pivot_table(index=y, columns=x, values="_metric", aggfunc="mean")
        grid = grid.reindex(index=list(ys), columns=list(xs))
        image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(np.arange(len(xs)), x_labels)
        ax.set_yticks(np.arange(len(ys)), y_labels)
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel(axis_label(y))
        ax.set_title(model)
        colorbar = fig.colorbar(image, ax=ax)
        colorbar.set_label(label)
        if len(xs) * len(ys) <= ANNOTATE_MAX_CELLS:
            values = grid.to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
            for (iy, ix), value in np.ndenumerate(values):
                if np.isfinite(value):
                    ax.text(
                        ix,
                        iy,
                        _short(value),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="black" if value > middle else "white",
                    )
    for ax in panels[len(models) :]:
        ax.set_visible(False)
    return fig
