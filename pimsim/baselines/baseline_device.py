"""The baseline device as the model sees it: `BaselineDevice`, a frozen record of one GPU or
CPU preset (or baseline file) with its software runtimes, and the copies a runtime or
overrides make of it (their values checked as the preset's are)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pimsim.baselines.device_keys import (
    OVERHEAD_KEY,
    RUNTIME_INFO,
    _check_consistency,
    _fields_from,
    _suggestion,
    number_keys,
)
from pimsim.core.errors import PimsimInputError


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
    memory_GB: float | None = None  # device memory (1e9 B); None: not checked (a host's RAM)

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
        from pimsim.baselines import devices  # (the preset catalogue imports this module)

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
            "preset_file": devices._relative(self.source_file or devices.preset_path(self.kind)),
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
