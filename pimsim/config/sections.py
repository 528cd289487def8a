"""One builder per section of a hardware file: `dram:` (over its preset), `pim:` and `asic:`,
each a raw mapping in and a frozen schema dataclass out.

The sections' keys, choices, defaults and minimums come from the schema's field metadata where
the YAML key is the field; the checks run in a fixed order, so a file with several problems
always reports the same one first.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from pimsim.config.energy import resolve_energy
from pimsim.config.fields import (
    as_bool,
    as_choice,
    as_float,
    as_int,
    as_mapping,
    check_keys,
    fail,
    field_choices,
    field_default,
    field_minimum,
    field_names,
    names_of_type,
)
from pimsim.config.presets import available_presets, load_preset
from pimsim.config.schema import AsicConfig, DramConfig, Organization, PimConfig, TimingRule
from pimsim.config.timing import compile_rules, resolve_timing
from pimsim.core.commands import COMMAND_NAMES
from pimsim.core.dtypes import DTYPE_BYTES

ORG_KEYS = field_names(Organization)
DRAM_KEYS = (
    "preset",
    "channels",
    "page_policy",
    "refresh",
    "refresh_postpone",
    "refresh_pull_in",
    "organization",
    "timing",
    "rules_extra",
    "energy",
)
PIM_KEYS = field_names(PimConfig)
PIM_FLAGS = ("adder_tree", "mode_switch", "activate_before_buffer_fill")
ASIC_FLOAT_KEYS = names_of_type(AsicConfig, "float")
ASIC_INT_KEYS = names_of_type(AsicConfig, "int")
ASIC_CHOICE_KEYS = names_of_type(AsicConfig, "str")
ASIC_KEYS = ASIC_FLOAT_KEYS + ASIC_INT_KEYS + ASIC_CHOICE_KEYS
MAX_BANKS = 32  # the engine keeps 2 bits of activation state per bank
MAX_REFRESH_SHIFT = 8  # the JEDEC limit on postponed / pulled-in refreshes


# ---------------------------------------------------------------------------------------------
# dram:


# beyond any real device, far below what would overflow the kernels' int64 arithmetic
MAX_CHANNELS = 1 << 16
ORG_MAXIMA = {
    "bank_groups": 1 << 10,
    "banks_per_group": 1 << 10,
    "rows": 1 << 22,
    "columns": 1 << 16,
    "access_bytes": 1 << 12,
}


def build_dram(dram_raw: dict, file: str) -> DramConfig:
    """`dram:` over its preset: organization, timing in cycles, rules, refresh, energies."""
    check_keys(dram_raw, DRAM_KEYS, file, "dram")
    if "preset" not in dram_raw:
        raise fail(file, "dram.preset", "missing", "one of " + ", ".join(available_presets()))
    preset, preset_path = load_preset(dram_raw["preset"], file)
    preset_file = str(preset_path)
    organization = _organization(preset, preset_file, dram_raw, file)
    user_timing = as_mapping(dram_raw.get("timing"), file, "dram.timing")
    tck, cycles = resolve_timing(
        as_mapping(preset.get("timing"), preset_file, "timing"),
        user_timing,
        preset.get("timing_may_be_zero") or [],
        file,
        preset_file,
    )
    groups = preset.get("groups") or {}
    rules = compile_rules(preset.get("rules"), groups, cycles, preset_file, "rules")
    rules += compile_rules(dram_raw.get("rules_extra"), groups, cycles, file, "dram.rules_extra")
    refresh, postpone, pull_in = _refresh(dram_raw, cycles, organization.banks, file)
    return DramConfig(
        preset=str(preset.get("name", dram_raw["preset"])),
        standard=str(preset.get("standard", "")),
        channels=as_int(dram_raw.get("channels", 1), file, "dram.channels", maximum=MAX_CHANNELS),
        organization=organization,
        tCK_ns=tck,
        timing_cycles=MappingProxyType(cycles),
        rules=tuple(rules),
        page_policy=as_choice(
            dram_raw.get("page_policy", "open"),
            field_choices(DramConfig, "page_policy"),
            file,
            "dram.page_policy",
        ),
        refresh=refresh,
        energy=resolve_energy(
            preset,
            preset_file,
            dram_raw,
            file,
            (organization.banks, organization.rows, cycles.get("nREFI", 0) * tck),
        ),
        refresh_postpone=postpone,
        refresh_pull_in=pull_in,
    )


def _organization(preset: dict, preset_file: str, dram_raw: dict, file: str) -> Organization:
    """`dram.organization` over the preset's; every value an integer >= 1."""
    org_raw = as_mapping(dram_raw.get("organization"), file, "dram.organization")
    check_keys(org_raw, ORG_KEYS, file, "dram.organization")
    merged = {**as_mapping(preset.get("organization"), preset_file, "organization"), **org_raw}
    values = {}
    for key in ORG_KEYS:
        if key not in merged:
            raise fail(preset_file, f"organization.{key}", "missing", "an integer >= 1")
        source = file if key in org_raw else preset_file
        prefix = "dram.organization" if key in org_raw else "organization"
        values[key] = as_int(merged[key], source, f"{prefix}.{key}", maximum=ORG_MAXIMA[key])
    organization = Organization(**values)
    if organization.banks > MAX_BANKS:
        raise fail(
            file,
            "dram.organization.bank_groups",
            f"{organization.banks} banks per channel",
            f"at most {MAX_BANKS} banks per channel (bank_groups x banks_per_group)",
        )
    return organization


