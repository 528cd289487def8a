"""The independent DRAM protocol checker (pimsim.dram.checker).

Hand-built sequences use timings read from the loaded hardware descriptions; the randomised tests
compare the checker with a deliberately naive second oracle written here (pairwise over all
earlier commands, state replayed from reset for every command) and with a brute-force
earliest-legal scheduler built on that oracle.
"""

from __future__ import annotations

import argparse
import functools
import random

import numpy as np
import pandas as pd
import pytest

from pimsim import cli
from pimsim.cli import check_log as check_log_cmd
from pimsim.config import load_hw
from pimsim.core.commands import COMMANDS, NEED_CLOSED, NEED_OPEN_ROW, TARGET_NONE, Cmd
from pimsim.core.commands import target_banks as spec_targets
from pimsim.core.errors import PimsimInputError
from pimsim.dram.checker import Violation, check_log, read_command_log, write_command_log
from pimsim.dram.protocol import check_protocol

CONFIGS = ("gddr6_aim", "hbm_pim", "gddr6")
COLS = ["cycle", "cmd", "channel", "bank", "row", "column"]


@functools.cache
def hw_of(name: str, *overrides: str):
    return load_hw(name, list(overrides))


def T(hw, name: str) -> int:
    return hw.dram.t(name)


def frame(rows, channel: int = 0) -> pd.DataFrame:
    """rows of (cycle, cmd, bank, row, column) on one channel."""
    return pd.DataFrame([(t, c, channel, b, r, col) for t, c, b, r, col in rows], columns=COLS)


def found(violations: list[Violation]) -> set[tuple[int, str, str | None]]:
    """(index, kind, rule expression) of each violation."""
    return {(v.index, v.kind, v.rule.expression if v.rule else None) for v in violations}


def basic_rows(hw) -> list[tuple]:
    """ACT b0 r5, RD, PRE, ACT b0 r6, each at its earliest legal cycle."""
    rd = T(hw, "nRCDRD")
    pre = max(T(hw, "nRAS"), rd + T(hw, "nRTP"))
    act = max(pre + T(hw, "nRP"), T(hw, "nRC"))
    return [(0, "ACT", 0, 5, 0), (rd, "RD", 0, 5, 3), (pre, "PRE", 0, 0, 0), (act, "ACT", 0, 6, 0)]


# ---------------------------------------------------------------------------------------------
# hand-built sequences


@pytest.mark.parametrize("name", CONFIGS)
def test_basic_sequence_is_legal_and_tight(name):
    hw = hw_of(name)
    assert check_log(frame(basic_rows(hw)), hw, tight=True) == []


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_basic_sequence_one_cycle_early(name, k):
    hw = hw_of(name)
    rows = basic_rows(hw)
    rd, pre, act = rows[1][0], rows[2][0], rows[3][0]
    binding = {
        1: {"nRCDRD": T(hw, "nRCDRD")},
        2: {"nRAS": T(hw, "nRAS"), "nRTP": rd + T(hw, "nRTP")},
        3: {"nRC": T(hw, "nRC"), "nRP": pre + T(hw, "nRP")},
    }[k]
    t = rows[k][0]
    expected = {(k, "timing", expr) for expr, bound in binding.items() if bound == t}
    assert expected  # at least one rule binds at the earliest cycle
    rows[k] = (t - 1, *rows[k][1:])
    violations = check_log(frame(rows), hw)
    assert found(violations) == expected
    assert all(v.required_cycle == t and v.cycle == t - 1 for v in violations)
    assert rd == T(hw, "nRCDRD") and act >= pre


def test_message_names_rule_and_cycles():
    hw = hw_of("gddr6_aim")
    rows = [(100, "ACT", 3, 1, 0), (100 + T(hw, "nRCDRD") - 1, "RD", 3, 1, 0)]
    (v,) = check_log(frame(rows), hw)
    nrcd = T(hw, "nRCDRD")
    assert (
        v.message == f"bank ACT->RD needs {nrcd} cycles (nRCDRD) after cycle 100, got {99 + nrcd}"
    )
    assert (v.index, v.kind, v.prev_index, v.cmd, v.bank) == (1, "timing", 0, "RD", 3)
    assert str(v).startswith(f"#1 cycle {99 + nrcd} RD ch 0 bank 3: timing:")


def test_write_then_read_turnaround_and_write_recovery():
    hw = hw_of("gddr6")
    wr = T(hw, "nRCDWR")
    rd = max(wr + T(hw, "nCWL") + T(hw, "nBL") + T(hw, "nWTRL"), T(hw, "nRCDRD"))
    pre = max(T(hw, "nRAS"), wr + T(hw, "nCWL") + T(hw, "nBL") + T(hw, "nWR"), rd + T(hw, "nRTP"))
    rows = [(0, "ACT", 0, 7, 0), (wr, "WR", 0, 7, 1), (rd, "RD", 0, 7, 2), (pre, "PRE", 0, 0, 0)]
    assert check_log(frame(rows), hw, tight=True) == []
    rows[2] = (rd - 1, *rows[2][1:])
    assert found(check_log(frame(rows), hw)) == {(2, "timing", "nCWL + nBL + nWTRL")}


