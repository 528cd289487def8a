"""`pimsim gemv --hw HW --rows R --cols C`: one matrix-vector product on the PIM channels."""

from __future__ import annotations

import argparse
from pathlib import Path

from pimsim.cli.common import add_exactness_options, add_hw_options, dump_capacity


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gemv",
        help="simulate one matrix-vector product (R x C weights)",
        description="Simulate an R x C weight matrix times a C-vector on every "
        "channel and bank (simple row-filling layout), including the global-buffer "
        "broadcast of the input and the read-out of results.",
    )
    add_hw_options(p)
    p.add_argument("--rows", type=int, required=True, help="output rows R (matrix height)")
    p.add_argument("--cols", type=int, required=True, help="input length C (matrix width)")
    p.add_argument("--json", metavar="FILE", help="write the pimsim.gemv.v1 report here")
    p.add_argument(
        "--dump-commands",
        nargs=2,
        metavar=("N", "FILE"),
        help="write the first N commands of every channel to a CSV for check-log",
    )
    add_exactness_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pimsim.config import load_hw
    from pimsim.core.io import atomic_write_json
    from pimsim.gemv import gemv_command_log, simulate_gemv

    hw = load_hw(args.hw, args.overrides)
    capacity = dump_capacity(args.dump_commands, hw.dram.channels)
    dump_path = Path(args.dump_commands[1]) if args.dump_commands else None
    result = simulate_gemv(hw, args.rows, args.cols, exact=args.exact, log_capacity=capacity)
    report = result.to_json()
    report["hw"] = {"name": hw.name, "config_sha256": hw.sha256}
    report["mode"] = "exact" if args.exact else "fast"
    if args.json:
        atomic_write_json(args.json, report)
    if dump_path is not None:
        from pimsim.dram.checker import write_command_log

        write_command_log(
            dump_path,
            gemv_command_log(result),
            banks_per_group=hw.dram.organization.banks_per_group,
        )
    _print(report, hw)
    return 0


def _print(report: dict, hw) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in report["commands_by_type"].items() if v)
    print(
        f"gemv {report['rows']} x {report['cols']} on {hw.name} "
        f"({hw.dram.channels} ch x {hw.dram.organization.banks} banks, {report['mode']})"
    )
    print(f"  cycles        {report['cycles']}  (tCK {hw.dram.tCK_ns} ns)")
    print(f"  time          {report['time_s'] * 1e6:.3f} us")
    print(f"  row-hit rate  {report['row_hit_rate']:.4f}")
    print(f"  commands      {counts}")
    if report.get("energy_j") is not None:
        print(
            f"  energy        {report['energy_j'] * 1e6:.3f} uJ  (DRAM/PIM commands, I/O and "
            "channel background)"
        )
