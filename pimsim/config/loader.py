"""Load a hardware YAML: read, apply --set overrides, merge the DRAM preset, validate, resolve.

Every problem is a `PimsimInputError` naming the file, the key path and what was expected.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from pimsim.config.schema import (
    AsicConfig,
    DramConfig,
    DramEnergy,
    HardwareConfig,
    Organization,
    PimConfig,
    TimingRule,
)
from pimsim.core.commands import COMMAND_NAMES
from pimsim.core.dtypes import DTYPE_BYTES, PIM_DTYPES
from pimsim.core.errors import PimsimInputError
from pimsim.core.io import read_yaml

CONFIG_VERSION = 1
PRESET_DIR = Path(__file__).resolve().parents[1] / "presets" / "dram"
REPO_HW_DIR = Path(__file__).resolve().parents[2] / "hw_configs"

SCOPES = ("bank", "bankgroup", "channel")
PAGE_POLICIES = ("open", "closed")
REFRESH_MODES = ("all_bank", "per_bank", "none")
ORG_KEYS = ("bank_groups", "banks_per_group", "rows", "columns", "access_bytes")
TOP_KEYS = ("version", "name", "description", "dram", "pim", "asic")
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
PIM_KEYS = (
    "enabled",
    "mac_lanes",
    "dtype",
    "banks_per_mac_unit",
    "global_buffer_bytes",
    "adder_tree",
    "result_registers",
    "mode_switch",
    "activate_before_buffer_fill",
)
ASIC_FLOAT_KEYS = (
    "clock_GHz",
    "link_bandwidth_GBps",
    "link_latency_ns",
    "vector_op_pJ",
    "sram_pJ_per_byte",
    "static_mW",
)
ENERGY_KEYS = tuple(DramEnergy.__dataclass_fields__)
ASIC_INT_KEYS = (
    "vector_lanes",
    "pipeline_latency_cycles",
    "sram_bytes",
    "exp_taylor_terms",
    "reciprocal_nr_iterations",
    "rsqrt_nr_iterations",
    "reduction_tile_rows",
)
ASIC_KEYS = ASIC_FLOAT_KEYS + ASIC_INT_KEYS + ("vector_model",)
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
RULE_KEYS = ("scope", "prev", "next", "distance", "window", "weights")

_N_NAME = re.compile(r"^n[A-Za-z0-9]+$")
_T_NAME = re.compile(r"^t([A-Za-z0-9]+)_ns$")


# ---------------------------------------------------------------------------------------------
# small helpers


def _fail(file: str, key: str, message: str, expected: str | None = None) -> PimsimInputError:
    return PimsimInputError(message, file=file, key=key, expected=expected)


def _suggest(name: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(allowed), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _check_keys(mapping: Mapping, allowed: Iterable[str], file: str, path: str) -> None:
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise _fail(
                file,
                where,
                f"unknown key{_suggest(str(key), allowed)}",
                "one of " + ", ".join(allowed),
            )


def _mapping(value: Any, file: str, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(file, path, f"got {type(value).__name__} {value!r}", "a mapping")
    return dict(value)


def _int(value: Any, file: str, path: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(file, path, f"got {value!r}", f"an integer >= {minimum}")
    if value < minimum:
        raise _fail(file, path, f"got {value}", f"an integer >= {minimum}")
    return int(value)


def _float(value: Any, file: str, path: str, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(file, path, f"got {value!r}", "a finite number")
    if positive and value <= 0:
        raise _fail(file, path, f"got {value}", "a number > 0")
    return float(value)


def _choice(value: Any, choices: Iterable[str], file: str, path: str) -> str:
    choices = list(choices)
    if value not in choices:
        raise _fail(file, path, f"got {value!r}", "one of " + ", ".join(choices))
    return str(value)


def _str(value: Any, file: str, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(file, path, f"got {value!r}", "a non-empty string")
    return value


def _deep_merge(base: dict, override: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ---------------------------------------------------------------------------------------------
# --set overrides


def parse_set_options(items: Iterable[str]) -> list[tuple[str, Any]]:
    """Parse ``key.path=value`` strings; values are YAML scalars/lists (16, 1.5, true, [a, b])."""
    out = []
    for item in items or ():
        if "=" not in item:
            raise PimsimInputError(f"--set {item!r}", expected="key.path=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise PimsimInputError(f"--set {item!r}: empty key path", expected="key.path=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        out.append((key, value))
    return out


def apply_overrides(data: dict, overrides: Iterable[tuple[str, Any]], file: str) -> dict:
    out = copy.deepcopy(data)
    for key, value in overrides:
        node = out
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise _fail(file, f"--set {key}", f"'{where}' is a value, not a section")
            node = child
        node[parts[-1]] = value
    return out


# ---------------------------------------------------------------------------------------------
# presets and timing rules


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def _load_preset(name: str, file: str) -> tuple[dict, Path]:
    path = PRESET_DIR / f"{name}.yaml"
    if not isinstance(name, str) or name.startswith("_") or not path.is_file():
        raise _fail(
            file,
            "dram.preset",
            f"unknown DRAM preset {name!r}{_suggest(str(name), available_presets())}",
            "one of " + ", ".join(available_presets()),
        )
    data = read_yaml(path)
    _check_keys(data, PRESET_KEYS, str(path), "")
    rules_from = data.get("rules_from")
    if rules_from:
        common = read_yaml(PRESET_DIR / rules_from)
        data.setdefault("groups", {})
        data["groups"] = {**common.get("groups", {}), **data["groups"]}
        data["rules"] = list(common.get("rules", [])) + list(data.get("rules", []) or [])
    return data, path


_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|([+\-]))")


def evaluate_distance(expression: Any, timing: Mapping[str, int], file: str, path: str) -> int:
    """Evaluate ``"nCWL + nBL + nWR"``-style sums of timing names and integers."""
    if isinstance(expression, int) and not isinstance(expression, bool):
        return expression
    if not isinstance(expression, str):
        raise _fail(file, path, f"got {expression!r}", "a timing name, integer or sum of them")
    total, sign, pos, expect_term = 0, 1, 0, True
    text = expression.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise _fail(
                file,
                path,
                f"cannot parse {expression!r} at {text[pos:]!r}",
                "terms joined by + and -",
            )
        number, name, op = match.groups()
        pos = match.end()
        if expect_term and (number or name):
            if name:
                if name not in timing:
                    raise _fail(
                        file,
                        path,
                        f"unknown timing parameter {name!r} in {expression!r}"
                        f"{_suggest(name, timing)}",
                    )
                value = timing[name]
            else:
                value = int(number)
            total += sign * value
            expect_term = False
        elif not expect_term and op:
            sign = 1 if op == "+" else -1
            expect_term = True
        else:
            raise _fail(file, path, f"cannot parse {expression!r}", "terms joined by + and -")
    if expect_term:
        raise _fail(file, path, f"expression {expression!r} is incomplete")
    return total


def _expand_commands(items: Any, groups: Mapping[str, list], file: str, path: str) -> tuple:
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list) or not items:
        raise _fail(file, path, f"got {items!r}", "a non-empty list of command names or groups")
    out: list[str] = []
    for item in items:
        if item == "*":
            out.extend(COMMAND_NAMES)
        elif item in groups:
            out.extend(groups[item])
        elif item in COMMAND_NAMES:
            out.append(item)
        else:
            known = list(COMMAND_NAMES) + list(groups)
            raise _fail(
                file,
                path,
                f"unknown command {item!r}{_suggest(str(item), known)}",
                "one of " + ", ".join(known),
            )
    return tuple(dict.fromkeys(out))


def _compile_rules(
    raw_rules: Any, groups: Mapping, timing: Mapping[str, int], file: str, path: str
) -> list[TimingRule]:
    if raw_rules is None:
        return []
    if not isinstance(raw_rules, list):
        raise _fail(file, path, f"got {type(raw_rules).__name__}", "a list of rules")
    rules = []
    for i, raw in enumerate(raw_rules):
        where = f"{path}[{i}]"
        raw = _mapping(raw, file, where)
        _check_keys(raw, RULE_KEYS, file, where)
        for required in ("scope", "prev", "next", "distance"):
            if required not in raw:
                raise _fail(file, f"{where}.{required}", "missing")
        scope = _choice(raw["scope"], SCOPES, file, f"{where}.scope")
        prev = _expand_commands(raw["prev"], groups, file, f"{where}.prev")
        nxt = _expand_commands(raw["next"], groups, file, f"{where}.next")
        distance = evaluate_distance(raw["distance"], timing, file, f"{where}.distance")
        # a turnaround such as nCLREG + nBL + 2 - nCWL can come out negative: no constraint then
        distance = max(0, distance)
        window = _int(raw.get("window", 0), file, f"{where}.window", minimum=0)
        if window and scope != "channel":
            raise _fail(
                file, f"{where}.window", "rolling-window rules are channel-scoped", "scope: channel"
            )
        weights = _window_weights(raw.get("weights"), prev, window, file, f"{where}.weights")
        rules.append(TimingRule(scope, prev, nxt, distance, window, str(raw["distance"]), weights))
    return rules


def _window_weights(
    raw: Any, prev: tuple[str, ...], window: int, file: str, path: str
) -> tuple[tuple[str, int], ...]:
    """`weights: {ACT16: 4}`: window entries one `prev` command fills (1..window)."""
    if raw is None:
        return ()
    if not window:
        raise _fail(file, path, "weights apply to rolling-window rules only", "a `window: N` rule")
    raw = _mapping(raw, file, path)
    out = []
    for name, value in raw.items():
        if name not in prev:
            raise _fail(
                file,
                f"{path}.{name}",
                f"{name!r} is not a `prev` command of this rule",
                "one of " + ", ".join(prev),
            )
        weight = _int(value, file, f"{path}.{name}")
        if weight > window:
            raise _fail(file, f"{path}.{name}", f"got {weight}", f"at most the window ({window})")
        out.append((str(name), weight))
    return tuple(sorted(out))


def _resolve_timing(
    preset_timing: dict, user_timing: dict, may_be_zero: Iterable[str], file: str, preset_file: str
) -> tuple[float, dict[str, int]]:
    """Merge user timing overrides onto the preset; convert `tX_ns` to cycles (ceil)."""
    known = {k for k in preset_timing if _N_NAME.match(k)}
    merged = {k: v for k, v in preset_timing.items()}
    for key, value in user_timing.items():
        match = _T_NAME.match(key)
        if key == "tCK_ns":
            merged[key] = value
        elif match and f"n{match.group(1)}" in known:
            merged.pop(f"n{match.group(1)}", None)
            merged[key] = value
        elif key in known:
            merged.pop(f"t{key[1:]}_ns", None)
            merged[key] = value
        else:
            allowed = sorted(known) + sorted(f"t{k[1:]}_ns" for k in known) + ["tCK_ns"]
            raise _fail(
                file,
                f"dram.timing.{key}",
                f"unknown timing parameter{_suggest(key, allowed)}",
                "nNAME in cycles or tNAME_ns in nanoseconds, NAME one of "
                + ", ".join(k[1:] for k in sorted(known)),
            )
    if "tCK_ns" not in merged:
        raise _fail(preset_file, "timing.tCK_ns", "missing", "the clock period in ns")
    tck = _float(merged["tCK_ns"], file, "dram.timing.tCK_ns")
    zero_ok = set(may_be_zero)
    cycles: dict[str, int] = {}
    for key, value in merged.items():
        if key == "tCK_ns":
            continue
        minimum = 0 if key in zero_ok or f"n{key[1:-3]}" in zero_ok else 1
        if _T_NAME.match(key):
            ns = _float(value, file, f"dram.timing.{key}", positive=minimum > 0)
            if ns < 0:
                raise _fail(file, f"dram.timing.{key}", f"got {ns}", "a duration >= 0 ns")
            name = f"n{_T_NAME.match(key).group(1)}"
            cycles[name] = max(minimum, math.ceil(ns / tck - 1e-9))
        else:
            source = file if key in user_timing else preset_file
            prefix = "dram.timing" if key in user_timing else "timing"
            cycles[key] = _int(value, source, f"{prefix}.{key}", minimum=minimum)
    return tck, dict(sorted(cycles.items()))


# ---------------------------------------------------------------------------------------------
# the hardware description


# energies derived from other values when neither the preset nor the system file gives them
DERIVED_ENERGY_KEYS = ("refab_nJ", "refpb_nJ")


def refresh_rows_per_bank(rows: int, refi_ns: float, window_ms: float) -> float:
    """Rows of a bank one refresh command restores: every row once per retention window,
    with window / tREFI refresh commands reaching each bank in that time."""
    return rows * refi_ns / (window_ms * 1e6)


def _dram_energy(
    preset: dict, preset_file: str, dram_raw: dict, file: str, refresh_geometry: tuple
) -> DramEnergy | None:
    """Per-command energies: the preset's `energy:` with `dram.energy` overrides; refresh
    energies follow from the organization, tREFI and the retention window unless given."""
    base = _mapping(preset.get("energy"), preset_file, "energy")
    user = _mapping(dram_raw.get("energy"), file, "dram.energy")
    _check_keys(base, ENERGY_KEYS, preset_file, "energy")
    _check_keys(user, ENERGY_KEYS, file, "dram.energy")
    merged = {**base, **user}
    if not merged:
        return None
    values = {}
    for key in ENERGY_KEYS:
        if key in DERIVED_ENERGY_KEYS and key not in merged:
            continue
        if key not in merged and key in DramEnergy.__dataclass_fields__:
            default = DramEnergy.__dataclass_fields__[key].default
            if isinstance(default, float):
                merged[key] = default
        if key not in merged:
            raise _fail(
                file, f"dram.energy.{key}", "missing (the preset does not give it)", "a number >= 0"
            )
        source, prefix = (file, "dram.energy") if key in user else (preset_file, "energy")
        value = _float(merged[key], source, f"{prefix}.{key}", positive=False)
        if value < 0:
            raise _fail(source, f"{prefix}.{key}", f"got {value}", "a number >= 0")
        values[key] = value
    if values["refresh_window_ms"] <= 0:
        raise _fail(file, "dram.energy.refresh_window_ms", "got 0", "a retention time > 0 ms")
    banks, rows, refi_ns = refresh_geometry
    per_bank = refresh_rows_per_bank(rows, refi_ns, values["refresh_window_ms"])
    values.setdefault("refab_nJ", banks * per_bank * values["act_per_bank_nJ"])
    values.setdefault("refpb_nJ", per_bank * values["act_per_bank_nJ"])
    return DramEnergy(**values)


def resolve_hw_path(name: str | Path) -> Path:
    """A path, or a file name / stem in ./hw_configs or the repository's hw_configs/."""
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
        f"no such hardware config{_suggest(candidate.stem, known)}",
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


