"""GPU and CPU baselines evaluated on the same operator table pimsim simulates on PIM.

    from pimsim.baselines import load_device, evaluate
    result = evaluate(load_device("gpu", "T4"), table)   # table from pimsim.workload.lower()
    result.latency_s_per_token, result.energy_j_per_token, result.to_json()

Model and assumptions: `pimsim.baselines.model`; device presets with their public sources:
`pimsim/presets/baselines/{gpus,cpus}.yaml`.
"""

from pimsim.baselines.devices import (
    BaselineDevice,
    default_device,
    known_devices,
    load_device,
)
from pimsim.baselines.model import (
    BaselineResult,
    OpCosts,
    baselines_report,
    evaluate,
    generated_token_window,
    op_costs,
)

__all__ = [
    "BaselineDevice",
    "BaselineResult",
    "OpCosts",
    "baselines_report",
    "default_device",
    "evaluate",
    "generated_token_window",
    "known_devices",
    "load_device",
    "op_costs",
]
