"""Batched decode: throughput and energy per token of PIM, GPU and CPU over the batch size.

Input: a sweep's results.csv or its directory with a `batch` axis (default
analysis/data/sweep_batch, made by `pimsim sweep analysis/sweeps/batch.yaml` when missing).
Output: analysis/figures/batch_plot.png.
"""

from __future__ import annotations

import _common

from pimsim.plots import plot_batch

SPEC = _common.HERE / "sweeps" / "batch.yaml"
DEFAULT_DIR = _common.DATA / "sweep_batch"


def main(argv: list[str] | None = None) -> int:
    return _common.sweep_figure(
        "batch_plot",
        __doc__,
        "sweep results.csv or directory (a batch axis)",
        SPEC,
        DEFAULT_DIR,
        plot_batch,
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
