"""GEMV reference cycle counts from the public SK hynix AiM simulator, next to pimsim's.

The AiM simulator (github.com/arkhadem/aim_simulator, Ramulator 2.0 based) is trace driven: it
reads AiM ISR instructions (``AiM WR_GB ...``, ``AiM MAC_ABK ...``, ``AiM RD_MAC ...``) and
issues the DRAM commands they expand to (WRGB, PREA/ACT16 + MAC16, RDMAC16, WRMAC16, and the
TMOD mode switch between register and bank access). This script

1. writes ISR traces for an R x C GEMV (R output rows, C input length) in the orders that the
   CENT trace generator (github.com/Yufeng98/CENT, cent_simulation, ``--GEMV``) uses for this
   simulator, plus pimsim's own order (see MODES),
2. runs an already-built simulator binary on them (``--binary PATH``; this script does not
   build it) and parses its statistics (total cycles, per-channel command counts),
3. runs ``pimsim gemv`` on the same shape and writes both into one JSON file.

    python analysis/validation/aim_gemv.py --binary /path/to/ramulator2 \\
        --out pimsim/validation/data/aim_simulator_gemv.json

Data layout (CENT's, all modes but ``pimsim-order``): the R output rows are dealt to all banks
of the used channels, ceil(R / (16 * channels)) per bank; output row v of a bank keeps its C
weights in DRAM rows v * ceil(C / 1024) + k (k = input chunk of 1024 BF16 = one 2 KB DRAM row =
64 columns of 32 B). A chunk of n elements is ``op_size`` = ceil(n / 16) columns.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROW_ELEMS = 1024  # BF16 elements per 2 KB DRAM row (= the 2 KB global buffer)
COL_ELEMS = 16  # BF16 elements per 32 B column access
BANKS = 16
MAX_CHANNELS = 32  # the simulator always models 32 channels
REUSE_SIZE = 32  # CENT run_sim.py passes --reuse-size 32 (its utils.py default is 2)

NO_MODE_SWITCH = "MemorySystem.DRAM.timing.nMODCH=0"  # -p override of the simulator

MODES = {
    "no-reuse": (
        "CENT --GEMV no-reuse (its default): for every input chunk, WR_GB the chunk once; then "
        "for every output row of a bank: WR_BIAS (reload the partial sum), MAC_ABK op_size "
        "(one new DRAM row per output row), RD_MAC. Two TMOD mode switches per output row."
    ),
    "reuse-GB": (
        "CENT --GEMV reuse-GB (what CENT's run_sim.py uses, reuse size 32): for every input "
        "chunk, WR_GB once; then per group of up to 32 output rows: WR_BIAS x g, MAC_ABK x g, "
        "RD_MAC x g (two TMOD switches per group instead of per output row)."
    ),
    "reuse-bank": (
        "CENT --GEMV reuse-bank (listed by CENT's argparse, not implemented there; defined "
        "here as its help text says: keep the accumulators, rewrite the global buffer): per "
        "group of up to 32 output rows: WR_BIAS x g, then for every input chunk WR_GB the "
        "chunk and MAC_ABK x g; finally RD_MAC x g. The input is written once per group (a "
        "single chunk only once). pimsim's counterpart: pim.result_registers=32."
    ),
    "pimsim-order": (
        "pimsim's command order on the simulator: for every input chunk WR_GB once, then for "
        "every output-row segment MAC_ABK op_size then RD_MAC (no WR_BIAS: partial sums are "
        "added outside); short chunks pack 64 // op_size segments per DRAM row as pimsim's "
        "plan_gemv does (consecutive MAC_ABKs then hit the open row)."
    ),
}

CONFIG = """\
Frontend:
  impl: AiMTrace
  clock_ratio: 1
  Translation:
    impl: NoTranslation
    max_addr: 2147483648
MemorySystem:
  impl: AiMDRAM
  clock_ratio: 1
  DRAM:
    impl: GDDR6
    org:
      preset: GDDR6_AiM_org
    timing:
      preset: GDDR6_AiM_timing
  Controller:
    impl: AiM
    clock_ratio: 1
    Scheduler:
      impl: FRFCFS
    RefreshManager:
      impl: AllBank
    plugins:
  AddrMapper:
    impl: RoBaRaCoCh
