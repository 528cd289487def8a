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
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from pimsim.core.errors import PimsimInputError
from pimsim.core.io import read_yaml

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets" / "baselines"
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
_OPTIONAL = ("storage_bytes_per_element", "step_overhead_us")
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


def number_keys(kind: str) -> tuple[str, ...]:
    """YAML keys with numeric values for a device of `kind` (also the allowed override keys)."""
    return (*_COMMON_NUMBERS, OVERHEAD_KEY[kind], *_OPTIONAL)


def runtime_keys(kind: str) -> tuple[str, ...]:
    """Numeric keys a runtime entry may set for a device of `kind`."""
    return (*RUNTIME_KEYS, OVERHEAD_KEY[kind])


def normalize_name(name: str) -> str:
    """Lower case, separators dropped: "Xeon_Gold 6154" -> "xeongold6154"."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@dataclass(frozen=True)
class BaselineDevice:
    """A GPU or CPU as the baseline model sees it (units in the field names)."""

    name: str
    kind: str  # "gpu" | "cpu"
    description: str
    peak_flops_TFLOPS: float
    memory_bandwidth_GBps: float
    tdp_W: float
    idle_W: float
    achievable_compute_fraction: float
    achievable_bandwidth_fraction: float
    overhead_us: float  # kernel launch (GPU) or per-op dispatch (CPU)
    storage_bytes_per_element: int | None = None  # None: the operator table's dtype
    aliases: tuple[str, ...] = ()
    peak_derivation: tuple[tuple[str, float], ...] = ()
    step_overhead_us: float = 0.0  # once per model step (sampling, the Python loop, ...)
    runtime: str = ""  # the software runtime these values describe ("" = the device's own)
    runtime_source: str = ""  # where the runtime's values come from
    source_file: str = ""  # the preset or baseline file it was read from
    runtimes: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()  # (name, raw entry)
    default_runtime: str = ""

    @property
    def peak_flops(self) -> float:
        """FLOP/s."""
        return self.peak_flops_TFLOPS * 1e12

    @property
    def bandwidth_Bps(self) -> float:
        """Bytes/s."""
        return self.memory_bandwidth_GBps * 1e9

    @property
    def overhead_s(self) -> float:
        return self.overhead_us * 1e-6

    @property
    def step_overhead_s(self) -> float:
        return self.step_overhead_us * 1e-6

    @property
    def label(self) -> str:
        """The device and its runtime, as named on the command line ("H200-SXM:graph")."""
        return f"{self.name}:{self.runtime}" if self.runtime else self.name

    def runtime_names(self) -> list[str]:
        return [name for name, _ in self.runtimes]

    def with_runtime(self, runtime: str | None) -> BaselineDevice:
        """The device as run by `runtime` (None: the preset's default runtime, if any)."""
        if runtime is None:
            runtime = self.default_runtime
        if not runtime:
            return self
        entries = dict(self.runtimes)
        if runtime not in entries:
            known = ", ".join(entries) or "none"
            raise PimsimInputError(
                f"{self.name} has no runtime {runtime!r} (runtimes: {known})",
                file=self.source_file or None,
                key=f"{self.kind}:{runtime}",
                expected=f"{self.name}:RUNTIME with RUNTIME one of {known}",
            )
        raw = dict(entries[runtime])
        where = self.source_file or f"runtime {runtime} of {self.name}"
        prefix = f"devices.{self.name}.runtimes.{runtime}"
        numbers = {k: v for k, v in raw.items() if k not in RUNTIME_INFO}
        fields = _fields_from(self.kind, numbers, where=where, key_prefix=prefix, partial=True)
        device = replace(self, **fields, runtime=runtime, runtime_source=str(raw.get("source", "")))
        _check_consistency(device, where=where, key_prefix=prefix)
        return device

    @property
    def overhead_key(self) -> str:
        return OVERHEAD_KEY[self.kind]

    def assumptions(self) -> dict[str, Any]:
        """The modelling inputs, keyed as in the preset YAML (for reports and provenance)."""
        out: dict[str, Any] = {
            "peak_flops_TFLOPS": self.peak_flops_TFLOPS,
            "memory_bandwidth_GBps": self.memory_bandwidth_GBps,
            "tdp_W": self.tdp_W,
            "idle_W": self.idle_W,
            "achievable_compute_fraction": self.achievable_compute_fraction,
            "achievable_bandwidth_fraction": self.achievable_bandwidth_fraction,
            self.overhead_key: self.overhead_us,
            "storage_bytes_per_element": self.storage_bytes_per_element,
            "step_overhead_us": self.step_overhead_us,
            "runtime": self.runtime,
            "runtime_source": self.runtime_source,
            "execution": "one kernel per operator, no fusion, in table order",
            "time": "max(flops / (peak x compute_fraction), bytes / (bandwidth x "
            "bandwidth_fraction)) + overhead, per operator; + step_overhead per model step",
            "energy": "idle_W x time + (tdp_W - idle_W) x utilisation x time, utilisation = "
            "roofline time / time",
            "preset_file": _relative(self.source_file or preset_path(self.kind)),
        }
        return out

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> BaselineDevice:
        """A copy with some YAML keys replaced (`{"kernel_launch_overhead_us": 20}`)."""
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise PimsimInputError(
                f"overrides must be a mapping, got {type(overrides).__name__}",
                key=f"{self.kind}",
                expected="a mapping of preset keys to numbers",
            )
        allowed = number_keys(self.kind)
        values: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in allowed:
                raise PimsimInputError(
                    f"unknown {self.kind} baseline key {key!r}" + _suggestion(key, allowed),
                    key=f"{self.kind}.{key}",
                    expected="one of " + ", ".join(allowed),
                )
            values[key] = value
        where = f"overrides for {self.name}"
        fields = _fields_from(self.kind, values, where=where, key_prefix=self.kind, partial=True)
        checked = replace(self, **fields)
        _check_consistency(checked, where=where, key_prefix=self.kind)
        return checked


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
        value = raw[key]
        if key == "storage_bytes_per_element":
            if value is None:
                fields[key] = None
                continue
            value = _number(value, file=where, key=path, integer=True)
            if value not in (1, 2, 4, 8):
                raise PimsimInputError(
                    f"got {value}", file=where, key=path, expected="null, 1, 2, 4 or 8"
                )
            fields[key] = value
            continue
        value = _number(value, file=where, key=path)
        if key in _FRACTIONS:
            if not 0.0 < value <= 1.0:
                raise PimsimInputError(f"got {value}", file=where, key=path, expected="0 < f <= 1")
        elif key in ("idle_W", OVERHEAD_KEY[kind], "step_overhead_us"):
            if value < 0.0:
                raise PimsimInputError(f"got {value}", file=where, key=path, expected=">= 0")
        elif value <= 0.0:
            raise PimsimInputError(f"got {value}", file=where, key=path, expected="> 0")
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
    import difflib

    close = difflib.get_close_matches(str(name), list(allowed), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def _check_consistency(device: BaselineDevice, *, where: str, key_prefix: str) -> None:
    if device.idle_W > device.tdp_W:
        raise PimsimInputError(
            f"idle_W {device.idle_W} exceeds tdp_W {device.tdp_W}",
            file=where,
            key=f"{key_prefix}.idle_W",
            expected="idle_W <= tdp_W",
        )


def _device_from(kind: str, name: str, raw: Any, path: str, prefix: str) -> BaselineDevice:
    """One device entry (a preset's or a baseline file's), every key checked."""
    if not isinstance(raw, dict):
        raise PimsimInputError("expected a mapping", file=path, key=prefix)
    allowed = set(number_keys(kind)) | set(_INFO)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PimsimInputError(
            f"unknown key {unknown[0]!r}" + _suggestion(unknown[0], sorted(allowed)),
            file=path,
            key=f"{prefix}.{unknown[0]}",
            expected="one of " + ", ".join(sorted(allowed)),
        )
    fields = _fields_from(kind, raw, where=path, key_prefix=prefix, partial=False)
    aliases = tuple(str(a) for a in raw.get("aliases") or ())
    derivation = raw.get("peak_derivation") or {}
    if not isinstance(derivation, dict):
        raise PimsimInputError("expected a mapping", file=path, key=f"{prefix}.peak_derivation")
    runtimes = _runtimes_from(kind, raw.get("runtimes") or {}, path, prefix)
    default_runtime = str(raw.get("default_runtime") or "")
    if default_runtime and default_runtime not in dict(runtimes):
        raise PimsimInputError(
            f"default runtime {default_runtime!r} is not among its runtimes",
            file=path,
            key=f"{prefix}.default_runtime",
            expected="one of " + (", ".join(dict(runtimes)) or "its runtimes"),
        )
    device = BaselineDevice(
        name=name,
        kind=kind,
        description=str(raw.get("description", "")),
        aliases=aliases,
        peak_derivation=tuple(
            (str(k), _number(v, file=path, key=f"{prefix}.peak_derivation.{k}"))
            for k, v in derivation.items()
        ),
        source_file=path,
        runtimes=runtimes,
        default_runtime=default_runtime,
        **fields,
    )
    _check_consistency(device, where=path, key_prefix=prefix)
    for runtime in device.runtime_names():  # each runtime's values are checked up front
        device.with_runtime(runtime)
    return device


def _runtimes_from(kind: str, raw: Any, path: str, prefix: str) -> tuple:
    if not isinstance(raw, dict):
        raise PimsimInputError(
            "expected a mapping of runtime name -> values", file=path, key=f"{prefix}.runtimes"
        )
    allowed = (*runtime_keys(kind), *RUNTIME_INFO)
    out = []
    for name, entry in raw.items():
        where = f"{prefix}.runtimes.{name}"
        if not isinstance(entry, dict):
            raise PimsimInputError("expected a mapping", file=path, key=where)
        for key in entry:
            if key not in allowed:
                raise PimsimInputError(
                    f"unknown runtime key {key!r}" + _suggestion(key, allowed),
                    file=path,
                    key=f"{where}.{key}",
                    expected="one of " + ", ".join(allowed),
                )
        out.append((str(name), tuple(entry.items())))
    return tuple(out)


@cache
def _catalog(kind: str) -> tuple[dict[str, BaselineDevice], dict[str, str], str]:
    """(devices by canonical name, normalized name or alias -> canonical name, default name)."""
    path = preset_path(kind)
    data = read_yaml(path)
    if data.get("version") != 1:
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
    if data.get("version") != 1:
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
