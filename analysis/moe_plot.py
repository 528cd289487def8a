"""Mixture of experts: per-token latency and the busiest expert group's load over the routing
skew, for experts spread over every channel and dealt over channel groups.

Input: a sweep's results.csv or its directory with `routing` and `expert_groups` axes (default
analysis/data/sweep_moe, made by `pimsim sweep analysis/sweeps/moe.yaml` when missing).
Output: analysis/figures/moe_plot.png.
"""

from __future__ import annotations

import _common

from pimsim.plots import plot_moe

SPEC = _common.HERE / "sweeps" / "moe.yaml"
DEFAULT_DIR = _common.DATA / "sweep_moe"


def main(argv: list[str] | None = None) -> int:
    return _common.sweep_figure(
        "moe_plot",
        __doc__,
        "sweep results.csv or directory (routing axes)",
        SPEC,
        DEFAULT_DIR,
        plot_moe,
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
