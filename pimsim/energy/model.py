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
from pimsim.dram.commands import Cmd
from pimsim.errors import PimsimInputError


@dataclass(frozen=True)
class EnergyInputs:
    """What the energy model needs from a run (all exact counts)."""

    counters: np.ndarray  # per command type, all channels (kernel counter layout)
    duration_s: float
    asic_lane_ops: int  # vector work + reductions
    asic_sram_bytes: int
    link_bytes: int  # transfers outside DRAM commands (embedding rows)


def per_command_energy_j(hw: HardwareConfig) -> dict[str, float]:
    """Energy charged per command of each type (joules), I/O included; for provenance."""
    e = _require(hw)
    org = hw.dram.organization
    io = org.access_bytes * 8 * e.io_pJ_per_bit * 1e-12
    served = org.banks // hw.pim.banks_per_mac_unit
    return {
        "ACT": e.act_per_bank_nJ * 1e-9,
        "ACT4": e.act_per_bank_nJ * org.banks_per_group * 1e-9,
        "ACT16": e.act_per_bank_nJ * org.banks * 1e-9,
        "PRE": 0.0,
        "PRE4": 0.0,
        "PREA": 0.0,  # charged with the activation (ACT/PRE pair)
        "RD": e.rd_nJ * 1e-9 + io,
        "WR": e.wr_nJ * 1e-9 + io,
        "MAC": e.mac_per_bank_nJ * 1e-9,
        "MAC16": e.mac_per_bank_nJ * served * 1e-9,
        "WRGB": e.global_buffer_write_nJ * 1e-9 + io,
        "RDMAC": e.result_read_nJ * 1e-9 + io,
        "REFab": e.refab_nJ * 1e-9,
        "REFpb": e.refpb_nJ * 1e-9,
        "TMOD": 0.0,  # a mode-register write: no array access, no data burst
    }


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
    c = {cmd.name: int(inputs.counters[cmd]) for cmd in Cmd}
    io_per_burst = org.access_bytes * 8 * e.io_pJ_per_bit * 1e-12
    served = org.banks // hw.pim.banks_per_mac_unit
    activations = c["ACT"] + c["ACT4"] * org.banks_per_group + c["ACT16"] * org.banks
    asic = hw.asic
    return {
        "dram_activate": activations * e.act_per_bank_nJ * 1e-9,
        "dram_column": (c["RD"] * e.rd_nJ + c["WR"] * e.wr_nJ) * 1e-9,
        "pim_mac": (c["MAC"] + c["MAC16"] * served) * e.mac_per_bank_nJ * 1e-9,
        "global_buffer": c["WRGB"] * e.global_buffer_write_nJ * 1e-9,
        "result_read": c["RDMAC"] * e.result_read_nJ * 1e-9,
        "refresh": (c["REFab"] * e.refab_nJ + c["REFpb"] * e.refpb_nJ) * 1e-9,
        "io": (c["RD"] + c["WR"] + c["WRGB"] + c["RDMAC"]) * io_per_burst
        + inputs.link_bytes * 8 * e.io_pJ_per_bit * 1e-12,
        "dram_background": e.background_mW_per_channel
        * 1e-3
        * hw.dram.channels
        * inputs.duration_s,
        "asic_vector": inputs.asic_lane_ops * asic.vector_op_pJ * 1e-12,
        "asic_sram": inputs.asic_sram_bytes * asic.sram_pJ_per_byte * 1e-12,
        "asic_static": asic.static_mW * 1e-3 * inputs.duration_s,
    }
