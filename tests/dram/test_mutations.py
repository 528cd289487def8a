"""Mutation tests: a wrong timing rule or a dropped controller obligation is caught.

The kernel runs on the compiled rule table; the protocol checker (`pimsim.dram.protocol`) is
written from the timing parameters and the command semantics and never reads that table. For
every rule of both PIM presets, shortening its distance by one cycle makes the kernel issue the
rule's `next` command a cycle early in a scenario where the rule binds, and the protocol
checker must flag that log. Mutants that drop a command the controller must issue (the
closed-page precharge, refreshes, the postponement and pull-in limits) must be caught too.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from gates import DOMINATED, frame, rule_key, scenario

from pimsim.config import load_hw
from pimsim.core.commands import Cmd
from pimsim.dram import kernel
from pimsim.dram.channel import ChannelModel
from pimsim.dram.protocol import check_protocol
from pimsim.dram.tables import H_CLOSED, H_POSTPONE, H_PULLIN, H_REFMODE

ALL = tuple(c.name for c in Cmd)


def _mutant(hw, index: int, distance: int):
    rules = list(hw.dram.rules)
    rules[index] = dataclasses.replace(rules[index], distance_cycles=distance)
    return dataclasses.replace(hw, dram=dataclasses.replace(hw.dram, rules=tuple(rules)))


def _caught(hw, mutant_hw, rule) -> tuple[bool, list]:
    """Run every (prev, next) scenario of `rule` on the mutated table; return whether one of
    them changed the schedule, and the changed schedules the protocol checker passed."""
    good, bad = ChannelModel(hw), ChannelModel(mutant_hw)
    changed, missed = False, []
    for prev_name in rule.prev:
        for next_name in rule.next:
            commands = scenario(hw, Cmd[prev_name], Cmd[next_name], rule.scope)
            reference = good.run_raw(commands)
            cycles = bad.run_raw(commands)
            if np.array_equal(reference, cycles):
                continue  # the rule does not bind in this scenario
            changed = True
            if not check_protocol(frame(commands, cycles), hw):
                missed.append((prev_name, next_name, list(cycles)))
    return changed, missed


def _variants(config: str, rule) -> list:
    """The preset, then versions with one parameter of the rule's distance raised: a rule that
    ties with another one (nRRDL == nRRDS on GDDR6-AiM, say) only binds alone once its own
    parameter is larger, and only then can a shortened copy of it change a schedule."""
    names = sorted(set(re.findall(r"n[A-Za-z0-9]+", rule.expression)))
    variants = [load_hw(config, ["dram.refresh=none"])]
    for name in names:
        value = variants[0].dram.t(name)
        variants.append(load_hw(config, ["dram.refresh=none", f"dram.timing.{name}={value + 7}"]))
    return variants


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_every_shortened_rule_is_caught(config):
    hw = load_hw(config, ["dram.refresh=none"])
    caught, survivors = set(), {}
    for index, rule in enumerate(hw.dram.rules):
        key = rule_key(rule)
        if rule.window or rule.prev == ALL or rule.distance_cycles == 0:
            continue  # windows and the command bus: tests below; 0 cannot be shortened
        for variant in _variants(config, rule):
            mine = variant.dram.rules[index]
            changed, missed = _caught(
                variant, _mutant(variant, index, mine.distance_cycles - 1), mine
            )
            if missed:
                survivors[key] = missed
            if changed:
                caught.add(key)
                break
    assert not survivors, survivors
    plain = {
        rule_key(r)
        for r in hw.dram.rules
        if not r.window and r.prev != ALL and r.distance_cycles > 0
    }
    # every rule that can bind at all (see test_tight_gates.DOMINATED) is caught
    assert plain - caught == {k for k in DOMINATED[config] if k in plain}
    assert len(caught) > 25


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_shortened_command_bus_and_window_are_caught(config):
    base = load_hw(config)
    faw = 4 * base.dram.t("nRRDS") + 5  # widened so that the window binds
    hw = load_hw(config, ["dram.refresh=none", f"dram.timing.nFAW={faw}"])
    for index, rule in enumerate(hw.dram.rules):
        if rule.prev == ALL:
            commands = [(Cmd.WRGB, 0, -1, 0), (Cmd.ACT, 0, 3, -1)]
        elif rule.window:
            bpg = hw.dram.organization.banks_per_group
            commands = [(Cmd.ACT, b, 1, -1) for b in (0, bpg, 2 * bpg, 3 * bpg, 1)]
        else:
            continue
        mutant = ChannelModel(_mutant(hw, index, rule.distance_cycles - 1))
        cycles = mutant.run_raw(commands)
        assert not np.array_equal(cycles, ChannelModel(hw).run_raw(commands))
        assert check_protocol(frame(commands, cycles), hw), rule


def _gemv_log(model: ChannelModel, rows: int = 6, start: int = 0) -> object:
    slots = model.hw.dram.organization.columns // 8
    chunks = np.array([(8, slots, 0, 8), (8, slots, 40, 8)], dtype=np.int64)
    log = kernel.empty_log(20_000)
    state = model.new_state()
    model.run_gemv(chunks, rows * slots, state=state, fast=False, log=log, start=start)
    buf, n = log
    from pimsim.dram.channel import log_frame

    return log_frame(buf[: n[0]]), state


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_dropped_closed_page_precharge_is_caught(config):
    hw = load_hw(config, ["dram.page_policy=closed"])
    model = ChannelModel(hw)
    log, _ = _gemv_log(model)
    assert check_protocol(log, hw) == []
    model.table[H_CLOSED] = 0  # the kernel forgets to close rows after their last access
    log, _ = _gemv_log(model)
    assert {v.kind for v in check_protocol(log, hw)} == {"policy"}


def _buffer_stream_log(model: ChannelModel, writes: int) -> object:
    """A long stream of global-buffer writes: no row switch, so a due refresh is postponed as
    long as the controller allows."""
    from pimsim.dram.channel import log_frame

    requests = np.zeros((writes, 5), dtype=np.int64)
    requests[:, 0] = int(Cmd.WRGB)
    log = kernel.empty_log(writes + 200)
    model.run_requests(requests, log=log)
    return log_frame(log[0][: log[1][0]])


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_dropped_or_late_refresh_is_caught(config):
    hw = load_hw(config, ["dram.timing.nREFI=600"])
    writes = 40 * 600 // hw.dram.t("nCCDS")  # about 40 refresh intervals
    assert check_protocol(_buffer_stream_log(ChannelModel(hw), writes), hw) == []
    never = ChannelModel(hw)
    never.table[H_REFMODE] = 0  # refresh never issued
    found = check_protocol(_buffer_stream_log(never, writes), hw)
    assert found and {v.kind for v in found} == {"refresh"}
    late = ChannelModel(hw)
    late.table[H_POSTPONE] *= 4  # postponed beyond the allowance
    found = check_protocol(_buffer_stream_log(late, writes), hw)
    assert found and {v.kind for v in found} == {"refresh"}


def test_excess_pull_in_is_caught():
    hw = load_hw("gddr6_aim", ["dram.refresh_pull_in=2"])
    for limit, legal in ((2, True), (5, False)):
        model = ChannelModel(hw)
        model.table[H_PULLIN] = limit
        state, ct = model.new_state(), model.new_counters()
        buf, n = kernel.empty_log(100)
        kernel.op_prologue(model.table, state, ct, 52_000, False, 1, ct.copy(), buf, n)
        from pimsim.dram.channel import log_frame

        log = log_frame(buf[: n[0]])
        assert (check_protocol(log, hw) == []) is legal, (limit, log)
