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
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
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
    target_banks,
)
from pimsim.core.errors import PimsimInputError
from pimsim.core.io import atomic_write_text

__all__ = [
    "KINDS",
    "LOG_FIELDS",
    "Violation",
    "check_log",
    "read_command_log",
    "write_command_log",
]

KINDS = ("order", "range", "refresh", "state", "timing", "not_tight")
LOG_FIELDS = ("cycle", "cmd", "channel", "bankgroup", "bank", "row", "column")
REQUIRED_FIELDS = ("cycle", "cmd", "channel", "bank", "row", "column")

_BANK, _BANKGROUP, _CHANNEL = 0, 1, 2
_SCOPE_CODE = {"bank": _BANK, "bankgroup": _BANKGROUP, "channel": _CHANNEL}
_NEG = -(1 << 62)  # "never issued"
_PRES = frozenset({Cmd.PRE, Cmd.PRE4, Cmd.PREA})
_ROW_USERS = frozenset(
    c for c, info in COMMANDS.items() if info.effect == EFFECT_OPEN or info.needs == NEED_OPEN_ROW
)
_COLUMN_USERS = frozenset(c for c, info in COMMANDS.items() if info.is_column)


@dataclass(frozen=True)
class Violation:
    """One broken rule: where in the log, what, and (for timing) the earliest legal cycle."""

    index: int  # position in the log (0-based row)
    cycle: int
    cmd: str
    channel: int
    bank: int
    kind: str  # one of KINDS
    message: str
    required_cycle: int | None = None  # earliest cycle the rule allows, where that applies
    rule: TimingRule | None = None  # the timing rule broken (kind 'timing')
    prev_index: int | None = None  # log index of the earlier command the rule counts from

    def __str__(self) -> str:
        return (
            f"#{self.index} cycle {self.cycle} {self.cmd} ch {self.channel} bank {self.bank}: "
            f"{self.kind}: {self.message}"
        )


# ---------------------------------------------------------------------------------------------
# the rule table, compiled once per hardware description


