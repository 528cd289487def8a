"""Plain-DRAM reference numbers: Ramulator 2.0 and DRAMsim3 vs `pimsim replay` on DDR4-2400.

Drives already-built reference binaries (paths given on the command line; nothing here builds
them) on the traces of make_traces.py, runs `pimsim replay` on the same traces with the
matching hardware YAML (pimsim/validation/hw/), and writes
pimsim/validation/data/plain_dram_refs.json.

What the binaries must be (local, unpublished additions to the fetched checkouts, which stay
outside this repository):
- Ramulator 2.0 (CMU-SAFARI/ramulator2, branch legacy/v2.0a): the stock `ramulator2` with a
  `TimedTrace` frontend (reads ``CYCLE R|W ADDRESS``, sends each request no earlier than
  CYCLE in file order, at most one a cycle, and ends once every read has returned, printing
  ``TimedTrace: ... last_read_depart N``) and an ``in_order`` switch on the Generic controller
  (read/write buffers of one request, no active buffer, so a request's commands start only
  after the previous request's column command). Stock FR-FCFS runs use neither switch.
- DRAMsim3 (umd-memsys/DRAMsim3): a small driver linked against the stock libdramsim3 that
  feeds the same trace through the public MemorySystem API the same way (args: CONFIG TRACE
  OUTDIR; prints ``TimedTraceDriver: ... last_read_return N``; DRAMsim3 writes its stats JSON
  to OUTDIR). An optional second driver linked against a CMD_TRACE build gives command logs.

Reference configurations (single channel, single rank of DDR4_8Gb_x8 at 2400, open page,
all-bank refresh, address mapping row:bank:bankgroup:rank:column:channel from the MSB):
- ramulator2 in-order: DDR4_2400R preset, Generic controller with in_order, AllBank refresh,
  OpenRowPolicy, RoBaRaCoCh mapper; FR-FCFS: the same with the stock FRFCFS scheduler and
  32-entry buffers;
- dramsim3 in-order: configs/DDR4_8Gb_x8_2400.ini with channel_size 8192 (one rank),
  address_mapping robabgracoch, queue_structure PER_RANK, cmd_queue_size 1; default: the
  same with the ini's own PER_BANK queues of 8 commands (FR-FCFS-like: first ready command
  of each bank queue, round robin over queues).
The in-order runs are repeated with refresh off (refresh interval 1e9 cycles in the
references, --set dram.refresh=none in pimsim) to separate refresh placement from timing.

Usage:
    python analysis/validation/make_traces.py TRACES
    python analysis/validation/plain_dram_refs.py --traces TRACES --work WORK \
        --ramulator RAMULATOR2_BIN --ramulator-commit SHA \
        --dramsim3-driver DRIVER --dramsim3-ini DDR4_8Gb_x8_2400.ini --dramsim3-commit SHA \
        [--dramsim3-cmdtrace-driver DRIVER2]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HW_DIR = Path(__file__).resolve().parent / "hw"
OUT_JSON = REPO / "pimsim" / "validation" / "data" / "plain_dram_refs.json"
TRACES = ("stream", "random", "random_paced")
DRAM = "DDR4-2400 x8 (8 Gb), 1 channel x 1 rank x 16 banks"

RAMULATOR_YAML = """\
Frontend:
  impl: TimedTrace
  clock_ratio: 1
  path: {trace}
MemorySystem:
  impl: GenericDRAM
  clock_ratio: 1
  DRAM:
    impl: DDR4
    org: {{preset: DDR4_8Gb_x8, channel: 1, rank: 1}}
    timing: {{preset: DDR4_2400R{refresh_off}}}
  Controller:
    impl: Generic
    in_order: {in_order}
    Scheduler: {{impl: FRFCFS}}
    RefreshManager: {{impl: AllBank}}
    RowPolicy: {{impl: OpenRowPolicy}}
    plugins:
      - ControllerPlugin: {{impl: TraceRecorder, path: {cmd_log}}}
  AddrMapper: {{impl: RoBaRaCoCh}}
