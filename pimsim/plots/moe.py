"""Mixture of experts: per-token latency and the busiest expert group's load over routing
skew, one line per expert placement (a sweep with `routing` and `expert_groups` axes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pimsim.core.errors import PimsimInputError
from pimsim.plots.common import new_figure, numeric, ok_rows, require_columns, save_figure, style


def skew_of(routing: str) -> float:
    """The Zipf exponent of a routing policy (`uniform[:SEED]`: 0; `skew:ALPHA[:SEED]`)."""
    policy, _, rest = str(routing).partition(":")
    if policy == "uniform":
        return 0.0
    if policy == "skew":
        return float(rest.split(":")[0])
    raise PimsimInputError(f"got {routing!r}", key="routing", expected="uniform or skew:ALPHA")


def plot_moe(rows: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """Time per output token (top) and the busiest expert group's routed rows per layer-step
    (bottom) over the routing's skew exponent, one line per `expert_groups`."""
    columns = ["routing", "expert_groups", "pim_latency_s_per_token", "moe_busiest_group_rows"]
    require_columns(rows, columns, "moe")
    rows = ok_rows(rows)
    if rows.empty:
        raise PimsimInputError("no row without an error to plot", key="status")
    rows = rows.assign(skew=[skew_of(r) for r in rows["routing"]])
    with style():
        fig = new_figure(6.4, 6.0)
        top, bottom = fig.subplots(2, 1, sharex=True)
        for k, (groups, part) in enumerate(
            sorted(rows.groupby("expert_groups"), key=lambda g: g[0])
        ):
            part = part.sort_values("skew", kind="stable")
            skew = numeric(part, "skew")
            label = (
                "spread over all channels" if int(groups) == 1 else f"{int(groups)} channel groups"
            )
            marker = "os^dv"[k % 5]
            top.plot(
                skew, numeric(part, "pim_latency_s_per_token") * 1e3, marker=marker, label=label
            )
            bottom.plot(skew, numeric(part, "moe_busiest_group_rows"), marker=marker, label=label)
        model = ", ".join(sorted(set(rows["model"]))) if "model" in rows else ""
        batch = f", batch {int(np.max(numeric(rows, 'batch')))}" if "batch" in rows else ""
        top.set_title(f"{model}{batch}: expert load under skewed routing")
        top.set_ylabel("PIM time per output token (ms)")
        bottom.set_ylabel("busiest group: rows per layer-step")
        bottom.set_xlabel("routing skew (Zipf exponent; 0 = uniform)")
        top.legend(frameon=False)
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        save_figure(fig, path)
    return fig
