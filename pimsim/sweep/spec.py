"""Sweep specifications: parse, validate (before any point runs) and expand into points.

```yaml
version: 1
name: channels
hw: gddr6_aim                  # base hardware description
set: [dram.refresh=all_bank]   # optional overrides of the base
run: {models: [gpt2-xl], prompt_len: 1, gen_len: 8, mode: overlap,
      gpu: T4:graph, cpu: Xeon-Gold-6154}   # baselines as NAME[:RUNTIME]
axes:                          # grid: every combination, in the order written
  dram.channels: [1, 2, 4, 8, 16, 32]
zip:                           # optional: these axes move together (one combined axis)
  asic.clock_GHz: [0.1, 1.0]
  asic.vector_lanes: [16, 64]
```
Axis keys are hardware key paths (anything `--set` accepts) or the run options `gen_len`,
`prompt_len` and `mode`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pimsim.core.errors import PimsimInputError
from pimsim.core.io import read_yaml

SPEC_KEYS = ("version", "name", "hw", "set", "run", "axes", "zip")
# run options a sweep may also vary (`axes:`), after the lengths and the mode
_OPTION_AXES = (
    "max_context",
    "batch",
    "dtype",
    "routing",
    "expert_groups",
    "tensor_parallel",
    "interconnect",
)
RUN_KEYS = ("models", "prompt_len", "gen_len", "mode", "gpu", "cpu", *_OPTION_AXES)
RUN_AXES = ("gen_len", "prompt_len", "mode", *_OPTION_AXES)


@dataclass(frozen=True)
class SweepSpec:
    name: str
    hw: str
    base_set: tuple[str, ...]
    run: dict[str, Any]
    axes: tuple[tuple[str, tuple], ...]  # grid axes in order
    zipped: tuple[tuple[str, tuple], ...]  # axes moving together
    source: str = ""
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def axis_keys(self) -> list[str]:
        return [k for k, _ in self.axes] + [k for k, _ in self.zipped]

    @property
    def sha256(self) -> str:
        text = json.dumps({k: v for k, v in self.raw.items()}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def points(self) -> list[dict[str, Any]]:
        """Every point, in a fixed order: the grid (last axis fastest), zipped axes innermost."""
        grids = [values for _, values in self.axes]
        zipped = list(zip(*[values for _, values in self.zipped], strict=True)) or [()]
        out = []
        for combo in itertools.product(*grids):
            for zvals in zipped:
                point = dict(zip([k for k, _ in self.axes], combo, strict=True))
                point.update(zip([k for k, _ in self.zipped], zvals, strict=True))
                out.append(point)
        return out

    def overrides(self, point: dict[str, Any]) -> list[str]:
        """`--set` strings for the hardware keys of a point (base overrides first)."""
        sets = list(self.base_set)
        for key, value in point.items():
            if key not in RUN_AXES:
                sets.append(f"{key}={json.dumps(value)}")
        return sets

    def run_options(self, point: dict[str, Any]) -> dict[str, Any]:
        keys = ("prompt_len", "gen_len", "mode", "gpu", "cpu", "max_context")
        options = {k: self.run.get(k) for k in keys}
        options["batch"] = self.run.get("batch", 1)
        options["dtype"] = self.run.get("dtype")
        options["routing"] = self.run.get("routing")
        options["expert_groups"] = self.run.get("expert_groups", 1)
        options["tensor_parallel"] = self.run.get("tensor_parallel", 1)
        options["interconnect"] = self.run.get("interconnect", "cxl")
        options.update({k: v for k, v in point.items() if k in RUN_AXES})
        return options


MAX_POINTS = 50_000  # a sweep larger than this is days of work: split it


def _fail(file: str, key: str, message: str, expected: str | None = None) -> PimsimInputError:
    return PimsimInputError(message, file=file, key=key, expected=expected)


def _axis_table(value: Any, file: str, where: str) -> tuple[tuple[str, tuple], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise _fail(file, where, f"got {type(value).__name__}", "a mapping of key path: [values]")
    axes = []
    for key, values in value.items():
        if not isinstance(values, list):
            raise _fail(file, f"{where}.{key}", f"got {values!r}", "a list of values")
        if not values:
            raise _fail(file, f"{where}.{key}", "the axis is empty", "at least one value")
        seen = []
        for v in values:
            if any(v == s and type(v) is type(s) for s in seen):
                raise _fail(file, f"{where}.{key}", f"value {v!r} appears twice", "each value once")
            seen.append(v)
        axes.append((str(key), tuple(values)))
    return tuple(axes)


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate the structure of a sweep spec (values are checked by `validate`)."""
    return load_spec_from_mapping(read_yaml(Path(path)), str(path))


