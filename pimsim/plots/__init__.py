"""Figures from pimsim result tables (a `pimsim compare --csv` table or a sweep's results.csv).

Every function takes the rows as a pandas DataFrame, returns the matplotlib Figure and writes it
(PNG, or SVG / PDF by suffix) when given a path; the same rows give the same bytes.
"""

from pimsim.plots.batch import plot_batch
from pimsim.plots.breakdown import plot_breakdown
from pimsim.plots.common import select_rows
from pimsim.plots.compare import plot_energy, plot_latency
from pimsim.plots.io import load_results, sweep_axes
from pimsim.plots.moe import plot_moe
from pimsim.plots.sweep import plot_sweep

__all__ = [
    "load_results",
    "plot_batch",
    "plot_breakdown",
    "plot_energy",
    "plot_latency",
    "plot_moe",
    "plot_sweep",
    "select_rows",
    "sweep_axes",
]