def test_bankgroup_scope():
    hw = hw_of("hbm_pim")  # nRRDL > nRRDS
    rrds, rrdl = T(hw, "nRRDS"), T(hw, "nRRDL")
    assert rrdl > rrds
    same_group = [(0, "ACT", 0, 1, 0), (rrds, "ACT", 1, 1, 0)]
    assert found(check_log(frame(same_group), hw)) == {(1, "timing", "nRRDL")}
    other_group = [(0, "ACT", 0, 1, 0), (rrds, "ACT", 4, 1, 0)]
    assert check_log(frame(other_group), hw, tight=True) == []


def test_channel_scope():
    hw = hw_of("hbm_pim")
    rrds = T(hw, "nRRDS")
    rows = [(0, "ACT", 0, 1, 0), (rrds - 1, "ACT", 4, 1, 0)]
    (v,) = check_log(frame(rows), hw)
    assert (v.kind, v.rule.scope, v.rule.expression, v.required_cycle) == (
        "timing",
        "channel",
        "nRRDS",
        rrds,
    )


def test_channel_level_commands_share_no_bank():
    hw = hw_of("gddr6_aim")
    gb_to_mac = T(hw, "nCWLGB") + T(hw, "nBL")
    rows = [(0, "ACT16", 0, 2, 0), (1, "WRGB", 0, 0, 0), (T(hw, "nRCDRDMAC"), "MAC16", 0, 2, 0)]
    assert T(hw, "nRCDRDMAC") >= 1 + gb_to_mac
    assert check_log(frame(rows), hw, tight=True) == []
    res = T(hw, "nRCDRDMAC") + T(hw, "nMACRES")
    rows.append((res - 1, "RDMAC", 0, 0, 0))
    # nMACRES ties with the shared read-bus spacing nCCDS here (2 cycles each): both bind
    assert T(hw, "nMACRES") == T(hw, "nCCDS")
    assert found(check_log(frame(rows), hw)) == {(3, "timing", "nMACRES"), (3, "timing", "nCCDS")}


def test_four_activate_window():
    hw = hw_of("hbm_pim", "dram.timing.nFAW=30")
    rrds, faw = T(hw, "nRRDS"), T(hw, "nFAW")
    banks = [0, 4, 8, 12, 1]  # four bank groups, then back to the first
    rows = [(k * rrds, "ACT", b, 3, 0) for k, b in enumerate(banks)]
    assert 4 * rrds < faw
    (v,) = check_log(frame(rows), hw)
    assert (v.index, v.kind, v.rule.window, v.required_cycle, v.prev_index) == (
        4,
        "timing",
        4,
        faw,
        0,
    )
    rows[4] = (faw, "ACT", 1, 3, 0)
    assert check_log(frame(rows), hw, tight=True) == []


def test_state_violations():
    hw = hw_of("gddr6_aim")
    rcd, rc = T(hw, "nRCDRD"), T(hw, "nRC")
    closed = [(0, "ACT", 0, 5, 0), (rcd, "RD", 1, 5, 0)]
    assert found(check_log(frame(closed), hw)) == {(1, "state", None)}
    wrong_row = [(0, "ACT", 0, 5, 0), (rcd, "RD", 0, 6, 0)]
    (v,) = check_log(frame(wrong_row), hw)
    assert v.kind == "state" and "row 5 open" in v.message
    act_open = [(0, "ACT", 0, 5, 0), (rc, "ACT", 0, 6, 0)]
    assert found(check_log(frame(act_open), hw)) == {(1, "state", None)}
    ref_open = [(0, "ACT", 0, 5, 0), (rc, "REFab", 0, 0, 0)]
    assert found(check_log(frame(ref_open), hw)) == {(1, "state", None)}
    pre_closed = [(0, "PRE", 3, 0, 0), (T(hw, "nRP"), "REFab", 0, 0, 0)]
    assert check_log(frame(pre_closed), hw) == []


def test_refresh_postponement_allowance():
    hw = hw_of("gddr6_aim", "dram.refresh_postpone=2")
    refi = T(hw, "nREFI")
    postponed = [(refi, "WRGB", 0, 0, 0), (3 * refi - 10, "WRGB", 0, 0, 0)]
    assert check_log(frame(postponed), hw) == []
    overdue = postponed + [(3 * refi, "WRGB", 0, 0, 0)]
    assert found(check_log(frame(overdue), hw)) == {(2, "refresh", None)}


def test_refresh_pull_in_allowance():
    hw = hw_of("gddr6_aim", "dram.refresh_pull_in=2")
    rfc = T(hw, "nRFC")
    ahead = [(0, "REFab", 0, 0, 0), (rfc, "REFab", 0, 0, 0)]  # 1 and 2 intervals early
    assert check_log(frame(ahead), hw) == []
    too_far = ahead + [(2 * rfc, "REFab", 0, 0, 0)]  # the third is almost 3 intervals early
    (v,) = check_log(frame(too_far), hw)
    assert (v.index, v.kind) == (2, "refresh") and "pulled in" in v.message
    assert check_log(frame(too_far), hw_of("gddr6_aim", "dram.refresh_pull_in=3")) == []


