"""Replay a memory request trace on the exact channel kernel (plain DRAM reads and writes).

Trace format: one request a line, ``CYCLE OP ADDRESS`` separated by spaces or commas (a
``cycle,op,address`` header, blank lines and ``#`` comments are skipped). CYCLE is the arrival
in DRAM clock cycles (integer >= 0, non-decreasing), OP is ``R`` or ``W``, ADDRESS a byte
address (decimal or 0x-hex). Each request is one column access of ``access_bytes``.

Address mapping: fields from the most to the least significant bit, ``:``-separated, each of
``row bank bankgroup column channel`` once, above ``log2(access_bytes)`` offset bits. Field
widths are log2 of the organization (rows, banks_per_group, bank_groups, columns) and of
``dram.channels``. The default, ``row:bank:bankgroup:column:channel``, is Ramulator 2.0's
RoBaRaCoCh and DRAMsim3's ``robabgracoch`` for one rank.

Each channel serves its requests in trace order with the kernel's in-order controller
(`kernel.run_requests`): a request's commands (PRE / ACT if needed, then RD or WR) issue at
their earliest legal cycles, none before the request's arrival, refresh included. Reported:
the end of the last data burst (cycles), command counts, row hits / misses / conflicts and the
mean read latency (arrival to the end of the read's data burst).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd
from pimsim.core.errors import PimsimInputError
from pimsim.core.io import read_text
from pimsim.dram.channel import ChannelModel, log_frame
from pimsim.dram.tables import CT_CONFLICTS, CT_HITS, CT_MISSES, H_O_COMPL

DEFAULT_MAPPING = "row:bank:bankgroup:column:channel"
MAPPING_FIELDS = ("row", "bank", "bankgroup", "column", "channel")
_SPLIT = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class Trace:
    """Requests in file order: arrival cycles, write flags, byte addresses, line numbers."""

    path: str
    arrival_cycle: np.ndarray
    is_write: np.ndarray
    address: np.ndarray
    line: np.ndarray

    def __len__(self) -> int:
        return len(self.address)


def _bad_line(path: str, line: int, message: str) -> PimsimInputError:
    return PimsimInputError(message, file=path, key=f"line {line}", expected="CYCLE R|W ADDRESS")


def read_trace(path: str | Path) -> Trace:
    """Parse a trace file (format in the module docstring)."""
    name = str(path)
    lines = read_text(path, "request trace", max_bytes=1 << 32).splitlines()
    cycles: list[int] = []
    writes: list[bool] = []
    addresses: list[int] = []
    numbers: list[int] = []
    for number, text in enumerate(lines, start=1):
        text = text.split("#", 1)[0].strip()
        if not text or (not cycles and text.lower().replace(" ", "") == "cycle,op,address"):
            continue
        parts = _SPLIT.split(text)
        if len(parts) != 3:
            raise _bad_line(name, number, f"{len(parts)} fields in {text!r}")
        try:
            cycle = int(parts[0])
            address = int(parts[2], 0)
        except ValueError:
            raise _bad_line(name, number, f"not an integer cycle / address in {text!r}") from None
        op = parts[1].upper()
        if op not in ("R", "W"):
            raise _bad_line(name, number, f"operation {parts[1]!r} is not R or W")
        if cycle < 0 or address < 0:
            raise _bad_line(name, number, f"negative cycle or address in {text!r}")
        if cycle >= 1 << 62 or address >= 1 << 64:
            raise _bad_line(name, number, f"cycle or address out of range in {text!r}")
        if cycles and cycle < cycles[-1]:
            raise _bad_line(name, number, f"arrival {cycle} before the previous one {cycles[-1]}")
        cycles.append(cycle)
        writes.append(op == "W")
        addresses.append(address)
        numbers.append(number)
    if not cycles:
        raise PimsimInputError("no requests", file=name, expected="CYCLE R|W ADDRESS lines")
    return Trace(
        name,
        np.array(cycles, dtype=np.int64),
        np.array(writes, dtype=bool),
        np.array(addresses, dtype=np.uint64),
        np.array(numbers, dtype=np.int64),
    )


@dataclass(frozen=True)
class AddressMapping:
    """Bit fields of a byte address: (name, width in bits, lowest bit), and the offset bits."""

    text: str
    fields: tuple[tuple[str, int, int], ...]
    offset_bits: int
    total_bits: int

    def split(self, address: np.ndarray) -> dict[str, np.ndarray]:
        """The field values of each address (`channel_requests` rejects wider addresses)."""
        return {
            name: ((address >> np.uint64(low)) & np.uint64((1 << width) - 1)).astype(np.int64)
            for name, width, low in self.fields
        }


def _log2(value: int, what: str, hw: HardwareConfig) -> int:
    if value & (value - 1):
        raise PimsimInputError(
            f"{what} is {value}: an address mapping needs powers of two",
            file=hw.source,
            key=what,
            expected="a power of two",
        )
    return value.bit_length() - 1


def address_mapping(hw: HardwareConfig, text: str = DEFAULT_MAPPING) -> AddressMapping:
    """Parse a mapping such as ``row:bank:bankgroup:column:channel`` for this hardware."""
    names = [n.strip() for n in text.split(":")]
    if sorted(names) != sorted(MAPPING_FIELDS):
        raise PimsimInputError(
            f"got {text!r}",
            key="--mapping",
            expected="each of " + ", ".join(MAPPING_FIELDS) + " once, ':'-separated, MSB first",
        )
    org = hw.dram.organization
    widths = {
        "row": _log2(org.rows, "dram.organization.rows", hw),
        "bank": _log2(org.banks_per_group, "dram.organization.banks_per_group", hw),
        "bankgroup": _log2(org.bank_groups, "dram.organization.bank_groups", hw),
        "column": _log2(org.columns, "dram.organization.columns", hw),
        "channel": _log2(hw.dram.channels, "dram.channels", hw),
    }
    offset = _log2(org.access_bytes, "dram.organization.access_bytes", hw)
    fields = []
    low = offset
    for name in reversed(names):
        fields.append((name, widths[name], low))
        low += widths[name]
    return AddressMapping(":".join(names), tuple(reversed(fields)), offset, low)


@dataclass
class ReplayResult:
    """What a replay did, summed over channels; `log` holds the dumped commands, if any."""

    hw_name: str
    mapping: str
    requests: int
    reads: int
    writes: int
    cycles: int
    channel_cycles: list[int]
    command_counts: dict[str, int]
    row_hits: int
    row_misses: int
    row_conflicts: int
    mean_read_latency_cycles: float  # arrival to the end of the data burst
    tCK_ns: float
    log: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def row_hit_rate(self) -> float:
        return self.row_hits / self.requests if self.requests else 0.0

    def to_json(self) -> dict:
        return {
            "schema": "pimsim.replay.v1",
            "hw": self.hw_name,
            "mapping": self.mapping,
            "requests": self.requests,
            "reads": self.reads,
            "writes": self.writes,
            "cycles": self.cycles,
            "time_ns": self.cycles * self.tCK_ns,
            "channel_cycles": self.channel_cycles,
            "commands": {k: v for k, v in self.command_counts.items() if v},
            "row_hits": self.row_hits,
            "row_misses": self.row_misses,
            "row_conflicts": self.row_conflicts,
            "row_hit_rate": self.row_hit_rate,
            "mean_read_latency_cycles": self.mean_read_latency_cycles,
        }


def channel_requests(trace: Trace, hw: HardwareConfig, mapping: AddressMapping) -> list[np.ndarray]:
    """Per channel, the kernel's request rows (cmd, bank, row, col, close_after, arrival)."""
    beyond = trace.address >> np.uint64(mapping.total_bits)
    if beyond.any():
        i = int(np.argmax(beyond != 0))
        raise PimsimInputError(
            f"address {int(trace.address[i]):#x} is beyond the {1 << mapping.total_bits} bytes "
            f"of {hw.name}",
            file=trace.path,
            key=f"line {int(trace.line[i])}",
            expected=f"addresses below {1 << mapping.total_bits:#x}",
        )
    parts = mapping.split(trace.address)
    bank = parts["bankgroup"] * hw.dram.organization.banks_per_group + parts["bank"]
    cmd = np.where(trace.is_write, int(Cmd.WR), int(Cmd.RD))
    rows = np.stack(
        [cmd, bank, parts["row"], parts["column"], np.ones_like(bank), trace.arrival_cycle],
        axis=1,
    ).astype(np.int64)
    out = []
    for ch in range(hw.dram.channels):
        arr = rows[parts["channel"] == ch]
        # closed page: keep the row open when the bank's next request hits it (one-request
        # lookahead per bank, as `ChannelModel.requests_array`)
        order = np.lexsort((np.arange(len(arr)), arr[:, 1]))
        same_next = (arr[order[:-1], 1] == arr[order[1:], 1]) & (
            arr[order[:-1], 2] == arr[order[1:], 2]
        )
        arr[order[:-1], 4] = np.where(same_next, 0, 1)
        out.append(np.ascontiguousarray(arr))
    return out


