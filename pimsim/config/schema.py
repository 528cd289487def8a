"""Frozen dataclasses of a resolved hardware description. All timings are integer cycles."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pimsim.core.dtypes import DTYPE_BYTES


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
    # window rules: entries of the window one `prev` command fills (others fill 1)
    weights: tuple[tuple[str, int], ...] = ()

    def weight(self, command: str) -> int:
        """Entries of the rolling window that one `command` (of `prev`) fills."""
        return dict(self.weights).get(command, 1)


@dataclass(frozen=True)
class DramEnergy:
    """Per-command DRAM/PIM energies (nJ) and background power; from the DRAM preset."""

    act_per_bank_nJ: float  # one bank activation, including its precharge
    rd_nJ: float  # one column read inside the device (array + bank I/O)
    wr_nJ: float  # one column write inside the device
    mac_per_bank_nJ: float  # one bank's MAC column access (MAC16 = one per served bank)
    global_buffer_write_nJ: float  # one WRGB into the global buffer (array side)
    result_read_nJ: float  # one RDMAC read of the MAC result registers (array side)
    refab_nJ: float  # one all-bank refresh (derived unless given: see refresh_window_ms)
    refpb_nJ: float  # one per-bank refresh (derived unless given)
    io_pJ_per_bit: float  # data pins between PIM device and ASIC
    background_mW_per_channel: float  # standby power of one channel
    # retention time: every row is refreshed once per window, so one REFab refreshes
    # rows x tREFI / window rows in each bank (a REFpb as many in its bank)
    refresh_window_ms: float = 32.0


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
    energy: DramEnergy | None = None
    # refresh intervals a due refresh may be deferred while the open row's column stream
    # finishes (it is issued at the next row switch); JEDEC DDR3/DDR4 devices allow up to 8
    # postponed refreshes (e.g. Winbond W632GU6NB DDR3L datasheet, section 8.15)
    refresh_postpone: int = 8
    # refreshes the controller may issue ahead of their due times (JEDEC "pull-in", up to 8)
    # while the channel idles between operators, when they complete before the next one starts
    # (the ASIC knows its own schedule)
    refresh_pull_in: int = 8

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
    # an adder tree sums a unit's lanes into one result (AiM); without one (HBM-PIM's
    # lane-wise SIMD) every lane's partial sum is read out and the ASIC adds the lanes
    adder_tree: bool = True
    # accumulator registers per MAC unit: with more than one, a weight VMM keeps that many
    # output rows accumulating over every input chunk (output-stationary, HBM-PIM's GRF_B) and
    # reads their results once; with one (AiM), results are read after every chunk
    result_registers: int = 1
    # access modes (the AiM simulator's): the channel is in bank mode (row / column commands,
    # MACs) or register mode (WRGB, RDMAC); a command of the other mode is preceded by a TMOD,
    # after which nothing issues for dram.timing.nMODCH cycles. Off: no mode switch at all.
    mode_switch: bool = False
    # open a GEMV chunk's first row before writing its input into the global buffer (the
    # writes then overlap the activation); false: after it (the AiM simulator's in-order
    # request buffer, where the activate belongs to the first MAC request)
    activate_before_buffer_fill: bool = True

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
    vector_model: str = "pipelined"  # pipelined: lanes are chains of function units; serial:
    # every element operation takes a lane cycle (see pimsim.asic.vector)
    # overlap mode: the ASIC accumulates a weight VMM's partial sums tile by tile, a tile being
    # this many DRAM rows of each MAC unit, while the PIM computes the next rows (0: only after
    # the whole operator, PIM-GPT's rule; serial mode always works so)
    reduction_tile_rows: int = 1
    # energy (28 nm ASIC; see hw_configs for sources and assumptions)
    vector_op_pJ: float = 0.5  # one BF16 element operation in a vector lane
    sram_pJ_per_byte: float = 1.25  # on-chip buffer access
    static_mW: float = 100.0  # leakage + clock tree of the whole ASIC

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
