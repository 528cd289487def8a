"""Units that run each of their operators for a time known up front, in program order, like
SimPy's simplest resources: the ASIC <-> PIM link (embedding-row fetches) and a compute device
beside the PIM system that runs some operators itself (`--prefill gpu`: the prompt on a GPU
described like a baseline; each operator's time is its baseline-model time, plus the transfer
of what it sends to the PIM system over the host link). Their operators take no PIM or ASIC
work."""

from __future__ import annotations

UNIT_DEVICE = 3


class LinkUnit:
    """Embedding-row fetches over the ASIC <-> PIM link."""

    def __init__(self, run) -> None:
        self.run = run

    def link_op_at(self, i: int, begin: int) -> int:
        """Fetch embedding operator i's row from `begin`; returns when it arrives."""
        self.run.cols.start[i] = begin
        end = begin + self.run.ops.link_ps[i]
        self.run.log(i, "link", begin, end)
        return end

    def link_op(self, i: int):
        """Fetch embedding operator i's row from now (a process step)."""
        env = self.run.env
        yield env.timeout(self.link_op_at(i, env.now) - env.now)

    def process(self, order: list[int]):
        """Overlap mode: each fetch once its inputs are ready."""
        r = self.run
        for i in order:
            yield from r.inputs(i)
            yield from self.link_op(i)
            r.finish(i)


class DeviceUnit:
    """Operators run on the compute device (`Operators.device_ps` gives each one's time)."""

    def __init__(self, run) -> None:
        self.run = run

    def device_op_at(self, i: int, begin: int) -> int:
        """Run device operator i from `begin`; returns when it ends."""
        self.run.cols.start[i] = begin
        end = begin + self.run.ops.device_ps[i]
        self.run.log(i, "device", begin, end)
        return end

    def device_op(self, i: int):
        """Run device operator i from now (a process step)."""
        env = self.run.env
        yield env.timeout(self.device_op_at(i, env.now) - env.now)

    def process(self, order: list[int]):
        """Overlap mode: each operator once its inputs are ready."""
        r = self.run
        for i in order:
            yield from r.inputs(i)
            yield from self.device_op(i)
            r.finish(i)
