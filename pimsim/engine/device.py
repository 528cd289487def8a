"""Units that run each of their operators for a time known up front, in program order, like
SimPy's simplest resources: the ASIC <-> PIM link (embedding-row fetches), a compute device
beside the PIM system that runs some operators itself (`--prefill gpu`: the prompt on a GPU
described like a baseline; each operator's time is its baseline-model time, plus the transfer
of what it sends to the PIM system over the host link), and the interconnect between the
devices of a tensor-parallel system (its collectives: `pimsim.system.interconnect`). Their
operators take no PIM or ASIC work."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pimsim.core.errors import PimsimInputError
from pimsim.core.kinds import NET_KINDS

UNIT_DEVICE = 3
UNIT_NET = 4


class FixedTimeUnit:
    """One in-order unit whose operator i takes `run.ops.<times>[i]` ps."""

    times = "link_ps"
    track = "link"

    def __init__(self, run) -> None:
        self.run = run

    def op_at(self, i: int, begin: int) -> int:
        """Run operator i from `begin`; returns when it ends."""
        self.run.cols.start[i] = begin
        end = begin + getattr(self.run.ops, self.times)[i]
        self.run.log(i, self.track, begin, end)
        return end

    def op(self, i: int):
        """Run operator i from now (a process step)."""
        env = self.run.env
        yield env.timeout(self.op_at(i, env.now) - env.now)

    def process(self, order: list[int]):
        """Overlap mode: each operator once its inputs are ready."""
        r = self.run
        for i in order:
            yield from r.inputs(i)
            yield from self.op(i)
            r.finish(i)


class LinkUnit(FixedTimeUnit):
    """Embedding-row fetches over the ASIC <-> PIM link (`Operators.link_ps`)."""


class DeviceUnit(FixedTimeUnit):
    """Operators run on a compute device (`Operators.device_ps`)."""

    times, track = "device_ps", "device"


class NetUnit(FixedTimeUnit):
    """Collectives over the interconnect between devices (`Operators.net_ps`)."""

    times, track = "net_ps", "interconnect"


def collective_ps(table: pd.DataFrame, kinds: np.ndarray, interconnect, devices: int) -> list:
    """Each collective's time over the interconnect (`pimsim.system`), 0 for other operators:
    the vector of every row of the batch, at the table's element width."""
    times = np.zeros(len(table), dtype=np.int64)
    net = np.flatnonzero(np.isin(kinds, NET_KINDS))
    if not len(net):
        return times.tolist()
    if interconnect is None:
        raise PimsimInputError(
            "the table has collectives but the run has no interconnect",
            key="interconnect",
            expected="a tensor-parallel run (simulate(..., interconnect=..., devices=N))",
        )
    nbytes = collective_bytes(table, net)
    for j, i in enumerate(net.tolist()):
        times[i] = interconnect.collective_ps(str(kinds[i]), int(nbytes[j]), devices)
    return times.tolist()


def collective_bytes(table: pd.DataFrame, index: np.ndarray) -> np.ndarray:
    """Bytes of the whole vector each collective `index` combines: its output for every row of
    the batch, at the table's element width."""
    from pimsim.asic._columns import dtype_bytes_column
    from pimsim.workload.moe import op_rows

    sub = table.iloc[index]
    return op_rows(table)[index] * sub["out_features"].to_numpy() * dtype_bytes_column(sub)
