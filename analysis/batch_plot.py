"""Batched decode: throughput and energy per token of PIM, GPU and CPU over the batch size.

Input: a sweep's results.csv or its directory with a `batch` axis (default
analysis/data/sweep_batch, made by `pimsim sweep analysis/sweeps/batch.yaml` when missing).
Output: analysis/figures/batch_plot.png.
"""

from __future__ import annotations

import _common

from pimsim.plots import load_results, plot_batch

SPEC = _common.HERE / "sweeps" / "batch.yaml"
DEFAULT_DIR = _common.DATA / "sweep_batch"


def main(argv: list[str] | None = None) -> int:
    p = _common.parser("batch_plot", __doc__, "sweep results.csv or directory (a batch axis)")
    args = p.parse_args(argv)
    if args.csv:
        path = args.csv
    else:
        path = DEFAULT_DIR / "results.csv"
        if not path.exists():
            _common.pimsim("sweep", str(SPEC), "--out", str(DEFAULT_DIR))
    return _common.draw(lambda: plot_batch(load_results(path), args.out), args.out, args.dpi)


if __name__ == "__main__":
    raise SystemExit(main())
