"""PIM latency by operator kind and energy by component, stacked per model.

Input: a `pimsim compare --csv` table (default analysis/data/compare_gddr6_aim.csv, made by
`pimsim compare --hw gddr6_aim --gen-len 8` when missing). Output: analysis/figures/breakdown.png
(percentages; --absolute for time and energy per token).
"""

from __future__ import annotations

import _common

from pimsim.plots import load_results, plot_breakdown


def main(argv: list[str] | None = None) -> int:
    p = _common.parser("breakdown", __doc__, "compare CSV")
    p.add_argument("--absolute", action="store_true", help="per token instead of percentages")
    args = p.parse_args(argv)
    path = _common.compare_csv(args.csv)
    return _common.draw(
        lambda: plot_breakdown(load_results(path), args.out, absolute=args.absolute),
        args.out,
        args.dpi,
    )


if __name__ == "__main__":
    raise SystemExit(main())
