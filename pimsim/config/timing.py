"""DRAM timing: user overrides onto the preset's parameters (`tX_ns` -> cycles), distance
expressions such as ``"nCWL + nBL + nWR"``, and the preset's rules compiled to `TimingRule`s."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pimsim.config.fields import as_choice, as_float, as_int, as_mapping, check_keys, fail, suggest
from pimsim.config.schema import SCOPES, TimingRule
from pimsim.core.commands import COMMAND_NAMES

MAX_TIMING_CYCLES = 1 << 24  # 16.7 ms at 1 GHz; the longest real parameter (tREFI) is ~4 us
TCK_RANGE_NS = (0.05, 100.0)  # 20 GHz .. 10 MHz: beyond any DRAM interface either way
RULE_KEYS = ("scope", "prev", "next", "distance", "window", "weights")

_N_NAME = re.compile(r"^n[A-Za-z0-9]+$")
_T_NAME = re.compile(r"^t([A-Za-z0-9]+)_ns$")
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|([+\-]))")


# ---------------------------------------------------------------------------------------------
# timing parameters


def resolve_timing(
    preset_timing: dict, user_timing: dict, may_be_zero: Iterable[str], file: str, preset_file: str
) -> tuple[float, dict[str, int]]:
    """Merge user timing overrides onto the preset; convert `tX_ns` to cycles (ceil)."""
    merged = _merge_timing(preset_timing, user_timing, file)
    if "tCK_ns" not in merged:
        raise fail(preset_file, "timing.tCK_ns", "missing", "the clock period in ns")
    tck = as_float(merged["tCK_ns"], file, "dram.timing.tCK_ns")
    if not TCK_RANGE_NS[0] <= tck <= TCK_RANGE_NS[1]:
        low, high = TCK_RANGE_NS
        raise fail(
            file, "dram.timing.tCK_ns", f"got {tck:g}", f"a DRAM clock period {low}..{high} ns"
        )
    zero_ok = set(may_be_zero)
    cycles: dict[str, int] = {}
    for key, value in merged.items():
        if key == "tCK_ns":
            continue
        minimum = 0 if key in zero_ok or f"n{key[1:-3]}" in zero_ok else 1
        if _T_NAME.match(key):
            name = f"n{_T_NAME.match(key).group(1)}"
            cycles[name] = _ns_to_cycles(value, tck, minimum, file, f"dram.timing.{key}")
        else:
            source = file if key in user_timing else preset_file
            prefix = "dram.timing" if key in user_timing else "timing"
            cycles[key] = as_int(
                value, source, f"{prefix}.{key}", minimum=minimum, maximum=MAX_TIMING_CYCLES
            )
    return tck, dict(sorted(cycles.items()))


def _merge_timing(preset_timing: dict, user_timing: dict, file: str) -> dict:
    """The preset's timing with the user's: `tX_ns` replaces `nX` and the other way round."""
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
            raise fail(
                file,
                f"dram.timing.{key}",
                f"unknown timing parameter{suggest(key, allowed)}",
                "nNAME in cycles or tNAME_ns in nanoseconds, NAME one of "
                + ", ".join(k[1:] for k in sorted(known)),
            )
    return merged


def _ns_to_cycles(value: Any, tck: float, minimum: int, file: str, path: str) -> int:
    ns = as_float(value, file, path, positive=minimum > 0)
    if ns < 0:
        raise fail(file, path, f"got {ns}", "a duration >= 0 ns")
    cycles = ns / tck - 1e-9
    if not cycles <= MAX_TIMING_CYCLES:  # (also catches inf from a tiny tCK_ns)
        raise fail(
            file,
            path,
            f"{ns} ns is {cycles:.3g} cycles: too long",
            f"<= {MAX_TIMING_CYCLES} cycles",
        )
    return max(minimum, math.ceil(cycles))


# ---------------------------------------------------------------------------------------------
# distance expressions


def evaluate_distance(expression: Any, timing: Mapping[str, int], file: str, path: str) -> int:
    """Evaluate ``"nCWL + nBL + nWR"``-style sums of timing names and integers."""
    if isinstance(expression, int) and not isinstance(expression, bool):
        return expression
    if not isinstance(expression, str):
        raise fail(file, path, f"got {expression!r}", "a timing name, integer or sum of them")
    total, sign, pos, expect_term = 0, 1, 0, True
    text = expression.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise fail(
                file,
                path,
                f"cannot parse {expression!r} at {text[pos:]!r}",
                "terms joined by + and -",
            )
        number, name, op = match.groups()
        pos = match.end()
        if expect_term and (number or name):
            total += sign * _term(number, name, expression, timing, file, path)
            expect_term = False
        elif not expect_term and op:
            sign = 1 if op == "+" else -1
            expect_term = True
        else:
            raise fail(file, path, f"cannot parse {expression!r}", "terms joined by + and -")
    if expect_term:
        raise fail(file, path, f"expression {expression!r} is incomplete")
    return total


def _term(
    number: str | None,
    name: str | None,
    expression: str,
    timing: Mapping[str, int],
    file: str,
    path: str,
) -> int:
    """One term of a distance: an integer, or a timing parameter's cycles."""
    if not name:
        return int(number)
    if name not in timing:
        raise fail(
            file,
            path,
            f"unknown timing parameter {name!r} in {expression!r}{suggest(name, timing)}",
        )
    return timing[name]