def load_spec_from_mapping(data: dict, file: str) -> SweepSpec:
    """A spec from an already-parsed mapping (`file` names it in errors)."""
    for key in data:
        if key not in SPEC_KEYS:
            raise _fail(file, str(key), "unknown key", "one of " + ", ".join(SPEC_KEYS))
    if data.get("version") != 1 or isinstance(data.get("version"), bool):
        raise _fail(file, "version", f"got {data.get('version')!r}", "version: 1")
    if not isinstance(data.get("hw"), str):
        raise _fail(file, "hw", f"got {data.get('hw')!r}", "a hardware config name or path")
    run = data.get("run") or {}
    if not isinstance(run, dict):
        raise _fail(file, "run", f"got {run!r}", "a mapping")
    for key in run:
        if key not in RUN_KEYS:
            raise _fail(file, f"run.{key}", "unknown key", "one of " + ", ".join(RUN_KEYS))
    models = run.get("models")
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise _fail(file, "run.models", f"got {models!r}", "a non-empty list of model names")
    run = {"prompt_len": 1, "gen_len": 8, "mode": "overlap", "gpu": None, "cpu": None, **run}
    base_set = data.get("set") or []
    if not isinstance(base_set, list) or not all(isinstance(s, str) for s in base_set):
        raise _fail(file, "set", f"got {base_set!r}", "a list of key.path=value strings")
    axes = _axis_table(data.get("axes"), file, "axes")
    zipped = _axis_table(data.get("zip"), file, "zip")
    _check_axes(axes, zipped, base_set, file)
    if len(set(models)) != len(models):
        raise _fail(file, "run.models", "a model appears twice", "each model once")
    run["models"] = [_beside(m, file) for m in models]
    return SweepSpec(
        str(data.get("name", Path(file).stem)),
        _beside(data["hw"], file),
        tuple(base_set),
        run,
        axes,
        zipped,
        file,
        data,
    )


def _check_axes(axes: tuple, zipped: tuple, base_set: list[str], file: str) -> None:
    """The axes together: zip lengths, the number of points, each key once and not fixed."""
    lengths = {len(values) for _, values in zipped}
    if len(lengths) > 1:
        detail = ", ".join(f"{k}: {len(v)}" for k, v in zipped)
        raise _fail(
            file,
            "zip",
            f"zipped axes have different lengths ({detail})",
            "the same number of values on every zipped axis",
        )
    count = math.prod(len(values) for _, values in axes) * max(lengths or {1})
    if count > MAX_POINTS:
        expected = f"at most {MAX_POINTS:,} (split the sweep into specs)"
        raise _fail(file, "axes", f"{count:,} points", expected)
    keys = [k for k, _ in axes] + [k for k, _ in zipped]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise _fail(file, f"axes.{duplicates[0]}", "appears twice", "each key path once")
    if not keys:
        raise _fail(file, "axes", "no axis to sweep", "at least one axis under axes or zip")
    fixed = {s.split("=", 1)[0].strip() for s in base_set}
    both = sorted(fixed & set(keys))
    if both:
        raise _fail(
            file, "set", f"{both[0]} is both fixed here and swept", "a key in set or in axes"
        )


