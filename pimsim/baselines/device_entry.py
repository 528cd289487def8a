"""One baseline device entry, a preset's or a baseline file's, read into a `BaselineDevice`:
every key checked, its runtimes listed and each runtime's values checked up front."""

from __future__ import annotations

from typing import Any

from pimsim.baselines.baseline_device import BaselineDevice
from pimsim.baselines.device_keys import (
    _INFO,
    RUNTIME_INFO,
    _check_consistency,
    _fields_from,
    _number,
    _suggestion,
    number_keys,
    runtime_keys,
)
from pimsim.core.errors import PimsimInputError


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