def test_all_bank_refresh_obligation():
    hw = hw_of("gddr6_aim", "dram.refresh_postpone=0")
    refi, rfc = T(hw, "nREFI"), T(hw, "nRFC")
    late = [(refi - 10, "WRGB", 0, 0, 0), (refi, "WRGB", 0, 0, 0)]
    assert found(check_log(frame(late), hw)) == {(1, "refresh", None)}
    ok = [
        (0, "ACT", 0, 5, 0),
        (refi, "PREA", 0, 0, 0),
        (refi + T(hw, "nRP"), "REFab", 0, 0, 0),
        (refi + T(hw, "nRP") + rfc, "ACT", 0, 5, 0),
    ]
    assert check_log(frame(ok), hw, tight=True) == []
    second_due = ok + [(2 * refi, "WRGB", 0, 0, 0)]
    assert found(check_log(frame(second_due), hw)) == {(4, "refresh", None)}
    wrong_kind = [(0, "REFpb", 0, 0, 0)]
    assert found(check_log(frame(wrong_kind), hw)) == {(0, "refresh", None)}


def test_per_bank_refresh_targets():
    hw = hw_of("gddr6_aim", "dram.refresh=per_bank", "dram.refresh_postpone=0")
    interval = T(hw, "nREFI") // hw.dram.organization.banks
    good = [(interval, "REFpb", 0, 0, 0), (2 * interval, "REFpb", 1, 0, 0)]
    assert check_log(frame(good), hw, tight=True) == []
    wrong = [(interval, "REFpb", 0, 0, 0), (2 * interval, "REFpb", 2, 0, 0)]
    (v,) = check_log(frame(wrong), hw)
    assert (v.index, v.kind) == (1, "refresh") and "bank 1" in v.message
    overdue = [(interval, "WRGB", 0, 0, 0)]
    assert found(check_log(frame(overdue), hw)) == {(0, "refresh", None)}
    ref_ab = [(5, "REFab", 0, 0, 0)]
    assert found(check_log(frame(ref_ab), hw)) == {(0, "refresh", None)}


def test_no_refresh_mode():
    hw = hw_of("gddr6_aim", "dram.refresh=none")
    rows = [(10 * T(hw, "nREFI"), "WRGB", 0, 0, 0)]
    assert check_log(frame(rows), hw) == []


def test_out_of_order_is_reported_once():
    hw = hw_of("gddr6_aim")
    rrds = T(hw, "nRRDS")
    rows = [(10, "WRGB", 0, 0, 0), (5, "ACT", 0, 1, 0), (5 + rrds, "ACT", 4, 1, 0)]
    violations = check_log(frame(rows), hw)
    assert [(v.index, v.kind, v.required_cycle) for v in violations] == [(1, "order", 11)]
    same_cycle = [(10, "WRGB", 0, 0, 0), (10, "ACT", 0, 0, 0)]
    assert found(check_log(frame(same_cycle), hw)) == {(1, "order", None)}


def test_ranges():
    hw = hw_of("gddr6_aim")
    org = hw.dram.organization
    rcd = T(hw, "nRCDRD")
    cases = [
        [(0, "ACT", org.banks, 0, 0)],
        [(0, "ACT", 0, org.rows, 0)],
        [(0, "ACT", 0, 1, 0), (rcd, "RD", 0, 1, org.columns)],
        [(0, "ACT", -1, 1, 0)],
    ]
    for rows in cases:
        violations = check_log(frame(rows), hw)
        assert [(v.index, v.kind) for v in violations] == [(len(rows) - 1, "range")]
    far = frame([(0, "WRGB", 0, 0, 0)], channel=hw.dram.channels)
    assert [v.kind for v in check_log(far, hw)] == ["range"]
    log = frame([(0, "ACT", 5, 1, 0)])
    log["bankgroup"] = [0]
    (v,) = check_log(log, hw)
    assert v.kind == "range" and "bankgroup" in v.message
    log["bankgroup"] = [1]
    assert check_log(log, hw) == []


def test_multi_bank_unit_targets_on_hbm_pim():
    hw = hw_of("hbm_pim")
    assert hw.pim.banks_per_mac_unit == 2
    mac = T(hw, "nRCDRDMAC")
    all_open = [(0, "ACT16", 0, 9, 0), (mac, "MAC16", 1, 9, 0)]
    assert check_log(frame(all_open), hw, tight=True) == []
    # ACT4 opens banks 0-3: MAC16 on bank 0 targets the even banks, so 4, 6, ..., 14 are closed
    one_group = [(0, "ACT4", 0, 9, 0), (mac, "MAC16", 0, 9, 0)]
    (v,) = check_log(frame(one_group), hw)
    assert v.kind == "state" and "bank(s) 4, 6, 8, 10, 12, 14 closed" in v.message
    # the odd banks 1, 3 are open in row 9, the rest of the odd banks are not
    odd = [(0, "ACT4", 0, 9, 0), (mac, "MAC16", 3, 9, 0)]
    (v,) = check_log(frame(odd), hw)
    assert "bank(s) 5, 7, 9, 11, 13, 15 closed" in v.message


