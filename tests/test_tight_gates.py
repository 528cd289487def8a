"""Every timing rule is a tight gate in the engine: the command is legal at t, illegal at t-1.

For each rule of the table and each (prev, next) command pair it covers, a scenario is built:
a prefix opens the rows the two commands need, `prev` issues late (cycle 10000, so nothing older
still constrains), a fixing command is inserted only when `next` needs a bank state that `prev`
left otherwise (a PRE before an ACT to the same bank, an ACT before a column command), then
`next` issues at the engine's earliest legal cycle. The independent checker must find the
engine's log legal, and the log with `next` one cycle earlier illegal. Where the rule under test
is the binding constraint, the violation at t-1 must be exactly that rule counted from `prev`.
A rule that binds in no scenario is dominated by another rule of the same table; those are listed
explicitly (with the reason) so a change to the table cannot silently leave a dead rule.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pimsim.config import load_hw
from pimsim.dram.channel import ChannelModel
from pimsim.dram.checker import check_log
from pimsim.dram.commands import (
    COMMANDS,
    NEED_CLOSED,
    NEED_OPEN_ROW,
    TARGET_ALL,
    TARGET_BANK,
    TARGET_BANKGROUP,
    TARGET_NONE,
    Cmd,
    target_banks,
)

LATE = 10_000
ROW = 7

# rules that can never be the binding constraint in a config, and why (see the config's values)
# (rolling-window rules are checked in test_faw_window_is_tight with a widened tFAW)
DOMINATED = {
    "gddr6_aim": {
        # (nRRDL == nRRDS and nCCDL == nCCDS here: those bank-group rules tie with the channel
        # ones, and a tie binds: the checker names both at t-1)
        # nFAW (42) <= 4 x nRRDS (44): four ACTs already span more than the window
        ("channel", "ACT->ACT window"),
        # nCLREG + nBL + 2 - nCWL < 1: the turnaround is within one command slot
        ("channel", "RDMAC->WR"),
    },
    "hbm_pim": {
        # nFAW (16) <= 4 x nRRDS (16)
        ("channel", "ACT->ACT window"),
        ("channel", "RDMAC->WR"),
        # (nRC == nRAS + nRP here: bank ACT->ACT ties with the ACT->PRE->ACT path and binds)
    },
}


def _rule_key(rule) -> tuple[str, str]:
    groups = {
        ("ACT", "ACT4", "ACT16"): "ACTS",
        ("PRE", "PRE4", "PREA"): "PRES",
        ("MAC", "MAC16"): "MACS",
        ("REFab", "REFpb"): "REFS",
    }

    def name(cmds: tuple[str, ...]) -> str:
        if len(cmds) == len(Cmd):
            return "*"
        return groups.get(tuple(cmds), "+".join(cmds))

    text = f"{name(rule.prev)}->{name(rule.next)}"
    return rule.scope, text + (" window" if rule.window else "")


def _bank_for_scope(scope: str, bpg: int) -> int:
    # bank of `next`: the same bank, another bank of the same group, another group
    return {"bank": 0, "bankgroup": 1, "channel": bpg}[scope]


def _opener(cmd: Cmd) -> Cmd:
    target = COMMANDS[cmd].target
    return Cmd.ACT if target == TARGET_BANK else Cmd.ACT16


def _closer(cmd: Cmd) -> Cmd:
    target = COMMANDS[cmd].target
    return Cmd.PRE if target == TARGET_BANK else Cmd.PREA


def _scenario(hw, prev: Cmd, nxt: Cmd, scope: str) -> list[tuple]:
    org, unit = hw.dram.organization, hw.pim.banks_per_mac_unit
    bank_p = 0
    bank_x = _bank_for_scope(scope, org.banks_per_group)
    if (
        COMMANDS[nxt].target in (TARGET_ALL, TARGET_NONE)
        or COMMANDS[nxt].target == TARGET_BANKGROUP
    ):
        bank_x = 0 if scope != "channel" else org.banks_per_group
    banks_p = set(target_banks(prev, bank_p, org.banks_per_group, org.banks, unit))
    banks_x = set(target_banks(nxt, bank_x, org.banks_per_group, org.banks, unit))
    open_rows = {b: -1 for b in range(org.banks)}
    prefix: list[tuple] = []

    def open_banks(cmd: Cmd, bank: int, banks: set[int]) -> None:
        if all(open_rows[b] == ROW for b in banks):
            return
        opener = _opener(cmd)
        opened = target_banks(opener, bank, org.banks_per_group, org.banks, unit)
        if any(open_rows[b] >= 0 for b in opened):
            prefix.append((_closer(cmd), bank, -1, -1))
            for b in target_banks(_closer(cmd), bank, org.banks_per_group, org.banks, unit):
                open_rows[b] = -1
        prefix.append((opener, bank, ROW, -1))
        for b in opened:
            open_rows[b] = ROW

    if COMMANDS[prev].needs == NEED_OPEN_ROW:
        open_banks(prev, bank_p, banks_p)
    if COMMANDS[nxt].needs == NEED_OPEN_ROW and not banks_x & banks_p:
        open_banks(nxt, bank_x, banks_x)
    commands = [(int(c), b, r, col, 0) for c, b, r, col in prefix]
    commands.append((int(prev), bank_p, ROW, 0, LATE))
    # bank state after prev
    info = COMMANDS[prev]
    for b in banks_p:
        if info.effect == 1:
            open_rows[b] = ROW
        elif info.effect == 2:
            open_rows[b] = -1
    needs = COMMANDS[nxt].needs
    if needs == NEED_CLOSED and any(open_rows[b] >= 0 for b in banks_x):
        commands.append((int(_closer(nxt)), bank_x, -1, -1, 0))
    if needs == NEED_OPEN_ROW and any(open_rows[b] != ROW for b in banks_x):
        opened = target_banks(_opener(nxt), bank_x, org.banks_per_group, org.banks, unit)
        if any(open_rows[b] >= 0 for b in opened):
            commands.append((int(_closer(nxt)), bank_x, -1, -1, 0))
        commands.append((int(_opener(nxt)), bank_x, ROW, -1, 0))
    commands.append((int(nxt), bank_x, ROW, 0, 0))
    return commands


def _frame(commands, cycles) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cycle": list(cycles),
            "cmd": [Cmd(c[0]).name for c in commands],
            "channel": 0,
            "bank": [c[1] for c in commands],
            "row": [c[2] for c in commands],
            "column": [max(c[3], 0) for c in commands],
        }
    )


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_every_rule_is_a_tight_gate(config):
    hw = load_hw(config, ["dram.refresh=none"])
    model = ChannelModel(hw)
    binds: dict[tuple[str, str], bool] = {}
    checked = 0
    for rule in hw.dram.rules:
        key = _rule_key(rule)
        binds.setdefault(key, False)
        if rule.prev == tuple(c.name for c in Cmd):  # the command-bus rule: covered below
            binds[key] = True
            continue
        for prev_name in rule.prev:
            for next_name in rule.next:
                prev, nxt = Cmd[prev_name], Cmd[next_name]
                if not hw.pim.enabled and (
                    prev in (Cmd.MAC, Cmd.MAC16) or nxt in (Cmd.MAC, Cmd.MAC16)
                ):
                    continue
                if rule.window:
                    continue  # rolling windows: test_faw_window_is_tight
                commands = _scenario(hw, prev, nxt, rule.scope)
                cycles = model.run_raw(commands)
                frame = _frame(commands, cycles)
                assert check_log(frame, hw) == [], (rule, commands, cycles)
                t_next = int(cycles[-1])
                early = frame.copy()
                early.loc[len(early) - 1, "cycle"] = t_next - 1
                violations = [v for v in check_log(early, hw) if v.index == len(early) - 1]
                assert violations, f"{rule}: {prev_name}->{next_name} legal one cycle early"
                p_index = len(commands) - 2
                while commands[p_index][0] != int(prev) or commands[p_index][4] != LATE:
                    p_index -= 1
                if t_next == int(cycles[p_index]) + rule.distance_cycles:
                    assert any(v.rule == rule and v.prev_index == p_index for v in violations), (
                        rule,
                        violations,
                    )
                    binds[key] = True
                checked += 1
    assert checked > 100
    never = {key for key, bound in binds.items() if not bound}
    assert never == DOMINATED[config]


def test_command_bus_gate():
    hw = load_hw("gddr6_aim", ["dram.refresh=none"])
    cycles = ChannelModel(hw).run_raw([(Cmd.WRGB, 0, -1, 0), (Cmd.ACT, 0, 3, -1)])
    assert cycles.tolist() == [0, 1]  # no rule links WRGB and ACT: only one command per cycle


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_faw_window_is_tight(config):
    # widen tFAW beyond 4 x tRRD_S so the window binds: the 5th ACT waits for the 1st + tFAW
    hw0 = load_hw(config)
    faw = 4 * hw0.dram.t("nRRDS") + 5
    hw = load_hw(config, ["dram.refresh=none", f"dram.timing.nFAW={faw}"])
    bpg = hw.dram.organization.banks_per_group
    banks = [0, bpg, 2 * bpg, 3 * bpg, 1]  # different bank groups first
    commands = [(Cmd.ACT, b, 1, -1) for b in banks]
    cycles = ChannelModel(hw).run_raw(commands)
    assert cycles[4] == cycles[0] + faw
    frame = _frame([(int(c), b, r, col) for c, b, r, col in commands], cycles)
    assert check_log(frame, hw) == []
    frame.loc[4, "cycle"] -= 1
    violations = check_log(frame, hw)
    assert [v.rule.window for v in violations] == [4]
