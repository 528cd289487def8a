"""Operator-level simulation with SimPy: who waits for whom, and what overlaps.

Time is integer picoseconds. Hardware units (`pimsim.engine.units`, each a class whose
`process()` is a SimPy process) serve the operator table:

- `PimUnit`: every VMM-like operator (weight VMMs, q.K^T, softmax x V, KV-cache writes). It
  hands an operator's programs to the channels once the operator's inputs are ready (after
  the ASIC -> PIM link latency); each channel serves its programs in order, so an operator
  that only some channels take part in (a KV write) overlaps the next one on the others;
- `VectorUnit`: the ASIC vector unit: norms, softmax, activations, adds, and the work that
  finishes a PIM operator (partial-sum and lane reductions, the attention positions the ASIC
  holds). A weight VMM's partial sums are accumulated tile by tile while the PIM computes the
  next tiles (`asic.reduction_tile_rows`, see `pimsim.engine.work`);
- `LinkUnit`: embedding-row fetches;
- `DeviceUnit` and `NetUnit` (`pimsim.engine.device`): a compute device that runs some
  operators itself (`--prefill gpu`, `--hybrid`) and the interconnect of a tensor-parallel
  system (its all-reduces), each operator for a time given up front.

Modes: `overlap` (each unit serves its operators in program order, each operator waiting only
for its inputs) and `serial` (PIM-GPT's simulator: an instruction issues only when ASIC and PIM
are idle, so every operator waits for the previous one to finish, reductions included;
one process, `SerialIssuer`, drives the units' steps).

Engines: the units' SimPy processes (`engine="simpy"`, the reference), or one loop over the
table in program order that gives the same schedule without events (`engine="loop"`, the
default; `pimsim.engine.in_order` says why it is exact, and a test compares every column).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from pimsim.config.schema import HardwareConfig
from pimsim.core.errors import PimsimInputError
from pimsim.core.kinds import LINK_KINDS, NET_KINDS, PIM_KINDS
from pimsim.dram.system import PimSystem
from pimsim.engine.device import UNIT_DEVICE, UNIT_NET, DeviceUnit, NetUnit
from pimsim.engine.in_order import Clock, run_in_order
from pimsim.engine.units import (
    NONE,
    UNIT_LINK,
    UNIT_PIM,
    UNIT_VECTOR,
    LinkUnit,
    Operators,
    PimUnit,
    Run,
    SerialIssuer,
    VectorUnit,
)
from pimsim.engine.work import OperatorWorks
from pimsim.mapping import ModelMapping
from pimsim.workload.lowering import table_batch
from pimsim.workload.table import deps_csr

__all__ = [
    "ENGINES",
    "MODES",
    "NONE",
    "UNIT_DEVICE",
    "UNIT_LINK",
    "UNIT_NET",
    "UNIT_PIM",
    "UNIT_VECTOR",
    "SimResult",
    "check_kinds",
    "simulate",
]

MODES = ("serial", "overlap")
ENGINES = ("loop", "simpy")  # the same schedule: one loop in program order, or SimPy processes


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
    op_unit: np.ndarray = field(repr=False)  # 0 pim, 1 vector, 2 link, 3 device, 4 net
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
    timeline_tokens: int = 0  # operators of tokens below this are in `timeline`
    reduce_ops: np.ndarray | None = field(default=None, repr=False)  # lane ops per PIM op
    kind_counters: dict = field(default_factory=dict, repr=False)  # PIM commands per op kind
    token_counters: np.ndarray | None = field(default=None, repr=False)  # [token, counter]

    @property
    def reduce_ps(self) -> np.ndarray:
        """ASIC time that finishes each PIM operator (reductions), 0 for other operators."""
        return np.where(self.op_unit == UNIT_PIM, self.asic_busy_ps, 0)


def check_kinds(table: pd.DataFrame, vector_kinds: set[str], source: str | None) -> None:
    known = set(PIM_KINDS) | set(LINK_KINDS) | set(NET_KINDS) | set(vector_kinds)
    bad = sorted(set(table["kind"]) - known)
    if bad:
        first = table[table["kind"] == bad[0]].iloc[0]
        raise PimsimInputError(
            f"operator {first['name']!r} (id {first['id']}) has unknown kind {bad[0]!r}",
            file=source,
            key="kind",
            expected="one of " + ", ".join(sorted(known)),
        )


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
    engine: str = "loop",
    device_ps: np.ndarray | None = None,
    interconnect=None,
    devices: int = 1,
) -> SimResult:
    """Run the operator table on the PIM system; returns per-op times and the PIM state.
    `engine`: "loop" (`pimsim.engine.in_order`) or "simpy"; they give identical results.
    `device_ps` (per operator, -1 for none): operators a compute device runs for that long
    instead (`pimsim.engine.device`: the prompt on a GPU). A tensor-parallel table (one of
    `devices` identical devices' shard) times its collectives over `interconnect`."""
    _check_table(table, mode)
    if engine not in ENGINES:
        raise PimsimInputError(f"got {engine!r}", key="engine", expected=" or ".join(ENGINES))
    env = simpy.Environment() if engine == "simpy" else Clock()
    ops = Operators(hw, table, device_ps, interconnect, devices)
    run = Run(env, ops, timeline_tokens, _progress_bar(ops.n, progress))
    pim_system = PimSystem(hw, exact=exact, log_capacity=log_capacity)
    batch = table_batch(table)
    if mapping.sequences < batch:
        raise PimsimInputError(
            f"the table decodes {batch} sequences but the mapping holds KV caches for "
            f"{mapping.sequences}",
            key="--batch",
            expected=f"a mapping made with sequences={batch}",
        )
    works = OperatorWorks(hw, mapping, stream=mode == "overlap", batch=batch)
    pim = PimUnit(hw, run, works, pim_system)
    vector, link = VectorUnit(run, pim), LinkUnit(run)
    if engine == "loop":
        end_ps = run_in_order(run, pim, vector, link, serial=mode == "serial")
        if run.bar is not None:
            run.bar.close()
        return _result(mode, run, pim, end_ps)
    if mode == "serial":
        env.process(SerialIssuer(run, pim, vector, link).process())
    else:
        pim_ops = ops.of_unit(UNIT_PIM)
        finishing = set(pim.plan(pim_ops))
        unit = ops.unit_list
        vector_ops = [i for i in range(ops.n) if unit[i] == UNIT_VECTOR or i in finishing]
        env.process(pim.process(pim_ops))
        env.process(vector.process(vector_ops))
        env.process(link.process(ops.of_unit(UNIT_LINK)))
        env.process(DeviceUnit(run).process(ops.of_unit(UNIT_DEVICE)))
        env.process(NetUnit(run).process(ops.of_unit(UNIT_NET)))
    env.run()
    if run.bar is not None:
        run.bar.close()
    if not all(run.finished):
        raise RuntimeError("simulation ended with operators still waiting (dependency cycle?)")
    return _result(mode, run, pim, int(env.now))


def _check_table(table: pd.DataFrame, mode: str) -> None:
    from pimsim.asic import VECTOR_KINDS

    if mode not in MODES:
        raise PimsimInputError(f"got {mode!r}", key="--mode", expected=" or ".join(MODES))
    check_kinds(table, set(VECTOR_KINDS), None)
    ids = table["id"].to_numpy()
    if not np.array_equal(ids, np.arange(len(table))):
        raise PimsimInputError("operator ids must be 0..n-1 in order", key="id")
    counts, flat = deps_csr(table)
    owner = np.repeat(ids, counts)
    if len(flat) and not (flat < owner).all():
        bad = int(np.flatnonzero(flat >= owner)[0])
        raise PimsimInputError(
            f"operator {int(owner[bad])} depends on {int(flat[bad])}, not an earlier operator",
            key="deps",
            expected="dependencies on earlier operators only",
        )


def _result(mode: str, run: Run, pim: PimUnit, end_ps: int) -> SimResult:
    """The run's result columns as arrays, with the PIM unit's state and counts."""
    cols = run.cols

    def col(values) -> np.ndarray:
        return np.frombuffer(values, dtype=np.int64).copy()

    return SimResult(
        mode=mode,
        end_ps=end_ps,
        op_start_ps=col(cols.start),
        op_end_ps=col(cols.end),
        op_unit=run.ops.unit,
        dram_start_ps=col(cols.dram_start),
        pim_end_ps=col(cols.pim_end),
        asic_start_ps=col(cols.asic_start),
        asic_end_ps=col(cols.asic_end),
        asic_busy_ps=col(cols.asic_busy),
        asic_hidden_ps=col(cols.asic_hidden),
        par_start_ps=col(cols.par_start),
        par_end_ps=col(cols.par_end),
        pim=pim.pim,
        tck_ps=pim.tck_ps,
        lm_head_end_ps=run.lm_ends,
        timeline=run.timeline,
        timeline_tokens=run.timeline_tokens,
        reduce_ops=col(cols.reduce_ops),
        kind_counters=pim.kind_counters,
        token_counters=pim.token_counters,
    )


def _progress_bar(total: int, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="op", desc="simulating", file=sys.stderr, mininterval=0.5)
