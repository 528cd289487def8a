"""Scenarios where one timing rule binds: shared by the tight-gate and the mutation tests.

`scenario(hw, prev, next, scope)` builds a command list: a prefix opens the rows the two commands
need, `prev` issues late (cycle LATE, so nothing older still constrains), a fixing command is
inserted only when `next` needs a bank state that `prev` left otherwise (a PRE before an ACT to
the same bank, an ACT before a column command), then `next` (issued at its earliest legal
cycle by `ChannelModel.run_raw`).
"""

from __future__ import annotations

import pandas as pd

from pimsim.core.commands import (
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
        ("channel", "ACTS->ACTS window"),
        # nCLREG + nBL + nRTW - nCWL < 1: the turnaround is within one command slot
        ("channel", "RDMAC->WR"),
    },
    "hbm_pim": {
        # nFAW (16) <= 4 x nRRDS (16)
        ("channel", "ACTS->ACTS window"),
        ("channel", "RDMAC->WR"),
        # (nRC == nRAS + nRP here: bank ACT->ACT ties with the ACT->PRE->ACT path and binds)
    },
}


def rule_key(rule) -> tuple[str, str]:
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


def scenario(hw, prev: Cmd, nxt: Cmd, scope: str) -> list[tuple]:
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


def frame(commands, cycles) -> pd.DataFrame:
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
