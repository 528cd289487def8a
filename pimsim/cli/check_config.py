"""`pimsim check-config FILE`: validate a hardware description and print it resolved."""

from __future__ import annotations

import argparse

import yaml

from pimsim.cli.common import add_set_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-config",
        help="validate a hardware YAML and print it resolved",
        description="Load a hardware description (presets merged, overrides "
        "applied, ns converted to cycles) and print a summary, or with --resolved "
        "the full resolved YAML. Exit 2 with the file and key path if it is bad.",
    )
    p.add_argument("file", metavar="FILE", help="hardware YAML path or name in hw_configs/")
    add_set_option(p)
    p.add_argument("--resolved", action="store_true", help="print the full resolved YAML")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pimsim.config import load_hw

    hw = load_hw(args.file, args.overrides)
    if args.resolved:
        print(yaml.safe_dump(hw.resolved_dict(), sort_keys=False), end="")
        return 0
    org, dram, pim = hw.dram.organization, hw.dram, hw.pim
    print(f"{hw.source}: OK")
    print(f"  name      {hw.name}: {hw.description}")
    print(
        f"  dram      {dram.preset} ({dram.standard}), {dram.channels} channels x "
        f"{org.banks} banks ({org.bank_groups} groups), {org.rows} rows x {org.row_bytes} B, "
        f"tCK {dram.tCK_ns} ns, {dram.page_policy} page, refresh {dram.refresh}"
        + (
            f" (postponed up to {dram.refresh_postpone} tREFI for a row switch)"
            if dram.refresh != "none" and dram.refresh_postpone
            else ""
        )
    )
    capacity = dram.channels * org.banks * org.bank_bytes
    print(f"  capacity  {capacity / 2**30:.2f} GiB")
    if pim.enabled:
        units = dram.channels * org.banks // pim.banks_per_mac_unit
        sums = "adder tree" if pim.adder_tree else "lane-wise results"
        registers = (
            f", {pim.result_registers} accumulators per unit (output-stationary)"
            if pim.result_registers > 1
            else ""
        )
        print(
            f"  pim       {units} MAC units x {pim.mac_lanes} {pim.dtype} lanes ({sums}), "
            f"{pim.banks_per_mac_unit} bank(s) per unit, global buffer "
            f"{pim.global_buffer_bytes} B{registers}"
        )
    else:
        print("  pim       disabled")
    tiles = hw.asic.reduction_tile_rows
    streaming = f"partial sums in tiles of {tiles} DRAM row(s)" if tiles else "no tiles"
    print(f"  asic      {hw.asic.clock_GHz} GHz, {streaming}")
    print(
        f"  timing    {len(dram.timing_cycles)} parameters, {len(dram.rules)} rules; sha256 "
        f"{hw.sha256[:16]}"
    )
    return 0
