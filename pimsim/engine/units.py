"""The hardware units of the operator-level simulation, in the style of SimPy's examples.

Each unit is a class whose `process()` is a SimPy process serving its operators in program
order; what the units share is a `Run`: the environment, the operator table (`Operators`), the
per-operator result columns (`Columns`) and who waits for which operator. `SerialIssuer` is
the serial mode's single process, which drives the same units' steps one operator at a time.
See `pimsim.engine.simulate` for the units' roles and the two modes.
"""

from __future__ import annotations

from array import array

import numpy as np
import pandas as pd
import simpy

from pimsim.config.schema import HardwareConfig
from pimsim.core.kinds import LINK_KINDS, NET_KINDS, PIM_KINDS
from pimsim.dram.system import PimSystem
from pimsim.dram.tables import N_COUNTERS
from pimsim.engine.device import (
    UNIT_DEVICE,
    UNIT_NET,
    DeviceUnit,
    LinkUnit,
    NetUnit,
    collective_ps,
)
from pimsim.engine.work import OperatorWork, OperatorWorks
from pimsim.workload.moe import op_rows

UNIT_PIM, UNIT_VECTOR, UNIT_LINK = 0, 1, 2
NONE = -1  # "no such segment" in the per-operator time columns


class Operators:
    """The operator table as plain lists (element access in the per-operator loops is several
    times cheaper), with each operator's unit and its vector-unit and link times (ps)."""

    def __init__(
        self,
        hw: HardwareConfig,
        table: pd.DataFrame,
        device_ps: np.ndarray | None = None,
        interconnect=None,
        devices: int = 1,
    ) -> None:
        from pimsim.asic import asic_cycles_for_table
        from pimsim.asic.link import link_transfer_ps_array

        self.n = len(table)
        self.kinds = table["kind"].to_list()
        self.layers = table["layer"].to_list()
        self.tokens = table["token"].to_list()
        self.contexts = table["context"].to_list()
        self.weights = table["weight"].to_list()
        self.ms = table["m"].to_list()
        self.rows = op_rows(table).tolist()  # m over the whole batch (`workload.moe`)
        self.names = table["name"].to_list()
        self.deps = table["deps"].to_list()
        kind_array = table["kind"].to_numpy()
        self.unit = np.where(
            np.isin(kind_array, PIM_KINDS),
            UNIT_PIM,
            np.where(np.isin(kind_array, LINK_KINDS), UNIT_LINK, UNIT_VECTOR),
        )
        # operators a compute device runs (`engine.device`; -1: none), for that long (ps)
        on_device = np.zeros(self.n, dtype=bool) if device_ps is None else device_ps >= 0
        writes = kind_array == "kv_write"
        for i in np.flatnonzero(on_device).tolist():  # (a device has its own K and V)
            self.deps[i] = [d for d in self.deps[i] if not writes[d] or on_device[d]]
        self.unit = np.where(on_device, UNIT_DEVICE, self.unit)
        self.net_ps = collective_ps(table, kind_array, interconnect, devices)
        self.unit = np.where(np.isin(kind_array, NET_KINDS), UNIT_NET, self.unit)
        self.device_ps = (
            np.where(on_device, device_ps, 0)
            if device_ps is not None
            else np.zeros(self.n, np.int64)
        ).tolist()
        self.unit_list = self.unit.tolist()  # (for the loops)
        cycle_ps = hw.asic.cycle_ps
        self.vector_ps = (
            np.where(on_device, 0, asic_cycles_for_table(table, hw.asic)).astype(np.int64)
            * cycle_ps
        ).tolist()
        out_bytes = table["out_features"].to_numpy(dtype=np.int64) * 2
        self.link_ps = np.where(
            self.unit == UNIT_LINK, link_transfer_ps_array(out_bytes, hw.asic), 0
        ).tolist()

    def of_unit(self, unit: int) -> list[int]:
        """The operators that `unit` serves, in program order."""
        return np.flatnonzero(self.unit == unit).tolist()


