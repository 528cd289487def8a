"""A result metric over the axes of a design-space sweep: a line per model, or heatmaps.

Input: a sweep's results.csv or its directory (default analysis/data/sweep_channels, made by
`pimsim sweep analysis/sweeps/channels.yaml` when missing). Output: analysis/figures/sweep_plot.png.
The x axis defaults to the first axis in the sweep.json next to the results.
"""

from __future__ import annotations

import _common

from pimsim.plots import load_results, plot_sweep, select_rows, sweep_axes


def main(argv: list[str] | None = None) -> int:
    p = _common.parser("sweep_plot", __doc__, "sweep results.csv or directory")
    p.add_argument("--x", help="axis for the x axis (default: the first swept axis)")
    p.add_argument("--y", help="second axis: one heatmap per model")
    p.add_argument("--metric", default="pim_latency_s_per_token", help="result column")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    path = _common.sweep_csv(args.csv)

    def make():
        axes = sweep_axes(path)
        x = args.x or (axes[0] if axes else None)
        rows = select_rows(load_results(path), args.where)
        return plot_sweep(rows, args.out, x, metric=args.metric, y=args.y, axes=axes)

    return _common.draw(make, args.out, args.dpi)


if __name__ == "__main__":
    raise SystemExit(main())
