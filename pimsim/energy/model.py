"""Energy of a run: command counts x per-command energy + static power x time.

Everything is linear in counts the engine reports exactly (commands per type, lane operations,
bytes), so energy stays exact under every reuse path. Components:
- dram_activate: every bank activation (ACT = 1 bank, ACT4 = 4, ACT16 = all), precharge included;
- dram_column: column reads and writes (RD, WR, including the KV-cache writes);
- pim_mac: one bank MAC column access per served bank (MAC16 serves banks / banks_per_unit);
- global_buffer / result_read: WRGB into the global buffer, RDMAC of the result registers;
- refresh: REFab and REFpb;
- io: data moved between PIM devices and the ASIC (RD, WR, WRGB, RDMAC data bursts, and the
  embedding-row fetches), at the device's pJ/bit;
- dram_background: standby power of every channel over the run;
- asic_vector: lane operations of vector work and partial-sum reductions;
- asic_sram: on-chip buffer traffic of the vector work;
- asic_static: ASIC leakage over the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import (
    COMMANDS,
    TARGET_ALL,
    TARGET_BANK,
    TARGET_BANKGROUP,
    TARGET_UNIT,
    CommandInfo,
)
from pimsim.core.errors import PimsimInputError

# the energy components commands are charged to, in report order (then io and the static parts)
COMMAND_COMPONENTS = (
    "dram_activate",
    "dram_column",
    "pim_mac",
    "global_buffer",
    "result_read",
    "refresh",
)


@dataclass(frozen=True)
class EnergyInputs:
    """What the energy model needs from a run (all exact counts)."""

    counters: np.ndarray  # per command type, all channels (kernel counter layout)
    duration_s: float
    asic_lane_ops: int  # vector work + reductions
    asic_sram_bytes: int
    link_bytes: int  # transfers outside DRAM commands (embedding rows)


def _scale(info: CommandInfo, hw: HardwareConfig) -> int:
    """How many times one command is charged its energy key (banks activated, units driven)."""
    org = hw.dram.organization
    if info.energy_scale == "banks":
        return {TARGET_BANK: 1, TARGET_BANKGROUP: org.banks_per_group, TARGET_ALL: org.banks}[
            info.target
        ]
    if info.energy_scale == "units":
        return org.banks // hw.pim.banks_per_mac_unit if info.target == TARGET_UNIT else 1
    return 1


def per_command_energy_j(hw: HardwareConfig) -> dict[str, float]:
    """Energy charged per command of each type (joules), I/O included; for provenance."""
    e = _require(hw)
    io = hw.dram.organization.access_bytes * 8 * e.io_pJ_per_bit * 1e-12
    out = {}
    for cmd, info in COMMANDS.items():
        energy = getattr(e, info.energy_key) * _scale(info, hw) * 1e-9 if info.energy_key else 0.0
        out[cmd.name] = energy + io if info.io_burst else energy
    return out


def _require(hw: HardwareConfig):
    if hw.dram.energy is None:
        raise PimsimInputError(
            "the DRAM preset has no energy table",
            file=hw.source,
            key="dram.energy",
            expected="per-command energies",
        )
    return hw.dram.energy


def run_energy_j(hw: HardwareConfig, inputs: EnergyInputs) -> dict[str, float]:
    """Energy breakdown (joules) by component; the sum is the run's energy."""
    e = _require(hw)
    org = hw.dram.organization
    io_per_burst = org.access_bytes * 8 * e.io_pJ_per_bit * 1e-12
    # per component, per energy key (in command order): the count of charges
    charges: dict[str, dict[str, int]] = {name: {} for name in COMMAND_COMPONENTS}
    bursts = 0
    for cmd, info in COMMANDS.items():
        n = int(inputs.counters[cmd])
        if info.energy_key:
            keys = charges[info.component]
            keys[info.energy_key] = keys.get(info.energy_key, 0) + n * _scale(info, hw)
        if info.io_burst:
            bursts += n
    parts = {
        name: (sum(count * getattr(e, key) for key, count in keys.items()) * 1e-9 if keys else 0.0)
        for name, keys in charges.items()
    }
    asic = hw.asic
    return {
        **parts,
        "io": bursts * io_per_burst + inputs.link_bytes * 8 * e.io_pJ_per_bit * 1e-12,
        "dram_background": e.background_mW_per_channel
        * 1e-3
        * hw.dram.channels
        * inputs.duration_s,
        "asic_vector": inputs.asic_lane_ops * asic.vector_op_pJ * 1e-12,
        "asic_sram": inputs.asic_sram_bytes * asic.sram_pJ_per_byte * 1e-12,
        "asic_static": asic.static_mW * 1e-3 * inputs.duration_s,
    }