def _serve_channel(model: ChannelModel, arr: np.ndarray) -> tuple:
    """Run one channel with a log of every command (grown until it fits)."""
    capacity = 3 * len(arr) + 64
    while True:
        run = model.run_requests(arr, log_capacity=capacity)
        if len(run.log) < capacity:
            return run
        capacity *= 2


def _read_latency_sum(model: ChannelModel, arr: np.ndarray, log: np.ndarray) -> int:
    """Sum over reads of (end of data burst - arrival): the k-th column command in the log
    serves the k-th request (in-order controller)."""
    table = model.table
    column = np.isin(log[:, 1], (int(Cmd.RD), int(Cmd.WR)))
    issued = log[column]
    reads = arr[:, 0] == int(Cmd.RD)
    done = issued[reads, 0] + table[table[H_O_COMPL] + int(Cmd.RD)]
    return int((done - arr[reads, 5]).sum())


def replay(
    hw: HardwareConfig,
    trace: Trace,
    mapping_text: str = DEFAULT_MAPPING,
    *,
    log_commands: int = 0,
) -> ReplayResult:
    """Serve the trace on every channel; keep the first `log_commands` commands of each."""
    mapping = address_mapping(hw, mapping_text)
    model = ChannelModel(hw)
    counters = model.new_counters()
    ends, logs, latency = [], [], 0
    for ch, arr in enumerate(channel_requests(trace, hw, mapping)):
        if not len(arr):
            ends.append(0)
            continue
        run = _serve_channel(model, arr)
        counters += run.counters
        ends.append(run.end_cycle)
        latency += _read_latency_sum(model, arr, run.log)
        if log_commands:
            logs.append(log_frame(run.log[:log_commands], ch))
    reads = int((~trace.is_write).sum())
    return ReplayResult(
        hw_name=hw.name,
        mapping=mapping.text,
        requests=len(trace),
        reads=reads,
        writes=len(trace) - reads,
        cycles=max(ends),
        channel_cycles=ends,
        command_counts={c.name: int(counters[c]) for c in Cmd},
        row_hits=int(counters[CT_HITS]),
        row_misses=int(counters[CT_MISSES]),
        row_conflicts=int(counters[CT_CONFLICTS]),
        mean_read_latency_cycles=latency / reads if reads else 0.0,
        tCK_ns=hw.dram.tCK_ns,
        log=pd.concat(logs, ignore_index=True) if logs else None,
    )


__all__ = [
    "DEFAULT_MAPPING",
    "AddressMapping",
    "ReplayResult",
    "Trace",
    "address_mapping",
    "channel_requests",
    "read_trace",
    "replay",
]