"""
RAMULATOR_CMDS = {"ACT": "ACT", "PRE": "PRE", "PREA": "PREA", "RD": "RD", "WR": "WR"}
RAMULATOR_CMDS["REFab"] = "REFab"
DRAMSIM3_CMDS = {"activate": "ACT", "precharge": "PRE", "read": "RD", "write": "WR"}
DRAMSIM3_CMDS["refresh"] = "REFab"

NO_REFRESH_CYCLES = 1_000_000_000  # refresh interval beyond every run: refresh off


@dataclass(frozen=True)
class Variant:
    """One reference configuration: in-order or stock scheduler, refresh on or off."""

    label: str
    tag: str
    in_order: bool
    refresh: bool


VARIANTS = (
    Variant("in-order", "inorder", True, True),
    Variant("in-order, refresh off", "inorder_noref", True, False),
    Variant("FR-FCFS default", "default", False, True),
)

CONFIGS = {
    ("ramulator2", True): "legacy/v2.0a DDR4 DDR4_8Gb_x8 + DDR4_2400R, 1 ch 1 rank, Generic "
    "controller in_order (1-request buffers, no active buffer), AllBank refresh, OpenRowPolicy, "
    "RoBaRaCoCh; TimedTrace frontend (refresh-off runs: nREFI 1e9)",
    ("ramulator2", False): "legacy/v2.0a DDR4 DDR4_8Gb_x8 + DDR4_2400R, 1 ch 1 rank, Generic "
    "controller with FRFCFS scheduler (32-entry read/write buffers, active buffer), AllBank "
    "refresh, OpenRowPolicy, RoBaRaCoCh; TimedTrace frontend",
    ("dramsim3", True): "configs/DDR4_8Gb_x8_2400.ini with channel_size 8192 (1 rank), "
    "address_mapping robabgracoch, queue_structure PER_RANK, cmd_queue_size 1; timed-trace "
    "driver on the MemorySystem API (refresh-off runs: tREFI 1e9)",
    ("dramsim3", False): "configs/DDR4_8Gb_x8_2400.ini with channel_size 8192 (1 rank), "
    "address_mapping robabgracoch (PER_BANK queues of 8, trans_queue 32, OPEN_PAGE, "
    "RANK_LEVEL_STAGGERED refresh); timed-trace driver on the MemorySystem API",
}


def run(cmd: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return done.stdout


def command_log_ramulator(path: Path) -> list[tuple[int, str, int, int]]:
    """(cycle, cmd, bank, row) of a TraceRecorder log: clk, cmd, ch, rank, bg, bank, row, col."""
    rows = []
    for line in path.read_text().splitlines():
        f = [x.strip() for x in line.split(",")]
        bg, bk = int(f[4]), int(f[5])
        bank = bg * 4 + bk if bg >= 0 and bk >= 0 else -1
        rows.append((int(f[0]), RAMULATOR_CMDS[f[1]], bank, int(f[6])))
    return rows


def command_log_dramsim3(path: Path) -> list[tuple[int, str, int, int]]:
    """(cycle, cmd, bank, row) of a CMD_TRACE log: clk, cmd, ch, rank, bg, bank, row, col."""
    rows = []
    for line in path.read_text().splitlines():
        f = line.split()
        bg, bk = int(f[4]), int(f[5])
        rows.append((int(f[0]), DRAMSIM3_CMDS[f[1]], bg * 4 + bk, int(f[6], 16)))
    return rows


def command_log_pimsim(path: Path) -> list[tuple[int, str, int, int]]:
    with path.open() as f:
        return [
            (int(r["cycle"]), r["cmd"], int(r["bank"]), int(r["row"])) for r in csv.DictReader(f)
        ]


def compare_logs(ref: list, ours: list) -> dict:
    """Request-by-request agreement of two in-order command logs: the k-th column command
    (RD / WR) serves the k-th request in both, so compare their banks, rows and cycles. The
    first request's offset is the simulators' clock origin (Ramulator counts from 1, DRAMsim3
    issues a queued request's first command 2 cycles in); `column_cycles_exact` counts the
    requests whose column command issued at exactly that offset."""
    ref_col = [c for c in ref if c[1] in ("RD", "WR")]
    our_col = [c for c in ours if c[1] in ("RD", "WR")]
    same_targets = len(ref_col) == len(our_col) and all(
        a[1:] == b[1:] for a, b in zip(ref_col, our_col, strict=True)
    )
    origin = ref_col[0][0] - our_col[0][0]
    deviation = [a[0] - b[0] - origin for a, b in zip(ref_col, our_col, strict=False)]
    exact = sum(1 for d in deviation if d == 0)
    return {
        "column_commands": len(ref_col),
        "same_bank_row_sequence": same_targets,
        "clock_origin_offset": origin,
        "column_cycles_exact": exact,
        "column_cycles_exact_fraction": round(exact / len(ref_col), 6),
        "max_abs_deviation_cycles": max(abs(d) for d in deviation),
        "final_deviation_cycles": deviation[-1],
        "ref_refreshes": sum(1 for c in ref if c[1] == "REFab"),
        "pimsim_refreshes": sum(1 for c in ours if c[1] == "REFab"),
    }


def _read_arrivals(trace: Path) -> list[int]:
    return [int(line.split()[0]) for line in trace.read_text().splitlines() if " R " in line]


def arrival_sum(trace: Path) -> int:
    return sum(_read_arrivals(trace))


def reads(trace: Path) -> int:
    return len(_read_arrivals(trace))


def ramulator_point(args, trace: Path, work: Path, variant: Variant) -> dict:
    tag = f"r2_{trace.stem}_{variant.tag}"
    cmd_log = work / f"{tag}.cmds"
    cfg = work / f"{tag}.yaml"
    cfg.write_text(
        RAMULATOR_YAML.format(
            trace=trace,
            in_order=str(variant.in_order).lower(),
            cmd_log=cmd_log,
            refresh_off="" if variant.refresh else f", nREFI: {NO_REFRESH_CYCLES}",
        )
    )
    out = run([args.ramulator, "-f", str(cfg)], cwd=work)
    stats = dict(re.findall(r"^\s*(\w+): (-?[\d.]+)\s*$", out, re.M))
    depart = int(re.search(r"last_read_depart (\d+)", out).group(1))
    latency = int(re.search(r"sum_read_depart (\d+)", out).group(1)) - arrival_sum(trace)
    log = command_log_ramulator(Path(f"{cmd_log}.ch0"))
    return {
        "cycles": depart,
        "mean_read_latency_cycles": latency / reads(trace),
        "row_hits": int(stats["row_hits_0"]),
        "row_misses": int(stats["row_misses_0"]),
        "row_conflicts": int(stats["row_conflicts_0"]),
        "commands": dict(Counter(c for _, c, _, _ in log)),
        "_log": log,
    }


def dramsim3_ini(args, work: Path, variant: Variant) -> Path:
    """The reference's own ini with the keys above replaced (read, not copied)."""
    over = {"channel_size": "8192", "address_mapping": "robabgracoch"}
    if variant.in_order:
        over.update(queue_structure="PER_RANK", cmd_queue_size="1")
    if not variant.refresh:
        over["tREFI"] = str(NO_REFRESH_CYCLES)
    lines, section = [], None
    for line in Path(args.dramsim3_ini).read_text().splitlines():
        s = line.strip()
        if s.startswith("["):
            section = s
        key = s.split("=")[0].strip()
        if section in ("[system]", "[timing]") and key in over:
            line = f"{key} = {over.pop(key)}"
        lines.append(line)
    path = work / f"d3_{variant.tag}.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def dramsim3_point(args, trace: Path, work: Path, variant: Variant) -> dict:
    tag = f"d3_{trace.stem}_{variant.tag}"
    out_dir = work / tag
    out_dir.mkdir(exist_ok=True)
    ini = dramsim3_ini(args, work, variant)
    driver = args.dramsim3_cmdtrace_driver or args.dramsim3_driver
    out = run([driver, str(ini), str(trace), str(out_dir) + "/"])
    last = int(re.search(r"last_read_return (\d+)", out).group(1))
    latency = int(re.search(r"sum_read_return (\d+)", out).group(1)) - arrival_sum(trace)
    stats = json.loads((out_dir / "dramsim3.json").read_text())["0"]
    hits = stats["num_read_row_hits"] + stats["num_write_row_hits"]
    counts = {
        "ACT": stats["num_act_cmds"],
        "PRE": stats["num_pre_cmds"],
        "RD": stats["num_read_cmds"],
        "WR": stats["num_write_cmds"],
        "REFab": stats["num_ref_cmds"],
    }
    point = {
        "cycles": last,
        "mean_read_latency_cycles": latency / reads(trace),
        "row_hits": hits,
        "commands": {k: v for k, v in counts.items() if v},
    }
    cmd_trace = out_dir / "dramsim3ch_0cmd.trace"
    if args.dramsim3_cmdtrace_driver and cmd_trace.exists():
        point["_log"] = command_log_dramsim3(cmd_trace)
    return point


def pimsim_point(hw: Path, trace: Path, work: Path, refresh: bool) -> tuple[dict, str, list]:
    dump = work / f"p_{hw.stem}_{trace.stem}{'' if refresh else '_norefresh'}.csv"
    sets = [] if refresh else ["--set", "dram.refresh=none"]
    command = " ".join(
        ["pimsim replay --hw", str(hw.relative_to(REPO)), f"--trace TRACES/{trace.name}", *sets]
    )
    out = run(
        [sys.executable, "-m", "pimsim", "replay", "--hw", str(hw), "--trace", str(trace)]
        + [*sets, "--json", "-", "--dump-commands", "10000000", str(dump)],
        cwd=REPO,
    )
    return json.loads(out), command, command_log_pimsim(dump)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--traces", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--ramulator", required=True)
    p.add_argument("--ramulator-commit", required=True)
    p.add_argument("--dramsim3-driver", required=True)
    p.add_argument("--dramsim3-cmdtrace-driver")
    p.add_argument("--dramsim3-ini", required=True)
    p.add_argument("--dramsim3-commit", required=True)
    p.add_argument("--out", type=Path, default=OUT_JSON)
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    traces = {t: (args.traces / f"{t}.trace").resolve() for t in TRACES}
    hw = {"ramulator2": HW_DIR / "ddr4_2400_ramulator2.yaml"}
    hw["dramsim3"] = HW_DIR / "ddr4_2400_dramsim3.yaml"
    runners = {"ramulator2": ramulator_point, "dramsim3": dramsim3_point}
    points = []
    for name in trace_names(traces):
        for ref in ("ramulator2", "dramsim3"):
            ours_by_refresh = {
                r: pimsim_point(hw[ref], traces[name], args.work, r) for r in (True, False)
            }
            for variant in VARIANTS:
                ours, command, our_log = ours_by_refresh[variant.refresh]
                got = runners[ref](args, traces[name], args.work, variant)
                log = got.pop("_log", None)
                point = {
                    "trace": name,
                    "dram": DRAM,
                    "reference": f"{ref} ({variant.label})",
                    "requests": ours["requests"],
                    **got,
                    "pimsim_cycles": ours["cycles"],
                    "pimsim_row_hits": ours["row_hits"],
                    "pimsim_mean_read_latency_cycles": ours["mean_read_latency_cycles"],
                    "pimsim_commands": ours["commands"],
                    "pimsim_command": command,
                    "ratio": round(ours["cycles"] / got["cycles"], 6),
                }
                if variant.in_order and log is not None:
                    point["command_log_match"] = compare_logs(log, our_log)
                points.append(point)
                print(
                    f"{name:13s} {point['reference']:36s} ref {got['cycles']:>9} "
                    f"pimsim {ours['cycles']:>9} ratio {point['ratio']:.4f} "
                    f"hits {got['row_hits']}/{ours['row_hits']} lat "
                    f"{got['mean_read_latency_cycles']:.1f}/{ours['mean_read_latency_cycles']:.1f}",
                    flush=True,
                )
    references = [
        {
            "name": "ramulator2",
            "commit": args.ramulator_commit,
            "config": CONFIGS["ramulator2", True],
        },
        {
            "name": "ramulator2",
            "commit": args.ramulator_commit,
            "config": CONFIGS["ramulator2", False],
        },
        {"name": "dramsim3", "commit": args.dramsim3_commit, "config": CONFIGS["dramsim3", True]},
        {"name": "dramsim3", "commit": args.dramsim3_commit, "config": CONFIGS["dramsim3", False]},
    ]
    data = {
        "references": references,
        "traces": TRACES_NOTE,
        "points": points,
        "differences": DIFFERENCES,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {args.out}")


def trace_names(traces: dict[str, Path]) -> list[str]:
    missing = [str(p) for p in traces.values() if not p.is_file()]
    if missing:
        sys.exit("missing traces (run make_traces.py): " + ", ".join(missing))
    return list(traces)


TRACES_NOTE = (
    "TRACES = the folder written by `python analysis/validation/make_traces.py TRACES` "
    "(deterministic: seed 2024; 100k 64 B reads each; stream from address 0, random over 8 GiB, "
    "random_paced = the random addresses one every 40 cycles; all others arrive at cycle 0)"
)

# What the runs show (inspected command by command; the numbers are this script's output).
DIFFERENCES = [
    "Scheduling: pimsim serves each channel strictly in order, one request at a time (its "
    "PRE/ACT/column commands in program order, the next request's first command after this "
    "one's column command). Both references default to FR-FCFS-style schedulers over 32-entry "
    "queues (Ramulator 2.0 FRFCFS with an active buffer; DRAMsim3 first-ready per bank queue, "
    "round robin), which open rows in other banks while earlier requests wait and interleave "
    "bank groups: stream 1.20x (Ramulator) / 1.25x (DRAMsim3) and random 5.1x / 5.4x fewer "
    "cycles than pimsim (random: about 6.9 cycles a request, tFAW/tRRD-bound, against about "
    "34 = nRP + nRCD + the command slots in order). These ratios measure scheduling, not timing.",
    "Configured in order (Ramulator: a local in_order switch giving one-request buffers and no "
    "active buffer; DRAMsim3: PER_RANK queue with cmd_queue_size 1), both references issue the "
    "same bank/row command sequence as pimsim for all 100k requests on every trace, and with "
    "refresh off every column command issues at exactly the same cycle (100000 of 100000, after "
    "the clock-origin offset) on all three traces: the DDR4 timing rules agree exactly.",
    "Refresh placement (the only in-order difference; cycles within 0.004% for Ramulator, "
    "0.055% for DRAMsim3, the same refresh counts): the references' refresh is due on their own "
    "clocks at k x tREFI, i.e. pimsim cycle k x tREFI - 1 (Ramulator) or - 2 (DRAMsim3), so a "
    "command pimsim issues just before the due cycle is held behind the refresh in the "
    "reference (or the reverse), shifting the following requests by a few cycles up to one "
    "refresh (max 0.5k-1.2k cycles, back in step later). DRAMsim3 also closes open banks before "
    "a refresh with one PRE per open bank (844 extra PREs on stream, ~6k on random) where "
    "pimsim and Ramulator issue one PREA, which costs it a few cycles per refresh (349 cycles "
    "in all on stream, 472 on random, the clock origin included).",
    "Clock origin: Ramulator counts cycles from 1 and DRAMsim3 issues a request's first command "
    "2 cycles after it is queued, pimsim from 0; reference cycles are therefore 1-2 larger at "
    "equal timing (negligible against >= 4e6 / 6.4e5 cycles).",
    "Row hits agree within a few requests in order (refresh closes rows at slightly different "
    "points); FR-FCFS references find a handful more hits on random (5 / 9 vs 3) and lose a "
    "few on stream (99144 / 99138 vs 99152; DRAMsim3 lets a precharge through after 4 hits "
    "when other requests wait for the bank).",
    "random_paced (one request every 40 cycles) is arrival-bound in every simulator: the cycle "
    "counts agree (ratio 1.0000), but the mean read latency is about 25 cycles higher in-order "
    "(pimsim 89.7 vs Ramulator FR-FCFS 67.5; 97.3 vs DRAMsim3 71.1): after each refresh (nRFC "
    "433/420 cycles) ~11 queued requests drain at ~35 cycles each in order, ~7 with FR-FCFS.",
    "Refresh policy: pimsim runs with refresh_postpone 0 and refresh_pull_in 0 (both "
    "references refresh as soon as due, never postpone or pull in); pimsim's shipped hw "
    "configs postpone up to 8 tREFI to the next row switch, which these numbers do not cover.",
    "Cycles reported = end of the last read's data burst (RD issue + nCL + nBL) in all three.",
    "DDR4-2400 (DDR4_8Gb_x8, one rank, 1 channel) is the compared device: Ramulator 2.0 "
    "(legacy/v2.0a) ships src/dram/impl/GDDR6.cpp but leaves it out of its build, and "
    "DRAMsim3's GDDR6_8Gb_x16.ini is another speed grade (tCK 0.66 ns, bank groups disabled) "
    "than pimsim's GDDR6 preset, so no GDDR6 timing is shared by both references and pimsim. "
    "pimsim reproduces each reference's DDR4 timing with its own rule table "
    "(pimsim/validation/hw/*.yaml; only nRTW differs: 2 for Ramulator, tRTRS 1 for DRAMsim3).",
    "Found on the way (not exercised by DDR4, where nBL = nCCDS = 4): pimsim's GDDR6 rule table "
    "has no channel data-bus occupancy rule (RD->RD, WR->WR >= nBL), so with nBL 8 and nCCDS 4 "
    "plain reads in different bank groups issue every 4 cycles; the AiM simulator's and "
    "Ramulator 2.0's GDDR6 tables both hold the bus nBL cycles (RD/RDA/RDMAC16/RDAF16 and "
    "WR/WRA/WRGB/WRMAC in the AiM table).",
]


if __name__ == "__main__":
    main()
