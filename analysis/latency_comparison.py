"""Latency per token of PIM vs GPU vs CPU per model, and the PIM speedups.

Input: a `pimsim compare --csv` table (default analysis/data/compare_gddr6_aim.csv, made by
`pimsim compare --hw gddr6_aim --gen-len 8` when missing).
Output: analysis/figures/latency_comparison.png.
"""

from __future__ import annotations

import _common

from pimsim.plots import load_results, plot_latency


def main(argv: list[str] | None = None) -> int:
    args = _common.parser("latency_comparison", __doc__, "compare CSV").parse_args(argv)
    path = _common.compare_csv(args.csv)
    return _common.draw(lambda: plot_latency(load_results(path), args.out), args.out, args.dpi)


if __name__ == "__main__":
    raise SystemExit(main())
