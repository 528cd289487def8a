"""A raw hardware mapping (already overridden) -> `HardwareConfig`: the top-level keys, one
builder per section, and the fully resolved description with its digest (provenance)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pimsim.config.energy import ENERGY_KEYS
from pimsim.config.fields import as_mapping, as_str, check_keys, fail
from pimsim.config.schema import AsicConfig, DramConfig, HardwareConfig, PimConfig, TimingRule
from pimsim.config.sections import (
    ASIC_KEYS,
    ORG_KEYS,
    PIM_KEYS,
    build_asic,
    build_dram,
    build_pim,
)

CONFIG_VERSION = 1
TOP_KEYS = ("version", "name", "description", "dram", "pim", "asic")


def build_hw(data: dict, file: str) -> HardwareConfig:
    """Validate a raw hardware mapping (already overridden) into a `HardwareConfig`."""
    name, description = _header(data, file)
    dram = build_dram(as_mapping(data.get("dram"), file, "dram"), file)
    pim, dram = build_pim(as_mapping(data.get("pim"), file, "pim"), dram, file)
    asic = build_asic(as_mapping(data.get("asic"), file, "asic"), file)
    resolved = resolved_description(name, description, file, dram, pim, asic)
    return HardwareConfig(
        name=name,
        description=description,
        source=file,
        dram=dram,
        pim=pim,
        asic=asic,
        resolved=MappingProxyType(resolved),
        sha256=resolved_digest(resolved),
    )


def _header(data: dict, file: str) -> tuple[str, str]:
    """The top-level keys, the version, and the system's name and description."""
    check_keys(data, TOP_KEYS, file, "")
    if "version" not in data:
        raise fail(file, "version", "missing", f"version: {CONFIG_VERSION}")
    if data["version"] != CONFIG_VERSION or isinstance(data["version"], bool):
        raise fail(file, "version", f"got {data['version']!r}", f"version: {CONFIG_VERSION}")
    name = as_str(data.get("name", Path(file.split(" ")[0]).stem), file, "name")
    return name, str(data.get("description", ""))


# ---------------------------------------------------------------------------------------------
# the resolved description (dumped next to results; check-config --resolved prints it)


def resolved_description(
    name: str, description: str, file: str, dram: DramConfig, pim: PimConfig, asic: AsicConfig
) -> dict[str, Any]:
    energy = dram.energy
    return {
        "version": CONFIG_VERSION,
        "name": name,
        "description": description,
        "source": file,
        "dram": _resolved_dram(dram),
        "pim": {key: getattr(pim, key) for key in PIM_KEYS},
        "dram_energy": ({k: getattr(energy, k) for k in ENERGY_KEYS} if energy else None),
        "asic": {key: getattr(asic, key) for key in ASIC_KEYS},
    }


def _resolved_dram(dram: DramConfig) -> dict[str, Any]:
    return {
        "preset": dram.preset,
        "standard": dram.standard,
        "channels": dram.channels,
        "page_policy": dram.page_policy,
        "refresh": dram.refresh,
        "refresh_postpone": dram.refresh_postpone,
        "refresh_pull_in": dram.refresh_pull_in,
        "organization": {key: getattr(dram.organization, key) for key in ORG_KEYS},
        "tCK_ns": dram.tCK_ns,
        "timing_cycles": dict(dram.timing_cycles),
        "rules": [_resolved_rule(rule) for rule in dram.rules],
    }


def _resolved_rule(rule: TimingRule) -> dict[str, Any]:
    return {
        "scope": rule.scope,
        "prev": list(rule.prev),
        "next": list(rule.next),
        "distance": rule.expression,
        "distance_cycles": rule.distance_cycles,
        **({"window": rule.window} if rule.window else {}),
        **({"weights": dict(rule.weights)} if rule.weights else {}),
    }


def resolved_digest(resolved: dict[str, Any]) -> str:
    """sha256 of the resolved description without its `source` (the same system, any file)."""
    digest_source = {k: v for k, v in resolved.items() if k != "source"}
    return hashlib.sha256(json.dumps(digest_source, sort_keys=True).encode()).hexdigest()