class Columns:
    """The per-operator result columns the units fill in (ps; NONE where there is no such
    segment), as int64 `array.array`s (element access as cheap as a list's, 8 bytes per value
    where a list of picosecond ints holds a 32-byte object each); `SimResult` describes each."""

    def __init__(self, n: int) -> None:
        zeros, none = array("q", [0]) * n, array("q", [NONE]) * n
        self.start = zeros
        self.end = array("q", zeros)
        self.dram_start = none
        self.pim_end = array("q", none)
        self.asic_start = array("q", none)
        self.asic_end = array("q", none)
        self.asic_busy = array("q", zeros)
        self.asic_hidden = array("q", zeros)
        self.par_start = array("q", none)
        self.par_end = array("q", none)
        self.reduce_ops = array("q", zeros)


class Run:
    """What the units share: the environment, the operators, their result columns, which
    operators have finished (and events for those someone waits for), and the run's logs."""

    def __init__(
        self, env: simpy.Environment, ops: Operators, timeline_tokens: int = 0, bar=None
    ) -> None:
        self.env = env
        self.ops = ops
        self.cols = Columns(ops.n)
        self.finished = [False] * ops.n
        # events only for operators someone waits for (most inputs are ready by the time an
        # operator is reached, and an untouched event would cost a scheduler step)
        self.waiters: dict[int, simpy.Event] = {}
        self.lm_ends: list[int] = []
        self.timeline: list[tuple] = []
        self.timeline_tokens = timeline_tokens
        self.bar = bar  # a progress bar (tqdm) or None

    def wait_for(self, i: int):
        """An event for operator i's inputs, or None when they are all finished."""
        pending = []
        for d in self.ops.deps[i]:
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
        self.cols.end[i] = now
        self.finished[i] = True
        if self.ops.names[i] == "lm_head":
            self.lm_ends.append(now)
        event = self.waiters.pop(i, None)
        if event is not None:
            event.succeed()
        if self.bar is not None:
            self.bar.update(1)

    def log(self, i: int, unit_name: str, t0: int, t1: int) -> None:
        ops = self.ops
        if ops.tokens[i] < self.timeline_tokens and t1 > t0:
            self.timeline.append(
                (unit_name, ops.names[i], ops.kinds[i], int(ops.tokens[i]), t0, t1)
            )


