"""Operator-level simulation with SimPy: who waits for whom, and what overlaps.

Time is integer picoseconds. One long-lived process per hardware unit consumes that unit's
operators in program order:
- `pim`: every VMM-like operator (weight VMMs, q.K^T, softmax x V, KV-cache writes) on all
  channels, through the exact channel engine (`PimSystem`), after the ASIC->PIM link latency;
- `vector`: the ASIC vector unit (norms, softmax, activations, adds) and the partial-sum
  reductions of chunked VMMs;
- `link`: embedding-row fetches.
Modes: `serial` (PIM-GPT's: the next instruction issues only when ASIC and PIM are idle, i.e.
every operator waits for the previous one) and `overlap` (an operator waits only for its
dependencies and its unit, so the ASIC reduces one VMM while PIM computes the next and KV
writes overlap vector work).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from pimsim.config.schema import HardwareConfig
from pimsim.engine.pim_system import PimSystem
from pimsim.errors import PimsimInputError
from pimsim.mapping import ModelMapping

PIM_KINDS = ("vmm", "gemm", "attn_score", "attn_value", "kv_write")
LINK_KINDS = ("embed",)
MODES = ("serial", "overlap")


@dataclass
class SimResult:
    mode: str
    end_ps: int
    op_start_ps: np.ndarray = field(repr=False)
    op_end_ps: np.ndarray = field(repr=False)
    op_unit: np.ndarray = field(repr=False)  # 0 pim, 1 vector, 2 link
    reduce_ps: np.ndarray = field(repr=False)  # reduction time attributed to each op
    pim: PimSystem = field(repr=False)
    lm_head_end_ps: list[int] = field(default_factory=list)
    timeline: list[tuple] = field(default_factory=list, repr=False)
    reduce_ops: np.ndarray | None = field(default=None, repr=False)  # lane ops per op
    kind_counters: dict = field(default_factory=dict, repr=False)  # PIM commands per op kind


def check_kinds(table: pd.DataFrame, vector_kinds: set[str], source: str | None) -> None:
    known = set(PIM_KINDS) | set(LINK_KINDS) | set(vector_kinds)
    bad = sorted(set(table["kind"]) - known)
    if bad:
        first = table[table["kind"] == bad[0]].iloc[0]
        raise PimsimInputError(
            f"operator {first['name']!r} (id {first['id']}) has unknown kind {bad[0]!r}",
            file=source,
            key="kind",
            expected="one of " + ", ".join(sorted(known)),
        )


class _Programs:
    """The per-channel programs of each PIM operator, with what the ASIC does around them."""

    def __init__(self, mapping: ModelMapping) -> None:
        self.mapping = mapping
        self._weights: dict[str, tuple] = {}
        self._kv: dict[tuple[str, int], tuple] = {}  # every layer's KV programs are alike

    def with_tail(self, kind: str, layer: int, weight: str, context: int) -> tuple:
        """(programs, row base of their rows, any program not empty, partial sums per output,
        outputs, multiply-adds the ASIC does itself: V positions not yet in DRAM)."""
        if kind in ("vmm", "gemm"):
            found = self._weights.get(weight)
            if found is None:
                found = self._weights[weight] = self._weight(weight)
            return found
        kv = self.mapping.kv[layer]
        found = self._kv.get((kind, context))
        if found is None:
            if len(self._kv) > 64:  # contexts only grow
                self._kv.clear()
            found = self._kv[(kind, context)] = self._attention(kind, kv, context)
        programs, active, partials, outputs, tail = found
        return programs, kv.row_base, active, partials, outputs, tail

    def _weight(self, weight: str) -> tuple:
        layout = self.mapping.matrices.get(weight)
        if layout is None:
            raise PimsimInputError(
                f"operator uses weight {weight!r}, which the model mapping does not hold",
                key="weight",
            )
        active = any(not p.is_empty for p in layout.programs)
        return layout.programs, 0, active, layout.partials, layout.out_features, 0

    @staticmethod
    def _attention(kind: str, kv, context: int) -> tuple:
        if kind == "attn_score":
            programs, partials, outputs, tail = kv.score_programs(context), 1, kv.heads * context, 0
        elif kind == "attn_value":
            chunks, tail_positions = kv.value_partials(context)
            outputs = kv.heads * kv.d_head
            # the ASIC's tail result is one more partial sum per output
            partials = max(1, chunks) + (1 if tail_positions else 0)
            programs, tail = kv.value_programs(context), outputs * tail_positions
        else:
            programs, partials, outputs, tail = kv.write_programs(context - 1), 1, 0, 0
        return programs, any(not p.is_empty for p in programs), partials, outputs, tail


def simulate(
    hw: HardwareConfig,
    table: pd.DataFrame,
    mapping: ModelMapping,
    *,
    mode: str = "overlap",
    exact: bool = False,
    timeline_tokens: int = 0,
    progress: bool | None = None,
    log_capacity: int = 0,
) -> SimResult:
    """Run the operator table on the PIM system; returns per-op times and the PIM state."""
    from pimsim.asic import VECTOR_KINDS, asic_cycles_for_table
    from pimsim.asic.link import link_transfer_ps

    if mode not in MODES:
        raise PimsimInputError(f"got {mode!r}", key="--mode", expected=" or ".join(MODES))
    check_kinds(table, set(VECTOR_KINDS), None)
    asic = hw.asic
    tck_ps = round(hw.dram.tCK_ns * 1000)
    cycle_ps = asic.cycle_ps
    link_ps = round(asic.link_latency_ns * 1000)
    n = len(table)
    ids = table["id"].to_numpy()
    if not np.array_equal(ids, np.arange(n)):
        raise PimsimInputError("operator ids must be 0..n-1 in order", key="id")
    # plain lists: element access in the per-operator loop is several times cheaper
    kinds = table["kind"].to_list()
    layers = table["layer"].to_list()
    tokens = table["token"].to_list()
    contexts = table["context"].to_list()
    weights = table["weight"].to_list()
    ms = table["m"].to_list()
    names = table["name"].to_list()
    outs = table["out_features"].to_list()
    deps = table["deps"].to_list()
    kind_array = table["kind"].to_numpy()
    vector_ps = (asic_cycles_for_table(table, asic).astype(np.int64) * cycle_ps).tolist()
    pim_system = PimSystem(hw, exact=exact, log_capacity=log_capacity)
    programs = _Programs(mapping)
    unit = np.where(
        np.isin(kind_array, PIM_KINDS), 0, np.where(np.isin(kind_array, LINK_KINDS), 2, 1)
    )

    env = simpy.Environment()
    start_ps = [0] * n
    end_ps = [0] * n
    reduce_ps = [0] * n
    reduce_ops = [0] * n
    finished = [False] * n
    pim_finished = [False] * n  # PIM part done (its reduction may still be pending)
    # events only for operators someone is waiting for (most dependencies have finished by
    # the time an operator is reached, and an untouched event would cost a scheduler step)
    waiters: dict[int, simpy.Event] = {}
    pim_waiters: dict[int, simpy.Event] = {}
    kind_counters: dict[str, np.ndarray] = {}
    lm_ends: list[int] = []
    timeline: list[tuple] = []
    record = timeline_tokens > 0
    bar = _progress_bar(n, progress)

    def event_for(table_of: dict, i: int) -> simpy.Event:
        event = table_of.get(i)
        if event is None:
            event = table_of[i] = env.event()
        return event

    def wait_for(i: int):
        pending = [event_for(waiters, d) for d in deps[i] if not finished[d]]
        if not pending:
            return None
        return pending[0] if len(pending) == 1 else env.all_of(pending)

    reductions_seen: dict[tuple, tuple[int, int]] = {}

    def pim_part(i: int):
        kind = kinds[i]
        progs, row_base, active, partials, outputs, tail_macs = programs.with_tail(
            kind, layers[i], weights[i], contexts[i]
        )
        repeats = int(ms[i]) if kind == "gemm" else 1
        finish_ps = env.now + link_ps
        if active:
            for _ in range(repeats):
                run = pim_system.run(progs, -(-finish_ps // tck_ps), row_base)
                finish_ps = max(finish_ps, run.end_cycle * tck_ps)
                if kind in kind_counters:
                    kind_counters[kind] += run.counters
                else:
                    kind_counters[kind] = run.counters.copy()
        key = (partials, outputs * repeats, tail_macs)
        reduction = reductions_seen.get(key)
        if reduction is None:
            reduction = reductions_seen[key] = _reduction(*key, asic)
        red_cycles, reduce_ops[i] = reduction
        return finish_ps, red_cycles * cycle_ps

    def log(i: int, unit_name: str, t0: int, t1: int) -> None:
        if tokens[i] < timeline_tokens:
            timeline.append((unit_name, names[i], kinds[i], int(tokens[i]), t0, t1))

    def finish(i: int) -> None:
        end_ps[i] = env.now
        finished[i] = True
        if names[i] == "lm_head":
            lm_ends.append(env.now)
        event = waiters.pop(i, None)
        if event is not None:
            event.succeed()
        if bar is not None:
            bar.update(1)

    def serial_process():
        for i in range(n):
            start_ps[i] = env.now
            if unit[i] == 0:
                finish_ps, red = pim_part(i)
                yield env.timeout(finish_ps - env.now)
                if record:
                    log(i, "pim", start_ps[i], env.now)
                if red:
                    t0 = env.now
                    yield env.timeout(red)
                    reduce_ps[i] = red
                    if record:
                        log(i, "vector", t0, env.now)
            elif unit[i] == 1:
                yield env.timeout(vector_ps[i])
                if record:
                    log(i, "vector", start_ps[i], env.now)
            else:
                yield env.timeout(link_transfer_ps(int(outs[i]) * 2, asic))
                if record:
                    log(i, "link", start_ps[i], env.now)
            finish(i)

    reductions: set[int] = set()

    def pim_process():
        for i in np.flatnonzero(unit == 0).tolist():
            waiting = wait_for(i)
            if waiting is not None:
                yield waiting
            start_ps[i] = env.now
            finish_ps, red = pim_part(i)
            yield env.timeout(finish_ps - env.now)
            if record:
                log(i, "pim", start_ps[i], env.now)
            if i in reductions:
                reduce_ps[i] = red
                pim_finished[i] = True
                event = pim_waiters.pop(i, None)
                if event is not None:
                    event.succeed()
            else:
                finish(i)

    def vector_process():
        for i in np.flatnonzero((unit == 1) | np.isin(np.arange(n), sorted(reductions))).tolist():
            if unit[i] == 0:
                if not pim_finished[i]:
                    yield event_for(pim_waiters, i)
                t0 = env.now
                yield env.timeout(reduce_ps[i])
                if record:
                    log(i, "vector", t0, env.now)
                finish(i)
                continue
            waiting = wait_for(i)
            if waiting is not None:
                yield waiting
            start_ps[i] = env.now
            yield env.timeout(vector_ps[i])
            if record:
                log(i, "vector", start_ps[i], env.now)
            finish(i)

    def link_process():
        for i in np.flatnonzero(unit == 2).tolist():
            waiting = wait_for(i)
            if waiting is not None:
                yield waiting
            start_ps[i] = env.now
            yield env.timeout(link_transfer_ps(int(outs[i]) * 2, asic))
            if record:
                log(i, "link", start_ps[i], env.now)
            finish(i)

    if mode == "serial":
        env.process(serial_process())
    else:
        # every PIM op with a chunked output gets a reduction job on the vector unit
        reductions.update(
            i
            for i in np.flatnonzero(unit == 0).tolist()
            if _has_reduction(programs, kinds[i], layers[i], weights[i], contexts[i])
        )
        env.process(pim_process())
        env.process(vector_process())
        env.process(link_process())
    env.run()
    if bar is not None:
        bar.close()
    if not all(finished):
        raise RuntimeError("simulation ended with operators still waiting (dependency cycle?)")
    return SimResult(
        mode,
        int(env.now),
        np.array(start_ps, dtype=np.int64),
        np.array(end_ps, dtype=np.int64),
        unit,
        np.array(reduce_ps, dtype=np.int64),
        pim_system,
        lm_ends,
        timeline,
        np.array(reduce_ops, dtype=np.int64),
        kind_counters,
    )


def _reduction(partials: int, outputs: int, tail_macs: int, asic) -> tuple[int, int]:
    """(ASIC cycles, lane operations) to sum `partials` partial sums of each of `outputs`
    outputs, plus `tail_macs` multiply-adds on the ASIC (2 operations each, lanes wide)."""
    from pimsim.asic import reduction_cycles, reduction_ops

    cycles = reduction_cycles(partials, outputs, asic) if partials > 1 else 0
    ops = reduction_ops(partials, outputs) if partials > 1 else 0
    if tail_macs:
        cycles += asic.pipeline_latency_cycles + math.ceil(2 * tail_macs / asic.vector_lanes)
        ops += 2 * tail_macs
    return cycles, ops


def _has_reduction(programs: _Programs, kind, layer, weight, context) -> bool:
    if kind in ("vmm", "gemm"):
        return programs.mapping.matrices[weight].partials > 1
    if kind == "attn_value":
        chunks, tail = programs.mapping.kv[layer].value_partials(context)
        return chunks > 1 or tail > 0
    return False


def _progress_bar(total: int, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="op", desc="simulating", file=sys.stderr, mininterval=0.5)
