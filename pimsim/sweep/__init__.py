"""Design-space sweeps: specs, points, local / Dask execution, resumable results."""

from pimsim.sweep.runner import run_sweep
from pimsim.sweep.spec import SweepSpec, load_spec, validate

__all__ = ["SweepSpec", "load_spec", "run_sweep", "validate"]