class PimUnit:
    """Hands PIM operators to the channels (exact channel engine) in program order."""

    def __init__(self, hw: HardwareConfig, run: Run, works: OperatorWorks, pim: PimSystem) -> None:
        self.run, self.works, self.pim = run, works, pim
        self.tck_ps = round(hw.dram.tCK_ns * 1000)
        self.link_ps = round(hw.asic.link_latency_ns * 1000)
        self.tile_end: dict[int, np.ndarray] = {}  # operator -> (chunks, tiles) ps, streamed
        self.pass_end: dict[int, list[int]] = {}  # batched VMM -> each pass's end (ps)
        self.dispatched: dict[int, simpy.Event] = {}  # for the vector unit's finishing work
        self.kind_counters: dict[str, np.ndarray] = {}
        self._work: dict[int, OperatorWork] = {}  # planned operators (overlap mode)
        self.token_counters = np.zeros((max(run.ops.tokens, default=0) + 1, N_COUNTERS), np.int64)

    def work_of(self, i: int) -> OperatorWork:
        work = self._work.get(i)
        if work is None:
            o = self.run.ops
            work = self.works.of(
                o.kinds[i], o.layers[i], o.weights[i], o.contexts[i], o.ms[i], o.rows[i]
            )
        return work

    def plan(self, order: list[int]) -> list[int]:
        """Look up every operator's work once; returns those the vector unit finishes."""
        o, works = self.run.ops, self.works
        finishing = []
        for i in order:
            work = self._work[i] = works.of(
                o.kinds[i], o.layers[i], o.weights[i], o.contexts[i], o.ms[i], o.rows[i]
            )
            if self.needs_vector(work):
                finishing.append(i)
        return finishing

    @staticmethod
    def needs_vector(work: OperatorWork) -> bool:
        return work.asic_ps > 0 or work.streaming is not None

    def issue(self, i: int, work: OperatorWork) -> int:
        """Hand operator i to the channels now; returns when its PIM part ends (ps)."""
        r, o, cols, now = self.run, self.run.ops, self.run.cols, self.run.env.now
        cols.start[i] = now
        cols.reduce_ops[i] = work.lane_ops
        if not work.active:
            cols.dram_start[i] = cols.pim_end[i] = now
            return now
        tck = self.tck_ps
        first = -(-(now + self.link_ps) // tck)
        stream = work.streaming
        kind = o.kinds[i]
        cycle = first
        weights = kind in ("vmm", "gemm")
        passes = self._passes(i, kind, work)
        ends = []
        for index, (programs, row_base, vectors) in enumerate(passes):
            run = self.pim.run(
                programs,
                cycle if weights else first,  # (a batch's attention: all sequences at once)
                row_base,
                stream.tile_rows if stream else 0,
                stream.tiles if stream else 0,
                vectors,
                later_pass=weights and index > 0,
            )
            cycle = max(cycle, run.end_cycle)
            ends.append(cycle * tck)
            if kind in self.kind_counters:
                self.kind_counters[kind] += run.counters
            else:
                self.kind_counters[kind] = run.counters.copy()
            self.token_counters[o.tokens[i]] += run.counters
        if stream is not None:
            self.tile_end[i] = run.tile_end * tck
        elif weights and len(passes) > 1 and work.finish_ps and self.works.stream:
            self.pass_end[i] = ends  # (each pass's partial sums can be added once it ends)
        cols.dram_start[i] = first * tck
        cols.pim_end[i] = cycle * tck
        r.log(i, "link", now, first * tck)
        r.log(i, "pim", first * tck, cycle * tck)
        return cycle * tck

    def _passes(self, i: int, kind: str, work: OperatorWork) -> list[tuple[list, int, int]]:
        """(programs, row base, input vectors) of each run of operator i on the channels. A
        weight VMM serves its m x batch input vectors as many per pass as the global buffer
        holds, one pass after the other; an attention operator runs the sequences of each row
        slot of the batch's KV caches at once, each on its channel group (`kv_place`)."""
        o, works = self.run.ops, self.works
        if kind in ("vmm", "gemm"):
            rows = int(o.rows[i])
            per_pass = works.vectors_per_pass(o.weights[i]) if rows > 1 else 1
            full, rest = divmod(rows, per_pass)
            counts = [per_pass] * full + ([rest] if rest else [])
            return [(work.programs, 0, vectors) for vectors in counts]
        layer, slots = o.layers[i], works.mapping.kv_slots
        return [
            (works.slot_programs(work, k), works.row_base_of(kind, layer, k), 1)
            for k in range(slots)
        ]

    def process(self, order: list[int]):
        """Overlap mode: each operator once its inputs are ready; its finishing work goes to
        the vector unit, else it finishes when its channels do."""
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

    def __init__(self, run: Run, pim_unit: PimUnit) -> None:
        self.run, self.pim_unit = run, pim_unit
        self._stream_cache: dict[tuple, tuple[int, int]] = {}

    def vector_op_at(self, i: int, begin: int) -> int:
        """Run vector operator i from `begin`: fills its columns, returns when it ends."""
        cols = self.run.cols
        end = begin + self.run.ops.vector_ps[i]
        cols.start[i] = cols.asic_start[i] = begin
        cols.asic_end[i] = end
        cols.asic_busy[i] = end - begin
        self.run.log(i, "vector", begin, end)
        return end

    def vector_op(self, i: int):
        """Run vector operator i from now (a process step)."""
        env = self.run.env
        yield env.timeout(self.vector_op_at(i, env.now) - env.now)

    def finishing_times(self, i: int, work: OperatorWork, free: int) -> tuple[int, int, int]:
        """(start, end, hidden ps) of PIM operator i's finishing work, the vector unit being
        free from `free` on; for streamed partial sums the start is where the work stops
        being hidden under the operator's own PIM part."""
        cols = self.run.cols
        pim_end = cols.pim_end[i]
        stream = work.streaming
        pass_end = self.pim_unit.pass_end.pop(i, None)
        if pass_end is not None:
            return _pipelined(pass_end, work.finish_ps, free, pim_end)
        if stream is None or i not in self.pim_unit.tile_end:
            begin = max(free, pim_end)
            return begin, begin + work.finish_ps, 0
        # when the passes could end, relative to the DRAM start: the same for every operator
        # whose channels did the same (the memo's results), so it is cached on those times
        dram_start = cols.dram_start[i]
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

    def finish_pim_op_at(self, i: int, work: OperatorWork, free: int) -> int:
        """Finish dispatched PIM operator i, the vector unit free from `free` on: first the
        held positions (beside the channels), then its partial sums. Fills its columns and
        returns when it is done."""
        r, cols = self.run, self.run.cols
        if work.parallel_ps:
            par_begin = max(free, cols.start[i])
            free = cols.par_end[i] = par_begin + work.parallel_ps
            cols.par_start[i] = par_begin
            r.log(i, "vector", par_begin, free)
        begin, done, hidden = self.finishing_times(i, work, free)
        if done > begin:
            cols.asic_start[i], cols.asic_end[i] = begin, done
            r.log(i, "vector", begin, done)
        cols.asic_busy[i] = (done - begin) + hidden + work.parallel_ps
        cols.asic_hidden[i] = hidden
        return done

    def finish_pim_op(self, i: int):
        """Finish PIM operator i once it is dispatched (a process step)."""
        env, pim = self.run.env, self.pim_unit
        if i in pim.dispatched:
            del pim.dispatched[i]
        else:
            event = pim.dispatched[i] = env.event()
            yield event
        done = self.finish_pim_op_at(i, pim.work_of(i), env.now)
        yield env.timeout(done - env.now)

    def finish_serial(self, i: int, work: OperatorWork, pim_end: int) -> int:
        """All of issued PIM operator i's ASIC part from `pim_end` on; returns its end."""
        if not work.asic_ps:
            return pim_end
        cols, end = self.run.cols, pim_end + work.asic_ps
        cols.asic_start[i], cols.asic_end[i] = pim_end, end
        cols.asic_busy[i] = work.asic_ps
        self.run.log(i, "vector", pim_end, end)
        return end

    def process(self, order: list[int]):
        """Overlap mode: vector operators once their inputs are ready, and the finishing work
        of PIM operators once they are dispatched, in program order."""
        r, unit = self.run, self.run.ops.unit_list
        for i in order:
            if unit[i] == UNIT_PIM:
                yield from self.finish_pim_op(i)
            else:
                yield from r.inputs(i)
                yield from self.vector_op(i)
            r.finish(i)


def _pipelined(pass_end: list[int], total_ps: int, free: int, pim_end: int):
    """(start, end, hidden ps) of a batched VMM's sums when pass p's share (of `total_ps`,
    split evenly) is added once the pass has ended and the previous share is done: the ASIC
    adds one pass while the channels compute the next."""
    share, extra = divmod(total_ps, len(pass_end))
    t = free
    for p, end in enumerate(pass_end):
        t = max(t, end) + share + (1 if p < extra else 0)
    exposed_from = max(free, pim_end)
    return exposed_from, t, total_ps - (t - exposed_from)


class SerialIssuer:
    """PIM-GPT's order (serial mode): each instruction waits until ASIC and PIM are idle."""

    def __init__(self, run: Run, pim: PimUnit, vector: VectorUnit, link: LinkUnit) -> None:
        self.run, self.pim, self.vector, self.link = run, pim, vector, link
        self.device, self.net = DeviceUnit(run), NetUnit(run)

    def pim_op(self, i: int):
        """PIM operator i from now, then all of its ASIC part (a process step)."""
        env = self.run.env
        work = self.pim.work_of(i)
        pim_end = self.pim.issue(i, work)
        yield env.timeout(self.vector.finish_serial(i, work, pim_end) - env.now)

    def process(self):
        r, unit = self.run, self.run.ops.unit_list
        for i in range(r.ops.n):
            kind = unit[i]
            if kind == UNIT_PIM:
                yield from self.pim_op(i)
            elif kind == UNIT_VECTOR:
                yield from self.vector.vector_op(i)
            elif kind == UNIT_DEVICE:
                yield from self.device.op(i)
            elif kind == UNIT_NET:
                yield from self.net.op(i)
            else:
                yield from self.link.op(i)
            r.finish(i)
