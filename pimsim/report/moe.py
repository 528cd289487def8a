"""The report's `moe` block: where a mixture's routed rows went and what it cost.

Per layer-step (one layer of one decode step, over the whole batch): the rows each expert
served (its slot's first weight VMM), summed per channel group of the experts' placement
(`--expert-groups`); the busiest group's rows, and their ratio to the mean (the imbalance a
skewed routing causes); and the time from the first expert VMM's start to the last expert
operator's end (the experts' span: with experts on separate groups, the busiest group sets
it). Averaged over the per-token window's layer-steps; `expert_time_s_per_token` sums the
spans per output token.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pimsim.engine.metrics import PS
from pimsim.mapping.experts import expert_of, group_of
from pimsim.workload.moe import routed_mask
from pimsim.workload.windows import output_token_window


def moe_section(spec, table: pd.DataFrame, sim, groups: int) -> dict[str, Any]:
    """The `moe` block of a mixture's report (see the module docstring)."""
    window = output_token_window(table)
    routed = routed_mask(table) & window.mask
    weights = table["weight"].to_numpy()
    names = weights.astype(str)
    first = routed & (np.char.endswith(names, "gate_up") | np.char.endswith(names, "fc1"))
    step = table["token"].to_numpy() * spec.layers + table["layer"].to_numpy()
    steps, step_index = np.unique(step[first], return_inverse=True)
    experts = np.array([expert_of(w) for w in weights[first]], dtype=np.int64)
    rows = table["m"].to_numpy()[first]
    per_expert = np.zeros((len(steps), spec.experts), dtype=np.int64)
    np.add.at(per_expert, (step_index, experts), rows)
    per_group = np.zeros((len(steps), groups), dtype=np.int64)
    np.add.at(per_group, (step_index, group_of(experts, groups)), rows)
    busiest = per_group.max(axis=1) if len(steps) else np.zeros(1)
    mean_group = per_group.mean(axis=1) if len(steps) else np.ones(1)
    span = _spans(step[routed], sim.op_start_ps[routed], sim.op_end_ps[routed])
    return {
        "routing": table.attrs.get("routing", ""),
        "experts": spec.experts,
        "experts_per_token": spec.experts_per_token,
        "expert_groups": groups,
        "layer_steps": len(steps),
        "rows_per_expert": [float(v) for v in per_expert.mean(axis=0)] if len(steps) else [],
        "rows_per_group": [float(v) for v in per_group.mean(axis=0)] if len(steps) else [],
        "busiest_group_rows": float(busiest.mean()),
        "load_imbalance": float((busiest / mean_group).mean()),
        "expert_time_s_per_token": float(span.sum()) * PS / window.tokens,
    }


def _spans(step: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per layer-step, last end minus first start of its expert operators (ps)."""
    if not len(step):
        return np.zeros(0, dtype=np.int64)
    frame = pd.DataFrame({"step": step, "start": start, "end": end})
    grouped = frame.groupby("step", sort=True)
    return (grouped["end"].max() - grouped["start"].min()).to_numpy()


def moe_line(moe: dict[str, Any], per_token_s: float, si) -> str:
    """The terminal report's line for the `moe` block."""
    share = moe["expert_time_s_per_token"] / per_token_s if per_token_s else 0.0
    return (
        f"  experts             routing {moe['routing']}, {moe['expert_groups']} group(s): "
        f"busiest {moe['busiest_group_rows']:.2f} rows per layer-step "
        f"(imbalance {moe['load_imbalance']:.2f}x), experts {si(moe['expert_time_s_per_token'])}"
        f" per token ({100 * share:.1f} %)"
    )
