"""The links between PIM devices, and the time and energy of a collective over them.

A tensor-parallel system of N devices sums its partial outputs with a ring all-reduce: each
device sends 2 (N - 1) / N of the vector to its neighbour, in 2 (N - 1) steps (reduce-scatter,
then all-gather), each step paying the link's latency (and a switch's, through one). The
collective's time is 2 (N - 1) (latency + switch) + 2 (N - 1) / N x bytes / bandwidth, its
energy every device's sent bits at the link's energy per bit (Patarasuk and Yuan, "Bandwidth
optimal all-reduce algorithms for clusters of workstations", JPDC 2009: the ring is bandwidth
optimal). An all-gather is half of it.

Presets (bandwidth per direction of one device's link):
- `pcie4`: PCIe 4.0 x16, 16 GT/s x 16 lanes, 128b/130b coding: 31.5 GB/s (PCI-SIG, PCI Express
  Base Specification 4.0);
- `cxl`: CXL 2.0 on the PCIe 5.0 x16 PHY, 32 GT/s: 63.0 GB/s (CXL Consortium, CXL 2.0
  specification; PCI-SIG 5.0), through one switch;
- `nvlink4`: NVLink 4 as on an H100 SXM, 900 GB/s in all, 450 GB/s per direction (NVIDIA H100
  Tensor Core GPU datasheet);
- `cent_cxl3`: the CXL fabric of CENT (Gu et al., "PIM is All You Need: A CXL-Enabled GPU-Free
  System for LLM Inference", ASPLOS 2025), as its artifact models it (github.com/Yufeng98/CENT
  at 8c7978606f3b, `cent_simulation/cxl_latency.py`, `run_sim.py`, `cent_power_calculator.py`):
  144 PCIe 6.0 lanes shared by 32 devices, 144 // 32 = 4 lanes each at 8 GB/s per lane and
  direction: 32 GB/s (the artifact divides by 2^30, so its transfers are 7 % faster); every
  transfer pays the artifact's one-hop round trip, four CXL ports of
  25 ns and two PCIe PHY crossings of 30 ns (160 ns) plus a 20 ns switch; 4.4 pJ per bit. (The
  artifact also halves the lane bandwidth for its multicast broadcasts; a ring all-reduce sends
  point to point, so the preset keeps the full 8 GB/s per lane.) Pair it with 32 GDDR6-AiM
  channels per device (the artifact's `--num_channels` default: `--set dram.channels=32` on
  `gddr6_aim`).
Energy per bit: 4.4 pJ over PCIe-class SerDes (CENT's power calculator, as REFERENCES.md lists
it, derivation not re-checked) for `pcie4` and `cxl`; 1.3 pJ for NVLink (the AttAcc energy
table, ASPLOS 2024). The latencies of `pcie4`, `cxl` and `nvlink4` (1 us for PCIe 4.0, 0.6 us
plus a 0.25 us switch for CXL, 0.5 us for NVLink) are assumed orders of magnitude, not
measurements: override them
(`interconnect={"latency_ns": ...}` in the API) for a system you know.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from pimsim.core.errors import PimsimInputError

PS_PER_NS = 1000
# CENT's fabric, from its artifact (module docstring): lanes, per-lane bandwidth, latencies
CENT_LANES_PER_DEVICE = 144 // 32
CENT_GBPS_PER_LANE = 8.0
CENT_CXL_PORT_NS = 25.0
CENT_PCIE_PHY_NS = 5.0 + 20.0 + 5.0
CENT_SWITCH_NS = 20.0


@dataclass(frozen=True)
class Interconnect:
    """One device's link into the system's interconnect."""

    name: str
    bandwidth_GBps: float  # per direction
    latency_ns: float  # per transfer step
    switch_latency_ns: float  # added per step through a switch (0: direct links)
    energy_pJ_per_bit: float

    def collective_ps(self, kind: str, nbytes: int, devices: int) -> int:
        """Time of an `allreduce` / `allgather` of `nbytes` (the whole vector) over a ring."""
        if devices <= 1 or nbytes <= 0:
            return 0
        steps = (2 if kind == "allreduce" else 1) * (devices - 1)
        sent = steps * nbytes / devices  # (bytes each device sends)
        step_ps = (self.latency_ns + self.switch_latency_ns) * PS_PER_NS
        return math.ceil(steps * step_ps + sent * PS_PER_NS / self.bandwidth_GBps)

    def collective_j(self, kind: str, nbytes: int, devices: int) -> float:
        """Energy of one collective: every device's sent bits."""
        if devices <= 1 or nbytes <= 0:
            return 0.0
        steps = (2 if kind == "allreduce" else 1) * (devices - 1)
        return devices * steps * nbytes / devices * 8 * self.energy_pJ_per_bit * 1e-12

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


INTERCONNECTS = {
    "pcie4": Interconnect("pcie4", 31.5, 1000.0, 0.0, 4.4),
    "cxl": Interconnect("cxl", 63.0, 600.0, 250.0, 4.4),
    "nvlink4": Interconnect("nvlink4", 450.0, 500.0, 0.0, 1.3),
    "cent_cxl3": Interconnect(
        "cent_cxl3",
        CENT_LANES_PER_DEVICE * CENT_GBPS_PER_LANE,
        4 * CENT_CXL_PORT_NS + 2 * CENT_PCIE_PHY_NS,
        CENT_SWITCH_NS,
        4.4,
    ),
}
_LIMITS = {
    "bandwidth_GBps": (1e-3, 1e5),
    "latency_ns": (0.0, 1e7),
    "switch_latency_ns": (0.0, 1e7),
    "energy_pJ_per_bit": (0.0, 1e4),
}


def load_interconnect(name: str = "cxl", overrides: dict[str, Any] | None = None) -> Interconnect:
    """A preset (`INTERCONNECTS`) with any of its numbers replaced; bad input is exit 2."""
    link = INTERCONNECTS.get(name)
    if link is None:
        raise PimsimInputError(
            f"unknown interconnect {name!r}",
            key="--interconnect",
            expected=", ".join(INTERCONNECTS),
        )
    changes = {}
    for key, value in (overrides or {}).items():
        if key not in _LIMITS:
            raise PimsimInputError(
                f"unknown key {key!r}", key=f"interconnect.{key}", expected=", ".join(_LIMITS)
            )
        low, high = _LIMITS[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not low <= value <= high
        ):
            raise PimsimInputError(
                f"got {value!r}",
                key=f"interconnect.{key}",
                expected=f"a number in {low:g}..{high:g}",
            )
        changes[key] = float(value)
    return replace(link, **changes) if changes else link
