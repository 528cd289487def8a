"""Checking raw YAML values, and `--set key.path=value` overrides.

Every problem is a `PimsimInputError` naming the file, the key path and what was expected; the
helpers here word those messages, so every section words them alike.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from pimsim.core.errors import PimsimInputError
from pimsim.core.names import did_you_mean


def fail(file: str, key: str, message: str, expected: str | None = None) -> PimsimInputError:
    return PimsimInputError(message, file=file, key=key, expected=expected)


def suggest(name: str, allowed: Iterable[str]) -> str:
    return did_you_mean(name, allowed)


def check_keys(mapping: Mapping, allowed: Iterable[str], file: str, path: str) -> None:
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise fail(
                file,
                where,
                f"unknown key{suggest(str(key), allowed)}",
                "one of " + ", ".join(allowed),
            )


def as_mapping(value: Any, file: str, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail(file, path, f"got {type(value).__name__} {value!r}", "a mapping")
    return dict(value)


# the largest integer and number a hardware file may give (no real value comes near: the kernels'
# cycle counters are int64 and a "far past" sentinel is -2**40)
MAX_INT = 1 << 40
MAX_NUMBER = 1e15


def as_int(value: Any, file: str, path: str, minimum: int = 1, maximum: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(file, path, f"got {value!r}", f"an integer >= {minimum}")
    if value < minimum:
        raise fail(file, path, f"got {value}", f"an integer >= {minimum}")
    if value > maximum:
        raise fail(file, path, f"got {value}: too large", f"an integer <= {maximum}")
    return int(value)


def as_float(value: Any, file: str, path: str, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise fail(file, path, f"got {value!r}", "a finite number")
    if positive and value <= 0:
        raise fail(file, path, f"got {value}", "a number > 0")
    if abs(value) > MAX_NUMBER:
        raise fail(
            file, path, f"got {value}: too large", f"a number of magnitude <= {MAX_NUMBER:g}"
        )
    return float(value)


def as_choice(value: Any, choices: Iterable[str], file: str, path: str) -> str:
    choices = list(choices)
    if value not in choices:
        raise fail(file, path, f"got {value!r}", "one of " + ", ".join(choices))
    return str(value)


def as_str(value: Any, file: str, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise fail(file, path, f"got {value!r}", "a non-empty string")
    return value


def as_bool(value: Any, file: str, path: str) -> bool:
    if not isinstance(value, bool):
        raise fail(file, path, f"got {value!r}", "true or false")
    return value


def deep_merge(base: dict, override: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ---------------------------------------------------------------------------------------------
# what the schema says about a section's fields


def field_names(section: type) -> tuple[str, ...]:
    """A schema dataclass's fields, in declaration order (a section's YAML keys)."""
    return tuple(f.name for f in dataclasses.fields(section))


def schema_field(section: type, name: str) -> dataclasses.Field:
    return section.__dataclass_fields__[name]


def field_default(section: type, name: str) -> Any:
    return schema_field(section, name).default


def field_choices(section: type, name: str) -> tuple[str, ...]:
    return tuple(schema_field(section, name).metadata["choices"])


def field_minimum(section: type, name: str, default: int = 1) -> int:
    return schema_field(section, name).metadata.get("minimum", default)


def names_of_type(section: type, type_name: str) -> tuple[str, ...]:
    """The fields declared `type_name` ("int", "float" ...), in declaration order."""
    return tuple(f.name for f in dataclasses.fields(section) if f.type == type_name)


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
                raise fail(file, f"--set {key}", f"'{where}' is a value, not a section")
            node = child
        node[parts[-1]] = value
    return out
