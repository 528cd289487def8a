"""The operator schedule as one loop in program order: the SimPy units' schedule, exactly.

Every unit serves its operators in program order and an operator waits only for its inputs,
which come earlier in the table (ids are a topological order). So going through the table once,
keeping each unit's "free from" time, gives every operator the start the SimPy processes give
it: the PIM unit issues operator i at max(its previous issue, i's inputs' ends); the vector
unit starts a vector operator at max(its own free time, the inputs' ends) and the finishing
work of a PIM operator at max(its free time, the operator's dispatch); the link, a compute
device and the interconnect (`engine.device`) likewise.
The channels see the same calls with the same start cycles in the same order, so their states,
counts and every time column are identical (`tests/engine/test_in_order.py` compares every
column with the SimPy processes on randomised models, systems and modes). The loop costs no
events: it is the default engine, SimPy the reference one (`simulate(..., engine="simpy")`).
"""

from __future__ import annotations

from pimsim.engine.device import UNIT_DEVICE, UNIT_NET, DeviceUnit, NetUnit
from pimsim.engine.units import (
    UNIT_LINK,
    UNIT_PIM,
    UNIT_VECTOR,
    LinkUnit,
    PimUnit,
    Run,
    VectorUnit,
)


class Clock:
    """Stands in for the SimPy environment where the units read the time (`now`)."""

    def __init__(self) -> None:
        self.now = 0


def run_in_order(run: Run, pim: PimUnit, vector: VectorUnit, link: LinkUnit, serial: bool) -> int:
    """Schedule every operator of `run` (its `env` a `Clock`); returns the run's end (ps)."""
    ops, cols, clock = run.ops, run.cols, run.env
    unit, deps, end = ops.unit_list, ops.deps, cols.end
    pim_free = vector_free = last = 0
    # the units that run an operator for a time known up front, each free from some time on
    fixed = {UNIT_LINK: link, UNIT_DEVICE: DeviceUnit(run), UNIT_NET: NetUnit(run)}
    free = dict.fromkeys(fixed, 0)
    for i in range(ops.n):
        if serial:  # each instruction waits for the previous one to finish
            ready = last
        else:
            ready = 0
            for d in deps[i]:
                if end[d] > ready:
                    ready = end[d]
        kind = unit[i]
        if kind == UNIT_PIM:
            issue = clock.now = pim_free = max(pim_free, ready)
            work = pim.work_of(i)
            pim_end = pim.issue(i, work)
            if serial:
                done = vector.finish_serial(i, work, pim_end)
            elif pim.needs_vector(work):
                done = vector_free = vector.finish_pim_op_at(i, work, max(vector_free, issue))
            else:
                done = pim_end
        elif kind == UNIT_VECTOR:
            begin = max(vector_free, ready)
            done = vector.vector_op_at(i, begin)
            if not serial:
                vector_free = done
        else:
            done = fixed[kind].op_at(i, max(free[kind], ready))
            if not serial:
                free[kind] = done
        clock.now = done
        _finish(run, i, done)
        if done > last or serial:
            last = done
    run.lm_ends.sort()  # (the SimPy processes record them in time order)
    return last


def _finish(run: Run, i: int, done: int) -> None:
    run.cols.end[i] = done
    run.finished[i] = True
    if run.ops.names[i] == "lm_head":
        run.lm_ends.append(done)
    if run.bar is not None:
        run.bar.update(1)
