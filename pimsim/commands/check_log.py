"""`pimsim check-log FILE --hw HW [--set k=v ...] [--tight]`: audit a DRAM command log."""

from __future__ import annotations

import argparse
from collections import Counter

from pimsim.commands.common import add_set_option

SHOW = 20  # violations printed before the summary

EPILOG = (
    "FILE is a CSV with header cycle,cmd,channel,bankgroup,bank,row,column (bankgroup optional, "
    "cmd as names such as ACT, RD, MAC16, REFab). Exit status: 0 if the log is legal, 1 if "
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

    hw = load_hw(args.hw, args.overrides)
    log = read_command_log(args.file)
    violations = check_log(log, hw, tight=args.tight)
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
