"""Frozen dataclasses of a resolved hardware description. All timings are integer cycles."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4, "int8": 1}


@dataclass(frozen=True)
class Organization:
    bank_groups: int
    banks_per_group: int
    rows: int  # rows per bank
    columns: int  # column accesses per row
    access_bytes: int  # bytes moved by one column access

    @property
    def banks(self) -> int:
        return self.bank_groups * self.banks_per_group

    @property
    def row_bytes(self) -> int:
        return self.columns * self.access_bytes

    @property
    def bank_bytes(self) -> int:
        return self.rows * self.row_bytes


@dataclass(frozen=True)
class TimingRule:
    """`next` may not issue until `distance_cycles` after the last `prev` in the same scope."""

    scope: str  # bank | bankgroup | channel
    prev: tuple[str, ...]
    next: tuple[str, ...]
    distance_cycles: int
    window: int  # 0: plain rule; N: wait for the N-th most recent `prev`
    expression: str  # the distance as written, e.g. "nCWL + nBL + nWR"


@dataclass(frozen=True)
class DramConfig:
    preset: str
    standard: str
    channels: int
    organization: Organization
    tCK_ns: float
    timing_cycles: MappingProxyType  # name (nRCDRD ...) -> cycles
    rules: tuple[TimingRule, ...]
    page_policy: str  # open | closed
    refresh: str  # all_bank | per_bank | none

    @property
    def clock_hz(self) -> float:
        return 1e9 / self.tCK_ns

    def t(self, name: str) -> int:
        """A timing parameter in cycles."""
        return int(self.timing_cycles[name])


@dataclass(frozen=True)
class PimConfig:
    enabled: bool
    mac_lanes: int
    dtype: str
    banks_per_mac_unit: int
    global_buffer_bytes: int

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class AsicConfig:
    """The controller ASIC: vector units, SRAM, and the link to the PIM chips."""

    clock_GHz: float = 1.0  # PIM-GPT: 28 nm ASIC at 1 GHz
    vector_lanes: int = 64  # elements per cycle in each vector pipeline stage
    pipeline_latency_cycles: int = 8  # fill latency of a vector pipeline, per op
    sram_bytes: int = 1 << 20  # on-chip buffer for activations and partial sums
    exp_taylor_terms: int = 8  # exp by Taylor series (PIM-GPT)
    reciprocal_nr_iterations: int = 3  # 1/x by Newton-Raphson (PIM-GPT)
    rsqrt_nr_iterations: int = 2  # fast inverse square root refinement (PIM-GPT)
    link_bandwidth_GBps: float = 32.0  # per channel: 16 Gb/s/pin x 16 DQ (GDDR6)
    link_latency_ns: float = 10.0  # ASIC <-> PIM one-way latency per transfer

    @property
    def cycle_ps(self) -> int:
        return round(1000 / self.clock_GHz)


@dataclass(frozen=True)
class HardwareConfig:
    name: str
    description: str
    source: str  # file it came from (plus --set overrides)
    dram: DramConfig
    pim: PimConfig
    asic: AsicConfig
    resolved: MappingProxyType  # the fully resolved description, as dumped next to results
    sha256: str

    def resolved_dict(self) -> dict[str, Any]:
        import copy

        return copy.deepcopy(dict(self.resolved))
