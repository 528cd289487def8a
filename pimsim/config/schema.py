"""Frozen dataclasses of a resolved hardware description. All timings are integer cycles."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    clock_GHz: float
    extra: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))


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
