"""Frozen dataclasses of a resolved hardware description. All timings are integer cycles.

Every field is declared with `param(unit, description)` (in the spirit of gem5's
`Param.Latency(..., "description")`): its unit and meaning travel in the field's metadata, the
loader reads the sections' keys, choices and minimums from it, and `tools/hw_schema_doc.py`
writes `docs/hardware.md` from it.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field
from types import MappingProxyType
from typing import Any

from pimsim.core.dtypes import DTYPE_BYTES, PIM_DTYPES

# the units a field may carry ("": a count, a name or a flag)
UNITS = ("ns", "ms", "cycles", "nJ", "pJ", "pJ/bit", "pJ/byte", "mW", "GHz", "GB/s", "bytes", "")

SCOPES = ("bank", "bankgroup", "channel")
PAGE_POLICIES = ("open", "closed")
REFRESH_MODES = ("all_bank", "per_bank", "none")
VECTOR_MODELS = ("pipelined", "serial")


def param(unit: str, description: str, default: Any = MISSING, **extra: Any) -> Any:
    """A dataclass field carrying its unit and description (plus `choices`, `minimum`)."""
    if unit not in UNITS:
        raise ValueError(f"unit {unit!r} is not one of {UNITS}")
    return field(default=default, metadata={"unit": unit, "description": description, **extra})


@dataclass(frozen=True)
class Organization:
    """The geometry of one DRAM channel (`dram.organization`, over the preset's)."""

    bank_groups: int = param("", "bank groups per channel")
    banks_per_group: int = param("", "banks in each bank group")
    rows: int = param("", "rows per bank")
    columns: int = param("", "column accesses per row")
    access_bytes: int = param("bytes", "bytes moved by one column access")

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

    scope: str = param("", "where the rule applies", choices=SCOPES)
    prev: tuple[str, ...] = param("", "the commands the distance is counted from")
    next: tuple[str, ...] = param("", "the commands the rule holds back")
    distance_cycles: int = param("cycles", "the distance, resolved (negative sums clamp to 0)")
    window: int = param(
        "", "0: plain rule; N: wait for the N-th most recent `prev` (a rolling window)"
    )
    expression: str = param("", 'the distance as written, e.g. "nCWL + nBL + nWR"')
    weights: tuple[tuple[str, int], ...] = param(
        "",
        "window rules: entries of the window one `prev` command fills (others fill 1)",
        default=(),
    )

    def weight(self, command: str) -> int:
        """Entries of the rolling window that one `command` (of `prev`) fills."""
        return dict(self.weights).get(command, 1)


@dataclass(frozen=True)
class DramEnergy:
    """Per-command DRAM/PIM energies (nJ) and background power; from the DRAM preset."""

    act_per_bank_nJ: float = param("nJ", "one bank activation, including its precharge")
    rd_nJ: float = param("nJ", "one column read inside the device (array + bank I/O)")
    wr_nJ: float = param("nJ", "one column write inside the device")
    mac_per_bank_nJ: float = param(
        "nJ", "one bank's MAC column access (MAC16 = one per served bank)"
    )
    global_buffer_write_nJ: float = param("nJ", "one WRGB into the global buffer (array side)")
    result_read_nJ: float = param("nJ", "one RDMAC read of the MAC result registers (array side)")
    refab_nJ: float = param(
        "nJ", "one all-bank refresh (derived unless given: see refresh_window_ms)"
    )
    refpb_nJ: float = param("nJ", "one per-bank refresh (derived unless given)")
    io_pJ_per_bit: float = param("pJ/bit", "data pins between PIM device and ASIC")
    background_mW_per_channel: float = param("mW", "standby power of one channel")
    refresh_window_ms: float = param(
        "ms",
        "retention time: every row is refreshed once per window, so one REFab refreshes "
        "rows x tREFI / window rows in each bank (a REFpb as many in its bank)",
        default=32.0,
    )


@dataclass(frozen=True)
class DramConfig:
    """The DRAM side: the preset, channels, geometry, timing in cycles and the timing rules."""

    preset: str = param("", "the DRAM preset's name (`dram.preset`)")
    standard: str = param("", "the DRAM standard the preset follows")
    channels: int = param("", "DRAM/PIM channels")
    organization: Organization = param("", "the geometry of one channel")
    tCK_ns: float = param("ns", "the clock period")
    timing_cycles: MappingProxyType = param(
        "cycles", "timing parameters by name (nRCDRD ...); `tNAME_ns` values round up"
    )
    rules: tuple[TimingRule, ...] = param(
        "", "the timing rules: the preset's, `dram.rules_extra` and those PIM settings add"
    )
    page_policy: str = param(
        "", "keep a row open after its accesses or close it", choices=PAGE_POLICIES
    )
    refresh: str = param("", "the refresh scheme", choices=REFRESH_MODES)
    energy: DramEnergy | None = param(
        "", "per-command energies (none if neither preset nor file gives them)", default=None
    )
    refresh_postpone: int = param(
        "",
        "refresh intervals a due refresh may be deferred while the open row's column stream "
        "finishes (it is issued at the next row switch); JEDEC DDR3/DDR4 devices allow up to 8 "
        "postponed refreshes (e.g. Winbond W632GU6NB DDR3L datasheet, section 8.15)",
        default=8,
    )
    refresh_pull_in: int = param(
        "",
        'refreshes the controller may issue ahead of their due times (JEDEC "pull-in", up to 8) '
        "while the channel idles between operators, when they complete before the next one "
        "starts (the ASIC knows its own schedule)",
        default=8,
    )

    @property
    def clock_hz(self) -> float:
        return 1e9 / self.tCK_ns

    def t(self, name: str) -> int:
        """A timing parameter in cycles."""
        return int(self.timing_cycles[name])


@dataclass(frozen=True)
class PimConfig:
    """The processing-in-memory units next to the banks (`pim:`)."""

    enabled: bool = param("", "the device has PIM units (default: true when `pim:` is given)")
    mac_lanes: int = param(
        "", "elements one MAC unit multiplies per command (default: those of one column access)"
    )
    dtype: str = param("", "the MAC units' element type (default bf16)", choices=PIM_DTYPES)
    banks_per_mac_unit: int = param("", "banks sharing one MAC unit (default 1)")
    global_buffer_bytes: int = param(
        "bytes", "the global buffer holding the input vector (default: one row)"
    )
    adder_tree: bool = param(
        "",
        "an adder tree sums a unit's lanes into one result (AiM); without one (HBM-PIM's "
        "lane-wise SIMD) every lane's partial sum is read out and the ASIC adds the lanes",
        default=True,
    )
    result_registers: int = param(
        "",
        "accumulator registers per MAC unit: with more than one, a weight VMM keeps that many "
        "output rows accumulating over every input chunk (output-stationary, HBM-PIM's GRF_B) "
        "and reads their results once; with one (AiM), results are read after every chunk",
        default=1,
    )
    mode_switch: bool = param(
        "",
        "access modes (the AiM simulator's): the channel is in bank mode (row / column "
        "commands, MACs) or register mode (WRGB, RDMAC); a command of the other mode is "
        "preceded by a TMOD, after which nothing issues for dram.timing.nMODCH cycles. Off: no "
        "mode switch at all",
        default=False,
    )
    activate_before_buffer_fill: bool = param(
        "",
        "open a GEMV chunk's first row before writing its input into the global buffer (the "
        "writes then overlap the activation); false: after it (the AiM simulator's in-order "
        "request buffer, where the activate belongs to the first MAC request)",
        default=True,
    )

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class AsicConfig:
    """The controller ASIC: vector units, SRAM, and the link to the PIM chips."""

    clock_GHz: float = param("GHz", "the ASIC clock (PIM-GPT: 28 nm ASIC at 1 GHz)", default=1.0)
    vector_lanes: int = param("", "elements per cycle in each vector pipeline stage", default=64)
    pipeline_latency_cycles: int = param(
        "cycles", "fill latency of a vector pipeline, per op", default=8, minimum=0
    )
    sram_bytes: int = param(
        "bytes", "on-chip buffer for activations and partial sums", default=1 << 20
    )
    exp_taylor_terms: int = param("", "exp by Taylor series (PIM-GPT)", default=8)
    reciprocal_nr_iterations: int = param("", "1/x by Newton-Raphson (PIM-GPT)", default=3)
    rsqrt_nr_iterations: int = param("", "fast inverse square root refinement (PIM-GPT)", default=2)
    link_bandwidth_GBps: float = param(
        "GB/s", "per channel: 16 Gb/s/pin x 16 DQ (GDDR6)", default=32.0
    )
    link_latency_ns: float = param("ns", "ASIC <-> PIM one-way latency per transfer", default=10.0)
    vector_model: str = param(
        "",
        "pipelined: lanes are chains of function units; serial: every element operation takes "
        "a lane cycle (see pimsim.asic.vector)",
        default="pipelined",
        choices=VECTOR_MODELS,
    )
    reduction_tile_rows: int = param(
        "",
        "overlap mode: the ASIC accumulates a weight VMM's partial sums tile by tile, a tile "
        "being this many DRAM rows of each MAC unit, while the PIM computes the next rows (0: "
        "only after the whole operator, PIM-GPT's rule; serial mode always works so)",
        default=1,
        minimum=0,
    )
    vector_op_pJ: float = param(
        "pJ", "one BF16 element operation in a vector lane (28 nm ASIC)", default=0.5
    )
    sram_pJ_per_byte: float = param("pJ/byte", "on-chip buffer access (28 nm ASIC)", default=1.25)
    static_mW: float = param(
        "mW", "leakage + clock tree of the whole ASIC (28 nm ASIC)", default=100.0
    )

    @property
    def cycle_ps(self) -> int:
        return round(1000 / self.clock_GHz)


@dataclass(frozen=True)
class HardwareConfig:
    """A whole system: the DRAM/PIM devices and the controller ASIC, with provenance."""

    name: str = param("", "the system's name (default: the file's stem)")
    description: str = param("", "free text from the file")
    source: str = param("", "file it came from (plus --set overrides)")
    dram: DramConfig = param("", "the DRAM side (`dram:`)")
    pim: PimConfig = param("", "the PIM units (`pim:`)")
    asic: AsicConfig = param("", "the controller ASIC (`asic:`)")
    resolved: MappingProxyType = param(
        "", "the fully resolved description, as dumped next to results"
    )
    sha256: str = param("", "digest of the resolved description (without `source`)")

    def resolved_dict(self) -> dict[str, Any]:
        import copy

        return copy.deepcopy(dict(self.resolved))


SECTIONS = (
    HardwareConfig,
    DramConfig,
    Organization,
    TimingRule,
    DramEnergy,
    PimConfig,
    AsicConfig,
)
