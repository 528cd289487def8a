"""The DRAM / PIM command set and what each command does to the banks it targets.

The command set is fixed in code (it is the instruction set the engine understands); what a
command must wait for is data (the timing-rule table of each DRAM preset). A command's *target
set* is derived from its ``bank`` field:

- ``bank``      : the one bank named;
- ``bankgroup`` : every bank of the named bank's bank group (AiM's ACT4 / PRE4);
- ``all``       : every bank of the channel (ACT16, PREA, REFab);
- ``unit``      : every bank served by the same parity of MAC unit, ``b % banks_per_unit``
                  (all banks when each bank has its own unit, as in GDDR6-AiM's MAC16; the even
                  or the odd banks on HBM-PIM, where one unit serves two banks);
- ``none``      : no bank: a channel-level command (global-buffer write, MAC-result read).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Cmd(IntEnum):
    ACT = 0
    ACT4 = 1
    ACT16 = 2
    PRE = 3
    PRE4 = 4
    PREA = 5
    RD = 6
    WR = 7
    MAC = 8
    MAC16 = 9
    WRGB = 10
    RDMAC = 11
    REFab = 12
    REFpb = 13
    TMOD = 14


N_CMDS = len(Cmd)

# target-set kinds
TARGET_BANK, TARGET_BANKGROUP, TARGET_ALL, TARGET_UNIT, TARGET_NONE = range(5)
# what a command needs of its target banks before it may issue
NEED_NOTHING, NEED_CLOSED, NEED_OPEN_ROW = range(3)
# what it does to them
EFFECT_NONE, EFFECT_OPEN, EFFECT_CLOSE = range(3)


@dataclass(frozen=True)
class CommandInfo:
    """One command: what it acts on and needs, what it does, how long until its work is done,
    where a report counts it and what energy it is charged."""

    cmd: Cmd
    target: int
    needs: int
    effect: int
    is_column: bool  # counts as a column access for row-hit statistics
    description: str
    family: str  # the report's command family (`commands` of pimsim.report.v1)
    # cycles from issue until its work is done: the sum of these timing parameters, each with
    # the value used when a preset does not define it; () means one cycle
    completion: tuple[tuple[str, int], ...] = ()
    # energy: the DramEnergy field charged per command (None: nothing), times 1, the banks it
    # targets ("banks") or the MAC units it drives ("units"), into the energy component named;
    # `io_burst`: it moves one column access of data between the device and the ASIC
    energy_key: str | None = None
    energy_scale: str = "one"
    component: str | None = None
    io_burst: bool = False


def _info(cmd, target, needs, effect, is_column, description, family, **energy) -> CommandInfo:
    return CommandInfo(cmd, target, needs, effect, is_column, description, family, **energy)


_ACT = {"energy_key": "act_per_bank_nJ", "energy_scale": "banks", "component": "dram_activate"}
_MAC = {"energy_key": "mac_per_bank_nJ", "energy_scale": "units", "component": "pim_mac"}
COMMANDS: dict[Cmd, CommandInfo] = {
    info.cmd: info
    for info in (
        _info(
            Cmd.ACT,
            TARGET_BANK,
            NEED_CLOSED,
            EFFECT_OPEN,
            False,
            "activate one bank",
            "ACT",
            **_ACT,
        ),
        _info(
            Cmd.ACT4,
            TARGET_BANKGROUP,
            NEED_CLOSED,
            EFFECT_OPEN,
            False,
            "activate the 4 banks of a bank group",
            "ACT",
            **_ACT,
        ),
        _info(
            Cmd.ACT16,
            TARGET_ALL,
            NEED_CLOSED,
            EFFECT_OPEN,
            False,
            "activate all banks",
            "ACT",
            **_ACT,
        ),
        # a precharge is charged with its activation (the ACT/PRE pair)
        _info(Cmd.PRE, TARGET_BANK, NEED_NOTHING, EFFECT_CLOSE, False, "precharge one bank", "PRE"),
        _info(
            Cmd.PRE4,
            TARGET_BANKGROUP,
            NEED_NOTHING,
            EFFECT_CLOSE,
            False,
            "precharge a bank group",
            "PRE",
        ),
        _info(
            Cmd.PREA, TARGET_ALL, NEED_NOTHING, EFFECT_CLOSE, False, "precharge all banks", "PRE"
        ),
        _info(
            Cmd.RD,
            TARGET_BANK,
            NEED_OPEN_ROW,
            EFFECT_NONE,
            True,
            "column read",
            "RD",
            completion=(("nCL", 0), ("nBL", 0)),
            energy_key="rd_nJ",
            component="dram_column",
            io_burst=True,
        ),
        _info(
            Cmd.WR,
            TARGET_BANK,
            NEED_OPEN_ROW,
            EFFECT_NONE,
            True,
            "column write",
            "WR",
            completion=(("nCWL", 0), ("nBL", 0)),
            energy_key="wr_nJ",
            component="dram_column",
            io_burst=True,
        ),
        _info(
            Cmd.MAC,
            TARGET_BANK,
            NEED_OPEN_ROW,
            EFFECT_NONE,
            True,
            "MAC of one column with the global buffer, one bank",
            "MAC",
            **_MAC,
        ),
        _info(
            Cmd.MAC16,
            TARGET_UNIT,
            NEED_OPEN_ROW,
            EFFECT_NONE,
            True,
            "MAC of one column in every MAC unit (all-bank PIM mode)",
            "MAC",
            **_MAC,
        ),
        _info(
            Cmd.WRGB,
            TARGET_NONE,
            NEED_NOTHING,
            EFFECT_NONE,
            False,
            "write one column of the global (input) buffer",
            "WRGB",
            completion=(("nCWLGB", 1), ("nBL", 0)),
            energy_key="global_buffer_write_nJ",
            component="global_buffer",
            io_burst=True,
        ),
        _info(
            Cmd.RDMAC,
            TARGET_NONE,
            NEED_NOTHING,
            EFFECT_NONE,
            False,
            "read the MAC result registers",
            "RDMAC",
            completion=(("nCLREG", 0), ("nBL", 0)),
            energy_key="result_read_nJ",
            component="result_read",
            io_burst=True,
        ),
        _info(
            Cmd.REFab,
            TARGET_ALL,
            NEED_CLOSED,
            EFFECT_NONE,
            False,
            "all-bank refresh",
            "REF",
            completion=(("nRFC", 1),),
            energy_key="refab_nJ",
            component="refresh",
        ),
        _info(
            Cmd.REFpb,
            TARGET_BANK,
            NEED_CLOSED,
            EFFECT_NONE,
            False,
            "per-bank refresh",
            "REF",
            completion=(("nRFCpb", 1),),
            energy_key="refpb_nJ",
            component="refresh",
        ),
        # a mode-register write: no array access, no data burst
        _info(
            Cmd.TMOD,
            TARGET_NONE,
            NEED_NOTHING,
            EFFECT_NONE,
            False,
            "toggle the channel between bank and register access mode (AiM, pim.mode_switch)",
            "TMOD",
        ),
    )
}


def completion_cycles(cmd: Cmd, timing: dict[str, int]) -> int:
    """Cycles from issuing `cmd` until its work (data burst, refresh) is done."""
    terms = COMMANDS[cmd].completion
    if not terms:
        return 1
    return sum(int(timing.get(name, default)) for name, default in terms)


# access modes (`pim.mode_switch`): the AiM simulator's channels are in bank mode (row and
# column commands, MACs) or register mode (global-buffer writes, result reads); a command of
# the other mode needs a TMOD first. Refreshes and TMOD itself work in either mode.
MODE_ANY, MODE_BANK, MODE_REGISTER = 0, 1, 2
ACCESS_MODE: dict[Cmd, int] = {
    **{c: MODE_BANK for c in Cmd},
    Cmd.WRGB: MODE_REGISTER,
    Cmd.RDMAC: MODE_REGISTER,
    Cmd.REFab: MODE_ANY,
    Cmd.REFpb: MODE_ANY,
    Cmd.TMOD: MODE_ANY,
}

COMMAND_NAMES: tuple[str, ...] = tuple(c.name for c in Cmd)


def parse_command(name: str) -> Cmd:
    """Command by name (exact spelling, e.g. ``REFab``); raises KeyError if unknown."""
    return Cmd[name]


def target_banks(
    cmd: int, bank: int, banks_per_group: int, n_banks: int, banks_per_unit: int
) -> list[int]:
    """The banks a command with bank field ``bank`` acts on (see the module docstring)."""
    kind = COMMANDS[Cmd(cmd)].target
    if kind == TARGET_BANK:
        return [bank]
    if kind == TARGET_BANKGROUP:
        first = (bank // banks_per_group) * banks_per_group
        return list(range(first, first + banks_per_group))
    if kind == TARGET_ALL:
        return list(range(n_banks))
    if kind == TARGET_UNIT:
        return [b for b in range(n_banks) if b % banks_per_unit == bank % banks_per_unit]
    return []


# command families: the contract keys of the JSON reports ("ACT" counts every activate, ...);
# TMOD (the access-mode switch) is listed only where a configuration issues it
FAMILY_ORDER = ("ACT", "PRE", "RD", "WR", "MAC", "REF", "WRGB", "RDMAC")
FAMILIES: dict[str, tuple[Cmd, ...]] = {
    family: tuple(c for c in Cmd if COMMANDS[c].family == family) for family in FAMILY_ORDER
}


def family_counts(by_type: dict[str, int]) -> dict[str, int]:
    """Per-family totals from per-command-type counts (TMOD, the mode switch, only where a
    configuration issues it: `pim.mode_switch`)."""
    counts = {
        family: sum(by_type.get(c.name, 0) for c in members) for family, members in FAMILIES.items()
    }
    if by_type.get("TMOD", 0):
        counts["TMOD"] = by_type["TMOD"]
    return counts
