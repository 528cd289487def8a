"""Load a hardware YAML: read, apply --set overrides, merge the DRAM preset, validate, resolve.

Every problem is a `PimsimInputError` naming the file, the key path and what was expected.
This is the public entry; the work lies in the modules it names:

    fields    checking raw values (one wording for every message), --set overrides
    presets   the DRAM presets
    timing    timing parameters (ns -> cycles), distance expressions, timing rules
    energy    per-command DRAM energies (refresh energies derived)
    sections  one builder per section: dram, pim, asic
    build     build_hw: the sections, the resolved description and its digest
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from pimsim.config.build import CONFIG_VERSION, TOP_KEYS, build_hw
from pimsim.config.energy import DERIVED_ENERGY_KEYS, ENERGY_KEYS, refresh_rows_per_bank
from pimsim.config.fields import apply_overrides, parse_set_options, suggest
from pimsim.config.presets import PRESET_DIR, PRESET_KEYS, available_presets
from pimsim.config.schema import PAGE_POLICIES, REFRESH_MODES, SCOPES, HardwareConfig
from pimsim.config.sections import (
    ASIC_FLOAT_KEYS,
    ASIC_INT_KEYS,
    ASIC_KEYS,
    DRAM_KEYS,
    ORG_KEYS,
    PIM_KEYS,
)
from pimsim.config.timing import RULE_KEYS, evaluate_distance
from pimsim.core.errors import PimsimInputError
from pimsim.core.io import read_yaml
from pimsim.core.shipped import shipped_dir

# the shipped hardware descriptions (pimsim/data/hw_configs/, or the checkout's hw_configs/ link)
REPO_HW_DIR = shipped_dir("hw_configs")

__all__ = [
    "ASIC_FLOAT_KEYS",
    "ASIC_INT_KEYS",
    "ASIC_KEYS",
    "CONFIG_VERSION",
    "DERIVED_ENERGY_KEYS",
    "DRAM_KEYS",
    "ENERGY_KEYS",
    "ORG_KEYS",
    "PAGE_POLICIES",
    "PIM_KEYS",
    "PRESET_DIR",
    "PRESET_KEYS",
    "REFRESH_MODES",
    "REPO_HW_DIR",
    "RULE_KEYS",
    "SCOPES",
    "TOP_KEYS",
    "apply_overrides",
    "available_presets",
    "build_hw",
    "dump_resolved",
    "evaluate_distance",
    "load_hw",
    "parse_set_options",
    "read_yaml",
    "refresh_rows_per_bank",
    "resolve_hw_path",
]


def resolve_hw_path(name: str | Path) -> Path:
    """A path, or a file name / stem in ./hw_configs or the shipped hw_configs/."""
    candidate = Path(name)
    if candidate.is_file():
        return candidate
    stems = [candidate.name, f"{candidate.name}.yaml"]
    for folder in (Path.cwd() / "hw_configs", REPO_HW_DIR):
        for stem in stems:
            if (folder / stem).is_file():
                return folder / stem
    known = sorted({p.stem for p in REPO_HW_DIR.glob("*.yaml")})
    raise PimsimInputError(
        f"no such hardware config{suggest(candidate.stem, known)}",
        file=str(name),
        expected="a YAML path or one of " + ", ".join(known),
    )


def load_hw(name: str | Path, overrides: Iterable[str] | None = None) -> HardwareConfig:
    """Load, override, merge, validate and resolve a hardware description."""
    path = resolve_hw_path(name)
    file = str(path)
    data = read_yaml(path)
    sets = parse_set_options(overrides or [])
    if sets:
        data = apply_overrides(data, sets, file)
        file = f"{file} (with --set {', '.join(k for k, _ in sets)})"
    return build_hw(data, file)


def dump_resolved(hw: HardwareConfig, path: Path) -> None:
    """Write the fully resolved configuration (provenance) atomically as YAML."""
    from pimsim.core.io import atomic_write_text

    header = f"# fully resolved pimsim hardware description; sha256 {hw.sha256}\n"
    atomic_write_text(path, header + yaml.safe_dump(hw.resolved_dict(), sort_keys=False))
