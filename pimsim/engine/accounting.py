"""Where a simulated run's time went: breakdowns that add up to its latency exactly. Every
picosecond of [0, end] is given to one category: to the PIM operator whose DRAM work was in
flight (the oldest one when several overlap: channels serve operators in order), else to the
ASIC work running then (a vector operator's kind, or ``reduction`` for the work that finishes a
PIM operator), else to a link transfer (``embed``, or ``pim_issue``: the ASIC -> PIM
instruction latency), else to a compute device running an operator (``device_`` + its kind: the
prompt on a GPU), else to a collective over the interconnect (``allreduce``), else ``idle``.
The units' view splits the same span into PIM only, PIM and ASIC together, ASIC only, link
only, device only, interconnect only and idle. All sums are in integer picoseconds, so the
parts equal the total exactly.

ASIC work that streams a weight VMM's partial sums while that VMM's DRAM part still runs is
counted as hidden by the PIM (`SimResult.asic_hidden_ps`); it overlaps that operator's own DRAM
interval by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pimsim.engine.simulate import NONE, UNIT_DEVICE, UNIT_LINK, UNIT_NET, UNIT_PIM, SimResult

ASIC_FINISH = "reduction"
PIM_ISSUE = "pim_issue"
IDLE = "idle"


@dataclass(frozen=True)
class Timing:
    """Exact time accounting of a run (picoseconds)."""

    total_ps: int
    by_kind_ps: dict[str, int]  # sums to total_ps
    by_unit_ps: dict[str, int]  # pim_only, pim_and_asic, asic_only, link_only, idle
    pim_busy_ps: int  # time at least one channel worked on an operator
    asic_busy_ps: int  # all vector-unit work
    asic_hidden_ps: int  # vector-unit work while PIM work was in flight
    link_busy_ps: int
    device_busy_ps: int = 0  # a compute device running operators (`--prefill gpu`)
    net_busy_ps: int = 0  # collectives over the interconnect (tensor parallelism)

    @property
    def asic_exposed_ps(self) -> int:
        return self.asic_busy_ps - self.asic_hidden_ps


class _Cover:
    """A set of disjoint intervals, sorted, with the covered length up to any point."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray) -> None:
        self.starts, self.ends = starts, ends
        self.cum = np.concatenate(([0], np.cumsum(ends - starts)))

    @property
    def length(self) -> int:
        return int(self.cum[-1])

    def upto(self, t: np.ndarray) -> np.ndarray:
        """Covered length in (-inf, t] for each t."""
        idx = np.searchsorted(self.starts, t, side="right") - 1
        safe = np.maximum(idx, 0)
        inside = np.clip(t - self.starts[safe], 0, self.ends[safe] - self.starts[safe])
        return np.where(idx >= 0, self.cum[safe] + inside, 0)

    def within(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Covered length inside each [a, b]."""
        return self.upto(b) - self.upto(a)


def _fifo(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intervals (sorted by start) with each overlap given to the earlier one: starts move to
    the latest end before them. The result is disjoint; its union equals the input's."""
    latest = np.maximum.accumulate(ends)
    prior = np.concatenate(([np.iinfo(np.int64).min], latest[:-1]))
    clipped = np.maximum(starts, prior)
    return clipped, np.maximum(ends, clipped)


def _union(starts: np.ndarray, ends: np.ndarray) -> _Cover:
    order = np.argsort(starts, kind="stable")
    s, e = _fifo(starts[order], ends[order])
    keep = e > s
    return _Cover(s[keep], e[keep])


def account(sim: SimResult, kinds: np.ndarray) -> Timing:
    """Exact time accounting of `sim` (`kinds`: each operator's kind)."""
    total = int(sim.end_ps)
    by_kind: dict[str, int] = {}

    def add(labels: np.ndarray, values: np.ndarray) -> None:
        if len(values) == 0:
            return
        sums = pd.Series(values.astype(np.int64)).groupby(labels.astype(str)).sum()
        for label, value in sums.items():
            by_kind[str(label)] = by_kind.get(str(label), 0) + int(value)

    pim_ops = np.flatnonzero((sim.op_unit == UNIT_PIM) & (sim.pim_end_ps > sim.dram_start_ps))
    # PIM: operators are handed to the channels in id order; overlaps go to the older one
    p_start, p_end = _fifo(sim.dram_start_ps[pim_ops], sim.pim_end_ps[pim_ops])
    add(kinds[pim_ops], p_end - p_start)
    pim = _union(sim.dram_start_ps[pim_ops], sim.pim_end_ps[pim_ops])

    # ASIC: the vector unit is one in-order unit, so its stretches are disjoint
    asic = np.flatnonzero(sim.asic_start_ps != NONE)
    par = np.flatnonzero(sim.par_start_ps != NONE)
    a_start = np.concatenate((sim.asic_start_ps[asic], sim.par_start_ps[par]))
    a_end = np.concatenate((sim.asic_end_ps[asic], sim.par_end_ps[par]))
    a_ops = np.concatenate((asic, par))
    a_under_pim = pim.within(a_start, a_end)
    labels = np.where(sim.op_unit[a_ops] == UNIT_PIM, ASIC_FINISH, kinds[a_ops])
    add(labels, (a_end - a_start) - a_under_pim)
    hidden_streamed = int(sim.asic_hidden_ps.sum())

    # link: instruction latency of PIM operators and embedding fetches
    issued = pim_ops
    link_ops = np.flatnonzero(sim.op_unit == UNIT_LINK)
    l_start = np.concatenate((sim.op_start_ps[issued], sim.op_start_ps[link_ops]))
    l_end = np.concatenate((sim.dram_start_ps[issued], sim.op_end_ps[link_ops]))
    l_label = np.concatenate(
        (np.full(len(issued), PIM_ISSUE, dtype=object), kinds[link_ops].astype(object))
    )
    order = np.argsort(l_start, kind="stable")
    l_start, l_end, l_label = l_start[order], l_end[order], l_label[order]
    l_start, l_end = _fifo(l_start, l_end)
    both = _union(np.concatenate((pim.starts, a_start)), np.concatenate((pim.ends, a_end)))
    link_exposed = (l_end - l_start) - both.within(l_start, l_end)
    add(l_label, link_exposed)
    link = _union(l_start, l_end)

    busy = _union(
        np.concatenate((both.starts, link.starts)), np.concatenate((both.ends, link.ends))
    )
    busy, device_exposed, d_busy, dev = _exposed(sim, UNIT_DEVICE, busy, add, "device_", kinds)
    everything, net_exposed, n_busy, net = _exposed(sim, UNIT_NET, busy, add, "", kinds)
    idle = total - everything.length
    by_kind[IDLE] = by_kind.get(IDLE, 0) + idle
    overlap = int(a_under_pim.sum()) + hidden_streamed
    asic_exposed = int(((a_end - a_start) - a_under_pim).sum())
    by_unit = {
        "pim_only": pim.length - overlap,
        "pim_and_asic": overlap,
        "asic_only": asic_exposed,
        "link_only": int(link_exposed.sum()),
        **({"device_only": int(device_exposed.sum())} if len(dev) else {}),
        **({"interconnect_only": int(net_exposed.sum())} if len(net) else {}),
        "idle": idle,
    }
    return Timing(
        total_ps=total,
        by_kind_ps=dict(sorted(by_kind.items())),
        by_unit_ps=by_unit,
        pim_busy_ps=pim.length,
        asic_busy_ps=int((a_end - a_start).sum()) + hidden_streamed,
        asic_hidden_ps=overlap,
        link_busy_ps=link.length,
        device_busy_ps=d_busy,
        net_busy_ps=n_busy,
    )


def _exposed(sim: SimResult, unit: int, busy: _Cover, add, prefix: str, kinds: np.ndarray):
    """A fixed-time unit's operators (one in-order unit: disjoint) given the time no unit
    before it covers, labelled `prefix` + kind: (the cover with them added, the exposed times,
    the unit's busy ps, its operators)."""
    ops = np.flatnonzero(sim.op_unit == unit)
    start, end = sim.op_start_ps[ops], sim.op_end_ps[ops]
    exposed = (end - start) - busy.within(start, end)
    add(np.array([f"{prefix}{k}" for k in kinds[ops]], dtype=object), exposed)
    cover = _union(np.concatenate((busy.starts, start)), np.concatenate((busy.ends, end)))
    return cover, exposed, int((end - start).sum()), ops
