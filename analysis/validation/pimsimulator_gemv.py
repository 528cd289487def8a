"""Reference numbers from Samsung's PIMSimulator (DRAMSim2-based HBM-PIM model) beside pimsim.

This script does not build or contain any of PIMSimulator. It drives an already-built test
driver linked against PIMSimulator (path given with --driver), parses the simulator's own
command trace, runs pimsim on the same shapes, and writes
pimsim/validation/data/samsung_pimsimulator.json.

Driver contract (the binary is built outside this repository):

    DRIVER gemv   DEV_INI SYS_INI MEGS PIM_CHANS OUT_DIM IN_DIM READBACK TRACE
        PIMKernel::executeGemv(weights OUT_DIM x IN_DIM, batch 1, is_tree=false) on PIM_CHANS
        channels of one rank, then (READBACK=1) PIMKernel::readResult of the OUT_DIM result
        bursts from the odd banks, exactly as PIMKernelFixture.gemv does; then runPIM().
    DRIVER stream DEV_INI SYS_INI MEGS read|write N TRACE [seq|bg_first]
        N plain 32 B transactions, as MemBandwidthFixture generates them (seq: consecutive
        addresses), or with the bank group as the fastest-changing field (bg_first).
    Both print "RESULT cycles=... channels=... ranks=... ctrl_reads=... ctrl_writes=...";
    with TRACE=1 the simulator's SHOW_SIM_OUTPUT + DEBUG_CMD_TRACE lines come first.

Cycles are PIMSimulator's own count: memory-system update() calls (tCK = 1 ns, CPU clock =
DRAM clock) until no transaction is pending, as PIMKernel::runPIM / PIMBenchFixture count.

    python analysis/validation/pimsimulator_gemv.py --driver /path/ref_driver \
        --sim-dir /path/PIMSimulator --commit HASH --built "DATE, COMPILER" \
        --out pimsim/validation/data/samsung_pimsimulator.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DEV_INI = "ini/HBM2_samsung_2M_16B_x64.ini"
SYS_INI = {1: "system_hbm_1ch.ini", 16: "system_hbm.ini", 64: "system_hbm_64ch.ini"}
MEGS_PER_CHANNEL_PIM = 512  # PIMBench / PIMKernel tests: 256 * 64 * 2 MB over 64 channels
MEGS_PER_CHANNEL_MEM = 256  # MemBandwidthFixture: 256 * 16 MB over 16 channels
SHAPES = [(4096, 1024), (1024, 4096), (4096, 4096), (2048, 2048), (8192, 1024)]
T_CCDL = 4  # PIMSimulator ini tCCDL: the all-bank MAC cadence

# --------------------------------------------------------------------------- trace parsing
# Lines printed by Rank (timestamp = the rank's cycle) and by PIMRank (its clock is stepped
# before the controller delivers the command in the same update(), so its stamp is one more).
_ACT = re.compile(r"^ACTIVATE ch(\d+) ra(\d+) bg\d+ b(\d+) r(\d+) c\d+ @(\d+) tag : (.*)$")
_PRE = re.compile(r"^PRECHARGE ch(\d+) ra(\d+) bg\d+ b(\d+) r\d+ @(\d+)$")
_REF = re.compile(r"^REF ch(\d+) ra(\d+) @(\d+)$")
_HAB = re.compile(r"^HAB ch(\d+) ra(\d+) @(\d+) tag")
_SB = re.compile(r"^SB mode ch(\d+) ra(\d+) @(\d+)$")
_PIM = re.compile(
    r"^(READ|WRITE) ch(\d+) ra(\d+) bg\d+ b(\d+) r(\d+) c(\d+)\|\| \[\d+\] (\S+).* @ (\d+)$"
)
_COL = re.compile(
    r"^(READ|WRITE|BANK_TO_PIM|PIM_TO_BANK) ch(\d+) ra(\d+) bg\d+ b(\d+) r(\d+) c(\d+) @(\d+)$"
)
_REG = re.compile(r"^(BWRITE_GRF_A|BWRITE_GRF_B|BWRITE_CRF|BWRITE_SRF) ch(\d+) ra(\d+) \S+ @(\d+)$")
_CTL = re.compile(r"^(HAB_PIM|HAB mode) ch(\d+) ra(\d+) @(\d+)$")
_RESULT = re.compile(r"^RESULT (.*)$")

# event kinds: row/refresh commands and column commands (every RD / WR on the bus)
ROW_KINDS = {"ACT", "PRE", "REF"}


def parse_trace(text: str):
    """Per-channel event lists (time, kind, bank, row) and the RESULT fields."""
    events = collections.defaultdict(list)
    mode = collections.defaultdict(lambda: "SB")
    result = {}
    for line in text.splitlines():
        if line.startswith("RESULT "):
            result = {k: int(v) for k, v in (f.split("=") for f in line[7:].split())}
            continue
        m = _PIM.match(line)
        if m:
            rw, ch, _ra, bank, row, _col, instr, t = m.groups()
            if instr == "JUMP":  # a JUMP is taken on the same column command as the next op
                continue
            if rw == "READ":
                kind = "MAC" if instr == "MAC" else "PIM_RD_" + instr
            else:
                kind = "GRFB_TO_BANK" if instr == "NOP" else "PIM_WR_" + instr
            events[int(ch)].append((int(t) - 1, kind, int(bank), int(row)))
            continue
        m = _ACT.match(line)
        if m:
            ch, _ra, bank, row, t, tag = m.groups()
            events[int(ch)].append((int(t), "ACT", int(bank), int(row)))
            continue
        m = _PRE.match(line)
        if m:
            ch, _ra, bank, t = m.groups()
            events[int(ch)].append((int(t), "PRE", int(bank), -1))
            continue
        m = _REF.match(line)
        if m:
            ch, ra, t = m.groups()
            events[int(ch)].append((int(t), "REF" if ra == "0" else "REF_OTHER_RANK", -1, -1))
            continue
        m = _COL.match(line)
        if m:
            rw, ch, _ra, bank, row, _col, t = m.groups()
            ch, row = int(ch), int(row)
            pim_printed = mode[ch] != "SB"
            is_read = rw in ("READ", "BANK_TO_PIM")
            if row in (0x17FF, 0x1FFF):
                kind = "MODE_SEQ_WR" if not is_read else "MODE_SEQ_RD"
            elif row == 4096 and is_read and mode[ch] == "SB":
                kind = "PARK_RD"
            else:
                kind = ("RD" if is_read else "WR") + ("" if mode[ch] == "SB" else "_HAB")
            events[ch].append((int(t) - pim_printed, kind, int(bank), row))
            continue
        m = _REG.match(line)
        if m:
            what, ch, _ra, t = m.groups()
            kind = {
                "BWRITE_GRF_A": "WRGB",
                "BWRITE_GRF_B": "WRGB_B",
                "BWRITE_CRF": "CRF_WR",
                "BWRITE_SRF": "SRF_WR",
            }[what]
            events[int(ch)].append((int(t) - 1, kind, 1, 0x3FFF))
            continue
        m = _CTL.match(line)
        if m:
            what, ch, _ra, t = m.groups()
            kind = "PIM_ON_WR" if what == "HAB_PIM" else "PIM_OFF_WR"
            events[int(ch)].append((int(t) - 1, kind, 0, 0x3FFF))
            mode[int(ch)] = "HAB_PIM" if what == "HAB_PIM" else "HAB"
            continue
        m = _HAB.match(line)
        if m:
            ch, _ra, t = m.groups()
            events[int(ch)].append((int(t), "SB_TO_HAB", -1, -1))
            mode[int(ch)] = "HAB"
            continue
        m = _SB.match(line)
        if m:
            ch, _ra, t = m.groups()
            events[int(ch)].append((int(t), "HAB_TO_SB", -1, -1))
            mode[int(ch)] = "SB"
            continue
    for ch in events:
        events[ch].sort(key=lambda e: e[0])
    return events, result


MARKERS = {"SB_TO_HAB", "HAB_TO_SB"}  # mode changes seen by the rank, not commands
# PIMSimulator's column commands that read / write the bus
READ_COMMANDS = ("MAC", "RD", "RD_HAB", "PARK_RD", "MODE_SEQ_RD")
WRITE_COMMANDS = (
    "WRGB",
    "WRGB_B",
    "CRF_WR",
    "SRF_WR",
    "GRFB_TO_BANK",
    "PIM_ON_WR",
    "PIM_OFF_WR",
    "MODE_SEQ_WR",
    "WR",
    "WR_HAB",
)


def command_counts(events) -> dict:
    """Bus commands over all channels, by kind, plus RD / WR totals."""
    c = collections.Counter(e[1] for evs in events.values() for e in evs if e[1] not in MARKERS)
    reads = sum(v for k, v in c.items() if k in READ_COMMANDS or k.startswith("PIM_RD_"))
    writes = sum(v for k, v in c.items() if k in WRITE_COMMANDS or k.startswith("PIM_WR_"))
    out = dict(sorted(c.items()))
    out["RD_total"] = reads
    out["WR_total"] = writes
    return out


# --------------------------------------------------------------------------- attribution
CATEGORY_OF_NEXT = {
    "WRGB": "buffer_fill",
    "GRFB_TO_BANK": "result_out",
    "RDMAC": "result_out",
    "RD": "result_out",
    "PIM_ON_WR": "mode_switch",
    "PIM_OFF_WR": "mode_switch",
    "MODE_SEQ_WR": "mode_switch",
    "MODE_SEQ_RD": "mode_switch",
    "CRF_WR": "mode_switch",
    "PARK_RD": "park",
}


def attribute(evs, end: int, col_kinds: set, mac_kind: str, ref_kinds: set, row_kinds: set):
    """Split [0, end) into the gaps before each column command of one channel, by cause.

    A gap containing a refresh is 'refresh'; a gap before a MAC is 'mac_stream' when the MAC
    follows a MAC with no row command between (tCCD_L pacing included), 'mac_row_switch' when
    a precharge / activate came between, 'buffer_to_mac' after anything else (buffer writes:
    the write-to-read turnaround); other gaps are named after the command they end in.
    """
    phases = collections.Counter()
    prev_t, prev_kind = 0, None
    saw_row, saw_ref = False, False
    for t, kind, _b, _r in evs:
        if kind in ref_kinds:
            saw_ref = True
            continue
        if kind in row_kinds:
            saw_row = True
            continue
        if kind not in col_kinds:
            continue
        gap = t - prev_t
        if saw_ref:
            cat = "refresh"
        elif kind == mac_kind:
            if prev_kind == mac_kind:
                cat = "mac_row_switch" if saw_row else "mac_stream"
            else:
                cat = "buffer_to_mac"
        else:
            cat = CATEGORY_OF_NEXT.get(kind, "other_" + kind)
        phases[cat] += gap
        prev_t, prev_kind = t, kind
        saw_row = saw_ref = False
    phases["refresh" if saw_ref else "tail"] += end - prev_t
    return dict(sorted(phases.items()))


REF_COL = set(READ_COMMANDS) | set(WRITE_COMMANDS)  # every column command


def ref_phases(evs, end: int) -> dict:
    """Cause split plus the kernel's sections on one channel (channel 0)."""
    phases = attribute(evs, end, REF_COL, "MAC", {"REF"}, {"ACT", "PRE"})
    on = [t for t, k, *_ in evs if k == "PIM_ON_WR"]
    off = [t for t, k, *_ in evs if k == "PIM_OFF_WR"]
    sb = [t for t, k, *_ in evs if k == "HAB_TO_SB"]
    macs = [t for t, k, *_ in evs if k == "MAC"]
    sections = {}
    if on and off:
        sections["setup_parkin_sb2hab_crf"] = on[0]
        sections["pim_tiles"] = off[-1] - on[0]
        park_out = [t for t, k, *_ in evs if k == "PARK_RD" and sb and t > sb[-1]]
        teardown_end = park_out[-1] if park_out else (sb[-1] if sb else off[-1])
        sections["hab2sb_parkout"] = teardown_end - off[-1]
        sections["after_parkout_readback_and_drain"] = end - teardown_end
        sections["output_tiles"] = len(on)
    sections["ideal_mac_cycles"] = len(macs) * T_CCDL
    sections["refreshes_rank0"] = sum(1 for e in evs if e[1] == "REF")
    return {"by_cause": phases, "sections": sections}


