"""Second, rule-table-free protocol checker: JEDEC and AiM command semantics written out by hand.

`pimsim.dram.checker` audits a log against the compiled rule table, the same table the kernel
runs on, so a wrong row in that table is invisible to it. This checker reads only the timing
*parameters* (``nRCDRD``, ``nCCDL``, ...), the organization and the controller settings, and
states every constraint as code, command by command, from the standards' prose:

- one command per cycle (the command bus), in program order; nothing but no-ops during tRFC
  after an all-bank refresh;
- ACT / ACT4 / ACT16 open closed banks: tRP after their precharge, tRC after their last
  activation, tRFCpb after their per-bank refresh, tRRD_L within a bank group, tRRD_S across
  the channel, tRREFD after any per-bank refresh, and at most four bank activations in any tFAW
  window (a multi-bank activate opens four or more banks: it fills the window);
- PRE / PRE4 / PREA: tRAS after the activation, tRTP after a read or MAC, write recovery
  (WL + BL + tWR) after a write, on every bank they close;
- RD / WR / MAC (a MAC is an internal column read of its banks, and MAC16 one in every bank a
  MAC unit parity serves) need their row open, tRCD after the activation (tRCDRDMAC for MACs);
  column spacing tCCD_L within a bank group and tCCD_S across the channel for reads, MACs and
  result reads, and for writes and global-buffer writes; the data bus held nBL cycles by each
  burst (reads and result reads, writes and global-buffer writes); write-to-read turnaround
  (WL + BL + tWTR_L / tWTR_S) for reads, result reads and MACs after writes; read-to-write
  turnaround (RL + BL + tRTW - WL) on the data bus; MACs wait for the global buffer (WL_GB +
  BL after a WRGB) and space themselves by the MAC unit's passes per column; result reads
  (RDMAC) wait tMACRES after the last MAC and MACs wait RL_REG + BL after a result read;
- REFab needs every bank closed (tRP after precharge, tRC after activation), REFpb its bank;
  tRRD_L from any activation to a REFpb; tRREFD between per-bank refreshes;
- with access modes (pim.mode_switch, the AiM simulator's): WRGB and RDMAC in register mode,
  row and column commands in bank mode, a TMOD toggling the mode and nothing for nMODCH
  after it;
- refresh obligations (due times, postponement and pull-in limits, at most postpone + 1
  intervals late, per-bank order) and the closed-page policy (a precharge that closes an
  accessed row follows the last column access with nothing but precharges and refreshes in
  between, unless it makes way for a refresh).

It ignores ``dram.rules_extra`` (those are only in the rule table). Violations use the
`pimsim.dram.checker.Violation` record with kind ``protocol``, ``state``, ``refresh``,
``policy``, ``order`` or ``range``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd
from pimsim.dram.checker import Violation, _columns, violation_at

__all__ = ["PROTOCOL_KINDS", "check_protocol"]

PROTOCOL_KINDS = ("order", "range", "state", "protocol", "refresh", "policy")
NEVER = -(1 << 62)
_ACTS = (Cmd.ACT, Cmd.ACT4, Cmd.ACT16)
_PRES = (Cmd.PRE, Cmd.PRE4, Cmd.PREA)
_MACS = (Cmd.MAC, Cmd.MAC16)
_COLUMN = (Cmd.RD, Cmd.WR, Cmd.MAC, Cmd.MAC16)


@dataclass(frozen=True)
class _Params:
    """The timing parameters this checker uses, by their standard names (cycles)."""

    BL: int
    CL: int
    CWL: int
    RCDRD: int
    RCDWR: int
    RCDMAC: int
    RP: int
    RAS: int
    RC: int
    WR: int
    RTP: int
    CCDS: int
    CCDL: int
    RRDS: int
    RRDL: int
    WTRS: int
    WTRL: int
    FAW: int
    RFC: int
    RFCpb: int
    RREFD: int
    REFI: int
    RTW: int
    CLREG: int
    CWLGB: int
    MACRES: int
    MODCH: int  # after a TMOD (access-mode switch), before any command
    mac_spacing: int  # MAC to MAC when a MAC unit needs several passes per column

    @classmethod
    def of(cls, hw: HardwareConfig) -> _Params:
        t = hw.dram.timing_cycles
        org, pim = hw.dram.organization, hw.pim
        elements = org.access_bytes // pim.dtype_bytes
        passes = math.ceil(elements / pim.mac_lanes) if pim.enabled else 1
        spacing = passes * max(t["nCCDL"], t["nCCDS"]) if passes > 1 else 0
        return cls(
            BL=t["nBL"],
            CL=t["nCL"],
            CWL=t["nCWL"],
            RCDRD=t["nRCDRD"],
            RCDWR=t["nRCDWR"],
            RCDMAC=t["nRCDRDMAC"],
            RP=t["nRP"],
            RAS=t["nRAS"],
            RC=t["nRC"],
            WR=t["nWR"],
            RTP=t["nRTP"],
            CCDS=t["nCCDS"],
            CCDL=t["nCCDL"],
            RRDS=t["nRRDS"],
            RRDL=t["nRRDL"],
            WTRS=t["nWTRS"],
            WTRL=t["nWTRL"],
            FAW=t["nFAW"],
            RFC=t.get("nRFC", 0),
            RFCpb=t.get("nRFCpb", 0),
            RREFD=t.get("nRREFD", 0),
            REFI=t.get("nREFI", 0),
            RTW=t["nRTW"],
            CLREG=t["nCLREG"],
            CWLGB=t["nCWLGB"],
            MACRES=t["nMACRES"],
            MODCH=t.get("nMODCH", 0),
            mac_spacing=spacing,
        )


class _Channel:
    """Replays one channel's commands and records every broken obligation."""

    def __init__(self, hw: HardwareConfig, cols, limit: int | None) -> None:
        org = hw.dram.organization
        self.p = _Params.of(hw)
        self.cols = cols
        self.limit = limit
        self.banks = org.banks
        self.bpg = org.banks_per_group
        self.rows, self.columns = org.rows, org.columns
        self.channels = hw.dram.channels
        self.unit = hw.pim.banks_per_mac_unit
        self.closed_page = hw.dram.page_policy == "closed"
        self.mode_switch = hw.pim.mode_switch
        self.mode = "bank"  # access mode with pim.mode_switch (channels start in bank mode)
        self.refresh = hw.dram.refresh
        if self.refresh == "all_bank":
            self.interval = self.p.REFI
        elif self.refresh == "per_bank":
            self.interval = self.p.REFI // org.banks
        else:
            self.interval = 0
        self.postpone = hw.dram.refresh_postpone * self.interval
        self.pull_in = hw.dram.refresh_pull_in * self.interval
        n, g = org.banks, org.bank_groups
        # last issue cycle of each command kind, per bank / per bank group / on the channel
        self.bank = {k: [NEVER] * n for k in ("act", "pre", "rd", "wr", "mac", "refpb")}
        self.group = {k: [NEVER] * g for k in ("act", "rd", "wr", "mac")}
        self.chan = dict.fromkeys(
            ("act", "rd", "wr", "mac", "wrgb", "rdmac", "refab", "refpb", "tmod", "any"), NEVER
        )
        self.faw: list[int] = []  # cycles of the most recent bank activations (up to four)
        self.open_row = [-1] * n
        self.accessed = [False] * n  # a column access reached the open row since its ACT
        self.refreshes = 0
        self.previous: int | None = None  # log index of the channel's previous command
        # only precharges and refreshes since the last column access (closed-page check)
        self.just_accessed = False
        self.out: list[Violation] = []

    # -- bookkeeping -------------------------------------------------------------------------

    def _add(self, i: int, kind: str, message: str, required: int | None = None) -> None:
        self.out.append(violation_at(self.cols, i, kind, message, required_cycle=required))

    def targets(self, cmd: Cmd, bank: int) -> list[int]:
        if cmd in (Cmd.ACT, Cmd.PRE, Cmd.RD, Cmd.WR, Cmd.MAC, Cmd.REFpb):
            return [bank]
        if cmd in (Cmd.ACT4, Cmd.PRE4):
            first = bank // self.bpg * self.bpg
            return list(range(first, first + self.bpg))
        if cmd in (Cmd.ACT16, Cmd.PREA, Cmd.REFab):
            return list(range(self.banks))
        if cmd == Cmd.MAC16:  # every bank of one MAC-unit parity
            return [b for b in range(self.banks) if b % self.unit == bank % self.unit]
        return []  # WRGB, RDMAC: channel-level

    # -- one command -------------------------------------------------------------------------

    def step(self, i: int, following: int | None) -> None:
        c = self.cols
        t, cmd, bank, row = c.cycle[i], Cmd(c.cmd[i]), c.bank[i], c.row[i]
        needs: list[tuple[int, str]] = []  # (earliest cycle, why) that this command must meet
        prev = self.previous
        if prev is not None and t <= c.cycle[prev]:
            self._add(i, "order", f"cycle {t} is not after the previous command's cycle")
        elif prev is not None:
            needs.append((self.chan["any"] + 1, "command bus: one command per cycle, in order"))
        if not self._in_range(i, cmd, bank, row):
            self.previous = i
            return
        banks = self.targets(cmd, bank)
        groups = sorted({b // self.bpg for b in banks})
        p = self.p
        needs.append((self.chan["refab"] + p.RFC, "tRFC after REFab (only no-ops during it)"))
        needs.append((self.chan["tmod"] + p.MODCH, "nMODCH after a TMOD (mode switch)"))
        self._check_mode(i, cmd)
        if cmd in _ACTS:
            self._needs_closed(i, cmd, banks)
            for b in banks:
                needs.append((self.bank["pre"][b] + p.RP, f"tRP after the precharge of bank {b}"))
                needs.append((self.bank["act"][b] + p.RC, f"tRC after the last ACT of bank {b}"))
                needs.append((self.bank["refpb"][b] + p.RFCpb, f"tRFCpb after REFpb of bank {b}"))
            for g in groups:
                needs.append((self.group["act"][g] + p.RRDL, f"tRRD_L in bank group {g}"))
            needs.append((self.chan["act"] + p.RRDS, "tRRD_S after the last activation"))
            needs.append((self.chan["refpb"] + p.RREFD, "tRREFD after a per-bank refresh"))
            if len(self.faw) >= 4:
                needs.append((self.faw[3] + p.FAW, "tFAW: four bank activations in the window"))
        elif cmd in _PRES:
            for b in banks:
                needs.append((self.bank["act"][b] + p.RAS, f"tRAS after the ACT of bank {b}"))
                needs.append((self.bank["rd"][b] + p.RTP, f"tRTP after a read of bank {b}"))
                needs.append((self.bank["mac"][b] + p.RTP, f"tRTP after a MAC of bank {b}"))
                needs.append(
                    (self.bank["wr"][b] + p.CWL + p.BL + p.WR, f"write recovery of bank {b}")
                )
        elif cmd in _COLUMN:
            self._needs_row(i, cmd, banks, row)
            rcd = {Cmd.RD: p.RCDRD, Cmd.WR: p.RCDWR}.get(cmd, p.RCDMAC)
            for b in banks:
                needs.append((self.bank["act"][b] + rcd, f"tRCD after the ACT of bank {b}"))
            if cmd == Cmd.WR:
                self._write_needs(needs, groups)
            else:
                self._read_needs(needs, groups, cmd in _MACS)
        elif cmd == Cmd.WRGB:
            needs.append((max(self.chan["wr"], self.chan["wrgb"]) + p.CCDS, "tCCD_S (writes)"))
            needs.append((max(self.chan["wr"], self.chan["wrgb"]) + p.BL, "data bus (writes)"))
            needs.append((self.chan["rd"] + p.CL + p.BL + p.RTW - p.CWLGB, "read-to-write"))
            needs.append(
                (self.chan["rdmac"] + p.CLREG + p.BL + p.RTW - p.CWLGB, "result-read-to-write")
            )
        elif cmd == Cmd.RDMAC:
            reads = max(self.chan["rd"], self.chan["rdmac"], self.chan["mac"])
            needs.append((reads + p.CCDS, "tCCD_S (reads)"))
            needs.append((max(self.chan["rd"], self.chan["rdmac"]) + p.BL, "data bus (reads)"))
            needs.append((self.chan["mac"] + p.MACRES, "tMACRES after the last MAC"))
            needs.append((self.chan["wr"] + p.CWL + p.BL + p.WTRS, "write-to-read (tWTR_S)"))
            needs.append((self.chan["wrgb"] + p.CWLGB + p.BL + p.WTRS, "buffer-write-to-read"))
        elif cmd in (Cmd.REFab, Cmd.REFpb):
            self._needs_closed(i, cmd, banks)
            for b in banks:
                needs.append((self.bank["pre"][b] + p.RP, f"tRP after the precharge of bank {b}"))
                needs.append((self.bank["act"][b] + p.RC, f"tRC after the ACT of bank {b}"))
            if cmd == Cmd.REFpb:
                needs.append((self.chan["act"] + p.RRDL, "tRRD_L from an activation to REFpb"))
                needs.append((self.chan["refpb"] + p.RREFD, "tRREFD between per-bank refreshes"))
        for cycle, why in needs:
            if t < cycle:
                self._add(i, "protocol", f"{why}: needs cycle {cycle}, got {t}", cycle)
        self._check_refresh(i, t, cmd, bank)
        self._check_policy(i, cmd, banks, following)
        self._issue(t, cmd, banks, groups, row)
        self.previous = i

    def _check_mode(self, i: int, cmd: Cmd) -> None:
        """Access modes (pim.mode_switch): TMOD toggles bank / register mode; WRGB and RDMAC
        need register mode, row and column commands bank mode, refreshes either."""
        if cmd == Cmd.TMOD:
            if not self.mode_switch:
                self._add(i, "state", "TMOD without access modes (pim.mode_switch is off)")
            self.mode = "register" if self.mode == "bank" else "bank"
            return
        if not self.mode_switch or cmd in (Cmd.REFab, Cmd.REFpb):
            return
        needed = "register" if cmd in (Cmd.WRGB, Cmd.RDMAC) else "bank"
        if needed != self.mode:
            self._add(i, "state", f"{cmd.name} needs {needed} mode; the channel is in {self.mode}")

    def _read_needs(self, needs: list, groups: list[int], is_mac: bool) -> None:
        """RD or MAC(16): read-side column spacing and write-to-read turnaround."""
        p = self.p
        for g in groups:
            needs.append((max(self.group["rd"][g], self.group["mac"][g]) + p.CCDL, "tCCD_L"))
            needs.append((self.group["wr"][g] + p.CWL + p.BL + p.WTRL, "write-to-read (tWTR_L)"))
        reads = max(self.chan["rd"], self.chan["rdmac"], self.chan["mac"])
        needs.append((reads + p.CCDS, "tCCD_S (reads, MACs and result reads)"))
        if is_mac:
            needs.append((self.chan["mac"] + p.mac_spacing, "MAC unit passes per column"))
            needs.append((self.chan["wrgb"] + p.CWLGB + p.BL, "global buffer written"))
            needs.append((self.chan["rdmac"] + p.CLREG + p.BL, "result registers read"))
        else:
            needs.append((self.chan["wr"] + p.CWL + p.BL + p.WTRS, "write-to-read (tWTR_S)"))
            needs.append((self.chan["wrgb"] + p.CWLGB + p.BL + p.WTRS, "buffer-write-to-read"))
            needs.append((max(self.chan["rd"], self.chan["rdmac"]) + p.BL, "data bus (reads)"))

    def _write_needs(self, needs: list, groups: list[int]) -> None:
        p = self.p
        for g in groups:
            needs.append((max(self.group["wr"][g], self.group["mac"][g]) + p.CCDL, "tCCD_L"))
        needs.append((max(self.chan["wr"], self.chan["wrgb"]) + p.CCDS, "tCCD_S (writes)"))
        needs.append((max(self.chan["wr"], self.chan["wrgb"]) + p.BL, "data bus (writes)"))
        needs.append((self.chan["rd"] + p.CL + p.BL + p.RTW - p.CWL, "read-to-write"))
        needs.append((self.chan["rdmac"] + p.CLREG + p.BL + p.RTW - p.CWL, "result-read-to-write"))

    # -- state, range, refresh, policy -------------------------------------------------------

    def _in_range(self, i: int, cmd: Cmd, bank: int, row: int) -> bool:
        c = self.cols
        channel_level = cmd in (Cmd.WRGB, Cmd.RDMAC, Cmd.TMOD)
        bad = []
        if c.cycle[i] < 0:
            bad.append(f"cycle {c.cycle[i]}")
        if not 0 <= c.channel[i] < self.channels:
            bad.append(f"channel {c.channel[i]}")
        if not channel_level and not 0 <= bank < self.banks:
            bad.append(f"bank {bank}")
        if (cmd in _ACTS or cmd in _COLUMN) and not 0 <= row < self.rows:
            bad.append(f"row {row}")
        if cmd in _COLUMN and not 0 <= c.column[i] < self.columns:
            bad.append(f"column {c.column[i]}")
        if bad:
            self._add(i, "range", "outside the organization: " + ", ".join(bad))
        return channel_level or 0 <= bank < self.banks

    def _needs_closed(self, i: int, cmd: Cmd, banks: list[int]) -> None:
        busy = [b for b in banks if self.open_row[b] >= 0]
        if busy:
            self._add(i, "state", f"{cmd.name} needs closed banks; open: {busy}")

    def _needs_row(self, i: int, cmd: Cmd, banks: list[int], row: int) -> None:
        wrong = [b for b in banks if self.open_row[b] != row]
        if wrong:
            self._add(i, "state", f"{cmd.name} needs row {row} open in banks {wrong}")

    def _check_refresh(self, i: int, t: int, cmd: Cmd, bank: int) -> None:
        if self.refresh == "none":  # (a refresh is still legal, just not required)
            return
        own = Cmd.REFab if self.refresh == "all_bank" else Cmd.REFpb
        if cmd in (Cmd.REFab, Cmd.REFpb) and cmd != own:
            self._add(i, "refresh", f"{cmd.name} in {self.refresh} refresh mode")
            return
        k = self.refreshes + 1
        due = k * self.interval
        if cmd == own:
            if own == Cmd.REFpb and bank != (k - 1) % self.banks:
                self._add(i, "refresh", f"REFpb #{k} must go to bank {(k - 1) % self.banks}")
            if due - t > self.pull_in:
                self._add(i, "refresh", f"refresh #{k} pulled in {due - t} cycles early")
            if t - due >= self.postpone + self.interval:
                self._add(i, "refresh", f"refresh #{k} issued {t - due} cycles after its due time")
            self.refreshes = k
        elif cmd not in _PRES and t >= due + self.postpone:
            self._add(i, "refresh", f"refresh #{k} due at cycle {due} is overdue")

    def _check_policy(self, i: int, cmd: Cmd, banks: list[int], following: int | None) -> None:
        """Closed page: the precharge that closes a row follows a column access to it."""
        if not self.closed_page or cmd not in _PRES:
            return
        closing = [b for b in banks if self.open_row[b] >= 0 and self.accessed[b]]
        if not closing:
            return
        c = self.cols
        for_refresh = following is not None and Cmd(c.cmd[following]) in (Cmd.REFab, Cmd.REFpb)
        if not (for_refresh or self.just_accessed):
            self._add(
                i,
                "policy",
                f"closed page: banks {closing} kept their rows open after the last access",
            )

    def _issue(self, t: int, cmd: Cmd, banks: list[int], groups: list[int], row: int) -> None:
        kind = {
            Cmd.RD: "rd",
            Cmd.WR: "wr",
            Cmd.MAC: "mac",
            Cmd.MAC16: "mac",
        }.get(cmd)
        if cmd in _ACTS:
            kind = "act"
            self.faw = sorted(self.faw + [t] * min(len(banks), 4), reverse=True)[:4]
        # (timestamps keep the latest cycle seen: in a log out of order a command issued
        # earlier than its predecessor does not erase the later one's constraints)
        for b in banks:
            if kind:
                self.bank[kind][b] = max(self.bank[kind][b], t)
            if cmd in _ACTS:
                self.open_row[b], self.accessed[b] = row, False
            elif cmd in _PRES:
                self.bank["pre"][b] = max(self.bank["pre"][b], t)
                self.open_row[b], self.accessed[b] = -1, False
            elif cmd == Cmd.REFpb:
                self.bank["refpb"][b] = max(self.bank["refpb"][b], t)
            elif cmd in _COLUMN:
                self.accessed[b] = True
        if kind:
            for g in groups:
                self.group[kind][g] = max(self.group[kind][g], t)
            self.chan[kind] = max(self.chan[kind], t)
        if cmd in _COLUMN:
            self.just_accessed = True
        elif cmd not in _PRES and cmd not in (Cmd.REFab, Cmd.REFpb):
            self.just_accessed = False
        extra = {
            Cmd.WRGB: "wrgb",
            Cmd.RDMAC: "rdmac",
            Cmd.REFab: "refab",
            Cmd.REFpb: "refpb",
            Cmd.TMOD: "tmod",
        }
        if cmd in extra:
            self.chan[extra[cmd]] = max(self.chan[extra[cmd]], t)
        self.chan["any"] = max(self.chan["any"], t)  # latest cycle any command took

    def run(self, indices: list[int]) -> list[Violation]:
        for n, i in enumerate(indices):
            self.step(i, indices[n + 1] if n + 1 < len(indices) else None)
            if self.limit is not None and len(self.out) >= self.limit:
                break
        return self.out


def check_protocol(
    log: pd.DataFrame, hw: HardwareConfig, *, max_violations: int | None = None
) -> list[Violation]:
    """Audit a command log (as for `pimsim.dram.checker.check_log`) against the protocol
    semantics above; returns the violations in log order (empty: legal)."""
    cols = _columns(log)
    by_channel: dict[int, list[int]] = {}
    for i, ch in enumerate(cols.channel):
        by_channel.setdefault(ch, []).append(i)
    found: list[Violation] = []
    for indices in by_channel.values():
        found += _Channel(hw, cols, max_violations).run(indices)
    found.sort(key=lambda v: v.index)
    return found if max_violations is None else found[:max_violations]


def kinds_of(violations: Iterable[Violation]) -> set[str]:
    return {v.kind for v in violations}