def _refresh(dram_raw: dict, cycles: dict, banks: int, file: str) -> tuple[str, int, int]:
    """The refresh scheme (whose timing must be there) and the postpone / pull-in allowances."""
    refresh = as_choice(
        dram_raw.get("refresh", "all_bank"),
        field_choices(DramConfig, "refresh"),
        file,
        "dram.refresh",
    )
    if refresh != "none":
        for needed in ("nREFI", "nRFC") if refresh == "all_bank" else ("nREFI", "nRFCpb"):
            if needed not in cycles:
                raise fail(file, "dram.timing", f"refresh '{refresh}' needs {needed}")
        if refresh == "per_bank" and cycles["nREFI"] < banks:
            raise fail(file, "dram.timing.nREFI", "per-bank refresh needs nREFI >= banks")
        busy = "nRFC" if refresh == "all_bank" else "nRFCpb"
        if cycles[busy] >= cycles["nREFI"]:  # refreshing all the time: no command ever issues
            raise fail(
                file,
                "dram.timing.nREFI",
                f"a refresh ({busy} {cycles[busy]} cycles) lasts as long as the refresh "
                f"interval (nREFI {cycles['nREFI']} cycles): the device never serves a command",
                f"nREFI > {busy}",
            )
    shifts = {
        key: as_int(dram_raw.get(key, field_default(DramConfig, key)), file, f"dram.{key}", 0)
        for key in ("refresh_postpone", "refresh_pull_in")
    }
    for key, value in shifts.items():
        if value > MAX_REFRESH_SHIFT:
            raise fail(
                file,
                f"dram.{key}",
                f"got {value}",
                f"at most {MAX_REFRESH_SHIFT} refreshes "
                "(the JEDEC limit on postponed / pulled-in refreshes)",
            )
    return refresh, shifts["refresh_postpone"], shifts["refresh_pull_in"]


# ---------------------------------------------------------------------------------------------
# pim:


def build_pim(pim_raw: dict, dram: DramConfig, file: str) -> tuple[PimConfig, DramConfig]:
    """`pim:` and the DRAM with the timing rules PIM settings add (mode switch, narrow MACs)."""
    pim = _pim_config(pim_raw, dram.organization, file)
    dram = _with_pim_rules(dram, pim, file)
    access_bytes = dram.organization.access_bytes
    if pim.enabled and pim.global_buffer_bytes < access_bytes:
        raise fail(
            file,
            "pim.global_buffer_bytes",
            f"{pim.global_buffer_bytes} B is smaller than one column access",
            f">= {access_bytes}",
        )
    return pim, dram


