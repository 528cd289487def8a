"""`pimsim list hw`: the shipped hardware descriptions."""

from __future__ import annotations

from pimsim.config.loader import REPO_HW_DIR, available_presets, read_yaml


def hw_table() -> list[tuple[str, str]]:
    rows = []
    for path in sorted(REPO_HW_DIR.glob("*.yaml")):
        rows.append((path.stem, str(read_yaml(path).get("description", ""))))
    rows.extend(
        (f"preset:{name}", "DRAM preset (use as dram.preset)") for name in available_presets()
    )
    return rows
