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

import pytest
from gates import DOMINATED, LATE, frame, rule_key, scenario

from pimsim.config import load_hw
from pimsim.core.commands import Cmd
from pimsim.dram.channel import ChannelModel
from pimsim.dram.checker import check_log


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_every_rule_is_a_tight_gate(config):
    hw = load_hw(config, ["dram.refresh=none"])
    model = ChannelModel(hw)
    binds: dict[tuple[str, str], bool] = {}
    checked = 0
    for rule in hw.dram.rules:
        key = rule_key(rule)
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
                commands = scenario(hw, prev, nxt, rule.scope)
                cycles = model.run_raw(commands)
                log = frame(commands, cycles)
                assert check_log(log, hw) == [], (rule, commands, cycles)
                t_next = int(cycles[-1])
                early = log.copy()
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
    log = frame([(int(c), b, r, col) for c, b, r, col in commands], cycles)
    assert check_log(log, hw) == []
    log.loc[4, "cycle"] -= 1
    violations = check_log(log, hw)
    assert [v.rule.window for v in violations] == [4]