# ---------------------------------------------------------------------------------------------
# timing rules


def compile_rules(
    raw_rules: Any, groups: Mapping, timing: Mapping[str, int], file: str, path: str
) -> list[TimingRule]:
    if raw_rules is None:
        return []
    if not isinstance(raw_rules, list):
        raise fail(file, path, f"got {type(raw_rules).__name__}", "a list of rules")
    return [
        _compile_rule(raw, groups, timing, file, f"{path}[{i}]") for i, raw in enumerate(raw_rules)
    ]


def _compile_rule(
    raw: Any, groups: Mapping, timing: Mapping[str, int], file: str, where: str
) -> TimingRule:
    raw = as_mapping(raw, file, where)
    check_keys(raw, RULE_KEYS, file, where)
    for required in ("scope", "prev", "next", "distance"):
        if required not in raw:
            raise fail(file, f"{where}.{required}", "missing")
    scope = as_choice(raw["scope"], SCOPES, file, f"{where}.scope")
    prev = _expand_commands(raw["prev"], groups, file, f"{where}.prev")
    nxt = _expand_commands(raw["next"], groups, file, f"{where}.next")
    distance = evaluate_distance(raw["distance"], timing, file, f"{where}.distance")
    # a turnaround such as nCLREG + nBL + 2 - nCWL can come out negative: no constraint then
    distance = max(0, distance)
    window = as_int(raw.get("window", 0), file, f"{where}.window", minimum=0)
    if window and scope != "channel":
        raise fail(
            file, f"{where}.window", "rolling-window rules are channel-scoped", "scope: channel"
        )
    weights = _window_weights(raw.get("weights"), prev, window, file, f"{where}.weights")
    return TimingRule(scope, prev, nxt, distance, window, str(raw["distance"]), weights)


def _expand_commands(items: Any, groups: Mapping[str, list], file: str, path: str) -> tuple:
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list) or not items:
        raise fail(file, path, f"got {items!r}", "a non-empty list of command names or groups")
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
            raise fail(
                file,
                path,
                f"unknown command {item!r}{suggest(str(item), known)}",
                "one of " + ", ".join(known),
            )
    return tuple(dict.fromkeys(out))


def _window_weights(
    raw: Any, prev: tuple[str, ...], window: int, file: str, path: str
) -> tuple[tuple[str, int], ...]:
    """`weights: {ACT16: 4}`: window entries one `prev` command fills (1..window)."""
    if raw is None:
        return ()
    if not window:
        raise fail(file, path, "weights apply to rolling-window rules only", "a `window: N` rule")
    raw = as_mapping(raw, file, path)
    out = []
    for name, value in raw.items():
        if name not in prev:
            raise fail(
                file,
                f"{path}.{name}",
                f"{name!r} is not a `prev` command of this rule",
                "one of " + ", ".join(prev),
            )
        weight = as_int(value, file, f"{path}.{name}")
        if weight > window:
            raise fail(file, f"{path}.{name}", f"got {weight}", f"at most the window ({window})")
        out.append((str(name), weight))
    return tuple(sorted(out))
