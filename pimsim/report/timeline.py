"""A run as Chrome / Perfetto trace events (ui.perfetto.dev, chrome://tracing): one track per
hardware unit, operators with their id, kind, layer and token as arguments, and per-token
counters of the DRAM rows and commands. Only formatting: the times come from the simulation.

Tracks: the PIM channels (the channels' part of each PIM operator, from its first command to
the last channel's end), the link (transfers), the vector unit (vector operators), the
reductions (the ASIC work that finishes a PIM operator: partial sums, result reads), the vector
unit's work beside the channels (held attention positions in overlap mode). Operators that run
at the same time on one unit (PIM operators on different channels) go to extra lanes of its
track ("PIM channels #2"), so no track has overlapping slices. Counters at the end of each
token: row hits, misses and conflicts, and MAC and activate commands of the token's PIM work.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import Cmd
from pimsim.dram.tables import CT_CONFLICTS, CT_HITS, CT_MISSES
from pimsim.engine.simulate import (
    NONE,
    UNIT_DEVICE,
    UNIT_LINK,
    UNIT_NET,
    UNIT_PIM,
    UNIT_VECTOR,
    SimResult,
)

TRACKS = (
    "PIM channels",
    "link",
    "vector unit",
    "reductions",
    "vector beside PIM",
)
DEVICE_TID = 1000  # a compute device's track (`--prefill gpu`): one unit, in order, one lane
NET_TID = 1001  # the interconnect's collectives (tensor parallelism): likewise
OWN_TRACKS = {DEVICE_TID: "compute device", NET_TID: "interconnect"}
PS_PER_US = 1e6


def _event(name, kind, tid, t0, t1, args) -> dict[str, Any]:
    return {
        "name": name,
        "cat": kind,
        "ph": "X",
        "pid": 0,
        "tid": tid,
        "ts": int(t0) / PS_PER_US,
        "dur": int(t1 - t0) / PS_PER_US,
        "args": args,
    }


def _segments(sim: SimResult) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(track, mask, start, end) of every kind of segment, by operator."""
    unit = sim.op_unit
    pim = unit == UNIT_PIM
    return [
        (0, pim & (sim.pim_end_ps > sim.dram_start_ps), sim.dram_start_ps, sim.pim_end_ps),
        (1, unit == UNIT_LINK, sim.op_start_ps, sim.op_end_ps),
        (2, unit == UNIT_VECTOR, sim.op_start_ps, sim.op_end_ps),
        (3, pim & (sim.asic_start_ps != NONE), sim.asic_start_ps, sim.asic_end_ps),
        (4, pim & (sim.par_start_ps != NONE), sim.par_start_ps, sim.par_end_ps),
        (DEVICE_TID, unit == UNIT_DEVICE, sim.op_start_ps, sim.op_end_ps),
        (NET_TID, unit == UNIT_NET, sim.op_start_ps, sim.op_end_ps),
    ]


def perfetto_trace(
    sim: SimResult, hw: HardwareConfig, table: pd.DataFrame | None = None
) -> dict[str, Any]:
    """The trace-event JSON of the operators of the first `timeline_tokens` tokens (the
    simulation's option), with per-token counters over the whole run."""
    if table is None or not sim.timeline_tokens:
        slices = [_legacy(sim, row) for row in sim.timeline]  # (a table-less caller)
    else:
        slices = _operator_events(sim, table)
    names = _into_lanes(slices)
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": 0, "args": {"name": _process_name(hw, table)}}
    ]
    events += [
        {"name": "thread_name", "ph": "M", "pid": 0, "tid": tid, "args": {"name": name}}
        for tid, name in sorted(names.items())
    ]
    events += slices
    events += _counter_events(sim, table)
    return {"traceEvents": events, "displayTimeUnit": "ns"}


def _process_name(hw: HardwareConfig, table: pd.DataFrame | None) -> str:
    """The trace's process: the device simulated, and for a tensor-parallel shard that every
    device of the system runs the same operators at the same times (one stands for all)."""
    model = (table.attrs.get("model") or {}) if table is not None else {}
    devices = int(model.get("tensor_parallel", 1))
    if devices > 1:
        return (
            f"pimsim {hw.name}: device 0 of {devices} (each runs these operators, at these times)"
        )
    return f"pimsim {hw.name}"


def _into_lanes(slices: list[dict[str, Any]]) -> dict[int, str]:
    """Move slices that overlap an earlier one on their track to the track's next free lane
    (tid = track + len(TRACKS) x lane); returns every used tid's name."""
    ends: dict[tuple[int, int], float] = {}
    names = {tid: name for tid, name in enumerate(TRACKS)}
    for event in sorted(slices, key=lambda e: (e["ts"], e["tid"])):
        track, lane = event["tid"], 0
        if track in OWN_TRACKS:
            names[track] = OWN_TRACKS[track]
            continue
        while ends.get((track, lane), -1.0) > event["ts"] + 1e-9:
            lane += 1
        ends[(track, lane)] = event["ts"] + event["dur"]
        event["tid"] = track + len(TRACKS) * lane
        if lane:
            names[event["tid"]] = f"{TRACKS[track]} #{lane + 1}"
    return names


def _operator_events(sim: SimResult, table: pd.DataFrame) -> list[dict[str, Any]]:
    tokens = table["token"].to_numpy()
    shown = tokens < sim.timeline_tokens
    names, kinds = table["name"].to_numpy(), table["kind"].to_numpy()
    layers, ids = table["layer"].to_numpy(), table["id"].to_numpy()
    out = []
    for tid, mask, start, end in _segments(sim):
        for i in np.flatnonzero(mask & shown & (end > start)):
            args = {"id": int(ids[i]), "kind": kinds[i], "layer": int(layers[i])}
            args["token"] = int(tokens[i])
            out.append(_event(names[i], kinds[i], tid, start[i], end[i], args))
    out.sort(key=lambda e: (e["ts"], e["tid"], e["args"]["id"]))
    return out


def _legacy(sim: SimResult, row: tuple) -> dict[str, Any]:
    unit, name, kind, token, t0, t1 = row
    tid = {"pim": 0, "link": 1, "vector": 2}[unit]
    return _event(name, kind, tid, t0, t1, {"token": token})


def _counter_events(sim: SimResult, table: pd.DataFrame | None) -> list[dict[str, Any]]:
    if sim.token_counters is None or table is None:
        return []
    ends = pd.Series(sim.op_end_ps).groupby(table["token"].to_numpy()).max()
    out = []
    for token, end_ps in ends.items():
        if token >= len(sim.token_counters):
            continue
        counts = sim.token_counters[token]
        rows = {
            "hits": int(counts[CT_HITS]),
            "misses": int(counts[CT_MISSES]),
            "conflicts": int(counts[CT_CONFLICTS]),
        }
        commands = {
            "MAC": int(counts[int(Cmd.MAC)] + counts[int(Cmd.MAC16)]),
            "ACT": int(sum(counts[int(c)] for c in (Cmd.ACT, Cmd.ACT4, Cmd.ACT16))),
        }
        ts = int(end_ps) / PS_PER_US
        out.append({"name": "DRAM rows", "ph": "C", "pid": 0, "ts": ts, "args": rows})
        out.append({"name": "PIM commands", "ph": "C", "pid": 0, "ts": ts, "args": commands})
    return out