def build_hw(data: dict, file: str) -> HardwareConfig:
    """Validate a raw hardware mapping (already overridden) into a `HardwareConfig`."""
    _check_keys(data, TOP_KEYS, file, "")
    if "version" not in data:
        raise _fail(file, "version", "missing", f"version: {CONFIG_VERSION}")
    if data["version"] != CONFIG_VERSION:
        raise _fail(file, "version", f"got {data['version']!r}", f"version: {CONFIG_VERSION}")
    name = _str(data.get("name", Path(file.split(" ")[0]).stem), file, "name")
    description = str(data.get("description", ""))

    dram_raw = _mapping(data.get("dram"), file, "dram")
    _check_keys(dram_raw, DRAM_KEYS, file, "dram")
    if "preset" not in dram_raw:
        raise _fail(file, "dram.preset", "missing", "one of " + ", ".join(available_presets()))
    preset, preset_path = _load_preset(dram_raw["preset"], file)
    preset_file = str(preset_path)

    org_raw = _mapping(dram_raw.get("organization"), file, "dram.organization")
    _check_keys(org_raw, ORG_KEYS, file, "dram.organization")
    org_merged = {**_mapping(preset.get("organization"), preset_file, "organization"), **org_raw}
    org_values = {}
    for key in ORG_KEYS:
        if key not in org_merged:
            raise _fail(preset_file, f"organization.{key}", "missing", "an integer >= 1")
        source = file if key in org_raw else preset_file
        prefix = "dram.organization" if key in org_raw else "organization"
        org_values[key] = _int(org_merged[key], source, f"{prefix}.{key}")
    organization = Organization(**org_values)
    if organization.banks > 32:  # the engine keeps 2 bits of activation state per bank
        raise _fail(
            file,
            "dram.organization.bank_groups",
            f"{organization.banks} banks per channel",
            "at most 32 banks per channel (bank_groups x banks_per_group)",
        )

    user_timing = _mapping(dram_raw.get("timing"), file, "dram.timing")
    tck, cycles = _resolve_timing(
        _mapping(preset.get("timing"), preset_file, "timing"),
        user_timing,
        preset.get("timing_may_be_zero") or [],
        file,
        preset_file,
    )
    groups = preset.get("groups") or {}
    rules = _compile_rules(preset.get("rules"), groups, cycles, preset_file, "rules")
    rules += _compile_rules(dram_raw.get("rules_extra"), groups, cycles, file, "dram.rules_extra")

    refresh = _choice(dram_raw.get("refresh", "all_bank"), REFRESH_MODES, file, "dram.refresh")
    if refresh != "none":
        for needed in ("nREFI", "nRFC") if refresh == "all_bank" else ("nREFI", "nRFCpb"):
            if needed not in cycles:
                raise _fail(file, "dram.timing", f"refresh '{refresh}' needs {needed}")
        if refresh == "per_bank" and cycles["nREFI"] < organization.banks:
            raise _fail(file, "dram.timing.nREFI", "per-bank refresh needs nREFI >= banks")
    postpone = _int(dram_raw.get("refresh_postpone", 8), file, "dram.refresh_postpone", 0)
    pull_in = _int(dram_raw.get("refresh_pull_in", 8), file, "dram.refresh_pull_in", 0)
    for key, value in (("refresh_postpone", postpone), ("refresh_pull_in", pull_in)):
        if value > 8:
            raise _fail(
                file,
                f"dram.{key}",
                f"got {value}",
                "at most 8 refreshes (the JEDEC limit on postponed / pulled-in refreshes)",
            )
    dram = DramConfig(
        preset=str(preset.get("name", dram_raw["preset"])),
        standard=str(preset.get("standard", "")),
        channels=_int(dram_raw.get("channels", 1), file, "dram.channels"),
        organization=organization,
        tCK_ns=tck,
        timing_cycles=MappingProxyType(cycles),
        rules=tuple(rules),
        page_policy=_choice(
            dram_raw.get("page_policy", "open"), PAGE_POLICIES, file, "dram.page_policy"
        ),
        refresh=refresh,
        energy=_dram_energy(
            preset,
            preset_file,
            dram_raw,
            file,
            (organization.banks, organization.rows, cycles.get("nREFI", 0) * tck),
        ),
        refresh_postpone=postpone,
        refresh_pull_in=pull_in,
    )

    pim_raw = _mapping(data.get("pim"), file, "pim")
    _check_keys(pim_raw, PIM_KEYS, file, "pim")
    enabled = pim_raw.get("enabled", bool(pim_raw))
    if not isinstance(enabled, bool):
        raise _fail(file, "pim.enabled", f"got {enabled!r}", "true or false")
    dtype = _choice(pim_raw.get("dtype", "bf16"), PIM_DTYPES, file, "pim.dtype")
    banks_per_unit = _int(pim_raw.get("banks_per_mac_unit", 1), file, "pim.banks_per_mac_unit")
    if organization.banks % banks_per_unit:
        raise _fail(
            file,
            "pim.banks_per_mac_unit",
            f"{banks_per_unit} does not divide {organization.banks} banks",
            "a divisor of the bank count",
        )
    lanes_default = organization.access_bytes // DTYPE_BYTES[dtype]
    flags = {}
    for key, default in (
        ("adder_tree", True),
        ("mode_switch", False),
        ("activate_before_buffer_fill", True),
    ):
        flags[key] = pim_raw.get(key, default)
        if not isinstance(flags[key], bool):
            raise _fail(file, f"pim.{key}", f"got {flags[key]!r}", "true or false")
    pim = PimConfig(
        enabled=enabled,
        mac_lanes=_int(pim_raw.get("mac_lanes", lanes_default), file, "pim.mac_lanes"),
        dtype=dtype,
        banks_per_mac_unit=banks_per_unit,
        global_buffer_bytes=_int(
            pim_raw.get("global_buffer_bytes", organization.row_bytes),
            file,
            "pim.global_buffer_bytes",
        ),
        result_registers=_int(pim_raw.get("result_registers", 1), file, "pim.result_registers"),
        **flags,
    )
    if pim.mode_switch:
        if "nMODCH" not in cycles:
            raise _fail(
                file,
                "dram.timing.nMODCH",
                "pim.mode_switch needs the mode-switch time",
                "nMODCH: cycles after a TMOD before any command (AiM simulator: 32)",
            )
        rules.append(TimingRule("channel", ("TMOD",), COMMAND_NAMES, cycles["nMODCH"], 0, "nMODCH"))
        dram = dataclasses.replace(dram, rules=tuple(rules))
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
        dram = dataclasses.replace(dram, rules=tuple(rules))
    if pim.enabled and pim.global_buffer_bytes < organization.access_bytes:
        raise _fail(
            file,
            "pim.global_buffer_bytes",
            f"{pim.global_buffer_bytes} B is smaller than one column access",
            f">= {organization.access_bytes}",
        )

    asic_raw = _mapping(data.get("asic"), file, "asic")
    _check_keys(asic_raw, ASIC_KEYS, file, "asic")
    defaults = AsicConfig()
    asic_values: dict[str, Any] = {}
    for key in ASIC_FLOAT_KEYS:
        asic_values[key] = _float(asic_raw.get(key, getattr(defaults, key)), file, f"asic.{key}")
    for key in ASIC_INT_KEYS:
        minimum = 0 if key in ("pipeline_latency_cycles", "reduction_tile_rows") else 1
        asic_values[key] = _int(
            asic_raw.get(key, getattr(defaults, key)), file, f"asic.{key}", minimum=minimum
        )
    asic_values["vector_model"] = _choice(
        asic_raw.get("vector_model", defaults.vector_model),
        ("pipelined", "serial"),
        file,
        "asic.vector_model",
    )
    asic = AsicConfig(**asic_values)

    resolved = {
        "version": CONFIG_VERSION,
        "name": name,
        "description": description,
        "source": file,
        "dram": {
            "preset": dram.preset,
            "standard": dram.standard,
            "channels": dram.channels,
            "page_policy": dram.page_policy,
            "refresh": dram.refresh,
            "refresh_postpone": dram.refresh_postpone,
            "refresh_pull_in": dram.refresh_pull_in,
            "organization": org_values,
            "tCK_ns": tck,
            "timing_cycles": dict(cycles),
            "rules": [
                {
                    "scope": r.scope,
                    "prev": list(r.prev),
                    "next": list(r.next),
                    "distance": r.expression,
                    "distance_cycles": r.distance_cycles,
                    **({"window": r.window} if r.window else {}),
                    **({"weights": dict(r.weights)} if r.weights else {}),
                }
                for r in rules
            ],
        },
        "pim": {
            "enabled": pim.enabled,
            "mac_lanes": pim.mac_lanes,
            "dtype": pim.dtype,
            "banks_per_mac_unit": pim.banks_per_mac_unit,
            "global_buffer_bytes": pim.global_buffer_bytes,
            "adder_tree": pim.adder_tree,
            "result_registers": pim.result_registers,
            "mode_switch": pim.mode_switch,
            "activate_before_buffer_fill": pim.activate_before_buffer_fill,
        },
        "dram_energy": ({k: getattr(dram.energy, k) for k in ENERGY_KEYS} if dram.energy else None),
        "asic": dict(asic_values),
    }
    digest_source = {k: v for k, v in resolved.items() if k != "source"}
    sha = hashlib.sha256(json.dumps(digest_source, sort_keys=True).encode()).hexdigest()
    return HardwareConfig(
        name=name,
        description=description,
        source=file,
        dram=dram,
        pim=pim,
        asic=asic,
        resolved=MappingProxyType(resolved),
        sha256=sha,
    )


def dump_resolved(hw: HardwareConfig, path: Path) -> None:
    """Write the fully resolved configuration (provenance) atomically as YAML."""
    from pimsim.core.io import atomic_write_text

    header = f"# fully resolved pimsim hardware description; sha256 {hw.sha256}\n"
    atomic_write_text(path, header + yaml.safe_dump(hw.resolved_dict(), sort_keys=False))
