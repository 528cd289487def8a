"""Per-command DRAM energies: the preset's `energy:` with `dram.energy` overrides; refresh
energies follow from the organization, tREFI and the retention window unless given."""

from __future__ import annotations

from pimsim.config.fields import as_float, as_mapping, check_keys, fail, field_default, field_names
from pimsim.config.schema import DramEnergy

ENERGY_KEYS = field_names(DramEnergy)
# energies derived from other values when neither the preset nor the system file gives them
DERIVED_ENERGY_KEYS = ("refab_nJ", "refpb_nJ")


def refresh_rows_per_bank(rows: int, refi_ns: float, window_ms: float) -> float:
    """Rows of a bank one refresh command restores: every row once per retention window,
    with window / tREFI refresh commands reaching each bank in that time."""
    return rows * refi_ns / (window_ms * 1e6)


def resolve_energy(
    preset: dict, preset_file: str, dram_raw: dict, file: str, refresh_geometry: tuple
) -> DramEnergy | None:
    """The `DramEnergy` of a system (None when neither file gives energies);
    `refresh_geometry` is (banks, rows per bank, tREFI in ns)."""
    base = as_mapping(preset.get("energy"), preset_file, "energy")
    user = as_mapping(dram_raw.get("energy"), file, "dram.energy")
    check_keys(base, ENERGY_KEYS, preset_file, "energy")
    check_keys(user, ENERGY_KEYS, file, "dram.energy")
    merged = {**base, **user}
    if not merged:
        return None
    values = {}
    for key in ENERGY_KEYS:
        if key in DERIVED_ENERGY_KEYS and key not in merged:
            continue
        if key not in merged and isinstance(field_default(DramEnergy, key), float):
            merged[key] = field_default(DramEnergy, key)
        if key not in merged:
            raise fail(
                file, f"dram.energy.{key}", "missing (the preset does not give it)", "a number >= 0"
            )
        source, prefix = (file, "dram.energy") if key in user else (preset_file, "energy")
        value = as_float(merged[key], source, f"{prefix}.{key}", positive=False)
        if value < 0:
            raise fail(source, f"{prefix}.{key}", f"got {value}", "a number >= 0")
        values[key] = value
    if values["refresh_window_ms"] <= 0:
        raise fail(file, "dram.energy.refresh_window_ms", "got 0", "a retention time > 0 ms")
    banks, rows, refi_ns = refresh_geometry
    per_bank = refresh_rows_per_bank(rows, refi_ns, values["refresh_window_ms"])
    values.setdefault("refab_nJ", banks * per_bank * values["act_per_bank_nJ"])
    values.setdefault("refpb_nJ", per_bank * values["act_per_bank_nJ"])
    return DramEnergy(**values)
