"""Independent DRAM protocol checker: audits a command log against the hardware description.

The oracle for the cycle-exact channel engine. It shares only the *specification* with the
engine (`pimsim.core.commands` and the resolved timing-rule table of `pimsim.config`), never its
code, and is written the plain way: one pass over the log in Python, with the last issue cycle of
every (scope instance, previous-command set) kept in lists.

What is checked, per channel, from reset at cycle 0 (all banks closed, nothing issued):

- ``order``     cycles strictly increase in log (program) order: one command per cycle;
- ``range``     channel, bank, row and column inside the organization; ``bankgroup`` (if given)
                equals ``bank // banks_per_group``;
- ``timing``    every rule ``(scope, prev, next, d, window)`` of ``hw.dram.rules``;
- ``state``     ACT* need closed banks and open ``row``; RD/WR/MAC/MAC16 need their banks open at
                ``row``; PRE* close; REFab needs every bank closed, REFpb its bank;
- ``refresh``   the k-th REFab is due at ``k * nREFI`` (REFpb: ``k * (nREFI // banks)``, to bank
                ``(k - 1) % banks``); nothing but PRE/PRE4/PREA/REF may issue once one is overdue
                (``dram.refresh_postpone`` refresh intervals after its due time); none is issued
                more than ``dram.refresh_pull_in`` intervals before its due time, and none later
                than ``refresh_postpone + 1`` intervals after it (JEDEC: at most that many
                refreshes owed at any time, so 9 x tREFI between two refreshes with 8 postponed);
- ``not_tight`` (``tight=True``) a command that was legal one cycle earlier, unless it is a
                refresh (or the precharge that opens the way for it) issued at the refresh's due
                time, or it issued at a release cycle (`releases`: when an operator handed the
                channel its program; the controller holds commands back until then).

The bank field of channel-level commands (WRGB, RDMAC) is not interpreted; row and column are
only interpreted for the commands that use them (ACT* rows; RD/WR/MAC/MAC16 rows and columns).

The rule index lives in `pimsim.dram.checker_rules`; reading logs, their CSV files and the
`Violation` record in `pimsim.dram.log_io` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pimsim.config.schema import HardwareConfig, TimingRule
from pimsim.core.commands import (
    COMMAND_NAMES,
    COMMANDS,
    EFFECT_CLOSE,
    EFFECT_OPEN,
    NEED_CLOSED,
    NEED_OPEN_ROW,
    TARGET_NONE,
    Cmd,
)
from pimsim.dram.checker_rules import RuleTable
from pimsim.dram.log_io import (
    LOG_FIELDS,
    LogColumns,
    Violation,
    log_columns,
    read_command_log,
    violation_at,
    write_command_log,
)

__all__ = [
    "KINDS",
    "LOG_FIELDS",
    "Violation",
    "check_log",
    "read_command_log",
    "write_command_log",
]

KINDS = ("order", "range", "refresh", "state", "timing", "not_tight")
_NEG = -(1 << 62)  # "never issued"
_PRES = frozenset({Cmd.PRE, Cmd.PRE4, Cmd.PREA})
_ROW_USERS = frozenset(
    c for c, info in COMMANDS.items() if info.effect == EFFECT_OPEN or info.needs == NEED_OPEN_ROW
)
_COLUMN_USERS = frozenset(c for c, info in COMMANDS.items() if info.is_column)


# ---------------------------------------------------------------------------------------------
# checking one channel


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _distance_text(rule: TimingRule) -> str:
    d = rule.distance_cycles
    return f"{d} cycles" if rule.expression.strip() == str(d) else f"{d} cycles ({rule.expression})"


def _bank_list(banks: Iterable[int]) -> str:
    return ", ".join(str(b) for b in banks)


class _ChannelChecker:
    """Replays one channel's commands in log order and collects violations."""

    def __init__(
        self,
        table: RuleTable,
        cols: LogColumns,
        tight: bool,
        limit: int | None,
        releases: frozenset[int] = frozenset(),
    ) -> None:
        self.t = table
        self.c = cols
        self.tight = tight
        self.limit = limit
        self.releases = releases
        self.next_index: dict[int, int] = {}  # log index -> the channel's next command
        self.out: list[Violation] = []
        self.cyc = [[_NEG] * table.scope_size(s) for s in table.tracker_scopes]
        self.who = [[-1] * table.scope_size(s) for s in table.tracker_scopes]
        self.windows: list[list[tuple[int, int]]] = [[] for _ in table.window_sizes]
        self.open_row = [-1] * table.n_banks
        self.refreshes = 0
        self.prev_cycle: int | None = None

    def _add(self, i: int, kind: str, message: str, **extra: Any) -> None:
        self.out.append(violation_at(self.c, i, kind, message, **extra))

    def run(self, indices: Sequence[int]) -> list[Violation]:
        self.next_index = dict(zip(indices[:-1], indices[1:], strict=True))
        for i in indices:
            self.step(i)
            if self.limit is not None and len(self.out) >= self.limit:
                break
        return self.out

    def step(self, i: int) -> None:
        c, tb = self.c, self.t
        t, cmd, bank = c.cycle[i], c.cmd[i], c.bank[i]
        before, prev = len(self.out), self.prev_cycle
        self.prev_cycle = t
        order_bad = self._check_order(i, t, prev)
        if not self._check_range(i, cmd, bank):
            return  # no target set: nothing else can be judged
        insts = tb.instances(cmd, bank)
        self._check_refresh(i, t, cmd, bank)
        self._check_state(i, cmd, c.row[i], insts[0])
        required = self._check_timing(i, t, cmd, insts, order_bad)
        if self.tight and len(self.out) == before:
            self._check_tight(i, t, cmd, required, prev)
        self._issue(i, t, cmd, c.row[i], insts)

    # -- the individual checks ------------------------------------------------------------

    def _check_order(self, i: int, t: int, prev: int | None) -> bool:
        if prev is not None and t <= prev:
            self._add(
                i,
                "order",
                f"cycle {t} is not after the previous command's cycle {prev} "
                "(one command per cycle, in program order)",
                required_cycle=prev + 1,
            )
            return True
        return False

    def _check_range(self, i: int, cmd: int, bank: int) -> bool:
        c, tb = self.c, self.t
        problems = []
        if c.cycle[i] < 0:
            problems.append(f"cycle {c.cycle[i]} < 0")
        if not 0 <= c.channel[i] < tb.channels:
            problems.append(f"channel {c.channel[i]} outside [0, {tb.channels})")
        targeted = COMMANDS[Cmd(cmd)].target != TARGET_NONE
        bank_ok = not targeted or 0 <= bank < tb.n_banks
        if not bank_ok:
            problems.append(f"bank {bank} outside [0, {tb.n_banks})")
        if cmd in _ROW_USERS and not 0 <= c.row[i] < tb.rows:
            problems.append(f"row {c.row[i]} outside [0, {tb.rows})")
        if cmd in _COLUMN_USERS and not 0 <= c.column[i] < tb.columns:
            problems.append(f"column {c.column[i]} outside [0, {tb.columns})")
        if targeted and c.bankgroup is not None and c.bankgroup[i] != bank // tb.banks_per_group:
            problems.append(
                f"bankgroup {c.bankgroup[i]} != bank {bank} // {tb.banks_per_group} "
                f"= {bank // tb.banks_per_group}"
            )
        if problems:
            self._add(i, "range", "; ".join(problems))
        return bank_ok

    def _check_refresh(self, i: int, t: int, cmd: int, bank: int) -> None:
        tb = self.t
        mode = tb.refresh
        if mode == "none":
            return
        own = Cmd.REFab if mode == "all_bank" else Cmd.REFpb
        other = Cmd.REFpb if mode == "all_bank" else Cmd.REFab
        if cmd == other:
            self._add(i, "refresh", f"{other.name} issued in {mode} refresh mode")
            return
        k = self.refreshes + 1
        due = k * tb.interval
        if cmd == own:
            if mode == "per_bank" and bank != (k - 1) % tb.n_banks:
                self._add(
                    i,
                    "refresh",
                    f"REFpb #{k} must refresh bank {(k - 1) % tb.n_banks}, got bank {bank}",
                )
            if due - t > tb.pull_in:
                self._add(
                    i,
                    "refresh",
                    f"{own.name} #{k} due at cycle {due} issued at cycle {t}: pulled in more "
                    f"than {tb.pull_in} cycles ahead",
                )
            owed_limit = tb.postpone + tb.interval  # at most postpone + 1 intervals late
            if t - due >= owed_limit:
                self._add(
                    i,
                    "refresh",
                    f"{own.name} #{k} due at cycle {due} issued at cycle {t}: {t - due} cycles "
                    f"late, beyond the postponement allowance (it must issue before cycle "
                    f"{due + owed_limit})",
                    required_cycle=due + owed_limit - 1,
                )
            self.refreshes = k
        elif cmd not in _PRES and t >= due + tb.postpone:
            allowed = f" (postponed at most {tb.postpone} cycles)" if tb.postpone else ""
            self._add(
                i,
                "refresh",
                f"refresh overdue: {own.name} #{k} due at cycle {due} has not issued by cycle "
                f"{t}{allowed}",
            )

    def _check_state(self, i: int, cmd: int, row: int, banks: tuple[int, ...]) -> None:
        needs = COMMANDS[Cmd(cmd)].needs
        name = COMMAND_NAMES[cmd]
        open_row = self.open_row
        if needs == NEED_CLOSED:
            busy = [b for b in banks if open_row[b] >= 0]
            if busy:
                detail = ", ".join(f"bank {b} has row {open_row[b]} open" for b in busy)
                self._add(i, "state", f"{name} needs bank(s) {_bank_list(banks)} closed; {detail}")
        elif needs == NEED_OPEN_ROW:
            closed = [b for b in banks if open_row[b] < 0]
            wrong = [b for b in banks if open_row[b] >= 0 and open_row[b] != row]
            if closed or wrong:
                parts = []
                if closed:
                    parts.append(f"bank(s) {_bank_list(closed)} closed")
                parts += [f"bank {b} has row {open_row[b]} open" for b in wrong]
                self._add(
                    i,
                    "state",
                    f"{name} needs row {row} open in bank(s) {_bank_list(banks)}; "
                    + "; ".join(parts),
                )

    def _check_timing(
        self, i: int, t: int, cmd: int, insts: tuple[tuple[int, ...], ...], order_bad: bool
    ) -> int:
        """Report broken rules; return the earliest cycle all timing rules allow."""
        required = _NEG
        for tracker, scope, d, rule, is_bus in self.t.checks[cmd]:
            if is_bus and order_bad:
                continue  # the same fact is already reported as 'order'
            cycles = self.cyc[tracker]
            best, where = _NEG, -1
            for k in insts[scope]:
                if cycles[k] > best:
                    best, where = cycles[k], k
            if best == _NEG:
                continue
            need = best + d
            if need > required:
                required = need
            if need > t:
                p = self.who[tracker][where]
                self._add(
                    i,
                    "timing",
                    f"{rule.scope} {COMMAND_NAMES[self.c.cmd[p]]}->{COMMAND_NAMES[cmd]} needs "
                    f"{_distance_text(rule)} after cycle {best}, got {t}",
                    required_cycle=need,
                    rule=rule,
                    prev_index=p,
                )
        for wid, n, d, rule in self.t.window_checks[cmd]:
            recent = self.windows[wid]
            if len(recent) < n:
                continue
            best, p = recent[n - 1]
            need = best + d
            if need > required:
                required = need
            if need > t:
                self._add(
                    i,
                    "timing",
                    f"channel {'/'.join(rule.prev)}->{COMMAND_NAMES[cmd]} (window {n}) needs "
                    f"{_distance_text(rule)} after the {_ordinal(n)} most recent "
                    f"{COMMAND_NAMES[self.c.cmd[p]]} at cycle {best}, got {t}",
                    required_cycle=need,
                    rule=rule,
                    prev_index=p,
                )
        return required

    def _check_tight(self, i: int, t: int, cmd: int, required: int, prev: int | None) -> None:
        if t <= 0:
            return
        earliest = max(required, 0 if prev is None else prev + 1)
        if earliest >= t or t in self.releases or self._refresh_at_due(i, t, cmd):
            return
        self._add(
            i,
            "not_tight",
            f"{COMMAND_NAMES[self.c.cmd[i]]} was already legal at cycle {t - 1} "
            f"(timing allows cycle {earliest})",
            required_cycle=earliest,
        )

    def _refresh_at_due(self, i: int, t: int, cmd: int) -> bool:
        """A refresh issued at its due time, or the precharge right before it: the controller
        holds both back until the refresh falls due (the earliest legal cycle may be earlier)."""
        tb = self.t
        if tb.refresh == "none":
            return False
        own = Cmd.REFab if tb.refresh == "all_bank" else Cmd.REFpb
        due = (self.refreshes + 1) * tb.interval
        if cmd == own:
            # (self.refreshes already counts this refresh when the refresh check ran)
            return t == self.refreshes * tb.interval
        if cmd in _PRES:  # (at the end of a truncated log the refresh may be cut off)
            following = self.next_index.get(i)
            return t == due and (following is None or self.c.cmd[following] == own)
        return False

    # -- effects ----------------------------------------------------------------------------

    def _issue(
        self, i: int, t: int, cmd: int, row: int, insts: tuple[tuple[int, ...], ...]
    ) -> None:
        tb = self.t
        for tracker in tb.updates[cmd]:
            cycles, who = self.cyc[tracker], self.who[tracker]
            for k in insts[tb.tracker_scopes[tracker]]:
                if t > cycles[k]:
                    cycles[k], who[k] = t, i
        for wid, weight in tb.window_updates[cmd]:
            recent = self.windows[wid]
            recent.extend([(t, i)] * weight)
            recent.sort(key=lambda e: -e[0])  # most recent first (stable: log order in ties)
            del recent[tb.window_sizes[wid] :]
        effect = COMMANDS[Cmd(cmd)].effect
        if effect == EFFECT_OPEN:
            for b in insts[0]:
                self.open_row[b] = row
        elif effect == EFFECT_CLOSE:
            for b in insts[0]:
                self.open_row[b] = -1