class _RuleTable:
    """Timing rules indexed by command: which trackers a command updates and which it reads.

    A *tracker* is the last issue cycle of any command of one `prev` set, per scope instance
    (bank, bank group, or the channel); rules sharing (scope, prev) share a tracker. Window
    rules keep the `window` most recent cycles of their `prev` set instead.
    """

    def __init__(self, hw: HardwareConfig) -> None:
        org = hw.dram.organization
        self.n_banks = org.banks
        self.banks_per_group = org.banks_per_group
        self.n_groups = org.bank_groups
        self.rows = org.rows
        self.columns = org.columns
        self.channels = hw.dram.channels
        self.banks_per_unit = hw.pim.banks_per_mac_unit
        self.refresh = hw.dram.refresh
        self.interval = 0
        if self.refresh == "all_bank":
            self.interval = hw.dram.t("nREFI")
        elif self.refresh == "per_bank":
            self.interval = hw.dram.t("nREFI") // org.banks
        # JEDEC-style postponement: a refresh may be deferred by this many cycles
        self.postpone = hw.dram.refresh_postpone * self.interval
        # and issued at most this many intervals ahead of its due time (JEDEC pull-in)
        self.pull_in = hw.dram.refresh_pull_in * self.interval
        self.tracker_scopes: list[int] = []
        self.window_sizes: list[int] = []
        self.updates: list[list[int]] = [[] for _ in Cmd]
        self.checks: list[list[tuple[int, int, int, TimingRule, bool]]] = [[] for _ in Cmd]
        self.window_updates: list[list[tuple[int, int]]] = [[] for _ in Cmd]
        self.window_checks: list[list[tuple[int, int, int, TimingRule]]] = [[] for _ in Cmd]
        trackers: dict[tuple[int, frozenset[int]], int] = {}
        for rule in hw.dram.rules:
            self._add(rule, trackers)
        self._targets: dict[tuple[int, int], tuple[tuple[int, ...], ...]] = {}

    def _add(self, rule: TimingRule, trackers: dict[tuple[int, frozenset[int]], int]) -> None:
        scope = _SCOPE_CODE[rule.scope]
        prev = frozenset(int(Cmd[name]) for name in rule.prev)
        nxt = [int(Cmd[name]) for name in rule.next]
        if rule.window:
            wid = len(self.window_sizes)
            self.window_sizes.append(rule.window)
            for name in rule.prev:
                self.window_updates[int(Cmd[name])].append((wid, rule.weight(name)))
            for x in nxt:
                self.window_checks[x].append((wid, rule.window, rule.distance_cycles, rule))
            return
        key = (scope, prev)
        if key not in trackers:
            trackers[key] = len(self.tracker_scopes)
            self.tracker_scopes.append(scope)
            for p in prev:
                self.updates[p].append(trackers[key])
        is_bus = scope == _CHANNEL and len(prev) == len(Cmd) and len(set(nxt)) == len(Cmd)
        for x in nxt:
            self.checks[x].append((trackers[key], scope, rule.distance_cycles, rule, is_bus))

    def scope_size(self, scope: int) -> int:
        return (self.n_banks, self.n_groups, 1)[scope]

    def instances(self, cmd: int, bank: int) -> tuple[tuple[int, ...], ...]:
        """(target banks, their bank groups, (0,)): the scope instances a command touches."""
        key = (cmd, bank)
        found = self._targets.get(key)
        if found is None:
            banks = tuple(
                target_banks(cmd, bank, self.banks_per_group, self.n_banks, self.banks_per_unit)
            )
            groups = tuple(sorted({b // self.banks_per_group for b in banks}))
            found = self._targets[key] = (banks, groups, (0,))
        return found


# ---------------------------------------------------------------------------------------------
# reading the log's columns


def _field_names(log: Any) -> tuple[str, ...]:
    if isinstance(log, pd.DataFrame):
        return tuple(str(c) for c in log.columns)
    names = getattr(getattr(log, "dtype", None), "names", None)
    if names:
        return tuple(names)
    raise PimsimInputError(
        f"command log is a {type(log).__name__}",
        expected="a pandas DataFrame or a numpy structured array",
    )


def _int_list(values: Any, field: str) -> list[int]:
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64).tolist()
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64).tolist()
    raise PimsimInputError(
        f"command log field {field!r} has dtype {arr.dtype}", expected="integers"
    )


def _cmd_codes(values: Any) -> list[int]:
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        codes = arr.astype(np.int64).tolist()
    else:
        codes = []
        for value in arr.tolist():
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                codes.append(int(value))
            elif isinstance(value, str) and value in Cmd.__members__:
                codes.append(int(Cmd[value]))
            else:
                raise PimsimInputError(
                    f"command log field 'cmd': unknown command {value!r}",
                    expected="one of " + ", ".join(COMMAND_NAMES) + " or its integer code",
                )
    bad = [c for c in codes if not 0 <= c < len(Cmd)]
    if bad:
        raise PimsimInputError(
            f"command log field 'cmd': unknown command code {bad[0]}",
            expected=f"an integer code 0..{len(Cmd) - 1}",
        )
    return codes


@dataclass
class _Columns:
    cycle: list[int]
    cmd: list[int]
    channel: list[int]
    bank: list[int]
    row: list[int]
    column: list[int]
    bankgroup: list[int] | None

    def __len__(self) -> int:
        return len(self.cycle)


def violation_at(cols: _Columns, i: int, kind: str, message: str, **extra: Any) -> Violation:
    """The `Violation` of log row i."""
    return Violation(
        index=i,
        cycle=cols.cycle[i],
        cmd=COMMAND_NAMES[cols.cmd[i]],
        channel=cols.channel[i],
        bank=cols.bank[i],
        kind=kind,
        message=message,
        **extra,
    )


def _columns(log: Any) -> _Columns:
    names = _field_names(log)
    missing = [f for f in REQUIRED_FIELDS if f not in names]
    if missing:
        raise PimsimInputError(
            "command log lacks field(s) " + ", ".join(missing),
            expected="fields " + ", ".join(REQUIRED_FIELDS) + " (bankgroup optional)",
        )
    return _Columns(
        cycle=_int_list(log["cycle"], "cycle"),
        cmd=_cmd_codes(log["cmd"]),
        channel=_int_list(log["channel"], "channel"),
        bank=_int_list(log["bank"], "bank"),
        row=_int_list(log["row"], "row"),
        column=_int_list(log["column"], "column"),
        bankgroup=_int_list(log["bankgroup"], "bankgroup") if "bankgroup" in names else None,
    )


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
        table: _RuleTable,
        cols: _Columns,
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
    cols = _columns(log)
    table = _RuleTable(hw)
    frozen = frozenset(int(r) for r in releases)
    by_channel: dict[int, list[int]] = {}
    for i, ch in enumerate(cols.channel):
        by_channel.setdefault(ch, []).append(i)
    found: list[Violation] = []
    for indices in by_channel.values():
        found += _ChannelChecker(table, cols, tight, max_violations, frozen).run(indices)
    found.sort(key=lambda v: v.index)  # stable: per-command order of checks is kept
    return found if max_violations is None else found[:max_violations]


def _parse_int(text: str, path: Path, line: int, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise PimsimInputError(
            f"got {text!r}", file=path, key=f"line {line}, field '{field}'", expected="an integer"
        ) from None


def _parse_cmd(text: str, path: Path, line: int) -> str:
    name = text.strip()
    if name in Cmd.__members__:
        return name
    if name.isdigit() and int(name) < len(Cmd):
        return COMMAND_NAMES[int(name)]
    raise PimsimInputError(
        f"unknown command {text!r}",
        file=path,
        key=f"line {line}, field 'cmd'",
        expected="one of " + ", ".join(COMMAND_NAMES),
    )


def read_command_log(path: str | Path) -> pd.DataFrame:
    """Read a command-log CSV (header ``cycle,cmd,channel,bankgroup,bank,row,column``).

    ``bankgroup`` may be left out; blank lines and ``#`` comments are skipped. A malformed file
    raises `PimsimInputError` naming the line and the field. `cmd` comes back as names.
    """
    path = Path(path)
    try:
        handle = path.open(newline="")
    except OSError as exc:
        raise PimsimInputError(f"cannot read file: {exc.strerror}", file=path) from None
    with handle:
        rows = [
            (n, fields)
            for n, fields in enumerate(csv.reader(handle), start=1)
            if fields
            and not (len(fields) == 1 and not fields[0].strip())
            and not fields[0].lstrip().startswith("#")
        ]
    if not rows:
        raise PimsimInputError(
            "empty command log", file=path, expected="a header line " + ",".join(LOG_FIELDS)
        )
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in LOG_FIELDS]
    missing = [f for f in REQUIRED_FIELDS if f not in header]
    if unknown or missing or len(set(header)) != len(header):
        problem = (
            f"unknown field {unknown[0]!r}"
            if unknown
            else f"missing field {missing[0]!r}"
            if missing
            else "repeated field"
        )
        raise PimsimInputError(
            f"bad header: {problem}",
            file=path,
            key=f"line {header_line}",
            expected=",".join(LOG_FIELDS) + " (bankgroup optional)",
        )
    data: dict[str, list] = {name: [] for name in header}
    for line, fields in rows[1:]:
        if len(fields) != len(header):
            raise PimsimInputError(
                f"{len(fields)} fields",
                file=path,
                key=f"line {line}",
                expected=f"{len(header)} fields ({','.join(header)})",
            )
        for name, text in zip(header, fields, strict=True):
            value = (
                _parse_cmd(text, path, line)
                if name == "cmd"
                else _parse_int(text, path, line, name)
            )
            data[name].append(value)
    frame = {}
    for name in LOG_FIELDS:
        if name in data:
            values = data[name]
            if name == "cmd":
                frame[name] = values if values else np.array([], dtype=object)
            else:
                frame[name] = np.asarray(values, dtype=np.int64)
    return pd.DataFrame(frame)


def write_command_log(
    path: str | Path, log: pd.DataFrame | np.ndarray, *, banks_per_group: int | None = None
) -> None:
    """Write a command log as CSV (``cycle,cmd,channel,bankgroup,bank,row,column``, cmd names).

    A log without a ``bankgroup`` field needs `banks_per_group` to derive it. Written atomically.
    """
    cols = _columns(log)
    bankgroup = cols.bankgroup
    if bankgroup is None:
        if banks_per_group is None:
            raise ValueError("the log has no 'bankgroup' field: pass banks_per_group")
        bankgroup = [b // banks_per_group for b in cols.bank]
    lines = [",".join(LOG_FIELDS)]
    names = COMMAND_NAMES
    lines += [
        f"{cy},{names[cm]},{ch},{bg},{bk},{rw},{cl}"
        for cy, cm, ch, bg, bk, rw, cl in zip(
            cols.cycle,
            cols.cmd,
            cols.channel,
            bankgroup,
            cols.bank,
            cols.row,
            cols.column,
            strict=True,
        )
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")