def _beside(name: str, file: str) -> str:
    """A relative path in a spec is relative to the spec file (a name stays a name)."""
    path = Path(name)
    if path.is_absolute() or not file:
        return name
    beside = Path(file).parent / path
    return str(beside) if beside.exists() else name


def validate(spec: SweepSpec) -> None:
    """Check every point's hardware keys and the models before anything runs."""
    from pimsim.baselines import load_device
    from pimsim.config import load_hw
    from pimsim.workload import resolve_model

    models = []
    for i, model in enumerate(spec.run["models"]):
        try:
            models.append(resolve_model(model))
        except PimsimInputError as exc:
            raise _fail(spec.source, f"run.models[{i}]", str(exc)) from None
    for kind in ("gpu", "cpu"):
        try:
            load_device(kind, spec.run.get(kind))
        except PimsimInputError as exc:
            raise _fail(spec.source, f"run.{kind}", str(exc)) from None
    for key, values in spec.axes + spec.zipped:
        if key in RUN_AXES:
            for v in values:
                _check_run_axis_value(spec, key, v)
    _check_lengths(spec, models)
    for point in spec.points():
        try:
            load_hw(spec.hw, spec.overrides(point))
        except PimsimInputError as exc:
            where = ", ".join(f"{k}={v}" for k, v in point.items())
            raise _fail(spec.source, "axes", f"point ({where}): {exc}") from None


def _check_run_axis_value(spec: SweepSpec, key: str, value: object) -> None:
    """A run axis's value: a mode, an element type, a routing policy, or a count >= 1."""
    from pimsim.core.dtypes import DTYPE_BYTES
    from pimsim.workload.moe import parse_routing

    if key == "mode":
        ok, expected = value in ("overlap", "serial"), "overlap|serial"
    elif key == "dtype":
        ok, expected = value in DTYPE_BYTES, "one of " + ", ".join(DTYPE_BYTES)
    elif key == "interconnect":
        from pimsim.system import INTERCONNECTS

        ok, expected = value in INTERCONNECTS, "one of " + ", ".join(INTERCONNECTS)
    elif key == "routing":
        try:
            parse_routing(value, key=f"axes.{key}")
        except PimsimInputError as exc:
            raise _fail(spec.source, f"axes.{key}", f"value {value!r}", exc.expected) from None
        return
    else:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        expected = "an integer >= 1"
    if not ok:
        raise _fail(spec.source, f"axes.{key}", f"value {value!r}", expected)


def _check_lengths(spec: SweepSpec, models: list) -> None:
    """Every point's prompt and generation lengths against every model's context."""
    from pimsim.workload.lowering import check_batch, check_lengths
    from pimsim.workload.moe import parse_routing

    for point in spec.points():
        options = spec.run_options(point)
        for model in models:
            try:
                check_lengths(model, options["prompt_len"], options["gen_len"])
                _check_reservation(model, options, point)
                check_batch(options["batch"], key="batch")
                if options.get("routing") is not None:
                    parse_routing(options["routing"], key="routing")
            except PimsimInputError as exc:
                where = f"axes.{exc.key}" if exc.key in point else f"run.{exc.key}"
                raise _fail(
                    spec.source, where, f"{model.name}: {exc.detail}", exc.expected
                ) from None


def _check_reservation(model, options: dict, point: dict) -> None:
    """`max_context`: at least the run's positions, at most the model's context."""
    reserved = options.get("max_context")
    if reserved is None:
        return
    positions = options["prompt_len"] + max(options["gen_len"] - 1, 0)
    ok = isinstance(reserved, int) and not isinstance(reserved, bool)
    if not ok or not positions <= reserved <= model.max_context_tokens:
        raise PimsimInputError(
            f"max_context {reserved!r} cannot hold the run's {positions} positions or exceeds "
            f"the model's context {model.max_context_tokens}",
            key="max_context",
            expected=f"{positions} .. {model.max_context_tokens}",
        )