# ---------------------------------------------------------------------------------------------
# public API


def check_log(
    log: pd.DataFrame | np.ndarray,
    hw: HardwareConfig,
    *,
    tight: bool = False,
    max_violations: int | None = None,
    releases: Iterable[int] = (),
) -> list[Violation]:
    """Audit a command log; return its violations in log order (empty: the log is legal).

    `log` has fields ``cycle, cmd, channel, bank, row, column`` (optional ``bankgroup``); `cmd`
    holds `Cmd` codes or names. Each channel is checked on its own, from reset at cycle 0.
    With `tight`, also report commands issued later than their earliest legal cycle, except
    at `releases` (cycles at which operators were handed to the channels, e.g. the
    `dram_start_cycle` column of a run's ops.csv). `max_violations` stops the audit once that
    many are found.
    """
    cols = log_columns(log)
    table = RuleTable(hw)
    frozen = frozenset(int(r) for r in releases)
    by_channel: dict[int, list[int]] = {}
    for i, ch in enumerate(cols.channel):
        by_channel.setdefault(ch, []).append(i)
    found: list[Violation] = []
    for indices in by_channel.values():
        found += _ChannelChecker(table, cols, tight, max_violations, frozen).run(indices)
    found.sort(key=lambda v: v.index)  # stable: per-command order of checks is kept
    return found if max_violations is None else found[:max_violations]
