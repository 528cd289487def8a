"""Operator-level simulation with SimPy: who waits for whom, and what overlaps.

Time is integer picoseconds. Three hardware units serve the operator table:

- `PimUnit`: every VMM-like operator (weight VMMs, q.K^T, softmax x V, KV-cache writes). It
  hands an operator's programs to the channels once the operator's inputs are ready (after
  the ASIC -> PIM link latency); each channel serves its programs in order, so an operator
  that only some channels take part in (a KV write) overlaps the next one on the others;
- `VectorUnit`: the ASIC vector unit: norms, softmax, activations, adds, and the work that
  finishes a PIM operator (partial-sum and lane reductions, the attention positions the ASIC
  holds). A weight VMM's partial sums are accumulated tile by tile while the PIM computes the
  next tiles (`asic.reduction_tile_rows`, see `pimsim.engine.work`);
- `LinkUnit`: embedding-row fetches.

Modes: `overlap` (each unit serves its operators in program order, each operator waiting only
for its inputs) and `serial` (PIM-GPT's simulator: an instruction issues only when ASIC and PIM
are idle, so every operator waits for the previous one to finish, reductions included).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from pimsim.config.schema import HardwareConfig
from pimsim.core.errors import PimsimInputError
from pimsim.core.kinds import LINK_KINDS, PIM_KINDS
from pimsim.dram.tables import N_COUNTERS
from pimsim.engine.pim_system import PimSystem
from pimsim.engine.work import OperatorWork, OperatorWorks
from pimsim.mapping import ModelMapping

MODES = ("serial", "overlap")
UNIT_PIM, UNIT_VECTOR, UNIT_LINK = 0, 1, 2
NONE = -1  # "no such segment" in the per-operator time columns


@dataclass
class SimResult:
    """Per-operator times (ps) of a simulated run and the PIM system's final state.

    For operator i: `op_start_ps` / `op_end_ps` when it began (was handed to the channels) and
    finished (its ASIC work included); PIM operators also `dram_start_ps` / `pim_end_ps` (the
    channels' part; equal when no channel had work); `asic_start_ps` / `asic_end_ps` the
    stretch the vector unit worked on it without a PIM part of it still running (a vector
    operator's whole run; for a PIM operator the finishing work after its PIM part), NONE
    where there is none; `asic_busy_ps` all its vector-unit time and `asic_hidden_ps` the part
    of that done while its own PIM part was still running (streamed partial sums);
    `par_start_ps` / `par_end_ps` the ASIC work of a PIM operator that needs nothing from the
    channels (held attention positions), which overlap mode runs beside them."""

    mode: str
    end_ps: int
    op_start_ps: np.ndarray = field(repr=False)
    op_end_ps: np.ndarray = field(repr=False)
    op_unit: np.ndarray = field(repr=False)  # 0 pim, 1 vector, 2 link
    dram_start_ps: np.ndarray = field(repr=False)
    pim_end_ps: np.ndarray = field(repr=False)
    asic_start_ps: np.ndarray = field(repr=False)
    asic_end_ps: np.ndarray = field(repr=False)
    asic_busy_ps: np.ndarray = field(repr=False)
    asic_hidden_ps: np.ndarray = field(repr=False)
    par_start_ps: np.ndarray = field(repr=False)
    par_end_ps: np.ndarray = field(repr=False)
    pim: PimSystem = field(repr=False)
    tck_ps: int = 0
    lm_head_end_ps: list[int] = field(default_factory=list)
    timeline: list[tuple] = field(default_factory=list, repr=False)
    reduce_ops: np.ndarray | None = field(default=None, repr=False)  # lane ops per PIM op
    kind_counters: dict = field(default_factory=dict, repr=False)  # PIM commands per op kind
    token_counters: np.ndarray | None = field(default=None, repr=False)  # [token, counter]

    @property
    def reduce_ps(self) -> np.ndarray:
        """ASIC time that finishes each PIM operator (reductions), 0 for other operators."""
        return np.where(self.op_unit == UNIT_PIM, self.asic_busy_ps, 0)


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


class _Run:
    """The operator table as plain lists, and everything the units record while running."""

    def __init__(self, hw: HardwareConfig, table: pd.DataFrame, env: simpy.Environment) -> None:
        from pimsim.asic import asic_cycles_for_table
        from pimsim.asic.link import link_transfer_ps_array

        self.env = env
        n = self.n = len(table)
        # plain lists: element access in the per-operator loops is several times cheaper
        self.kinds = table["kind"].to_list()
        self.layers = table["layer"].to_list()
        self.tokens = table["token"].to_list()
        self.contexts = table["context"].to_list()
        self.weights = table["weight"].to_list()
        self.ms = table["m"].to_list()
        self.names = table["name"].to_list()
        self.deps = table["deps"].to_list()
        kind_array = table["kind"].to_numpy()
        self.unit = np.where(
            np.isin(kind_array, PIM_KINDS),
            UNIT_PIM,
            np.where(np.isin(kind_array, LINK_KINDS), UNIT_LINK, UNIT_VECTOR),
        )
        cycle_ps = hw.asic.cycle_ps
        self.vector_ps = (
            asic_cycles_for_table(table, hw.asic).astype(np.int64) * cycle_ps
        ).tolist()
        out_bytes = table["out_features"].to_numpy(dtype=np.int64) * 2
        self.link_ps = np.where(
            self.unit == UNIT_LINK, link_transfer_ps_array(out_bytes, hw.asic), 0
        ).tolist()
        self.start = [0] * n
        self.end = [0] * n
        self.dram_start = [NONE] * n
        self.pim_end = [NONE] * n
        self.asic_start = [NONE] * n
        self.asic_end = [NONE] * n
        self.asic_busy = [0] * n
        self.asic_hidden = [0] * n
        self.par_start = [NONE] * n
        self.par_end = [NONE] * n
        self.reduce_ops = [0] * n
        self.finished = [False] * n
        # events only for operators someone waits for (most inputs are ready by the time an
        # operator is reached, and an untouched event would cost a scheduler step)
        self.waiters: dict[int, simpy.Event] = {}
        self.lm_ends: list[int] = []
        self.timeline: list[tuple] = []
        self.timeline_tokens = 0
        self.bar = None

    def wait_for(self, i: int):
        """An event for operator i's inputs, or None when they are all finished."""
        pending = []
        for d in self.deps[i]:
            if not self.finished[d]:
                event = self.waiters.get(d)
                if event is None:
                    event = self.waiters[d] = self.env.event()
                pending.append(event)
        if not pending:
            return None
        return pending[0] if len(pending) == 1 else self.env.all_of(pending)

    def inputs(self, i: int):
        """Wait until operator i's inputs are ready (a process step)."""
        waiting = self.wait_for(i)
        if waiting is not None:
            yield waiting

    def finish(self, i: int) -> None:
        now = self.env.now
        self.end[i] = now
        self.finished[i] = True
        if self.names[i] == "lm_head":
            self.lm_ends.append(now)
        event = self.waiters.pop(i, None)
        if event is not None:
            event.succeed()
        if self.bar is not None:
            self.bar.update(1)

    def vector_op(self, i: int):
        """Run vector operator i on the vector unit from now (a process step)."""
        begin = self.start[i] = self.env.now
        yield self.env.timeout(self.vector_ps[i])
        self.asic_start[i], self.asic_end[i] = begin, self.env.now
        self.asic_busy[i] = self.env.now - begin
        self.log(i, "vector", begin, self.env.now)

    def link_op(self, i: int):
        """Fetch embedding operator i's row over the link from now (a process step)."""
        self.start[i] = self.env.now
        yield self.env.timeout(self.link_ps[i])
        self.log(i, "link", self.start[i], self.env.now)

    def log(self, i: int, unit_name: str, t0: int, t1: int) -> None:
        if self.tokens[i] < self.timeline_tokens and t1 > t0:
            self.timeline.append(
                (unit_name, self.names[i], self.kinds[i], int(self.tokens[i]), t0, t1)
            )


class PimUnit:
    """Hands PIM operators to the channels (exact channel engine) in program order."""

    def __init__(self, hw: HardwareConfig, run: _Run, works: OperatorWorks, pim: PimSystem) -> None:
        self.run, self.works, self.pim = run, works, pim
        self.tck_ps = round(hw.dram.tCK_ns * 1000)
        self.link_ps = round(hw.asic.link_latency_ns * 1000)
        self.tile_end: dict[int, np.ndarray] = {}  # operator -> (chunks, tiles) ps, streamed
        self.dispatched: dict[int, simpy.Event] = {}  # for the vector unit's finishing work
        self.kind_counters: dict[str, np.ndarray] = {}
        self._work: dict[int, OperatorWork] = {}  # planned operators (overlap mode)
        self.token_counters = np.zeros((max(run.tokens, default=0) + 1, N_COUNTERS), np.int64)

    def work_of(self, i: int) -> OperatorWork:
        work = self._work.get(i)
        if work is None:
            r = self.run
            work = self.works.of(r.kinds[i], r.layers[i], r.weights[i], r.contexts[i], r.ms[i])
        return work

    def plan(self, order: list[int]) -> list[int]:
        """Look up every operator's work once; returns those the vector unit finishes."""
        r, works = self.run, self.works
        finishing = []
        for i in order:
            work = self._work[i] = works.of(
                r.kinds[i], r.layers[i], r.weights[i], r.contexts[i], r.ms[i]
            )
            if self.needs_vector(work):
                finishing.append(i)
        return finishing

    def issue(self, i: int, work: OperatorWork) -> int:
        """Hand operator i to the channels now; returns when its PIM part ends (ps)."""
        r, now = self.run, self.run.env.now
        r.start[i] = now
        r.reduce_ops[i] = work.lane_ops
        if not work.active:
            r.dram_start[i] = r.pim_end[i] = now
            return now
        tck = self.tck_ps
        first = -(-(now + self.link_ps) // tck)
        stream = work.streaming
        repeats = int(r.ms[i]) if r.kinds[i] == "gemm" else 1
        cycle = first
        for _ in range(repeats):  # (batched rows of a gemm: one GEMV after another)
            run = self.pim.run(
                work.programs,
                cycle,
                self.works.row_base_of(r.kinds[i], r.layers[i]),
                stream.tile_rows if stream else 0,
                stream.tiles if stream else 0,
            )
            cycle = max(cycle, run.end_cycle)
            kind = r.kinds[i]
            if kind in self.kind_counters:
                self.kind_counters[kind] += run.counters
            else:
                self.kind_counters[kind] = run.counters.copy()
            self.token_counters[r.tokens[i]] += run.counters
        if stream is not None:
            self.tile_end[i] = run.tile_end * tck
        r.dram_start[i] = first * tck
        r.pim_end[i] = cycle * tck
        r.log(i, "link", now, first * tck)
        r.log(i, "pim", first * tck, cycle * tck)
        return cycle * tck

    def needs_vector(self, work: OperatorWork) -> bool:
        return work.asic_ps > 0 or work.streaming is not None

    def process(self, order: list[int]):
        r, env = self.run, self.run.env
        for i in order:
            yield from r.inputs(i)
            work = self.work_of(i)
            pim_end = self.issue(i, work)
            if self.needs_vector(work):
                event = self.dispatched.pop(i, None)
                if event is not None:
                    event.succeed()
                else:
                    self.dispatched[i] = None  # dispatched before the vector unit asked
            elif pim_end == env.now:
                r.finish(i)
            else:  # finished by its channels later: one timeout event, no process
                done = env.timeout(pim_end - env.now)
                done.callbacks.append(lambda _event, i=i: r.finish(i))


class VectorUnit:
    """The ASIC vector unit: vector operators and the work that finishes PIM operators."""

    def __init__(self, run: _Run, pim_unit: PimUnit) -> None:
        self.run, self.pim_unit = run, pim_unit
        self._stream_cache: dict[tuple, tuple[int, int]] = {}

    def finishing_times(self, i: int, work: OperatorWork, free: int) -> tuple[int, int, int]:
        """(start, end, hidden ps) of PIM operator i's finishing work, the vector unit being
        free from `free` on; for streamed partial sums the start is where the work stops
        being hidden under the operator's own PIM part."""
        r = self.run
        pim_end = r.pim_end[i]
        stream = work.streaming
        if stream is None or i not in self.pim_unit.tile_end:
            begin = max(free, pim_end)
            return begin, begin + work.finish_ps, 0
        # when the passes could end, relative to the DRAM start: the same for every operator
        # whose channels did the same (the memo's results), so it is cached on those times
        dram_start = r.dram_start[i]
        relative = self.pim_unit.tile_end.pop(i).ravel()[stream.index] - dram_start
        key = (id(stream), relative.tobytes())
        found = self._stream_cache.get(key)
        if found is None:
            if len(self._stream_cache) > 50_000:
                self._stream_cache.clear()
            found = self._stream_cache[key] = (
                int((relative + stream.suffix_ps).max()),
                int(relative[0]),
            )
        latest, first = found
        total = stream.total_ps
        done = max(free + total, dram_start + latest)
        exposed_from = max(pim_end, dram_start + first, free)
        return exposed_from, done, total - (done - exposed_from)

    def process(self, order: list[int]):
        r, env, pim = self.run, self.run.env, self.pim_unit
        for i in order:
            if r.unit[i] == UNIT_PIM:
                if i in pim.dispatched:
                    del pim.dispatched[i]
                else:
                    event = pim.dispatched[i] = env.event()
                    yield event
                work = pim.work_of(i)
                free = env.now
                if work.parallel_ps:  # held positions: beside the channels, from dispatch on
                    par_begin = max(free, r.start[i])
                    free = r.par_end[i] = par_begin + work.parallel_ps
                    r.par_start[i] = par_begin
                    r.log(i, "vector", par_begin, free)
                begin, done, hidden = self.finishing_times(i, work, free)
                yield env.timeout(done - env.now)
                if done > begin:
                    r.asic_start[i], r.asic_end[i] = begin, done
                    r.log(i, "vector", begin, done)
                r.asic_busy[i] = (done - begin) + hidden + work.parallel_ps
                r.asic_hidden[i] = hidden
                r.finish(i)
                continue
            yield from r.inputs(i)
            yield from r.vector_op(i)
            r.finish(i)


class LinkUnit:
    """Embedding-row fetches over the ASIC <-> PIM link."""

    def __init__(self, run: _Run) -> None:
        self.run = run

    def process(self, order: list[int]):
        r = self.run
        for i in order:
            yield from r.inputs(i)
            yield from r.link_op(i)
            r.finish(i)


def _serial_process(run: _Run, pim: PimUnit):
    """PIM-GPT's order: each instruction waits until ASIC and PIM are idle."""
    env = run.env
    for i in range(run.n):
        unit = run.unit[i]
        if unit == UNIT_PIM:
            work = pim.work_of(i)
            pim_end = pim.issue(i, work)
            yield env.timeout(pim_end - env.now)
            if work.asic_ps:  # all of the ASIC's part after the PIM's
                begin = env.now
                yield env.timeout(work.asic_ps)
                run.asic_start[i], run.asic_end[i] = begin, env.now
                run.asic_busy[i] = work.asic_ps
                run.log(i, "vector", begin, env.now)
        elif unit == UNIT_VECTOR:
            yield from run.vector_op(i)
        else:
            yield from run.link_op(i)
        run.finish(i)


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
    from pimsim.asic import VECTOR_KINDS

    if mode not in MODES:
        raise PimsimInputError(f"got {mode!r}", key="--mode", expected=" or ".join(MODES))
    check_kinds(table, set(VECTOR_KINDS), None)
    ids = table["id"].to_numpy()
    if not np.array_equal(ids, np.arange(len(table))):
        raise PimsimInputError("operator ids must be 0..n-1 in order", key="id")
    env = simpy.Environment()
    run = _Run(hw, table, env)
    run.timeline_tokens = timeline_tokens
    run.bar = _progress_bar(run.n, progress)
    pim_system = PimSystem(hw, exact=exact, log_capacity=log_capacity)
    works = OperatorWorks(hw, mapping, stream=mode == "overlap")
    pim = PimUnit(hw, run, works, pim_system)
    if mode == "serial":
        env.process(_serial_process(run, pim))
    else:
        pim_ops = np.flatnonzero(run.unit == UNIT_PIM).tolist()
        finishing = set(pim.plan(pim_ops))
        vector_ops = [i for i in range(run.n) if run.unit[i] == UNIT_VECTOR or i in finishing]
        env.process(pim.process(pim_ops))
        env.process(VectorUnit(run, pim).process(vector_ops))
        env.process(LinkUnit(run).process(np.flatnonzero(run.unit == UNIT_LINK).tolist()))
    env.run()
    if run.bar is not None:
        run.bar.close()
    if not all(run.finished):
        raise RuntimeError("simulation ended with operators still waiting (dependency cycle?)")

    def col(values: list) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    return SimResult(
        mode=mode,
        end_ps=int(env.now),
        op_start_ps=col(run.start),
        op_end_ps=col(run.end),
        op_unit=run.unit,
        dram_start_ps=col(run.dram_start),
        pim_end_ps=col(run.pim_end),
        asic_start_ps=col(run.asic_start),
        asic_end_ps=col(run.asic_end),
        asic_busy_ps=col(run.asic_busy),
        asic_hidden_ps=col(run.asic_hidden),
        par_start_ps=col(run.par_start),
        par_end_ps=col(run.par_end),
        pim=pim_system,
        tck_ps=pim.tck_ps,
        lm_head_end_ps=run.lm_ends,
        timeline=run.timeline,
        reduce_ops=col(run.reduce_ops),
        kind_counters=pim.kind_counters,
        token_counters=pim.token_counters,
    )


def _progress_bar(total: int, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="op", desc="simulating", file=sys.stderr, mininterval=0.5)
