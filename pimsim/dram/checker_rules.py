"""The rule-table checker's index of the timing rules: which trackers each command updates and
reads (`pimsim.dram.checker`), compiled once per hardware description."""

from __future__ import annotations

from pimsim.config.schema import HardwareConfig, TimingRule
from pimsim.core.commands import Cmd, target_banks

_BANK, _BANKGROUP, _CHANNEL = 0, 1, 2
_SCOPE_CODE = {"bank": _BANK, "bankgroup": _BANKGROUP, "channel": _CHANNEL}


class RuleTable:
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