def test_multi_bank_commands_bind_bank_rules_on_every_target():
    hw = hw_of("gddr6_aim")
    ras, rp, rc = T(hw, "nRAS"), T(hw, "nRP"), T(hw, "nRC")
    assert ras + rp < rc
    rows = [(0, "ACT", 2, 1, 0), (ras, "PRE", 2, 0, 0), (ras + rp, "ACT16", 0, 4, 0)]
    violations = check_log(frame(rows), hw)
    assert found(violations) == {(2, "timing", "nRC")}
    assert violations[0].required_cycle == rc
    rows[2] = (rc, "ACT16", 0, 4, 0)
    assert check_log(frame(rows), hw, tight=True) == []
    # MAC16 on GDDR6-AiM (one MAC unit per bank) needs every bank open
    partial = [(0, "ACT4", 0, 4, 0), (T(hw, "nRCDRDMAC"), "MAC16", 0, 4, 0)]
    (v,) = check_log(frame(partial), hw)
    assert v.kind == "state" and "bank(s) 4, 5, 6, 7, 8" in v.message


def test_tightness():
    hw = hw_of("gddr6_aim")
    rows = basic_rows(hw)
    rows[1] = (rows[1][0] + 1, *rows[1][1:])
    (v,) = check_log(frame(rows), hw, tight=True)
    assert (v.index, v.kind, v.required_cycle) == (1, "not_tight", T(hw, "nRCDRD"))
    assert check_log(frame(rows), hw) == []  # late is legal
    first_late = [(5, "WRGB", 0, 0, 0)]
    assert found(check_log(frame(first_late), hw, tight=True)) == {(0, "not_tight", None)}
    refi = T(hw, "nREFI")
    # nothing but no-ops during tRFC (JEDEC): the WRGB waits for the refresh to complete
    at_due = [(refi, "REFab", 0, 0, 0), (refi + T(hw, "nRFC"), "WRGB", 0, 0, 0)]
    assert check_log(frame(at_due), hw, tight=True) == []
    inside = [(refi, "REFab", 0, 0, 0), (refi + 1, "WRGB", 0, 0, 0)]
    assert found(check_log(frame(inside), hw)) == {(1, "timing", "nRFC")}


def test_max_violations_and_input_forms():
    hw = hw_of("gddr6_aim")
    rows = [(10 - k, "PRE", 0, 0, 0) for k in range(6)]
    assert len(check_log(frame(rows), hw)) == 5
    assert [v.index for v in check_log(frame(rows), hw, max_violations=2)] == [1, 2]
    log = frame(basic_rows(hw))
    codes = log.assign(cmd=[int(Cmd[c]) for c in log["cmd"]])
    assert check_log(codes, hw, tight=True) == []
    assert check_log(codes.to_records(index=False), hw, tight=True) == []
    early = codes.copy()
    early.loc[1, "cycle"] -= 1
    assert found(check_log(early.to_records(index=False), hw)) == {(1, "timing", "nRCDRD")}
    with pytest.raises(PimsimInputError, match="lacks field"):
        check_log(log.drop(columns=["row"]), hw)
    with pytest.raises(PimsimInputError, match="unknown command"):
        check_log(log.assign(cmd=["ACT", "READ", "PRE", "ACT"]), hw)
    with pytest.raises(PimsimInputError, match="unknown command code"):
        check_log(log.assign(cmd=[0, 99, 3, 0]), hw)


def test_channels_are_checked_independently():
    hw = hw_of("gddr6_aim")
    a = frame(basic_rows(hw), channel=0)
    b_rows = basic_rows(hw)
    b_rows[2] = (b_rows[2][0] - 1, *b_rows[2][1:])  # one violation on channel 3
    b = frame(b_rows, channel=3)
    both = pd.concat([a, b]).sort_values("cycle", kind="stable").reset_index(drop=True)
    violations = check_log(both, hw, tight=True)
    expected_b = check_log(b, hw, tight=True)
    assert len(violations) == len(expected_b) >= 1
    for v, w in zip(violations, expected_b, strict=True):
        assert both.loc[v.index, "channel"] == 3 and v.message == w.message


# ---------------------------------------------------------------------------------------------
# a naive second oracle, straight from the specification


def _targets(hw, cmd: str, bank: int) -> set[int]:
    org = hw.dram.organization
    return set(
        spec_targets(Cmd[cmd], bank, org.banks_per_group, org.banks, hw.pim.banks_per_mac_unit)
    )


def _valid_bank(hw, cmd: str, bank: int) -> bool:
    return COMMANDS[Cmd[cmd]].target == TARGET_NONE or 0 <= bank < hw.dram.organization.banks


def _interval(hw) -> int:
    refi = hw.dram.timing_cycles.get("nREFI", 0)
    return {"all_bank": refi, "per_bank": refi // hw.dram.organization.banks}.get(
        hw.dram.refresh, 0
    )


