"""The report's `system` block for a run on several devices (tensor parallelism): what each
device and the interconnect did. Every device runs the same shard (the devices are identical
and the split is even), so one device's simulation stands for all of them; the `pim` block's
energy is the whole system's (every device, plus the interconnect)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pimsim.engine.device import collective_bytes
from pimsim.engine.metrics import PS
from pimsim.engine.simulate import UNIT_NET


def system_section(spec, table, sim, timing, energy: dict, interconnect) -> dict[str, Any]:
    """Devices, parallelism, the interconnect's numbers and use, per device busy and energy."""
    devices = spec.tensor_parallel
    net = np.flatnonzero(sim.op_unit == UNIT_NET)
    components = energy["components"]
    link_j = components.get("interconnect", 0.0)
    return {
        "devices": devices,
        "parallel": {"tensor": devices},
        "interconnect": interconnect.describe(),
        "per_device": {
            "pim_busy_s": timing.pim_busy_ps * PS,
            "vector_busy_s": timing.asic_busy_ps * PS,
            "energy_j": (sum(components.values()) - link_j) / devices,
        },
        "links": {
            "collectives": int(len(net)),
            "bytes_sent_per_device": sent_bytes_per_device(table, sim, devices),
            "busy_s": timing.net_busy_ps * PS,
            "exposed_s": timing.by_unit_ps.get("interconnect_only", 0) * PS,
            "energy_j": link_j,
        },
    }


def sent_bytes_per_device(table, sim, devices: int) -> int:
    """Bytes each device sends over the run's collectives (a ring all-reduce sends 2 (N-1)/N
    of the vector, an all-gather half that)."""
    net = np.flatnonzero(sim.op_unit == UNIT_NET)
    if not len(net):
        return 0
    nbytes = collective_bytes(table, net)
    kinds = table["kind"].to_numpy()[net]
    steps = np.where(kinds == "allreduce", 2, 1) * (devices - 1)
    return int((steps * nbytes // devices).sum())
