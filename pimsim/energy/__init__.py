"""Energy: per-command DRAM/PIM energy, background and ASIC power (exact under reuse)."""

from pimsim.energy.model import EnergyInputs, per_command_energy_j, run_energy_j

__all__ = ["EnergyInputs", "per_command_energy_j", "run_energy_j"]
