"""`pimsim validate [--subset quick|full] [--json FILE] [--markdown FILE]`: agreement with
independent references (public simulators, measurements, paper figures)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="rerun every recorded reference point and print the agreement",
        description="Run each reference point (pimsim/validation/points/*.yaml): the value "
        "pimsim computes, the reference's value and source, their ratio, the point's tolerance "
        "and a verdict. Exit status 1 when a point is outside its tolerance (verdict "
        "'outside'); 'known' points name the modelled difference, 'claim' points are paper "
        "claims shown with their distance.",
    )
    p.add_argument(
        "--subset",
        choices=("quick", "full"),
        default="quick",
        help="quick: the points CI runs (default); full: all of them",
    )
    p.add_argument(
        "--points",
        metavar="DIR",
        help="a folder of points files to run instead of pimsim's own (pimsim/validation/points)",
    )
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pimsim.core.io import atomic_write_json, atomic_write_text
    from pimsim.validation import validate
    from pimsim.validation.runner import markdown_table, text_table

    def progress(n: int, total: int, name: str) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r[{n + 1}/{total}] {name:<60}")
            sys.stderr.flush()

    from pathlib import Path

    from pimsim.core.errors import PimsimInputError
    from pimsim.validation.points import POINTS_DIR

    folder = Path(args.points) if args.points else POINTS_DIR
    if not folder.is_dir():
        raise PimsimInputError("not a folder", key="--points", expected="a folder of *.yaml")
    rows = validate(args.subset, progress=progress, folder=folder)
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 80 + "\r")
    if args.json:
        atomic_write_json(args.json, [r.to_json() for r in rows])
    if args.markdown:
        atomic_write_text(args.markdown, markdown_table(rows) + "\n")
    print(text_table(rows))
    return 1 if any(r.verdict == "outside" for r in rows) else 0
