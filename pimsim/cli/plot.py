"""`pimsim plot RESULTS --kind energy|latency|breakdown|sweep|batch|moe -o FIGURE.png`."""

from __future__ import annotations

import argparse

from pimsim.core.errors import PimsimInputError

KINDS = ("energy", "latency", "breakdown", "sweep", "batch", "moe")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="draw a figure from a compare CSV or a sweep's results.csv",
        description="Draw a paper-style figure from `pimsim compare --csv` rows (energy, latency, "
        "breakdown) or from a sweep's results.csv (sweep: a metric over one or two axes; batch: "
        "throughput and energy per token of PIM, GPU and CPU over a batch axis; moe: latency "
        "and the busiest expert group's load over routing skew).",
    )
    p.add_argument("results", metavar="RESULTS", help="results CSV (or a sweep output directory)")
    p.add_argument("--kind", required=True, metavar="KIND", help=f"one of {', '.join(KINDS)}")
    p.add_argument(
        "-o",
        "--out",
        required=True,
        metavar="FIGURE",
        help="figure path: .png (raster, at --dpi), .svg or .pdf (vector: text as paths)",
    )
    p.add_argument(
        "--dpi", type=int, default=None, help="resolution of a .png (default 100; 300 for print)"
    )
    p.add_argument(
        "--figsize",
        metavar="WxH",
        default=None,
        help="figure size in inches, e.g. 3.5x2.6 for one paper column (default: per kind)",
    )
    p.add_argument(
        "--title",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw the titles (--no-title for a figure whose caption says it)",
    )
    p.add_argument(
        "--x",
        metavar="KEY",
        help="sweep: axis for the x axis (default: the first axis in the sibling sweep.json)",
    )
    p.add_argument("--y", metavar="KEY", help="sweep: second axis; draws heatmaps, one per model")
    p.add_argument(
        "--metric",
        metavar="COL",
        default=None,
        help="sweep: result column to draw (default pim_latency_s_per_token)",
    )
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep only the rows where column KEY equals VALUE (repeatable), e.g. one sweep point",
    )
    p.add_argument(
        "--absolute",
        action="store_true",
        help="breakdown: time and energy per token instead of percentages",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pimsim import plots
    from pimsim.plots.common import figure_format, figure_options
    from pimsim.plots.io import results_path

    if args.kind not in KINDS:
        raise PimsimInputError(
            f"unknown kind '{args.kind}'", key="--kind", expected=" or ".join(KINDS)
        )
    figure_format(args.out)
    options = {"dpi": _dpi(args.dpi), "figsize": _figsize(args.figsize), "titles": args.title}
    path = results_path(args.results)
    try:
        with figure_options(**options):
            figure = _draw(args, path, plots)
    except PimsimInputError as exc:
        if exc.file is None:  # a column problem: name the file it is about
            raise PimsimInputError(
                exc.detail, file=path, key=exc.key, expected=exc.expected
            ) from None
        raise
    width, height = figure.get_size_inches()
    print(f"pimsim plot: wrote {args.out} ({args.kind}, {width:g} x {height:g} in)")
    return 0


def _dpi(value: int | None) -> int | None:
    if value is not None and not 20 <= value <= 1200:
        raise PimsimInputError(f"got {value}", key="--dpi", expected="20 .. 1200")
    return value


def _figsize(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        width, height = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise PimsimInputError(
            f"got {text!r}", key="--figsize", expected="WxH in inches, e.g. 7x4"
        ) from None
    if not (0.5 <= width <= 40 and 0.5 <= height <= 40):
        raise PimsimInputError(f"got {text!r}", key="--figsize", expected="0.5 .. 40 inches each")
    return width, height


def _draw(args: argparse.Namespace, path, plots):
    kind = args.kind
    if kind != "sweep":
        for option in ("x", "y", "metric"):
            if getattr(args, option, None) is not None:
                raise PimsimInputError(
                    f"applies to --kind sweep only, not '{kind}'", key=f"--{option}"
                )
    if kind != "breakdown" and getattr(args, "absolute", False):
        raise PimsimInputError(f"applies to --kind breakdown only, not '{kind}'", key="--absolute")
    rows = plots.load_results(path)
    rows = plots.select_rows(rows, getattr(args, "where", None) or [])
    if kind == "energy":
        return plots.plot_energy(rows, args.out)
    if kind == "latency":
        return plots.plot_latency(rows, args.out)
    if kind == "breakdown":
        return plots.plot_breakdown(rows, args.out, absolute=getattr(args, "absolute", False))
    if kind == "batch":
        return plots.plot_batch(rows, args.out)
    if kind == "moe":
        return plots.plot_moe(rows, args.out)
    axes = plots.sweep_axes(path)
    x = args.x
    if x is None:
        if axes:
            x = axes[0]
        else:
            from pimsim.plots.common import candidate_axes, ok_rows

            found = candidate_axes(ok_rows(rows))
            if not found:
                raise PimsimInputError(
                    "no sweep.json next to it and no column varies across rows",
                    key="--x",
                    expected="--x KEY naming the swept column",
                )
            x = found[0]
    metric = args.metric or "pim_latency_s_per_token"
    return plots.plot_sweep(rows, args.out, x, metric=metric, y=args.y, axes=axes)
