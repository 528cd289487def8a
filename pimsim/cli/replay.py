"""`pimsim replay --hw HW --trace FILE`: serve a memory request trace on the channel kernel."""

from __future__ import annotations

import argparse
import json
import sys

from pimsim.cli.common import add_hw_options, dump_capacity

EPILOG = (
    "FILE has one request a line, 'CYCLE R|W ADDRESS' (spaces or commas; a cycle,op,address "
    "header and # comments are skipped): arrival in DRAM cycles (non-decreasing), read or "
    "write, byte address (decimal or 0x-hex); each request is one column access. Each channel "
    "serves its requests in trace order (in-order controller, the hardware's page policy and "
    "refresh), none before its arrival. cycles is the end of the last command's data burst."
)


def register(sub: argparse._SubParsersAction) -> None:
    from pimsim.dram.replay import DEFAULT_MAPPING

    p = sub.add_parser(
        "replay",
        help="replay a plain DRAM request trace (cycle, R/W, address) on the channel kernel",
        description="Serve a read/write request trace with pimsim's exact channel kernel and "
        "in-order controller; print cycles, command counts and row-buffer statistics.",
        epilog=EPILOG,
    )
    add_hw_options(p)
    p.add_argument("--trace", required=True, metavar="FILE", help="request trace")
    p.add_argument(
        "--mapping",
        default=DEFAULT_MAPPING,
        help=f"address bit fields, most significant first (default {DEFAULT_MAPPING})",
    )
    p.add_argument("--json", metavar="FILE", help="write the pimsim.replay.v1 report ('-': stdout)")
    p.add_argument(
        "--dump-commands",
        nargs=2,
        metavar=("N", "FILE"),
        help="write the first N commands of every channel to a CSV for check-log",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pimsim.config import load_hw
    from pimsim.core.io import atomic_write_json
    from pimsim.dram.replay import read_trace, replay

    hw = load_hw(args.hw, args.overrides)
    capacity = dump_capacity(args.dump_commands, hw.dram.channels)
    trace = read_trace(args.trace)
    result = replay(hw, trace, args.mapping, log_commands=capacity)
    report = result.to_json()
    report["hw"] = {"name": hw.name, "config_sha256": hw.sha256}
    report["trace"] = args.trace
    if args.dump_commands:
        from pimsim.dram.checker import write_command_log

        write_command_log(
            args.dump_commands[1], result.log, banks_per_group=hw.dram.organization.banks_per_group
        )
    if args.json == "-":
        json.dump(report, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    if args.json:
        atomic_write_json(args.json, report)
    _print(report, hw)
    return 0


def _print(report: dict, hw) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in report["commands"].items())
    print(
        f"replay {report['trace']} on {hw.name} ({hw.dram.channels} ch x "
        f"{hw.dram.organization.banks} banks, {hw.dram.page_policy} page, mapping "
        f"{report['mapping']})"
    )
    print(f"  requests      {report['requests']}  ({report['reads']} R, {report['writes']} W)")
    print(f"  cycles        {report['cycles']}  (tCK {hw.dram.tCK_ns} ns)")
    print(f"  time          {report['time_ns'] / 1e3:.3f} us")
    print(
        f"  row-hit rate  {report['row_hit_rate']:.4f}  (hits {report['row_hits']}, misses "
        f"{report['row_misses']}, conflicts {report['row_conflicts']})"
    )
    print(
        f"  read latency  {report['mean_read_latency_cycles']:.2f} cycles (mean, arrival to data)"
    )
    print(f"  commands      {counts}")
