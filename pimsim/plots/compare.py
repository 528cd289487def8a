"""PIM vs GPU vs CPU per model (paper-style grouped bars): energy and latency per token."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pimsim.plots.common import (
    SYSTEM_STYLE,
    grouped_bars,
    new_figure,
    numeric,
    one_row_per_model,
    require_columns,
    save_figure,
    settings_text,
    si_scale,
    style,
    system_name,
)

# quantity -> (per-token column pattern, ratio column pattern, base unit, words)
_QUANTITIES = {
    "energy": {
        "column": "{}_energy_j_per_token",
        "ratio": "energy_efficiency_{}",
        "unit": "J",
        "title": "Energy per generated token",
        "top": "energy per token",
        "bottom": "energy efficiency of PIM\n(baseline J / PIM J, ×)",
        "ratio_word": "energy efficiency",
    },
    "latency": {
        "column": "{}_latency_s_per_token",
        "ratio": "speedup_{}",
        "unit": "s",
        "title": "Latency per generated token",
        "top": "latency per token",
        "bottom": "speedup of PIM\n(baseline s / PIM s, ×)",
        "ratio_word": "speedup",
    },
}


def plot_energy(rows: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """Energy per token of PIM, GPU and CPU per model (log y) over the PIM energy-efficiency
    ratios (baseline energy / PIM energy). One row per model; baselines drawn when present."""
    return _compare_figure(rows, path, "energy")


def plot_latency(rows: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """Latency per token of PIM, GPU and CPU per model (log y) over the PIM speedups
    (baseline latency / PIM latency). One row per model; baselines drawn when present."""
    return _compare_figure(rows, path, "latency")


def _compare_figure(rows: pd.DataFrame, path, quantity: str) -> Figure:
    q = _QUANTITIES[quantity]
    pim_col = q["column"].format("pim")
    require_columns(rows, ["model", pim_col], quantity)
    rows = one_row_per_model(rows, quantity)
    models = rows["model"].astype(str).tolist()
    pim = numeric(rows, pim_col)

    absolute = [("pim", pim)]
    ratios = []
    for key in ("gpu", "cpu"):
        col, ratio_col = q["column"].format(key), q["ratio"].format(key)
        base = numeric(rows, col) if col in rows.columns else None
        if base is not None and np.isfinite(base).any():
            absolute.append((key, base))
        if ratio_col in rows.columns:
            ratio = numeric(rows, ratio_col)
        elif base is not None:
            ratio = base / pim
        else:
            continue
        if np.isfinite(ratio).any():
            ratios.append((key, ratio))

    unit, factor = si_scale(np.concatenate([v for _, v in absolute]), q["unit"])
    with style():
        fig = new_figure(8.0, 6.2)
        top, bottom = fig.subplots(2, 1, sharex=True)
        series = [
            (system_name(rows, key), values * factor, SYSTEM_STYLE[key]) for key, values in absolute
        ]
        grouped_bars(top, models, series)
        top.set_yscale("log")
        _headroom(top, [v * factor for _, v in absolute])
        top.set_ylabel(f"{q['top']} ({unit})")
        top.legend(loc="upper left", ncols=len(series), frameon=False)
        top.set_title(f"{q['title']}: PIM vs baselines")

        series = [
            (f"PIM vs {system_name(rows, key)}", values, SYSTEM_STYLE[key])
            for key, values in ratios
        ]
        containers = grouped_bars(bottom, models, series)
        for container in containers:
            bottom.bar_label(container, fmt="{:.1f}", fontsize=7, padding=1)
        if ratios:
            bottom.set_yscale("log")
            bottom.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
            bottom.legend(loc="upper left", ncols=len(series), frameon=False)
            _headroom(bottom, [v for _, v in ratios], floor=0.5)
        else:
            bottom.text(0.5, 0.5, "no baseline columns", ha="center", transform=bottom.transAxes)
        bottom.set_ylabel(q["bottom"])
        bottom.set_xlabel("model")
        bottom.set_title(f"PIM {q['ratio_word']} over the baselines (higher is better)")
        settings = settings_text(rows)
        fig.suptitle(f"{q['title']}" + (f" ({settings})" if settings else ""), fontsize=10)
    save_figure(fig, path)
    return fig


def _headroom(ax, arrays, floor: float | None = None) -> None:
    """Log-scale limits with room above the tallest bar for the legend and the value labels."""
    values = np.concatenate([np.asarray(a, dtype=float) for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return
    low = values.min() / 3
    if floor is not None:
        low = min(low, floor)
    high = values.max() * (values.max() / low) ** 0.25
    ax.set_ylim(low, high)
