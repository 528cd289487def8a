"""Shared by the figure scripts: where data and figures live, and the default input tables."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
FIGURES = HERE / "figures"
DEFAULT_COMPARE = DATA / "compare_gddr6_aim.csv"
COMPARE_ARGS = ["compare", "--hw", "gddr6_aim", "--gen-len", "8"]
DEFAULT_SWEEP_SPEC = HERE / "sweeps" / "channels.yaml"
DEFAULT_SWEEP_DIR = DATA / "sweep_channels"
PAPER_DPI = 300  # the figures of the README's study, for print


def pimsim(*args: str) -> None:
    """Run the pimsim CLI with this interpreter; stop with its exit code on failure."""
    command = [sys.executable, "-m", "pimsim", *args]
    print("running:", " ".join(["pimsim", *args]), file=sys.stderr)
    done = subprocess.run(command, check=False)
    if done.returncode:
        raise SystemExit(done.returncode)


def compare_csv(given: str | None) -> Path:
    """The CSV given on the command line, else analysis/data/compare_gddr6_aim.csv (made by
    `pimsim compare --hw gddr6_aim --gen-len 8` when it is not there yet)."""
    if given:
        return Path(given)
    if not DEFAULT_COMPARE.exists():
        pimsim(*COMPARE_ARGS, "--csv", str(DEFAULT_COMPARE))
    return DEFAULT_COMPARE


def sweep_csv(given: str | None) -> Path:
    """The sweep results given (a results.csv or its directory), else
    analysis/data/sweep_channels/results.csv (made by `pimsim sweep analysis/sweeps/channels.yaml`
    when it is not there yet)."""
    if given:
        return Path(given)
    results = DEFAULT_SWEEP_DIR / "results.csv"
    if not results.exists():
        pimsim("sweep", str(DEFAULT_SWEEP_SPEC), "--out", str(DEFAULT_SWEEP_DIR))
    return results


def parser(name: str, doc: str, input_help: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"{name}.py", description=doc.strip().splitlines()[0])
    p.add_argument("csv", nargs="?", help=input_help)
    p.add_argument(
        "-o",
        "--out",
        default=str(FIGURES / f"{name}.png"),
        help=f"figure path (default analysis/figures/{name}.png; .svg or .pdf: vector)",
    )
    p.add_argument("--dpi", type=int, default=PAPER_DPI, help=f"PNG resolution ({PAPER_DPI})")
    return p


def draw(make: Callable[[], object], out: str, dpi: int = 300) -> int:
    """Run a plot at `dpi`; a bad table is reported like the pimsim CLI does (exit code 2)."""
    from pimsim.core.errors import PimsimInputError
    from pimsim.plots.common import figure_options

    try:
        with figure_options(dpi=dpi):
            make()
    except PimsimInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


def sweep_figure(name: str, doc: str, input_help: str, spec: Path, data_dir: Path, plot, argv):
    """The `main` of a figure script drawn from one sweep: its results.csv given on the
    command line, else `data_dir`'s (made by `pimsim sweep SPEC` when it is not there yet)."""
    from pimsim.plots import load_results

    args = parser(name, doc, input_help).parse_args(argv)
    path = args.csv
    if not path:
        path = data_dir / "results.csv"
        if not path.exists():
            pimsim("sweep", str(spec), "--out", str(data_dir))
    return draw(lambda: plot(load_results(path), args.out), args.out, args.dpi)