def naive_command(hw, log: list[tuple], i: int) -> set[tuple[str, object]]:
    """(kind, rule) broken by command i of a one-channel log of (cycle, cmd, bank, row, col)."""
    org = hw.dram.organization
    t, cmd, bank, row, col = log[i]
    out: set[tuple[str, object]] = set()
    order_bad = i > 0 and t <= log[i - 1][0]
    if order_bad:
        out.add(("order", None))
    uses_row = cmd in ("ACT", "ACT4", "ACT16", "RD", "WR", "MAC", "MAC16")
    uses_col = cmd in ("RD", "WR", "MAC", "MAC16")
    if (
        t < 0
        or not _valid_bank(hw, cmd, bank)
        or (uses_row and not 0 <= row < org.rows)
        or (uses_col and not 0 <= col < org.columns)
    ):
        out.add(("range", None))
    if not _valid_bank(hw, cmd, bank):
        return out
    earlier = [j for j in range(i) if _valid_bank(hw, log[j][1], log[j][2])]
    # bank state, replayed from reset
    open_rows: dict[int, int] = {}
    for j in earlier:
        _, c, b, r, _ = log[j]
        if c in ("ACT", "ACT4", "ACT16"):
            open_rows.update({x: r for x in _targets(hw, c, b)})
        elif c in ("PRE", "PRE4", "PREA"):
            for x in _targets(hw, c, b):
                open_rows.pop(x, None)
    mine = _targets(hw, cmd, bank)
    needs = COMMANDS[Cmd[cmd]].needs
    if (needs == NEED_CLOSED and any(x in open_rows for x in mine)) or (
        needs == NEED_OPEN_ROW and any(open_rows.get(x) != row for x in mine)
    ):
        out.add(("state", None))
    # refresh
    mode = hw.dram.refresh
    if mode != "none":
        own, other = ("REFab", "REFpb") if mode == "all_bank" else ("REFpb", "REFab")
        done = sum(1 for j in earlier if log[j][1] == own)
        if cmd == other:
            out.add(("refresh", None))
        elif cmd == own:
            if mode == "per_bank" and bank != done % org.banks:
                out.add(("refresh", None))
            # at most postpone + 1 intervals late (JEDEC: refreshes owed at any time)
            if t >= (done + 1 + hw.dram.refresh_postpone + 1) * _interval(hw):
                out.add(("refresh", None))
        elif cmd not in ("PRE", "PRE4", "PREA") and t >= (
            done + 1 + hw.dram.refresh_postpone
        ) * _interval(hw):
            out.add(("refresh", None))
    # timing, pairwise against every earlier command
    for rule in hw.dram.rules:
        if cmd not in rule.next:
            continue
        d = rule.distance_cycles
        if rule.window:
            cycles = sorted(
                (
                    log[j][0]
                    for j in earlier
                    if log[j][1] in rule.prev
                    for _ in range(rule.weight(log[j][1]))
                ),
                reverse=True,
            )
            if len(cycles) >= rule.window and t < cycles[rule.window - 1] + d:
                out.add(("timing", rule))
            continue
        if order_bad and rule.scope == "channel" and len(rule.prev) == len(rule.next) == len(Cmd):
            continue
        for j in earlier:
            tp, c, b, _, _ = log[j]
            if c not in rule.prev or t >= tp + d:
                continue
            theirs = _targets(hw, c, b)
            bpg = org.banks_per_group
            if (
                rule.scope == "channel"
                or (rule.scope == "bank" and mine & theirs)
                or (
                    rule.scope == "bankgroup"
                    and {x // bpg for x in mine} & {x // bpg for x in theirs}
                )
            ):
                out.add(("timing", rule))
                break
    return out


def naive_violations(hw, log: list[tuple], tight: bool = False) -> set[tuple]:
    out = set()
    for i in range(len(log)):
        kinds = naive_command(hw, log, i)
        out |= {(i, kind, rule) for kind, rule in kinds}
        t = log[i][0]
        if tight and not kinds and t > 0:
            earlier = log[:i] + [(t - 1, *log[i][1:])]
            blocked = {k for k, _ in naive_command(hw, earlier, i)} & {"timing", "order"}
            due = _at_refresh_due(hw, log, i)
            if not blocked and not due:
                out.add((i, "not_tight", None))
    return out


def _at_refresh_due(hw, log: list[tuple], i: int) -> bool:
    """Command i is a refresh at its due time, or the precharge just before such a refresh."""
    mode = hw.dram.refresh
    if mode == "none":
        return False
    own = "REFab" if mode == "all_bank" else "REFpb"
    t, cmd = log[i][0], log[i][1]
    done = sum(1 for j in range(i) if log[j][1] == own)
    if cmd == own:
        return t == (done + 1) * _interval(hw)
    if cmd in ("PRE", "PRE4", "PREA") and (i + 1 == len(log) or log[i + 1][1] == own):
        return t == (done + 1) * _interval(hw)
    return False


def checker_set(hw, log: list[tuple], tight: bool = False) -> set[tuple]:
    return {(v.index, v.kind, v.rule) for v in check_log(frame(log), hw, tight=tight)}


# ---------------------------------------------------------------------------------------------
# a brute-force earliest-legal scheduler over random state-aware programs


def _choose(rng: random.Random, hw, open_rows: dict[int, int]) -> tuple[str, int, int, int]:
    org = hw.dram.organization
    nb, bpg = org.banks, org.banks_per_group
    closed = [b for b in range(nb) if b not in open_rows]
    options: list[tuple[str, int, int, int]] = []
    for _ in range(3):
        if closed:
            options.append(("ACT", rng.choice(closed), rng.randrange(4), 0))
    if open_rows:
        for _ in range(4):
            b = rng.choice(sorted(open_rows))
            c = rng.choice(["RD", "WR", "MAC", "RD", "MAC"])
            options.append((c, b, open_rows[b], rng.randrange(org.columns)))
        options.append(("PRE", rng.choice(sorted(open_rows)), 0, 0))
    groups_closed = [
        g for g in range(org.bank_groups) if all(g * bpg + k in closed for k in range(bpg))
    ]
    if groups_closed:
        options.append(("ACT4", rng.choice(groups_closed) * bpg, rng.randrange(4), 0))
    if len(closed) == nb:
        options.append(("ACT16", 0, rng.randrange(4), 0))
    for b in range(min(nb, hw.pim.banks_per_mac_unit)):
        unit = _targets(hw, "MAC16", b)
        rows = {open_rows.get(x, -1) for x in unit}
        if len(rows) == 1 and -1 not in rows:
            options += [("MAC16", b, rows.pop(), rng.randrange(org.columns))] * 3
    if open_rows:
        options.append(("PRE4", rng.choice(sorted(open_rows)), 0, 0))
        options.append(("PREA", 0, 0, 0))
    options += [("WRGB", 0, 0, rng.randrange(8)), ("RDMAC", 0, 0, 0)]
    return rng.choice(options)


def _earliest(hw, log: list[tuple], cmd: tuple, start: int, stop: float) -> int | None:
    """The first t in [start, stop) at which `cmd` is legal after `log` (brute force)."""
    t = start
    while t < stop:
        if not naive_command(hw, log + [(t, *cmd)], len(log)):
            return t
        t += 1
    return None


def schedule(hw, seed: int, n: int) -> list[tuple]:
    """Random program, each command at its earliest legal cycle; refresh at its due times."""
    rng = random.Random(seed)
    org = hw.dram.organization
    interval = _interval(hw)
    log: list[tuple] = []
    open_rows: dict[int, int] = {}
    refreshes = 0
    while len(log) < n:
        start = log[-1][0] + 1 if log else 0
        due = (refreshes + 1) * interval if interval else float("inf")
        cmd, bank, row, col = _choose(rng, hw, open_rows)
        t = _earliest(hw, log, (cmd, bank, row, col), start, due)
        if t is None:  # refresh first: precharge what it needs, then refresh, from its due time
            if hw.dram.refresh == "all_bank":
                need = [("PREA", 0, 0, 0)] if open_rows else []
                need.append(("REFab", 0, 0, 0))
            else:
                b = refreshes % org.banks
                need = [("PRE", b, 0, 0)] if b in open_rows else []
                need.append(("REFpb", b, 0, 0))
            for step in need:
                begin = max(due, log[-1][0] + 1 if log else 0)
                log.append((_earliest(hw, log, step, begin, float("inf")), *step))
                if step[0].startswith("PRE"):
                    for x in _targets(hw, step[0], step[1]):
                        open_rows.pop(x, None)
            refreshes += 1
            continue
        log.append((t, cmd, bank, row, col))
        effect = cmd[:3]
        if effect == "ACT":
            open_rows.update({x: row for x in _targets(hw, cmd, bank)})
        elif effect == "PRE":
            for x in _targets(hw, cmd, bank):
                open_rows.pop(x, None)
    return log


RANDOM_HW = [
    ("gddr6_aim", "dram.timing.nREFI=600"),
    ("gddr6_aim", "dram.timing.nREFI=600", "dram.refresh_postpone=0"),
    ("hbm_pim", "dram.timing.nREFI=800", "dram.timing.nFAW=30"),
    ("gddr6", "dram.timing.nREFI=700", "dram.refresh_postpone=1"),
    ("gddr6_aim", "dram.refresh=per_bank"),
    ("gddr6_aim", "dram.refresh=per_bank", "dram.refresh_postpone=0"),
    ("hbm_pim", "dram.refresh=none"),
]


@pytest.mark.parametrize("spec", RANDOM_HW, ids=lambda s: "+".join(s))
@pytest.mark.parametrize("seed", range(4))
def test_random_tight_schedules(spec, seed):
    hw = hw_of(*spec)
    log = schedule(hw, seed, 36)
    assert check_log(frame(log), hw) == []
    assert check_log(frame(log), hw, tight=True) == []
    assert naive_violations(hw, log, tight=True) == set()
    assert check_protocol(frame(log), hw) == []
    rng = random.Random(1000 + seed)
    interval = _interval(hw)
    for i in rng.sample(range(1, len(log)), 12):
        t = log[i][0]
        moved = log[:i] + [(t - 1, *log[i][1:])] + log[i + 1 :]
        expected = naive_violations(hw, moved)
        assert checker_set(hw, moved) == expected
        if not (interval and t % interval == 0):  # refresh-triggered commands may move earlier
            assert any(idx == i for idx, _, _ in expected)


def _mutate(rng: random.Random, hw, log: list[tuple]) -> list[tuple]:
    org = hw.dram.organization
    log = list(log)
    i = rng.randrange(len(log))
    t, cmd, bank, row, col = log[i]
    kind = rng.randrange(7)
    if kind == 0:
        log[i] = (t + rng.randint(-60, 60), cmd, bank, row, col)
    elif kind == 1:
        log[i] = (t, cmd, rng.randrange(-1, org.banks + 1), row, col)
    elif kind == 2:
        log[i] = (t, cmd, bank, rng.choice([row + 1, -1, org.rows]), col)
    elif kind == 3:
        log[i] = (t, cmd, bank, row, rng.choice([col + 1, org.columns]))
    elif kind == 4:
        del log[i]
    elif kind == 5:
        # (TMOD, the access-mode switch, has no rule-table semantics to compare: the protocol
        # checker alone tracks access modes, tests/dram/test_mode_switch.py)
        log[i] = (t, rng.choice([c for c in Cmd if c != Cmd.TMOD]).name, bank, row, col)
    else:
        shift = rng.randint(-30, -1)
        log = log[:i] + [(x[0] + shift, *x[1:]) for x in log[i:]]
    return log


@pytest.mark.parametrize("spec", RANDOM_HW, ids=lambda s: "+".join(s))
def test_random_mutations_match_naive_oracle(spec):
    hw = hw_of(*spec)
    rng = random.Random(7)
    base = schedule(hw, 11, 30)
    for _ in range(40):
        log = _mutate(rng, hw, _mutate(rng, hw, base))
        assert checker_set(hw, log, tight=True) == naive_violations(hw, log, tight=True)
        # the protocol checker, which never reads the rule table, flags the same commands
        table = {(v.index, v.kind) for v in check_log(frame(log), hw)}
        protocol = {(v.index, v.kind) for v in check_protocol(frame(log), hw)}
        renamed = {(i, "timing" if k == "protocol" else k) for i, k in protocol}
        assert renamed == table, (sorted(renamed ^ table), log)


# ---------------------------------------------------------------------------------------------
# CSV files and the command line


def test_csv_round_trip(tmp_path):
    hw = hw_of("gddr6_aim")
    log = frame(basic_rows(hw))
    path = tmp_path / "log.csv"
    write_command_log(path, log, banks_per_group=hw.dram.organization.banks_per_group)
    lines = path.read_text().splitlines()
    assert lines[0] == "cycle,cmd,channel,bankgroup,bank,row,column"
    assert lines[1] == "0,ACT,0,0,0,5,0"
    back = read_command_log(path)
    assert list(back.columns) == ["cycle", "cmd", "channel", "bankgroup", "bank", "row", "column"]
    assert back["cmd"].tolist() == log["cmd"].tolist()
    assert back["cycle"].tolist() == log["cycle"].tolist()
    assert check_log(back, hw, tight=True) == []
    with pytest.raises(ValueError, match="banks_per_group"):
        write_command_log(tmp_path / "x.csv", log)
    arr = np.zeros(2, dtype=[(c, "i8") for c in COLS])
    arr["cycle"] = [0, 1]
    write_command_log(tmp_path / "codes.csv", arr, banks_per_group=4)
    assert read_command_log(tmp_path / "codes.csv")["cmd"].tolist() == ["ACT", "ACT"]


def test_empty_log(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("# no commands\ncycle,cmd,channel,bankgroup,bank,row,column\n\n")
    log = read_command_log(path)
    assert len(log) == 0 and check_log(log, hw_of("gddr6_aim"), tight=True) == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "cycle,cmd,channel,bank,row,column\n0,ACT,0,0,1,0\nx,RD,0,0,1,0\n",
            "line 3, field 'cycle'",
        ),
        (
            "cycle,cmd,channel,bank,row,column\n0,ACT,0,0,1,0\n5,READ,0,0,1,0\n",
            "line 3, field 'cmd'",
        ),
        ("cycle,cmd,channel,bank,row,column\n0,ACT,0,0\n", "line 2"),
        ("cycle,cmd,chan,bank,row,column\n", "line 1"),
        ("", "empty"),
    ],
)
def test_malformed_csv(tmp_path, text, where):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(PimsimInputError) as info:
        read_command_log(path)
    assert where in str(info.value) and str(path) in str(info.value)


