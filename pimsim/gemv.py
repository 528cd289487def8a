"""One matrix-vector product (R x C weights times a C-vector) on every channel and bank.

The production layout (`pimsim.mapping`, with global-buffer-wide chunks: the candidate the
layout optimizer starts from):
- output rows are dealt to channels as evenly as possible, then to the MAC units of a channel:
  every unit computes `segments_per_unit` output rows in lock step (all-bank MAC16);
- the input vector is cut into chunks that fit the global buffer and a DRAM row; for each chunk
  the ASIC writes it into every channel's global buffer (WRGB per column) and each unit reads
  the matching slice of its rows; a DRAM row holds `slots` such slices side by side, one per
  bank that the unit serves (HBM-PIM: even and odd bank);
- after each slice the unit results are read out (RDMAC); the ASIC adds the chunk partial sums.
Channels with the same program are simulated once (they are independent and start from the same
state, so their timing is identical) and runs of identical commands are fast-forwarded exactly;
`exact=True` simulates every channel command by command (the oracle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd, family_counts
from pimsim.core.errors import PimsimInputError
from pimsim.dram.channel import ChannelModel, ChannelRun, log_frame, require_pim
from pimsim.mapping.programs import Geometry, chunk_widths, gemv_chunks, split_even


@dataclass(frozen=True)
class GemvPlan:
    """Per-channel program of a GEMV under the production layout."""

    rows: int
    cols: int
    rows_per_channel: tuple[int, ...]
    segments_per_unit: tuple[int, ...]  # per channel
    chunks: np.ndarray = field(repr=False)  # (width, slots_per_row, first_row, slot_pitch)
    dram_rows_used: int  # per bank


@dataclass
class GemvResult:
    plan: GemvPlan
    cycles: int
    time_s: float
    command_counts: dict[str, int]  # per command type (ACT, ACT16, MAC16, ...)
    row_hit_rate: float
    column_accesses: int
    channel_runs: list[ChannelRun]
    energy_j: float | None = None  # DRAM/PIM commands + channel background over the run

    def to_json(self) -> dict:
        return {
            "schema": "pimsim.gemv.v1",
            "rows": self.plan.rows,
            "cols": self.plan.cols,
            "cycles": self.cycles,
            "time_s": self.time_s,
            "row_hit_rate": self.row_hit_rate,
            "commands": family_counts(self.command_counts),
            "commands_by_type": self.command_counts,
            "energy_j": self.energy_j,
            "column_accesses": self.column_accesses,
            "dram_rows_used_per_bank": self.plan.dram_rows_used,
        }


def plan_gemv(hw: HardwareConfig, rows: int, cols: int, first_row: int = 0) -> GemvPlan:
    """Lay an R x C matrix out over all channels and MAC units with the production layout
    (`pimsim.mapping`: global-buffer-wide chunks, output rows dealt to channels as evenly as
    possible, then to the MAC units of a channel)."""
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise PimsimInputError(f"got {value!r}", key=f"--{name}", expected="an integer >= 1")
    require_pim(hw, "a GEMV")
    geo = Geometry.of(hw)
    org = hw.dram.organization
    capacity = hw.dram.channels * org.banks * (org.rows - first_row) * org.row_bytes
    if rows * cols * hw.pim.dtype_bytes > capacity:  # refused before any layout work
        raise PimsimInputError(
            f"a {rows} x {cols} matrix is {rows * cols * hw.pim.dtype_bytes:,} bytes but the "
            f"banks hold {capacity:,}",
            file=hw.source,
            key="dram.organization.rows",
            expected="a matrix that fits",
        )
    rows_per_channel = tuple(split_even(rows, geo.channels))
    segments = tuple(math.ceil(r / geo.units) for r in rows_per_channel)
    widths = chunk_widths(geo, cols, geo.gb_columns)
    chunks, used = gemv_chunks(geo, widths, max(segments), first_row)
    if first_row + used > org.rows:
        raise PimsimInputError(
            f"a {rows} x {cols} matrix needs {used} DRAM rows per bank with this "
            f"layout but a bank has {org.rows - first_row}",
            file=hw.source,
            key="dram.organization.rows",
            expected="a matrix that fits",
        )
    return GemvPlan(rows, cols, rows_per_channel, segments, chunks, used)


def simulate_gemv(
    hw: HardwareConfig, rows: int, cols: int, *, exact: bool = False, log_capacity: int = 0
) -> GemvResult:
    """Simulate the GEMV on every channel; total cycles is the slowest channel's end."""
    plan = plan_gemv(hw, rows, cols)
    model = ChannelModel(hw)
    cache: dict[int, ChannelRun] = {}
    runs = []
    for segments in plan.segments_per_unit:
        if exact or segments not in cache:
            cache[segments] = model.run_gemv(
                plan.chunks,
                segments,
                log_capacity=log_capacity,
                fast=not exact,
                group=hw.pim.result_registers if hw.pim.result_registers > 1 else 0,
            )
        runs.append(cache[segments])
    cycles = max(run.end_cycle for run in runs)
    counts = {c.name: sum(run.command_counts[c.name] for run in runs) for c in Cmd}
    accesses = sum(run.column_accesses for run in runs)
    hits = sum(run.row_hits for run in runs)
    energy = None
    if hw.dram.energy is not None:
        from pimsim.energy import EnergyInputs, run_energy_j

        counters = sum(run.counters for run in runs)
        parts = run_energy_j(hw, EnergyInputs(counters, cycles * hw.dram.tCK_ns * 1e-9, 0, 0, 0))
        energy = sum(v for k, v in parts.items() if not k.startswith("asic_"))
    return GemvResult(
        energy_j=energy,
        plan=plan,
        cycles=cycles,
        time_s=cycles * hw.dram.tCK_ns * 1e-9,
        command_counts=counts,
        row_hit_rate=hits / accesses if accesses else 0.0,
        column_accesses=accesses,
        channel_runs=runs,
    )


def gemv_command_log(result: GemvResult):
    """The recorded commands of every channel as one table (channel column filled in)."""
    import pandas as pd

    frames = [log_frame(run.log, channel) for channel, run in enumerate(result.channel_runs)]
    return pd.concat(frames, ignore_index=True)
