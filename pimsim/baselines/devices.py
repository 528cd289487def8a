"""Baseline devices (GPUs, CPUs): presets in `pimsim/presets/baselines/{gpus,cpus}.yaml`.

`load_device("gpu", "T4")` returns a frozen `BaselineDevice`. Names match case-insensitively and
ignore separators ("xeon_gold_6154" = "Xeon-Gold-6154"); each preset may list aliases. A name
may carry a software runtime, `"h200:eager"`: how the model is run on the device (`graph`: a
whole decode step captured once as a CUDA graph; `eager`: plain PyTorch, each kernel launched
from Python; `hf`: Hugging Face transformers' model code), each with its own per-kernel and
per-step overheads and achievable fractions, with their sources, in the preset (`runtimes:`;
`default_runtime:` when none is named). A name may also be the path of a baseline YAML file that
describes a device of its own (`version: 1`, `kind`, `name`, and the keys of a preset entry).
Unknown names, unknown keys and impossible values raise `PimsimInputError` naming the file and
key path.

This module is the preset catalogue and the lookup by name; the device record is in
`baseline_device`, the entry keys and their checks in `device_keys`, and the reading of one
entry in `device_entry`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pimsim.baselines.baseline_device import BaselineDevice
from pimsim.baselines.device_entry import _device_from
from pimsim.baselines.device_keys import (
    KINDS,
    OVERHEAD_KEY,
    RUNTIME_INFO,
    RUNTIME_KEYS,
    _suggestion,
    number_keys,
    runtime_keys,
)
from pimsim.core.errors import PimsimInputError
from pimsim.core.io import read_yaml

__all__ = [
    "KINDS",
    "OVERHEAD_KEY",
    "PRESET_DIR",
    "RUNTIME_INFO",
    "RUNTIME_KEYS",
    "BaselineDevice",
    "default_device",
    "known_devices",
    "load_device",
    "load_device_file",
    "normalize_name",
    "number_keys",
    "preset_path",
    "runtime_keys",
    "split_runtime",
]

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets" / "baselines"


def normalize_name(name: str) -> str:
    """Lower case, separators dropped: "Xeon_Gold 6154" -> "xeongold6154"."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _relative(path: str | Path) -> str:
    """A path as reports show it: relative to the package or the working directory."""
    path = Path(path).resolve()
    for base in (PRESET_DIR.parents[1], Path.cwd()):
        try:
            return str(path.relative_to(base))
        except ValueError:
            continue
    return path.name


def preset_path(kind: str) -> Path:
    return PRESET_DIR / f"{_check_kind(kind)}s.yaml"


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise PimsimInputError(
            f"unknown baseline kind {kind!r}", key="kind", expected="'gpu' or 'cpu'"
        )
    return kind


@cache
def _catalog(kind: str) -> tuple[dict[str, BaselineDevice], dict[str, str], str]:
    """(devices by canonical name, normalized name or alias -> canonical name, default name)."""
    path = preset_path(kind)
    data = read_yaml(path)
    if data.get("version") != 1 or isinstance(data.get("version"), bool):
        raise PimsimInputError(
            f"unsupported version {data.get('version')!r}", file=path, key="version", expected="1"
        )
    if data.get("kind") != kind:
        raise PimsimInputError(f"got {data.get('kind')!r}", file=path, key="kind", expected=kind)
    raw_devices = data.get("devices")
    if not isinstance(raw_devices, dict) or not raw_devices:
        raise PimsimInputError(
            "no devices", file=path, key="devices", expected="a mapping of name -> device"
        )
    devices: dict[str, BaselineDevice] = {}
    index: dict[str, str] = {}
    for name, raw in raw_devices.items():
        name = str(name)
        prefix = f"devices.{name}"
        device = _device_from(kind, name, raw, str(path), prefix)
        devices[name] = device
        for label in (name, *device.aliases):
            norm = normalize_name(label)
            if index.get(norm, name) != name:
                raise PimsimInputError(
                    f"name or alias {label!r} also names {index[norm]!r}",
                    file=path,
                    key=f"{prefix}.aliases",
                )
            index[norm] = name
    default = str(data.get("default", next(iter(devices))))
    if default not in devices:
        raise PimsimInputError(
            f"default {default!r} is not a device",
            file=path,
            key="default",
            expected="one of " + ", ".join(devices),
        )
    return devices, index, default


def load_device_file(kind: str, path: str | Path) -> BaselineDevice:
    """A device described by a baseline YAML file: `version: 1`, `kind`, `name`, then the keys
    of a preset entry (peak, bandwidth, power, fractions, overhead, optional runtimes)."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise PimsimInputError("expected a mapping", file=path, expected="a baseline device")
    if data.get("version") != 1 or isinstance(data.get("version"), bool):
        raise PimsimInputError(
            f"got {data.get('version')!r}", file=path, key="version", expected="version: 1"
        )
    if data.get("kind") != kind:
        raise PimsimInputError(
            f"got {data.get('kind')!r}", file=path, key="kind", expected=f"kind: {kind}"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise PimsimInputError(f"got {name!r}", file=path, key="name", expected="a device name")
    raw = {k: v for k, v in data.items() if k not in ("version", "kind", "name")}
    return _device_from(kind, name, raw, str(path), "")


def known_devices(kind: str) -> list[str]:
    """Canonical preset names of `kind`, in file order."""
    return list(_catalog(_check_kind(kind))[0])


def default_device(kind: str) -> str:
    """The preset used when none is named: GPU "T4", CPU "Xeon-Gold-6154" (PIM-GPT's baselines)."""
    return _catalog(_check_kind(kind))[2]


def split_runtime(name: str) -> tuple[str, str | None]:
    """ "h200:eager" -> ("h200", "eager"); "h200" -> ("h200", None)."""
    base, sep, runtime = str(name).rpartition(":")
    if not sep or not base or "/" in runtime or runtime.endswith((".yaml", ".yml")):
        return str(name), None
    return base, runtime


def load_device(
    kind: str, name: str | None = None, overrides: Mapping[str, Any] | None = None
) -> BaselineDevice:
    """The preset `name` of `kind` ("gpu" | "cpu") as run by a runtime, with overrides.

    `name`: a preset name or alias, or a baseline YAML file's path, optionally followed by
    `:RUNTIME` (without one, the preset's default runtime); None means the default preset.
    Matching is case-insensitive and ignores separators. An unknown name raises
    `PimsimInputError` listing the known ones. `overrides` replace preset keys after the
    runtime's (`{"kernel_launch_overhead_us": 20}`).
    """
    devices, index, default = _catalog(_check_kind(kind))
    base, runtime = split_runtime(default if name is None else name)
    if base.endswith((".yaml", ".yml")) or Path(base).is_file():
        if not Path(base).is_file():
            raise PimsimInputError("no such baseline file", file=base, key=kind)
        device = load_device_file(kind, base)
    else:
        canonical = index.get(normalize_name(base))
        if canonical is None:
            raise PimsimInputError(
                f"unknown {kind.upper()} baseline {base!r}"
                + _suggestion(base, list(devices))
                + f"; known {kind.upper()}s: "
                + ", ".join(devices),
                file=preset_path(kind),
                key=kind,
                expected="one of " + ", ".join(devices) + " (or a baseline YAML file)",
            )
        device = devices[canonical]
    return device.with_runtime(runtime).with_overrides(overrides)