def _cli(monkeypatch, argv: list[str]) -> int:
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("pimsim.cli.check_log",))
    return cli.main(argv)


def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    hw = hw_of("gddr6_aim")
    good = tmp_path / "good.csv"
    write_command_log(good, frame(basic_rows(hw)), banks_per_group=4)
    assert _cli(monkeypatch, ["check-log", str(good), "--hw", "gddr6_aim", "--tight"]) == 0
    assert capsys.readouterr().out.strip() == "4 commands, 0 violations"

    rows = basic_rows(hw)
    rows[1] = (rows[1][0] - 1, *rows[1][1:])
    bad = tmp_path / "bad.csv"
    write_command_log(bad, frame(rows), banks_per_group=4)
    assert _cli(monkeypatch, ["check-log", str(bad), "--hw", "gddr6_aim"]) == 1
    out = capsys.readouterr().out
    assert "nRCDRD" in out and "tRCD after the ACT" in out
    assert out.strip().endswith("4 commands, 2 violations (protocol: 1, timing: 1)")

    many = tmp_path / "many.csv"
    write_command_log(
        many, frame([(100 - k, "PRE", 0, 0, 0) for k in range(30)]), banks_per_group=4
    )
    assert _cli(monkeypatch, ["check-log", str(many), "--hw", "gddr6_aim"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 22 and out[20] == "... and 38 more"  # 29 order, by each checker

    per_bank = tmp_path / "pb.csv"
    write_command_log(per_bank, frame([(208, "REFpb", 0, 0, 0)]), banks_per_group=4)
    argv = ["check-log", str(per_bank), "--hw", "gddr6_aim"]
    assert _cli(monkeypatch, argv) == 1
    assert _cli(monkeypatch, argv + ["--set", "dram.refresh=per_bank"]) == 0

    malformed = tmp_path / "malformed.csv"
    malformed.write_text("cycle,cmd,channel,bank,row,column\n0,ACT,0,zero,1,0\n")
    capsys.readouterr()
    assert _cli(monkeypatch, ["check-log", str(malformed), "--hw", "gddr6_aim"]) == 2
    assert "line 2, field 'bank'" in capsys.readouterr().err
    assert _cli(monkeypatch, ["check-log", str(good), "--hw", "no_such_hw"]) == 2


def test_cli_module_registers_with_argparse():
    parser = argparse.ArgumentParser()
    check_log_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["check-log", "f.csv", "--hw", "x", "--set", "a=1", "--set", "b=2"])
    assert (args.file, args.hw, args.overrides, args.tight) == ("f.csv", "x", ["a=1", "b=2"], False)
    assert args.func is check_log_cmd.run


# ---------------------------------------------------------------------------------------------
# refresh deadlines and tightness around refresh and operator releases


def test_late_refresh_is_flagged_even_with_nothing_in_between():
    hw = hw_of("gddr6_aim")  # postpone 8 intervals: at most 9 intervals owed
    refi = T(hw, "nREFI")
    on_time = [(refi * 9 - 1, "REFab", 0, 0, 0)]
    assert check_log(frame(on_time), hw) == []
    late = [(refi + 36_699, "REFab", 0, 0, 0)]  # 11 intervals after its due time
    (v,) = check_log(frame(late), hw)
    assert v.kind == "refresh" and "beyond the postponement allowance" in v.message
    eager = hw_of("gddr6_aim", "dram.refresh_postpone=0")
    assert found(check_log(frame([(2 * refi, "REFab", 0, 0, 0)]), eager)) == {(0, "refresh", None)}
    assert check_log(frame([(2 * refi - 1, "REFab", 0, 0, 0)]), eager) == []


def test_tight_exempts_only_refresh_commands_at_their_due_time():
    hw = hw_of("gddr6_aim")
    refi = T(hw, "nREFI")
    # a WRGB held back to a multiple of the refresh interval is not tight
    held = [(0, "WRGB", 0, 0, 0), (refi, "WRGB", 0, 0, 0)]
    assert found(check_log(frame(held), hw, tight=True)) == {(1, "not_tight", None)}
    # a precharge and its refresh held back to the due time are
    rows = [(0, "ACT16", 0, 3, 0), (refi, "PREA", 0, 0, 0), (refi + T(hw, "nRP"), "REFab", 0, 0, 0)]
    assert check_log(frame(rows), hw, tight=True) == []
    # a PREA at the due time that no refresh follows is not
    alone = rows[:2] + [(refi + T(hw, "nRP"), "ACT16", 0, 4, 0)]
    assert found(check_log(frame(alone), hw, tight=True)) == {(1, "not_tight", None)}


def test_tight_accepts_commands_at_release_cycles():
    hw = hw_of("gddr6_aim")
    rows = [(0, "WRGB", 0, 0, 0), (500, "WRGB", 0, 0, 0)]
    assert found(check_log(frame(rows), hw, tight=True)) == {(1, "not_tight", None)}
    assert check_log(frame(rows), hw, tight=True, releases=[500]) == []


def test_rule_table_gaps_are_closed():
    """Rules the table lacked before issue 10 (each case was accepted then)."""
    aim = hw_of("gddr6_aim")
    act = T(aim, "nRCDRDMAC")
    # a read of a bank group right after a MAC16 there: MACs are column reads (nCCDL)
    rows = [(0, "ACT16", 0, 2, 0), (act, "MAC16", 0, 2, 0), (act + 1, "RD", 1, 2, 0)]
    assert found(check_log(frame(rows), aim)) >= {(2, "timing", "nCCDL")}
    assert check_protocol(frame(rows), aim)
    # a MAC right after a write to its bank group waits for the write data (tWTR_L)
    wr = [(0, "ACT16", 0, 2, 0), (act, "WR", 1, 2, 0), (act + 2, "MAC16", 0, 2, 1)]
    assert (2, "timing", "nCWL + nBL + nWTRL") in found(check_log(frame(wr), aim))
    # nothing but no-ops during tRFC: not a result read, not a precharge
    refi = T(aim, "nREFI")
    for cmd in ("RDMAC", "PREA"):
        inside = [(refi, "REFab", 0, 0, 0), (refi + 5, cmd, 0, 0, 0)]
        assert found(check_log(frame(inside), aim)) == {(1, "timing", "nRFC")}
    # RDMAC -> WRGB: read latency + burst + the 4-cycle bus bubble - WL_GB = 5 (AiM simulator)
    turn = [(0, "RDMAC", 0, 0, 0), (4, "WRGB", 0, 0, 0)]
    assert found(check_log(frame(turn), aim)) == {(1, "timing", "nCLREG + nBL + nRTW - nCWLGB")}
    assert check_log(frame([(0, "RDMAC", 0, 0, 0), (5, "WRGB", 0, 0, 0)]), aim, tight=True) == []
    # a multi-bank activate fills the four-activate window
    wide = hw_of("gddr6_aim", "dram.timing.nFAW=100", "dram.timing.nRC=20", "dram.timing.nRAS=5")
    acts = [(0, "ACT16", 0, 1, 0), (30, "PREA", 0, 0, 0), (90, "ACT", 0, 2, 0)]
    violations = check_log(frame(acts), wide)
    assert [v.rule.window for v in violations if v.kind == "timing"] == [4]
