"""`pimsim check-log FILE --hw HW [--set k=v ...] [--tight] [--ops OPS]`: audit a command log.

Two checkers audit the log: the rule-table checker (`pimsim.dram.checker`: every rule of the
resolved table, and with --tight the earliest-cycle issue of every command) and the protocol
checker (`pimsim.dram.protocol`: the command semantics written from the timing parameters,
never reading the rule table, plus the page policy). Their violations are listed together.
"""

from __future__ import annotations

import argparse
from collections import Counter

from pimsim.cli.common import add_set_option

SHOW = 20  # violations printed before the summary

EPILOG = (
    "FILE is a CSV with header cycle,cmd,channel,bankgroup,bank,row,column (bankgroup optional, "
    "cmd as names such as ACT, RD, MAC16, REFab). --ops takes the ops.csv of `pimsim run --out` "
    "(its dram_start_cycle column): a command issued when its operator was handed to the "
    "channels is then not reported as late. Exit status: 0 if the log is legal, 1 if "
    "violations were found, 2 on bad input (unreadable or malformed file, unknown hardware)."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-log",
        help="audit a DRAM command log against the timing, bank-state and refresh rules",
        description="Check a DRAM/PIM command log against the hardware description's timing "
        "rules, bank state, refresh obligations and (with --tight) earliest-cycle issue.",
        epilog=EPILOG,
    )
    p.add_argument("file", metavar="FILE", help="command log CSV")
    p.add_argument("--hw", required=True, help="hardware config: path or name in hw_configs/")
    add_set_option(p)
    p.add_argument(
        "--tight",
        action="store_true",
        help="also report commands issued later than their earliest legal cycle",
    )
    p.add_argument(
        "--ops",
        metavar="OPS_CSV",
        help="ops.csv of the run that dumped the log: operator release cycles for --tight",
    )
    p.add_argument(
        "--checker",
        choices=("both", "table", "protocol"),
        default="both",
        help="rule-table checker, protocol checker, or both (default)",
    )
    p.add_argument(
        "--show",
        type=int,
        default=SHOW,
        metavar="N",
        help=f"print at most N violations (default {SHOW})",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pimsim.config import load_hw
    from pimsim.dram.checker import check_log, read_command_log
    from pimsim.dram.log_io import check_log_fits
    from pimsim.dram.protocol import check_protocol

    hw = load_hw(args.hw, args.overrides)
    log = read_command_log(args.file)
    check_log_fits(log, hw)
    releases = read_release_cycles(args.ops) if args.ops else ()
    violations = []
    if args.checker in ("both", "table"):
        violations += check_log(log, hw, tight=args.tight, releases=releases)
    if args.checker in ("both", "protocol"):
        violations += check_protocol(log, hw)
    violations.sort(key=lambda v: v.index)
    for violation in violations[: max(args.show, 0)]:
        print(violation)
    hidden = len(violations) - max(args.show, 0)
    if hidden > 0:
        print(f"... and {hidden} more")
    summary = f"{len(log)} commands, {len(violations)} violations"
    if violations:
        kinds = Counter(v.kind for v in violations)
        summary += " (" + ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) + ")"
    print(summary)
    return 1 if violations else 0


def read_release_cycles(path: str) -> list[int]:
    """The DRAM cycles at which a run handed operators to the channels (ops.csv)."""
    import pandas as pd

    from pimsim.core.errors import PimsimInputError

    try:
        ops = pd.read_csv(path, usecols=["dram_start_cycle"])
    except (OSError, ValueError) as exc:
        raise PimsimInputError(
            f"cannot read operator start cycles: {exc}",
            file=path,
            key="dram_start_cycle",
            expected="the ops.csv that `pimsim run --out DIR` writes",
        ) from None
    cycles = ops["dram_start_cycle"]
    return sorted({int(c) for c in cycles if c >= 0})
