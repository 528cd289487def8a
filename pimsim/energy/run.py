"""Energy of a simulated run: its exact counts (commands, lane operations, bytes) through the
per-command and static-power model, by component, by operator kind and over the per-token
window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd
from pimsim.core.kinds import NET_KINDS
from pimsim.energy.model import EnergyInputs, per_command_energy_j, run_energy_j
from pimsim.engine.metrics import PS, TokenTimes
from pimsim.engine.simulate import SimResult


def _energy_inputs(hw: HardwareConfig, table: pd.DataFrame, sim: SimResult, mask, counters, s):
    from pimsim.asic import VECTOR_KINDS, table_ops

    kinds = table["kind"].to_numpy()
    vector = np.isin(kinds, sorted(VECTOR_KINDS)) & mask
    lane_ops = table_ops(table, hw.asic)
    embed = (kinds == "embed") & mask
    return EnergyInputs(
        counters,
        s,
        int(lane_ops[mask].sum() + sim.reduce_ops[mask].sum()),
        int(table.loc[vector, "bytes"].sum()),
        int((table.loc[embed, "out_features"] * 2).sum()),
    )


def energy_breakdown(
    hw: HardwareConfig,
    table: pd.DataFrame,
    sim: SimResult,
    times: TokenTimes | None = None,
    device_energy_j: np.ndarray | None = None,
    interconnect=None,
    devices: int = 1,
) -> dict:
    """Energy by component (J), by operator kind (J), and of the per-token window. Operators
    on the compute-device unit (a GPU: `--prefill gpu`, `--hybrid`) cost `device_energy_j`
    (`compute_device`), not the ASIC's. A tensor-parallel run (the shard of
    one of `devices` identical devices) counts every device, and its collectives'
    `interconnect` energy."""
    from pimsim.asic import VECTOR_KINDS, table_ops
    from pimsim.engine.simulate import UNIT_DEVICE

    here = sim.op_unit != UNIT_DEVICE  # (operators the PIM system and its ASIC ran)
    components = run_energy_j(
        hw, _energy_inputs(hw, table, sim, here, sim.pim.counters, sim.end_ps * PS)
    )
    if device_energy_j is not None:
        components["compute_device"] = float(device_energy_j.sum())
    # by operator kind: the PIM commands each kind issued and the vector work of each kind;
    # background and static power are listed on their own
    kinds = table["kind"].to_numpy()
    vector = np.isin(kinds, sorted(VECTOR_KINDS)) & here
    lane_ops = table_ops(table, hw.asic)
    per_cmd = per_command_energy_j(hw)
    by_kind: dict[str, float] = {}
    for kind, counters in sim.kind_counters.items():
        by_kind[str(kind)] = sum(per_cmd[c.name] * int(counters[c]) for c in Cmd)
    for kind in np.unique(kinds[vector]):
        ops = float(lane_ops[(kinds == kind) & here].sum())
        by_kind[str(kind)] = by_kind.get(str(kind), 0.0) + ops * hw.asic.vector_op_pJ * PS
    by_kind["reduction"] = float(sim.reduce_ops.sum()) * hw.asic.vector_op_pJ * PS
    by_kind["background_and_static"] = components["dram_background"] + components["asic_static"]
    if device_energy_j is not None:
        by_kind["compute_device"] = components["compute_device"]
    out = {"components": components, "by_kind": by_kind, "per_command_j": per_cmd}
    if times is not None:
        window = times.window
        positions = table["token"].to_numpy()
        tokens_in = np.unique(positions[window.mask])
        counters = sim.token_counters[tokens_in].sum(axis=0)
        begin, end = times.span_ps
        decode = run_energy_j(
            hw, _energy_inputs(hw, table, sim, window.mask & here, counters, (end - begin) * PS)
        )
        if device_energy_j is not None:
            decode["compute_device"] = float(device_energy_j[window.mask].sum())
        out["window_components"] = decode
    if devices > 1:
        _whole_system(out, table, interconnect, devices, None if times is None else times.window)
    return out


def _whole_system(out: dict, table: pd.DataFrame, interconnect, devices: int, window) -> None:
    """Every device's energy (each ran the same shard) plus the interconnect's."""
    from pimsim.engine.device import collective_bytes

    kinds = table["kind"].to_numpy()
    net = np.flatnonzero(np.isin(kinds, NET_KINDS))
    nbytes = collective_bytes(table, net)
    per_op = np.zeros(len(table))
    for j, i in enumerate(net.tolist()):
        per_op[i] = interconnect.collective_j(str(kinds[i]), int(nbytes[j]), devices)
    for key in ("components", "by_kind", "window_components"):
        if key in out:
            out[key] = {k: v * devices for k, v in out[key].items()}
    out["components"]["interconnect"] = float(per_op.sum())
    out["by_kind"]["interconnect"] = float(per_op.sum())
    if window is not None:
        out["window_components"]["interconnect"] = float(per_op[window.mask].sum())
