"""Batched decode: throughput and energy per token of PIM, GPU and CPU over the batch size
(a sweep with a `batch` axis, one model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pimsim.core.errors import PimsimInputError
from pimsim.plots.common import (
    new_figure,
    numeric,
    ok_rows,
    require_columns,
    save_figure,
    settings_text,
    style,
    system_name,
)

SYSTEMS = (("pim", "o", "C0"), ("gpu", "s", "C1"), ("cpu", "^", "C2"))


def plot_batch(rows: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """Tokens per second of the whole batch (top) and energy per token (bottom) over `batch`,
    one line per system; the first batch at which the GPU's throughput passes PIM's is marked.
    Rows recorded with an error (a batch whose KV caches do not fit) are left out."""
    columns = ["model", "batch", "pim_latency_s_per_token", "pim_energy_j_per_token"]
    for key in ("gpu", "cpu"):
        columns += [f"{key}_latency_s_per_token", f"{key}_energy_j_per_token"]
    require_columns(rows, columns, "batch")
    rows = ok_rows(rows)
    if rows.empty:
        raise PimsimInputError("no row without an error to plot", key="status")
    if rows["model"].nunique() != 1:
        raise PimsimInputError(
            f"the batch plot shows one model, the table has {rows['model'].nunique()}",
            key="model",
            expected="rows of one model (select one with --where model=NAME)",
        )
    rows = rows.sort_values("batch", kind="stable")
    batch = numeric(rows, "batch")
    with style():
        fig = new_figure(6.4, 6.0)
        top, bottom = fig.subplots(2, 1, sharex=True)
        throughput = {}
        for key, marker, color in SYSTEMS:
            latency = numeric(rows, f"{key}_latency_s_per_token")
            throughput[key] = batch / latency
            label = system_name(rows, key)
            top.plot(batch, throughput[key], marker=marker, color=color, label=label)
            energy = numeric(rows, f"{key}_energy_j_per_token") * 1e3
            bottom.plot(batch, energy, marker=marker, color=color, label=label)
        ahead = np.flatnonzero(throughput["gpu"] > throughput["pim"])
        if len(ahead) and ahead[0] > 0:
            b = batch[ahead[0]]
            top.axvline(b, color="0.5", linestyle=":", linewidth=1)
            top.text(
                b,
                0.04,
                f" GPU ahead from batch {b:g}",
                transform=top.get_xaxis_transform(),
                fontsize=8,
                color="0.3",
            )
        for ax in (top, bottom):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
        top.set_ylabel("tokens / s (whole batch)")
        bottom.set_ylabel("energy / token (mJ)")
        bottom.set_xlabel("batch (sequences decoding together)")
        bottom.set_xticks(batch, [f"{b:g}" for b in batch])
        top.legend(fontsize=8)
        model = rows["model"].iloc[0]
        fig.suptitle(f"{model}: batched decode ({settings_text(rows)})", fontsize=10)
    save_figure(fig, path)
    return fig
