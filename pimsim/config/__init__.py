"""Hardware description: versioned YAML -> frozen dataclasses (DESIGN.md section 3)."""

from pimsim.config.loader import load_hw, resolve_hw_path
from pimsim.config.schema import (
    AsicConfig,
    DramConfig,
    HardwareConfig,
    Organization,
    PimConfig,
    TimingRule,
)

__all__ = [
    "AsicConfig",
    "DramConfig",
    "HardwareConfig",
    "Organization",
    "PimConfig",
    "TimingRule",
    "load_hw",
    "resolve_hw_path",
]
