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
`pimsim.dram.checker.Violation` record (defined in `pimsim.dram.log_io`) with kind
``protocol``, ``state``, ``refresh``, ``policy``, ``order`` or ``range``. The parameters it
reads are `pimsim.dram.protocol_params.ProtocolParams`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd
from pimsim.dram.log_io import Violation, log_columns, violation_at
from pimsim.dram.protocol_params import ProtocolParams

__all__ = ["PROTOCOL_KINDS", "check_protocol"]

PROTOCOL_KINDS = ("order", "range", "state", "protocol", "refresh", "policy")
NEVER = -(1 << 62)
_ACTS = (Cmd.ACT, Cmd.ACT4, Cmd.ACT16)
_PRES = (Cmd.PRE, Cmd.PRE4, Cmd.PREA)
_MACS = (Cmd.MAC, Cmd.MAC16)
_COLUMN = (Cmd.RD, Cmd.WR, Cmd.MAC, Cmd.MAC16)


class _Channel:
    """Replays one channel's commands and records every broken obligation."""

    def __init__(self, hw: HardwareConfig, cols, limit: int | None) -> None:
        org = hw.dram.organization
        self.p = ProtocolParams.of(hw)
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
        needs = self._bus_needs(i, t)  # (earliest cycle, why) that this command must meet
        if not self._in_range(i, cmd, bank, row):
            self.previous = i
            return
        banks = self.targets(cmd, bank)
        groups = sorted({b // self.bpg for b in banks})
        p = self.p
        needs.append((self.chan["refab"] + p.RFC, "tRFC after REFab (only no-ops during it)"))
        needs.append((self.chan["tmod"] + p.MODCH, "nMODCH after a TMOD (mode switch)"))
        self._check_mode(i, cmd)
        self._command_needs(i, cmd, banks, groups, row, needs)
        for cycle, why in needs:
            if t < cycle:
                self._add(i, "protocol", f"{why}: needs cycle {cycle}, got {t}", cycle)
        self._check_refresh(i, t, cmd, bank)
        self._check_policy(i, cmd, banks, following)
        self._issue(t, cmd, banks, groups, row)
        self.previous = i

    def _bus_needs(self, i: int, t: int) -> list[tuple[int, str]]:
        """Program order and the command bus: one command per cycle, after the previous."""
        needs: list[tuple[int, str]] = []
        prev = self.previous
        if prev is not None and t <= self.cols.cycle[prev]:
            self._add(i, "order", f"cycle {t} is not after the previous command's cycle")
        elif prev is not None:
            needs.append((self.chan["any"] + 1, "command bus: one command per cycle, in order"))
        return needs

    def _command_needs(
        self, i: int, cmd: Cmd, banks: list[int], groups: list[int], row: int, needs: list
    ) -> None:
        """The state checks and timing obligations of `cmd`'s kind of command."""
        if cmd in _ACTS:
            self._needs_closed(i, cmd, banks)
            self._act_needs(needs, banks, groups)
        elif cmd in _PRES:
            self._pre_needs(needs, banks)
        elif cmd in _COLUMN:
            self._needs_row(i, cmd, banks, row)
            self._column_needs(needs, cmd, banks, groups)
        elif cmd == Cmd.WRGB:
            self._buffer_write_needs(needs)
        elif cmd == Cmd.RDMAC:
            self._result_read_needs(needs)
        elif cmd in (Cmd.REFab, Cmd.REFpb):
            self._needs_closed(i, cmd, banks)
            self._refresh_needs(needs, cmd, banks)

    def _act_needs(self, needs: list, banks: list[int], groups: list[int]) -> None:
        p = self.p
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

    def _pre_needs(self, needs: list, banks: list[int]) -> None:
        p = self.p
        for b in banks:
            needs.append((self.bank["act"][b] + p.RAS, f"tRAS after the ACT of bank {b}"))
            needs.append((self.bank["rd"][b] + p.RTP, f"tRTP after a read of bank {b}"))
            needs.append((self.bank["mac"][b] + p.RTP, f"tRTP after a MAC of bank {b}"))
            needs.append((self.bank["wr"][b] + p.CWL + p.BL + p.WR, f"write recovery of bank {b}"))

    def _column_needs(self, needs: list, cmd: Cmd, banks: list[int], groups: list[int]) -> None:
        """RD, WR, MAC, MAC16: tRCD after the activation, then the read or write side."""
        p = self.p
        rcd = {Cmd.RD: p.RCDRD, Cmd.WR: p.RCDWR}.get(cmd, p.RCDMAC)
        for b in banks:
            needs.append((self.bank["act"][b] + rcd, f"tRCD after the ACT of bank {b}"))
        if cmd == Cmd.WR:
            self._write_needs(needs, groups)
        else:
            self._read_needs(needs, groups, cmd in _MACS)

    def _buffer_write_needs(self, needs: list) -> None:
        """WRGB: write spacing, the data bus and read-to-write turnaround."""
        p = self.p
        needs.append((max(self.chan["wr"], self.chan["wrgb"]) + p.CCDS, "tCCD_S (writes)"))
        needs.append((max(self.chan["wr"], self.chan["wrgb"]) + p.BL, "data bus (writes)"))
        needs.append((self.chan["rd"] + p.CL + p.BL + p.RTW - p.CWLGB, "read-to-write"))
        needs.append(
            (self.chan["rdmac"] + p.CLREG + p.BL + p.RTW - p.CWLGB, "result-read-to-write")
        )

    def _result_read_needs(self, needs: list) -> None:
        """RDMAC: read spacing, the data bus, tMACRES and write-to-read turnaround."""
        p = self.p
        reads = max(self.chan["rd"], self.chan["rdmac"], self.chan["mac"])
        needs.append((reads + p.CCDS, "tCCD_S (reads)"))
        needs.append((max(self.chan["rd"], self.chan["rdmac"]) + p.BL, "data bus (reads)"))
        needs.append((self.chan["mac"] + p.MACRES, "tMACRES after the last MAC"))
        needs.append((self.chan["wr"] + p.CWL + p.BL + p.WTRS, "write-to-read (tWTR_S)"))
        needs.append((self.chan["wrgb"] + p.CWLGB + p.BL + p.WTRS, "buffer-write-to-read"))

    def _refresh_needs(self, needs: list, cmd: Cmd, banks: list[int]) -> None:
        """REFab, REFpb: their banks precharged and past tRC; REFpb's activation spacing."""
        p = self.p
        for b in banks:
            needs.append((self.bank["pre"][b] + p.RP, f"tRP after the precharge of bank {b}"))
            needs.append((self.bank["act"][b] + p.RC, f"tRC after the ACT of bank {b}"))
        if cmd == Cmd.REFpb:
            needs.append((self.chan["act"] + p.RRDL, "tRRD_L from an activation to REFpb"))
            needs.append((self.chan["refpb"] + p.RREFD, "tRREFD between per-bank refreshes"))

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
    cols = log_columns(log)
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
