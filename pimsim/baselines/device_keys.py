"""The keys of a baseline device entry (presets and baseline files) and their value checks:
which keys hold numbers for each kind, what a runtime may set, and the range of each."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pimsim.core.errors import PimsimInputError

if TYPE_CHECKING:
    from pimsim.baselines.baseline_device import BaselineDevice

KINDS = ("gpu", "cpu")

# The per-operator fixed time is named after what it is on each kind of device.
OVERHEAD_KEY = {"gpu": "kernel_launch_overhead_us", "cpu": "op_dispatch_overhead_us"}

# YAML keys holding numbers, per kind (the overhead key differs).
_COMMON_NUMBERS = (
    "peak_flops_TFLOPS",
    "memory_bandwidth_GBps",
    "tdp_W",
    "idle_W",
    "achievable_compute_fraction",
    "achievable_bandwidth_fraction",
)
_FRACTIONS = ("achievable_compute_fraction", "achievable_bandwidth_fraction")
_OPTIONAL = ("storage_bytes_per_element", "step_overhead_us", "memory_GB")
_INFO = ("description", "aliases", "peak_derivation", "runtimes", "default_runtime")
# what a runtime may set (on top of the device's values), and its provenance text
RUNTIME_KEYS = (
    "achievable_compute_fraction",
    "achievable_bandwidth_fraction",
    "step_overhead_us",
    "idle_W",
    "storage_bytes_per_element",  # a framework's element width (fp32 PyTorch on a CPU)
)
RUNTIME_INFO = ("source", "description")


# the largest value a key may take, by its unit suffix: far beyond any machine (an H200 is
# 989 TFLOPS, 4.8 TB/s, 700 W), so a larger one is a typo refused before any work
_CEILINGS = {"TFLOPS": 1e6, "GBps": 1e7, "W": 1e6, "us": 1e7, "element": 64.0, "GB": 1e6}


def number_keys(kind: str) -> tuple[str, ...]:
    """YAML keys with numeric values for a device of `kind` (also the allowed override keys)."""
    return (*_COMMON_NUMBERS, OVERHEAD_KEY[kind], *_OPTIONAL)


def runtime_keys(kind: str) -> tuple[str, ...]:
    """Numeric keys a runtime entry may set for a device of `kind`."""
    return (*RUNTIME_KEYS, OVERHEAD_KEY[kind])


def _number(value: Any, *, file: str, key: str, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PimsimInputError(
            f"expected a number, got {value!r}",
            file=file,
            key=key,
            expected="an integer" if integer else "a number",
        )
    if not math.isfinite(value):
        raise PimsimInputError(f"expected a finite number, got {value!r}", file=file, key=key)
    if integer and int(value) != value:
        raise PimsimInputError(f"expected an integer, got {value!r}", file=file, key=key)
    return int(value) if integer else float(value)


def _storage_bytes(value: Any, *, where: str, path: str) -> int | None:
    """`storage_bytes_per_element`: null or an element width in bytes."""
    if value is None:
        return None
    value = _number(value, file=where, key=path, integer=True)
    if value not in (1, 2, 4, 8):
        raise PimsimInputError(f"got {value}", file=where, key=path, expected="null, 1, 2, 4 or 8")
    return value


def _checked_number(kind: str, key: str, value: Any, *, where: str, path: str) -> float:
    """A numeric key's value in its range: fractions in (0, 1], idle power and overheads
    >= 0, everything else > 0."""
    value = _number(value, file=where, key=path)
    ceiling = _CEILINGS.get(key.rsplit("_", 1)[-1], 1e9)
    if not math.isfinite(value) or abs(value) > ceiling:
        raise PimsimInputError(
            f"got {value:g}: beyond any {kind}", file=where, key=path, expected=f"<= {ceiling:g}"
        )
    if key in _FRACTIONS:
        if not 0.0 < value <= 1.0:
            raise PimsimInputError(f"got {value}", file=where, key=path, expected="0 < f <= 1")
    elif key in ("idle_W", OVERHEAD_KEY[kind], "step_overhead_us"):
        if value < 0.0:
            raise PimsimInputError(f"got {value}", file=where, key=path, expected=">= 0")
    elif value <= 0.0:
        raise PimsimInputError(f"got {value}", file=where, key=path, expected="> 0")
    return value


def _fields_from(
    kind: str, raw: Mapping[str, Any], *, where: str, key_prefix: str, partial: bool
) -> dict[str, Any]:
    """Dataclass fields from the numeric YAML keys in `raw`, each range-checked."""
    fields: dict[str, Any] = {}
    for key in number_keys(kind):
        path = f"{key_prefix}.{key}"
        if key not in raw:
            if partial or key in _OPTIONAL:
                continue
            raise PimsimInputError("missing key", file=where, key=path, expected="a number")
        if key == "storage_bytes_per_element":
            fields[key] = _storage_bytes(raw[key], where=where, path=path)
            continue
        value = _checked_number(kind, key, raw[key], where=where, path=path)
        fields["overhead_us" if key == OVERHEAD_KEY[kind] else key] = value
    unknown = sorted(set(raw) - set(number_keys(kind)))
    if partial and unknown:
        allowed = ", ".join(number_keys(kind))
        raise PimsimInputError(
            f"unknown {kind} baseline key {unknown[0]!r}"
            + _suggestion(unknown[0], number_keys(kind)),
            file=where,
            key=f"{key_prefix}.{unknown[0]}",
            expected="one of " + allowed,
        )
    return fields


def _suggestion(name: str, allowed) -> str:
    from pimsim.core.names import did_you_mean

    return did_you_mean(str(name), allowed)


def _check_consistency(device: BaselineDevice, *, where: str, key_prefix: str) -> None:
    if device.idle_W > device.tdp_W:
        raise PimsimInputError(
            f"idle_W {device.idle_W} exceeds tdp_W {device.tdp_W}",
            file=where,
            key=f"{key_prefix}.idle_W",
            expected="idle_W <= tdp_W",
        )