"""


def channel_mask(channels: int) -> str:
    """Mask of channels 0..channels-1 (the simulator maps bit 31 to channel 0)."""
    bits = 0
    for c in range(channels):
        bits |= 1 << (MAX_CHANNELS - 1 - c)
    return hex(bits)


def chunk_sizes(cols: int) -> list[int]:
    """op_size (columns) of each input chunk."""
    return [
        math.ceil(min(ROW_ELEMS, cols - start) / COL_ELEMS) for start in range(0, cols, ROW_ELEMS)
    ]


def gemv_trace(rows: int, cols: int, channels: int, mode: str, reuse: int = REUSE_SIZE) -> str:
    """The ISR trace of one R x C GEMV on `channels` channels in order `mode`."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} not in {sorted(MODES)}")
    mask = channel_mask(channels)
    ops = chunk_sizes(cols)
    n_chunks = len(ops)
    per_bank = math.ceil(rows / (BANKS * channels))
    # groups of at most `reuse` output rows, sizes balanced as CENT does (ceil(n / groups) each)
    n_groups = math.ceil(per_bank / reuse)
    size = math.ceil(per_bank / n_groups)
    groups = [range(g, min(per_bank, g + size)) for g in range(0, per_bank, size)]

    def row(v: int, k: int) -> int:  # CENT layout
        return v * n_chunks + k

    out = [f"# GEMV {rows} x {cols}, {channels} channel(s), mode {mode}"]
    wr_gb = lambda k: out.append(f"AiM WR_GB {ops[k]} 0 {mask}")  # noqa: E731
    wr_bias = lambda: out.append(f"AiM WR_BIAS 0 {mask}")  # noqa: E731
    mac = lambda k, r: out.append(f"AiM MAC_ABK {ops[k]} {mask} {r}")  # noqa: E731
    rd_mac = lambda: out.append(f"AiM RD_MAC 0 {mask}")  # noqa: E731
    if mode == "no-reuse":
        for k in range(n_chunks):
            wr_gb(k)
            for v in range(per_bank):
                wr_bias()
                mac(k, row(v, k))
                rd_mac()
    elif mode == "reuse-GB":
        for k in range(n_chunks):
            wr_gb(k)
            for grp in groups:
                for _ in grp:
                    wr_bias()
                for v in grp:
                    mac(k, row(v, k))
                for _ in grp:
                    rd_mac()
    elif mode == "reuse-bank":
        for g, grp in enumerate(groups):
            for _ in grp:
                wr_bias()
            for k in range(n_chunks):
                if g == 0 or n_chunks > 1:  # a single chunk stays in the buffer (as in pimsim)
                    wr_gb(k)
                for v in grp:
                    mac(k, row(v, k))
            for _ in grp:
                rd_mac()
    else:  # pimsim-order, with pimsim's row packing (pimsim.gemv.plan_gemv)
        first = 0
        for k in range(n_chunks):
            slots = ROW_ELEMS // COL_ELEMS // ops[k]
            wr_gb(k)
            for s in range(per_bank):
                mac(k, first + s // slots)
                rd_mac()
            first += math.ceil(per_bank / slots)
    out.append("AiM EOC")
    return "\n".join(out) + "\n"


def parse_stats(text: str, channels: int) -> dict:
    """Total cycles and the command counts summed over the used channels."""
    m = re.search(r"memory_system_cycles:\s*(\d+)", text)
    if not m:
        raise RuntimeError("no memory_system_cycles in the simulator output:\n" + text[-2000:])
    counts: dict[str, int] = {}
    for ch, cmd, n in re.findall(r"CH(\d+)_num_(\w+?)_commands:\s*(\d+)", text):
        if int(ch) < channels and int(n):
            counts[cmd] = counts.get(cmd, 0) + int(n)
    isr = {
        name: int(n)
        for name, n in re.findall(r"total_num_AiM_ISR_(\w+?)_requests:\s*(\d+)", text)
        if int(n)
    }
    return {"cycles": int(m.group(1)), "commands": counts, "isr": isr}


def run_reference(binary: str, trace: str, channels: int, params: list[str] = ()) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg, tr = Path(tmp, "aim.yaml"), Path(tmp, "gemv.trace")
        cfg.write_text(CONFIG)
        tr.write_text(trace)
        cmd = [binary, "-f", str(cfg), "-t", str(tr)]
        for p in params:
            cmd += ["-p", p]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        return parse_stats(proc.stdout + proc.stderr, channels)


def pimsim_command(rows: int, cols: int, channels: int, refresh: str | None, extra=()) -> list:
    cmd = ["pimsim", "gemv", "--hw", "gddr6_aim", "--rows", str(rows), "--cols", str(cols)]
    cmd += ["--set", f"dram.channels={channels}"]
    if refresh:
        cmd += ["--set", f"dram.refresh={refresh}"]
    for e in extra:
        cmd += ["--set", e]
    return cmd


def run_pimsim(rows, cols, channels, refresh=None, extra=()) -> tuple[dict, str]:
    cmd = pimsim_command(rows, cols, channels, refresh, extra)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "out.json")
        subprocess.run(cmd + ["--json", str(out)], check=True, capture_output=True, text=True)
        data = json.loads(out.read_text())
    return data, " ".join(cmd)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True, help="path of the built ramulator2 (AiM) binary")
    ap.add_argument("--commit", default="unknown", help="simulator commit of the binary")
    ap.add_argument("--built", default="unknown", help="build date and compiler (for the record)")
    ap.add_argument(
        "--shapes",
        default="256x256,512x1536,1024x1024,4096x1024,4096x4096,2048x8192",
        help="comma-separated ROWSxCOLS",
    )
    ap.add_argument("--channels", default="1,32")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--no-pimsim", action="store_true", help="reference numbers only")
    ap.add_argument("--write-traces", metavar="DIR", help="also keep the generated traces here")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    channel_list = [int(c) for c in args.channels.split(",")]
    modes = args.modes.split(",")
    points = []
    pim_cache: dict = {}
    for rows, cols in shapes:
        for ch in channel_list:
            if not args.no_pimsim:
                key = (rows, cols, ch)
                pim_cache[key] = {
                    "refresh_none": run_pimsim(rows, cols, ch, "none"),
                    "refresh_preset": run_pimsim(rows, cols, ch, None),
                }
            for mode in modes:
                trace = gemv_trace(rows, cols, ch, mode)
                if args.write_traces:
                    Path(args.write_traces).mkdir(parents=True, exist_ok=True)
                    Path(args.write_traces, f"gemv_{rows}x{cols}_{ch}ch_{mode}.trace").write_text(
                        trace
                    )
                ref = run_reference(args.binary, trace, ch)
                # the same trace with the mode-switch delay (TMOD -> any command) set to 0
                ref0 = run_reference(args.binary, trace, ch, [NO_MODE_SWITCH])
                rec = {
                    "rows": rows,
                    "cols": cols,
                    "channels": ch,
                    "mode": mode,
                    "mode_description": MODES[mode],
                    "trace": (
                        "analysis/validation/aim_gemv.py gemv_trace("
                        f"rows={rows}, cols={cols}, channels={ch}, mode='{mode}', "
                        f"reuse={REUSE_SIZE}); {len(trace.splitlines()) - 1} ISRs"
                    ),
                    "cycles": ref["cycles"],
                    "tCK_ns": 0.5,
                    "commands": ref["commands"],
                    "isr": ref["isr"],
                    "refresh": "off",
                    "cycles_nMODCH_0": ref0["cycles"],
                    "simulator_override_nMODCH_0": NO_MODE_SWITCH,
                }
                if not args.no_pimsim:
                    pim, pcmd = pim_cache[(rows, cols, ch)]["refresh_none"]
                    pim_r, pcmd_r = pim_cache[(rows, cols, ch)]["refresh_preset"]
                    rec.update(
                        pimsim_cycles=pim["cycles"],
                        pimsim_command=pcmd,
                        pimsim_commands={k: v for k, v in pim["commands_by_type"].items() if v},
                        ratio=round(pim["cycles"] / ref["cycles"], 4),
                        pimsim_cycles_refresh_preset=pim_r["cycles"],
                        pimsim_command_refresh_preset=pcmd_r,
                        ratio_refresh_preset=round(pim_r["cycles"] / ref["cycles"], 4),
                    )
                if not args.no_pimsim and mode == "reuse-bank":
                    key = (rows, cols, ch, "grouped")
                    if key not in pim_cache:
                        pim_cache[key] = run_pimsim(
                            rows, cols, ch, "none", [f"pim.result_registers={REUSE_SIZE}"]
                        )
                    pim_g, pcmd_g = pim_cache[key]
                    rec.update(
                        pimsim_cycles_output_stationary=pim_g["cycles"],
                        pimsim_command_output_stationary=pcmd_g,
                        pimsim_commands_output_stationary={
                            k: v for k, v in pim_g["commands_by_type"].items() if v
                        },
                        ratio_output_stationary=round(pim_g["cycles"] / ref["cycles"], 4),
                    )
                points.append(rec)
                print(
                    f"{rows}x{cols} {ch:2d}ch {mode:13s} ref {ref['cycles']:9d}"
                    + f" (nMODCH 0: {ref0['cycles']:9d})"
                    + (
                        ""
                        if args.no_pimsim
                        else f"  pimsim {rec['pimsim_cycles']:9d}  ratio {rec['ratio']:.3f}"
                    ),
                    flush=True,
                )
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head = "unknown"
    doc = {
        "reference": "arkhadem/aim_simulator",
        "pimsim_revision": head,
        "commit": args.commit,
        "built": args.built,
        "generated": dt.date.today().isoformat(),
        "points": points,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else [{}]
    old = old[0] if isinstance(old, list) and old else {}
    for key, value in old.items():  # keep the hand-written notes when regenerating numbers
        doc.setdefault(key, value)
    Path(args.out).write_text(json.dumps([doc], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
