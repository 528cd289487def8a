"""The shipped DRAM presets (`pimsim/presets/dram/NAME.yaml`): organization, timing, command
groups, timing rules and energies that a hardware file's `dram.preset` names."""

from __future__ import annotations

from pathlib import Path

from pimsim.config.fields import check_keys, fail, suggest
from pimsim.core.io import read_yaml

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets" / "dram"
PRESET_KEYS = (
    "version",
    "name",
    "standard",
    "rules_from",
    "organization",
    "timing",
    "timing_may_be_zero",
    "groups",
    "rules",
    "energy",
)


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def load_preset(name: str, file: str) -> tuple[dict, Path]:
    """The preset `name` (with the groups and rules of its `rules_from` file) and its path."""
    path = PRESET_DIR / f"{name}.yaml"
    if not isinstance(name, str) or name.startswith("_") or not path.is_file():
        raise fail(
            file,
            "dram.preset",
            f"unknown DRAM preset {name!r}{suggest(str(name), available_presets())}",
            "one of " + ", ".join(available_presets()),
        )
    data = read_yaml(path)
    check_keys(data, PRESET_KEYS, str(path), "")
    rules_from = data.get("rules_from")
    if rules_from:
        common = read_yaml(PRESET_DIR / rules_from)
        data.setdefault("groups", {})
        data["groups"] = {**common.get("groups", {}), **data["groups"]}
        data["rules"] = list(common.get("rules", [])) + list(data.get("rules", []) or [])
    return data, path
