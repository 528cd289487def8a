"""Where PIM time and energy go, per model: stacked bars by operator kind and by component."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pimsim.core.errors import PimsimInputError
from pimsim.plots.common import (
    new_figure,
    numeric,
    one_row_per_model,
    require_columns,
    save_figure,
    settings_text,
    si_scale,
    style,
)
from pimsim.plots.labels import category_label

# stacking order (bottom first); names not listed follow in alphabetical order
KIND_ORDER = (
    "vmm",
    "gemm",
    "attn_score",
    "attn_value",
    "kv_write",
    "reduction",
    "layernorm",
    "softmax",
    "gelu",
    "add",
    "embed",
    "pim_issue",
    "idle",
)
COMPONENT_ORDER = (
    "pim_mac",
    "dram_activate",
    "dram_background",
    "refresh",
    "dram_column",
    "io",
    "result_read",
    "global_buffer",
    "asic_vector",
    "asic_sram",
    "asic_static",
)


def breakdown_columns(rows: pd.DataFrame, prefix: str, suffix: str, order) -> list[str]:
    """`latency_<kind>_s` / `energy_<component>_j` columns in stacking order."""
    pattern = re.compile(rf"^{prefix}_(.+)_{suffix}$")
    names = [m[1] for c in rows.columns if (m := pattern.match(str(c)))]
    rank = {n: i for i, n in enumerate(order)}
    names.sort(key=lambda n: (rank.get(n, len(rank)), n))
    return [f"{prefix}_{n}_{suffix}" for n in names]


def plot_breakdown(
    rows: pd.DataFrame, path: str | Path | None = None, *, absolute: bool = False
) -> Figure:
    """Two panels of stacked bars, one bar per model.

    Top: the run's time by category (`latency_<kind>_s`: every picosecond of the run is
    given to one category, see `pimsim.engine.accounting`, so a stack is the whole run), as a
    percentage, or with `absolute=True` divided by `gen_len` (the decode steps' time per output
    token is drawn as a black tick; the first token's step includes the prompt, so a stack
    can differ from it). Bottom: PIM energy by component
    (`energy_<component>_j`), as a percentage, or with `absolute=True` apportioned to the
    reported energy per generated token. Kinds / components that are zero everywhere are left out.
    """
    require_columns(rows, ["model"], "breakdown")
    rows = one_row_per_model(rows, "breakdown")
    lat_cols = breakdown_columns(rows, "latency", "s", KIND_ORDER)
    en_cols = breakdown_columns(rows, "energy", "j", COMPONENT_ORDER)
    if not lat_cols:
        raise PimsimInputError(
            "no latency breakdown columns", key="latency_<kind>_s", expected="compare rows"
        )
    if not en_cols:
        raise PimsimInputError(
            "no energy breakdown columns", key="energy_<component>_j", expected="compare rows"
        )
    if absolute:
        require_columns(rows, ["gen_len", "pim_energy_j_per_token"], "breakdown --absolute")
    models = rows["model"].astype(str).tolist()

    with style():
        fig = new_figure(8.0, 7.0)
        top, bottom = fig.subplots(2, 1)
        _time_panel(top, rows, models, lat_cols, absolute)
        top.set_title("PIM run time by category (each picosecond once)")
        _legend(top)

        _energy_panel(bottom, rows, models, en_cols, absolute)
        bottom.set_title("PIM energy by component")
        bottom.set_xlabel("model")
        _legend(bottom)
        settings = settings_text(rows)
        fig.suptitle(
            "PIM latency and energy breakdown" + (f" ({settings})" if settings else ""),
            fontsize=10,
        )
    save_figure(fig, path)
    return fig


def _time_panel(ax, rows: pd.DataFrame, models: list[str], cols: list[str], absolute: bool):
    """Time by category: shares of the run, or per generated token with the TPOT tick."""
    lat = _matrix(rows, cols)
    if not absolute:
        _stack(ax, models, _percent(lat), cols, "latency")
        ax.set_ylabel("share of the run's time (%)")
        ax.set_ylim(0, 100)
        return
    per_token = lat / numeric(rows, "gen_len")[:, None]
    unit, factor = si_scale(np.nansum(per_token, axis=1), "s")
    _stack(ax, models, per_token * factor, cols, "latency")
    if "pim_latency_s_per_token" in rows.columns:
        ax.plot(
            np.arange(len(models)),
            numeric(rows, "pim_latency_s_per_token") * factor,
            linestyle="none",
            marker="_",
            markersize=22,
            markeredgewidth=2,
            color="black",
            label="time per output token (decode)",
        )
    ax.set_ylabel(f"run time / generated tokens ({unit})")


def _energy_panel(ax, rows: pd.DataFrame, models: list[str], cols: list[str], absolute: bool):
    """PIM energy by component: shares, or apportioned to the energy per token."""
    energy = _matrix(rows, cols)
    if not absolute:
        _stack(ax, models, _percent(energy), cols, "energy")
        ax.set_ylabel("share of PIM energy (%)")
        ax.set_ylim(0, 100)
        return
    per_token = _percent(energy) / 100 * numeric(rows, "pim_energy_j_per_token")[:, None]
    unit, factor = si_scale(np.nansum(per_token, axis=1), "J")
    _stack(ax, models, per_token * factor, cols, "energy")
    ax.set_ylabel(f"energy per token ({unit})")


def _matrix(rows: pd.DataFrame, columns: list[str]) -> np.ndarray:
    out = np.column_stack([numeric(rows, c) for c in columns])
    return np.nan_to_num(out, nan=0.0)


def _percent(matrix: np.ndarray) -> np.ndarray:
    total = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, matrix / total * 100.0, np.nan)


OTHER_SHARE = 0.01  # parts below this share of every model's total are drawn as "other"


def _stack(ax, models: list[str], matrix: np.ndarray, columns: list[str], prefix: str) -> None:
    """Stacked bars; a part that is zero for every model is left out (no empty legend entry),
    and two or more parts that are each below 1 % of every model's total become one "other".

    Colours follow the part's stacking position, so a kind has the same colour in every figure
    drawn from tables with the same parts."""
    x = np.arange(len(models), dtype=float)
    bottom = np.zeros(len(models))
    parts = [(j, c, matrix[:, j]) for j, c in enumerate(columns) if np.nansum(np.abs(matrix[:, j]))]
    small = _small_parts(matrix, [j for j, _, _ in parts])
    other = np.zeros(len(models))
    for j, column, values in parts:
        if j in small:
            other = other + np.nan_to_num(values)
            continue
        name = column[len(prefix) + 1 : column.rindex("_")]
        _bar(ax, x, values, bottom, category_label(name), _color(j))
        bottom = bottom + np.nan_to_num(values)
    if small:
        _bar(ax, x, other, bottom, category_label("other"), "#d9d9d9")
    ax.set_xticks(x, models, rotation=30, ha="right")
    ax.set_xlim(-0.6, len(models) - 0.4)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _small_parts(matrix: np.ndarray, present: list[int]) -> set[int]:
    totals = np.nansum(np.abs(matrix), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.abs(matrix) / np.where(totals > 0, totals, np.nan)[:, None]
    small = {j for j in present if np.nanmax(np.nan_to_num(shares[:, j])) < OTHER_SHARE}
    return small if len(small) >= 2 else set()


def _bar(ax, x, values, bottom, label: str, color) -> None:
    ax.bar(
        x, values, 0.6, bottom=bottom, label=label, color=color, edgecolor="black", linewidth=0.4
    )


def _color(i: int):
    """tab20's ten strong hues first, then their light variants."""
    from matplotlib import colormaps

    i %= 20
    return colormaps["tab20"]((2 * i) % 20 + (2 * i) // 20)


def _legend(ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    # top of the stack first, like the bars
    ax.legend(
        handles[::-1],
        labels[::-1],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=7,
    )