# --------------------------------------------------------------------------- runs
def run_driver(driver: Path, args: list[str], cwd: Path) -> str:
    proc = subprocess.run([str(driver), *args], cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout


def no_refresh_ini(sim_dir: Path, tmp: Path) -> Path:
    """The device ini with tREFI raised past any run here (a diagnostic, not a shipped config)."""
    text = (sim_dir / DEV_INI).read_text()
    text = re.sub(r"(?m)^tREFI=\d+", "tREFI=1000000000", text)
    path = tmp / "HBM2_samsung_2M_16B_x64_norefresh.ini"
    path.write_text(text)
    return path


def ref_gemv(driver, sim_dir, dev_ini, channels, rows, cols, readback, tmp, trace=True):
    sys_ini = sim_dir / SYS_INI[channels]
    out = run_driver(
        driver,
        [
            "gemv",
            str(dev_ini),
            str(sys_ini),
            str(MEGS_PER_CHANNEL_PIM * channels),
            str(channels),
            str(rows),
            str(cols),
            str(int(readback)),
            str(int(trace)),
        ],
        tmp,
    )
    return parse_trace(out)


def pimsim_gemv(rows, cols, channels, extra=(), dump=None):
    """pimsim CLI run; returns (report json, command string, dumped command log or None)."""
    sets = [f"dram.channels={channels}", *extra]
    cmd = ["pimsim", "gemv", "--hw", "hbm_pim", "--rows", str(rows), "--cols", str(cols)]
    for s in sets:
        cmd += ["--set", s]
    with tempfile.TemporaryDirectory() as d:
        js = Path(d) / "out.json"
        full = [sys.executable, "-m", "pimsim", *cmd[1:], "--json", str(js)]
        if dump:
            full += ["--dump-commands", str(dump), str(Path(d) / "cmds.csv")]
        subprocess.run(full, check=True, capture_output=True, text=True)
        report = json.loads(js.read_text())
        log = None
        if dump:
            import pandas as pd

            frame = pd.read_csv(Path(d) / "cmds.csv")
            frame = frame[frame["channel"] == 0]
            log = [(int(r.cycle), str(r.cmd), int(r.bank), int(r.row)) for r in frame.itertuples()]
    return report, " ".join(cmd), log


PIMSIM_COL = {"MAC16", "WRGB", "RDMAC", "RD", "WR", "MAC"}


def pimsim_phases(log, end):
    log = sorted(log, key=lambda e: e[0])
    remap = [(t, {"MAC16": "MAC"}.get(k, k), b, r) for t, k, b, r in log]
    return attribute(
        remap,
        end,
        {"MAC", "WRGB", "RDMAC", "RD", "WR"},
        "MAC",
        {"REFab", "REFpb"},
        {"ACT", "ACT4", "ACT16", "PRE", "PRE4", "PREA"},
    )


def pimsim_stream(channels_rd: bool, n: int, order: str, refresh: bool = True):
    """pimsim's controller serving the same per-channel burst sequence as the reference."""
    from pimsim.config import load_hw
    from pimsim.core.commands import Cmd
    from pimsim.dram.channel import ChannelModel

    sets = ["dram.channels=1"] + ([] if refresh else ["dram.refresh=none"])
    hw = load_hw("hbm_pim", sets)
    cmd = Cmd.RD if channels_rd else Cmd.WR
    reqs = []
    for k in range(n):
        if order == "seq":  # Scheme8: bank, then bank group, column, row
            bank, bg = k % 4, (k // 4) % 4
        else:
            bg, bank = k % 4, (k // 4) % 4
        reqs.append((cmd, bg * 4 + bank, k // 512, (k // 16) % 32))
    run = ChannelModel(hw).run_requests(reqs)
    counts = {k: v for k, v in run.command_counts.items() if v}
    return run.end_cycle, counts


def gemv_points(driver, sim_dir, tmp, quick):
    shapes = SHAPES[:2] if quick else SHAPES
    nr_ini = no_refresh_ini(sim_dir, tmp)
    points = []
    for channels in (1, 64):
        for rows, cols in shapes:
            print(f"gemv {rows}x{cols} on {channels} ch", file=sys.stderr)
            ev, res = ref_gemv(driver, sim_dir, sim_dir / DEV_INI, channels, rows, cols, False, tmp)
            ev_rb, res_rb = ref_gemv(
                driver, sim_dir, sim_dir / DEV_INI, channels, rows, cols, True, tmp
            )
            _ev_nr, res_nr = ref_gemv(
                driver, sim_dir, nr_ini, channels, rows, cols, False, tmp, trace=False
            )
            counts = command_counts(ev)
            assert counts["RD_total"] == res["ctrl_reads"], (counts, res)
            assert counts["WR_total"] == res["ctrl_writes"], (counts, res)
            per_ch = -(-rows // channels)
            capacity = int(per_ch * -(-cols // 16) * 1.3) + 20000  # every command of a channel
            rep, pcmd, plog = pimsim_gemv(rows, cols, channels, dump=capacity)
            rep_nr, _, _ = pimsim_gemv(rows, cols, channels, extra=["dram.refresh=none"])
            x = res["cycles"]
            y = rep["cycles"]
            points.append(
                {
                    "kind": "gemv",
                    "rows": rows,
                    "cols": cols,
                    "channels": channels,
                    "ranks_per_channel": res["ranks"],
                    "cycles": x,
                    "cycles_definition": "PIMKernel::executeGemv + runPIM (PIMBenchFixture): "
                    "parkIn, SB->HAB, CRF, per output tile HAB->HAB_PIM, MACs, GRFB_TO_BANK, "
                    "HAB_PIM->HAB; HAB->SB, parkOut; results left in the banks",
                    "cycles_with_readback": res_rb["cycles"],
                    "cycles_with_readback_definition": "as PIMKernelFixture.gemv: executeGemv + "
                    "readResult (one plain RD per output row from the odd banks) in one runPIM",
                    "cycles_no_refresh": res_nr["cycles"],
                    "tCK_ns": 1.0,
                    "commands": counts,
                    "commands_with_readback": command_counts(ev_rb),
                    "phases": ref_phases(ev[0], x),
                    "phases_with_readback": ref_phases(ev_rb[0], res_rb["cycles"]),
                    "pimsim_cycles": y,
                    "pimsim_command": pcmd,
                    "pimsim_commands": {k: v for k, v in rep["commands_by_type"].items() if v},
                    "pimsim_phases": pimsim_phases(plog, y),
                    "pimsim_cycles_no_refresh": rep_nr["cycles"],
                    "pimsim_command_no_refresh": pcmd + " --set dram.refresh=none",
                    "ratio": round(y / x, 4),
                    "ratio_with_readback": round(y / res_rb["cycles"], 4),
                    "ratio_no_refresh": round(rep_nr["cycles"] / res_nr["cycles"], 4),
                }
            )
    return points


def stream_points(driver, sim_dir, tmp, quick):
    points = []
    cases = [(1, 1024), (1, 16384)] if quick else [(1, 1024), (1, 16384), (1, 65536)]
    runs = [
        (ch, n, rw, order)
        for ch, n in cases
        for rw in ("read", "write")
        for order in ("seq", "bg_first")
    ]
    # the shipped MemBandwidthFixture cases: 16 channels, 8 MB of reads, 16 MB of writes
    runs += [(16, 262144, "read", "seq"), (16, 524288, "write", "seq")]
    for channels, n, rw, order in runs:
        print(f"{rw} stream {n} on {channels} ch ({order})", file=sys.stderr)
        sys_ini = sim_dir / SYS_INI[channels]
        out = run_driver(
            driver,
            [
                "stream",
                str(sim_dir / DEV_INI),
                str(sys_ini),
                str(MEGS_PER_CHANNEL_MEM * channels),
                rw,
                str(n),
                "1" if n <= 65536 else "0",
                order,
            ],
            tmp,
        )
        ev, res = parse_trace(out)
        per_channel = n // channels
        y, pcounts = pimsim_stream(rw == "read", per_channel, order)
        y_nr, _ = pimsim_stream(rw == "read", per_channel, order, refresh=False)
        counts = (
            command_counts(ev)
            if ev
            else {"RD_total": res["ctrl_reads"], "WR_total": res["ctrl_writes"]}
        )
        points.append(
            {
                "kind": "read_stream" if rw == "read" else "write_stream",
                "bursts": n,
                "bytes": n * 32,
                "address_order": order,
                "channels": channels,
                "ranks_per_channel": res["ranks"],
                "cycles": res["cycles"],
                "cycles_definition": "MemBandwidthFixture: all transactions queued at cycle 0, "
                "update() until none is pending (last read data returned / write data sent)",
                "tCK_ns": 1.0,
                "commands": counts,
                "pimsim_cycles": y,
                "pimsim_command": "ChannelModel(load_hw('hbm_pim', ['dram.channels=1']))"
                f".run_requests({per_channel} x ({'RD' if rw == 'read' else 'WR'}, bank, row, col)"
                f" in the reference's per-channel {order} order); channels are independent",
                "pimsim_commands": pcounts,
                "pimsim_cycles_no_refresh": y_nr,
                "ratio": round(y / res["cycles"], 4),
            }
        )
    return points


DIFFERENCES = [
    "Measured mechanism costs (reference trace, channel 0, gaps between consecutive column "
    "commands; tCK = 1 ns): MAC->MAC 4 (tCCD_L; banks 0 and 1 share bank group 0); MAC->MAC "
    "across a row switch 31 (READ_TO_PRE 3 + tRP 14 + tRCDRD 14); MAC->WRGB 15 "
    "(READ_TO_WRITE_DELAY = RL + BL/2 + tRTRS - WL) on even tiles, 27 on odd tiles (PRE/ACT "
    "of the odd bank's row 0x3fff: 3 + 14 + tRCDWR 10); WRGB->WRGB 4 (tCCD_L); WRGB->MAC 19 "
    "(WRITE_TO_READ_DELAY_B_LONG = WL + BL/2 + tWTRL) on even tiles, 54 on odd tiles "
    "(WRITE_TO_PRE 26 + tRP 14 + tRCDRD 14). One input tile of one output tile is therefore "
    "341 cycles on even banks and 388 on odd banks (64 MACs = 256 ideal); pimsim's (group, "
    "chunk) visit is 289 (63 x 4 + MAC->PREA 5 + tRP 14 + 1 + 7 WRGB x 2 + WRGB->MAC 3). "
    "(341 + 388) / 2 / 289 = 1.26 is the bulk of the 1-channel ratio (pimsim / reference "
    "about 0.79-0.81); refresh and the per-output-tile write-back explain the rest.",
    "Kernel sections pimsim does not model: parkIn/parkOut (one SB-mode RD of row 4096 in "
    "each of the 16 banks before and after the kernel, each needing ACT and PRE), SB->HAB "
    "(ACT + WR to row 0x17ff of banks 0, 1, 8, 9), CRF programming (WR to row 0x3fff col "
    "4..7 of bank 1; one WR for the 5-instruction GEMV program), HAB->SB (ACT + WR + PRE to "
    "row 0x1fff of banks 0 and 1). Measured: 167 cycles from cycle 0 to the first "
    "HAB->HAB_PIM write and 173 cycles from the last HAB_PIM->HAB write to the last parkOut "
    "read, the same on 1 and 64 channels (phases.sections). A pimsim option "
    "`pim.mode_switch: pimsimulator` would issue these as ordinary ACT/RD/WR/PRE commands "
    "(bank-scoped, SB timing) before an operator's first PIM command and after its last.",
    "Per output tile (8 GRF_B rows per PIM unit) the reference writes row 0x3fff col 0 of "
    "bank 0 to enter HAB_PIM (resets the CRF PC, zeroes GRF_B), and after the tile's last MAC "
    "moves the 8 GRF_B registers to a DRAM row of the odd banks (GRFB_TO_BANK: PRE/ACT + 8 WR "
    "at tCCD_L; the CRF's NOP makes the WR store GRF_B) and writes row 0x3fff again to leave "
    "HAB_PIM. Measured: MAC->first GRFB_TO_BANK 27, 7 x 4, ->HAB 11, HAB->HAB_PIM 4, ->first "
    "WRGB 35: about 105 cycles per output tile, where pimsim issues 8 RDMAC bursts (tCCD_S "
    "apart, nMACRES = 4 after the last MAC, about 20 cycles). To reproduce: "
    "`pim.result_path: write_back`, replacing a group's RDMACs by an ACT of a result row "
    "(odd banks), result_registers WRs at nCCDL, and two register WRs (mode off / on) that "
    "need row 0x3fff open in bank 0, the host then reading the results with plain RDs after "
    "the kernel (next item).",
    "Result delivery: the reference's kernel leaves the results in the banks "
    "(cycles = PIMBenchFixture's count). PIMKernelFixture.gemv then reads them with plain "
    "SB-mode RDs (readResult: one 32 B burst per output row, from the 8 odd banks of each "
    "channel, after parkOut), about 2.1 cycles per burst (cycles_with_readback). pimsim's "
    "RDMAC reads are its equivalent and are already inside its GEMV, so ratio_with_readback "
    "is the like-for-like ratio for the whole operation.",
    "Input buffer writes (WRGB = BWRITE_GRF_A): in the reference they are ordinary WRITEs to "
    "row 0x3fff of bank 1, so the controller must ACTivate that row (in HAB mode on all odd "
    "banks) and precharge it again, they are spaced tCCD_L = 4, and the data-bus turnarounds "
    "of a read (the MAC-triggering RD) and a write apply in both directions (15 and 19 "
    "cycles above). pimsim: WRGB needs no row, WRGB->WRGB nCCDS = 2, no MAC->WRGB rule "
    "beyond the command bus, WRGB->MAC nCWLGB + nBL = 3 (nCWLGB = 1 is pimsim's assumption, "
    "not in the ini; WL = 8 there). To reproduce: `pim.buffer_write: as_bank_write`, adding "
    "{bankgroup, [WRGB], [WRGB], nCCDL}, {channel, [MACS], [WRGB], nCL + nBL + nRTW - nCWL}, "
    "{channel, [WRGB], [MACS], nCWL + nBL + nWTRL} and making WRGB a bank-1 column command on "
    "a reserved row (row switch when the MACs use the odd banks).",
    "Weight layout: the reference stores each (output tile, input tile) block (8 rows x 128 "
    "inputs per unit) as 64 consecutive bursts of ONE bank parity, i.e. 2 DRAM rows of 32 "
    "bursts, even input tiles in even banks and odd ones in odd banks, and runs all even "
    "input tiles before all odd ones (CRF: MAC EVEN_BANK, JUMP 8*ceil(T/2)-1, MAC ODD_BANK, "
    "JUMP 8*floor(T/2)-1, NOP, EXIT). So it switches rows every 32 MACs (+27 cycles), and on "
    "odd tiles the MAC rows and the GRF_A row 0x3fff share the odd banks (+12 and +35 "
    "cycles per tile). pimsim puts one chunk's 8 segments of a group in one row of every bank "
    "(4 slots x even/odd bank) and alternates parity every segment: one ACT16 + 64 MAC16 + "
    "PREA per (group, chunk). To reproduce: `mapping.gemv_layout: pimsimulator`, giving each "
    "(group, chunk) two consecutive rows of one parity (parity = chunk % 2), chunks in "
    "even-first order, per-parity activates.",
    "Output padding: the reference always computes whole output tiles of 8 rows per PIM unit "
    "(8 units x channels x 8 rows = 4096 rows on 64 channels, 64 rows on 1 channel): with "
    "1024 or 2048 output rows on 64 channels it still issues 64 MACs per input tile and unit "
    "(2 or 4 of the 8 GRF_B rows are used), 4x or 2x pimsim's MAC count (the reference takes "
    "13166 cycles for 1024 x 4096, exactly as for 4096 x 4096); these points have ratios of "
    "0.24 and 0.38. pimsim computes only the segments it has (ceil(rows per "
    "channel / units)). To reproduce: `pim.pad_output_group: true`, rounding "
    "segments_per_unit up to a multiple of result_registers.",
    "Row-buffer policy and scheduling: the reference's DRAMSim2 controller (open_page, one "
    "64-deep queue per rank, rank_then_bank_round_robin) precharges any open bank whose row "
    "no queued request up to the next barrier uses; the kernel places a barrier after every "
    "8 MACs, every 8 WRGBs and every mode write, so rows close as soon as the current "
    "barrier segment stops using them, and ACTs are issued ahead for requests inside the "
    "segment. In HAB mode the controller tracks only banks 0 and 1 (an ACT/PRE to bank 0/1 "
    "acts on all even/odd banks; ACTs to banks >= 2 are refused). pimsim keeps rows open "
    "until a conflict and issues each channel's program in order.",
    "Refresh: the reference issues REFab every tREFI = 3900 cycles per rank (rank 0 first at "
    "1950 because 512 MB per channel makes two ranks, staggered by tREFI / 2), precharging "
    "open banks first, as soon as it is due (no postponement, no pull-in); a REF blocks the "
    "rank for tRFC = 350 (a MAC->MAC gap across a REF is about 368). The idle second rank's "
    "REFs only take command-bus slots. pimsim's hbm_pim config waits for the next row switch "
    "(at most 8 tREFI) and pulls refreshes in when idle; with one rank it issues its first "
    "REF at 3900, so short 64-channel runs (< 3900 cycles) have none in pimsim and one in "
    "the reference. To reproduce: `dram.refresh_postpone: 0`, `dram.refresh_pull_in: 0` "
    "and a `dram.refresh_offset` of tREFI / ranks for the first refresh. cycles_no_refresh "
    "(tREFI raised in a copy of the ini) vs pimsim_cycles_no_refresh compares without it.",
    "Plain streams (read_stream / write_stream): the reference's 64-entry command queue "
    "issues ACTs ahead of earlier column commands and picks any ready column command, "
    "reaching about tCCD_S = 2 cycles per burst even when consecutive addresses stay in one "
    "bank group (Scheme8 puts the bank field below the bank-group field: its own bandwidth "
    "test, 'seq'). pimsim serves requests in order: each first access to a bank waits for its "
    "ACT + tRCD (15 cycles per bank at the start of every row), and consecutive bursts in one "
    "bank group are paced by tCCD_L = 4, so pimsim is about 2.0x slower on 'seq' and 1.3x "
    "on 'bg_first'. The reference's writes also thrash rows (about a third of the writes "
    "cause ACT/PRE under its eager precharge) without losing bandwidth. To reproduce: "
    "`dram.scheduler: frfcfs` with a lookahead window (64 requests) that issues ACT/PRE for "
    "queued requests early and the oldest ready column command first; an ACT-lookahead "
    "alone would close most of the 'bg_first' gap.",
]


def shipped_tests(sim: Path, sim_dir: Path) -> dict:
    """Run the simulator's own benchmark tests and keep the numbers they print."""
    out = {}

    def gtest(pattern: str) -> str:
        return subprocess.run(
            [str(sim), f"--gtest_filter={pattern}"],
            cwd=sim_dir,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    text = gtest("PIMBenchFixture.gemv")
    cycles = [int(v) for v in re.findall(r"> Cycle : (\d+)", text)]
    out["PIMBenchFixture.gemv"] = {
        "shape": "4096 x 4096, 64 channels",
        "non_pim_cycles": cycles[0],
        "non_pim_definition": "plain reads of the weights and the input, then writes of the "
        "output, sequential addresses (genMemTraffic)",
        "pim_cycles": cycles[1],
        "speedup": round(cycles[0] / cycles[1], 4),
    }
    text = gtest("MemBandwidthFixture.*")
    bw = [int(v) for v in re.findall(r"> BW \(GB/s\): (\d+)", text)]
    out["MemBandwidthFixture"] = {
        "config": "system_hbm.ini, 16 channels, 1 rank each",
        "read_8MiB_GBps": bw[0],
        "write_16MiB_GBps": bw[1],
        "note": "GB/s as the test computes it: bytes / cycles with tCK = 1 ns (integer)",
    }
    return out


def pimsim_version() -> dict:
    """The pimsim checkout these numbers came from (and whether its timing paths were edited)."""
    root = Path(__file__).resolve().parents[2]

    def git(*a):
        r = subprocess.run(["git", *a], cwd=root, capture_output=True, text=True)
        return r.returncode, r.stdout.strip()

    paths = ["pimsim/dram", "pimsim/gemv.py", "pimsim/presets", "hw_configs"]
    return {
        "commit": git("rev-parse", "HEAD")[1],
        "timing_paths_modified": git("diff", "--quiet", "HEAD", "--", *paths)[0] != 0,
    }


PHASES_LEGEND = (
    "phases.by_cause (channel 0) splits [0, cycles) into the gaps before each column command "
    "(every RD/WR on the bus, including MAC-triggering RDs and register WRs): 'refresh' if a "
    "REF lies in the gap; before a MAC: 'mac_stream' (after a MAC, no row command between; "
    "tCCD_L included), 'mac_row_switch' (after a MAC, PRE/ACT between), 'buffer_to_mac' "
    "(after a buffer write or anything else); otherwise named after the command the gap ends "
    "in: 'buffer_fill' (WRGB), 'result_out' (GRFB_TO_BANK, RDMAC, readback RD), "
    "'mode_switch' (HAB/HAB_PIM/SB-sequence and CRF writes), 'park'; 'tail' is the last "
    "command to the end of the run. pimsim_phases applies the same split to pimsim's "
    "command log. phases.sections: cycles to the first HAB->HAB_PIM write, from it to the "
    "last HAB_PIM->HAB write, from there to the last parkOut read, and the rest (data drain, "
    "readback)."
)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--driver", required=True, type=Path)
    p.add_argument("--sim-dir", required=True, type=Path, help="PIMSimulator tree (ini files)")
    p.add_argument("--commit", required=True)
    p.add_argument("--built", required=True, help="build date and compiler")
    p.add_argument(
        "--out", type=Path, default=Path("pimsim/validation/data/samsung_pimsimulator.json")
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--sim-binary",
        type=Path,
        help="PIMSimulator's own gtest binary (`sim`): also record its shipped "
        "PIMBenchFixture.gemv and MemBandwidthFixture results",
    )
    args = p.parse_args(argv)
    driver = args.driver.resolve()
    sim_dir = args.sim_dir.resolve()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        points = gemv_points(driver, sim_dir, tmp, args.quick)
        points += stream_points(driver, sim_dir, tmp, args.quick)
    record = {
        "reference": "SAITPublic/PIMSimulator",
        "pimsim": pimsim_version(),
        "commit": args.commit,
        "built": args.built,
        "configs": {
            "device": DEV_INI,
            "system": SYS_INI,
            "megs_per_channel": {"gemv": MEGS_PER_CHANNEL_PIM, "streams": MEGS_PER_CHANNEL_MEM},
            "build_mode": "NO_STORAGE (no data values; timing unchanged)",
        },
        "phases_legend": PHASES_LEGEND,
        "points": points,
        "differences": DIFFERENCES,
    }
    if args.sim_binary:
        record["shipped_tests"] = shipped_tests(args.sim_binary.resolve(), sim_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([record], indent=1) + "\n")
    print(f"wrote {args.out} ({len(points)} points)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/numba_cache")
    sys.exit(main())