def _pim_config(pim_raw: dict, organization: Organization, file: str) -> PimConfig:
    check_keys(pim_raw, PIM_KEYS, file, "pim")
    enabled = as_bool(pim_raw.get("enabled", bool(pim_raw)), file, "pim.enabled")
    dtype = as_choice(
        pim_raw.get("dtype", "bf16"), field_choices(PimConfig, "dtype"), file, "pim.dtype"
    )
    banks_per_unit = as_int(pim_raw.get("banks_per_mac_unit", 1), file, "pim.banks_per_mac_unit")
    if organization.banks % banks_per_unit:
        raise fail(
            file,
            "pim.banks_per_mac_unit",
            f"{banks_per_unit} does not divide {organization.banks} banks",
            "a divisor of the bank count",
        )
    if enabled and organization.access_bytes % DTYPE_BYTES[dtype]:
        raise fail(
            file,
            "dram.organization.access_bytes",
            f"a column access of {organization.access_bytes} B does not hold whole "
            f"{dtype} operands ({DTYPE_BYTES[dtype]} B each) for the MAC units",
            f"a multiple of {DTYPE_BYTES[dtype]}",
        )
    lanes_default = organization.access_bytes // DTYPE_BYTES[dtype]
    flags = {
        key: as_bool(pim_raw.get(key, field_default(PimConfig, key)), file, f"pim.{key}")
        for key in PIM_FLAGS
    }
    return PimConfig(
        enabled=enabled,
        mac_lanes=as_int(
            pim_raw.get("mac_lanes", lanes_default), file, "pim.mac_lanes", maximum=1 << 12
        ),
        dtype=dtype,
        banks_per_mac_unit=banks_per_unit,
        global_buffer_bytes=as_int(
            pim_raw.get("global_buffer_bytes", organization.row_bytes),
            file,
            "pim.global_buffer_bytes",
            maximum=1 << 30,
        ),
        result_registers=as_int(
            pim_raw.get("result_registers", field_default(PimConfig, "result_registers")),
            file,
            "pim.result_registers",
            maximum=1 << 16,
        ),
        **flags,
    )


def _with_pim_rules(dram: DramConfig, pim: PimConfig, file: str) -> DramConfig:
    cycles = dram.timing_cycles
    rules = list(dram.rules)
    if pim.mode_switch:
        if "nMODCH" not in cycles:
            raise fail(
                file,
                "dram.timing.nMODCH",
                "pim.mode_switch needs the mode-switch time",
                "nMODCH: cycles after a TMOD before any command (AiM simulator: 32)",
            )
        rules.append(TimingRule("channel", ("TMOD",), COMMAND_NAMES, cycles["nMODCH"], 0, "nMODCH"))
    lanes_default = dram.organization.access_bytes // pim.dtype_bytes
    if pim.enabled and pim.mac_lanes < lanes_default:
        # a MAC unit narrower than a column access needs several passes per column: MAC
        # commands on the same banks are spaced by that many column-to-column times
        passes = -(-lanes_default // pim.mac_lanes)
        spacing = passes * max(cycles["nCCDL"], cycles["nCCDS"])
        rules.append(
            TimingRule(
                "channel",
                ("MAC", "MAC16"),
                ("MAC", "MAC16"),
                spacing,
                0,
                f"{passes} x max(nCCDL, nCCDS) (pim.mac_lanes "
                f"{pim.mac_lanes} < {lanes_default} elements per column)",
            )
        )
    if len(rules) == len(dram.rules):
        return dram
    return dataclasses.replace(dram, rules=tuple(rules))


# ---------------------------------------------------------------------------------------------
# asic:


# what an ASIC can physically be (a clock outside this makes its cycle 0 ps or absurd)
ASIC_RANGES = {"clock_GHz": (1e-3, 100.0), "link_bandwidth_GBps": (1e-3, 1e6)}


def build_asic(asic_raw: dict, file: str) -> AsicConfig:
    """`asic:`: every field optional, defaults from the schema."""
    check_keys(asic_raw, ASIC_KEYS, file, "asic")
    values: dict = {}
    for key in ASIC_FLOAT_KEYS:
        default = field_default(AsicConfig, key)
        values[key] = as_float(asic_raw.get(key, default), file, f"asic.{key}")
        low, high = ASIC_RANGES.get(key, (None, None))
        if low is not None and not low <= values[key] <= high:
            raise fail(file, f"asic.{key}", f"got {values[key]:g}", f"{low:g} .. {high:g}")
    for key in ASIC_INT_KEYS:
        default, minimum = field_default(AsicConfig, key), field_minimum(AsicConfig, key)
        values[key] = as_int(asic_raw.get(key, default), file, f"asic.{key}", minimum=minimum)
    for key in ASIC_CHOICE_KEYS:
        default, choices = field_default(AsicConfig, key), field_choices(AsicConfig, key)
        values[key] = as_choice(asic_raw.get(key, default), choices, file, f"asic.{key}")
    return AsicConfig(**values)
