"""Workload YAML (`workloads/*.yaml`) -> `ModelSpec`.

```yaml
version: 1
name: gpt2-xl                 # optional, default: the file stem
family: gpt2                  # optional, informational
description: GPT-2 XL          # optional
source: Radford et al. 2019   # optional
dtype: bf16                   # optional, default bf16
architecture:
  layers: 48
  d_model: 1600
  heads: 25
  kv_heads: 25                # optional, default heads (grouped-query attention if fewer)
  d_head: 64                  # optional, default d_model / heads
  d_ffn: 6400
  vocab_size: 50257
  max_context_tokens: 1024
  d_embed: 1600               # optional, default d_model
  norm: layernorm             # layernorm | rmsnorm
  norm_eps: 1.0e-5
  norm_position: pre          # pre | post
  final_norm: true
  ffn: gelu                   # gelu | relu | swiglu
  position_embedding: learned # learned | rotary | none
  linear_bias: true
  tied_lm_head: true
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pimsim.core.errors import PimsimInputError
from pimsim.core.io import read_yaml
from pimsim.workload.spec import ModelSpec, spec_field_names

TOP_KEYS = ("version", "name", "family", "description", "source", "dtype", "architecture")
META_KEYS = ("name", "family", "description", "source", "dtype")
ARCH_KEYS = tuple(k for k in spec_field_names() if k not in META_KEYS)
ARCH_REQUIRED = (
    "layers",
    "d_model",
    "heads",
    "d_ffn",
    "vocab_size",
    "max_context_tokens",
)


def load_workload_yaml(path: str | Path) -> ModelSpec:
    """Read and validate a workload YAML; errors name the file and the key path."""
    return workload_from_mapping(read_yaml(path), file=path)


def workload_from_mapping(data: Any, *, file: str | Path | None = None) -> ModelSpec:
    """Validate an already-parsed workload mapping (see the module docstring)."""
    if not isinstance(data, dict):
        raise PimsimInputError("must be a mapping of keys", file=file, expected="a YAML mapping")
    for key in data:
        if key not in TOP_KEYS:
            raise PimsimInputError(
                "unknown key", file=file, key=str(key), expected=f"one of {list(TOP_KEYS)}"
            )
    if "version" not in data:
        raise PimsimInputError("missing key", file=file, key="version", expected="version: 1")
    if data["version"] != 1 or isinstance(data["version"], bool):
        raise PimsimInputError(
            f"unsupported version {data['version']!r}", file=file, key="version", expected="1"
        )
    arch = data.get("architecture")
    if not isinstance(arch, dict):
        raise PimsimInputError(
            "missing or not a mapping", file=file, key="architecture", expected="a mapping"
        )
    for key in arch:
        if key not in ARCH_KEYS:
            raise PimsimInputError(
                "unknown key",
                file=file,
                key=f"architecture.{key}",
                expected=f"one of {list(ARCH_KEYS)}",
            )
    for key in ARCH_REQUIRED:
        if key not in arch:
            raise PimsimInputError("missing key", file=file, key=f"architecture.{key}")

    fields: dict[str, Any] = {k: data[k] for k in META_KEYS if k in data}
    fields.setdefault("name", Path(file).stem if file is not None else "model")
    fields.update(arch)
    fields.setdefault("kv_heads", arch["heads"])
    fields.setdefault("d_embed", arch["d_model"])
    if "d_head" not in arch:
        d_model, heads = arch["d_model"], arch["heads"]
        if _pos_int(d_model) and _pos_int(heads) and d_model % heads:
            raise PimsimInputError(
                f"{heads} heads do not divide d_model {d_model}",
                file=file,
                key="architecture.heads",
                expected="a divisor of d_model",
            )
        fields["d_head"] = d_model // heads if _pos_int(d_model) and _pos_int(heads) else 0
    return make_spec(fields, file=file, keymap=_yaml_key)


def _yaml_key(field: str) -> str:
    return field if field in META_KEYS else f"architecture.{field}"


def _pos_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def make_spec(fields: dict[str, Any], *, file: str | Path | None, keymap: Any) -> ModelSpec:
    """`ModelSpec(**fields)`, re-raising a field error with the file and `keymap(field)`."""
    try:
        return ModelSpec(**fields)
    except PimsimInputError as exc:
        raise PimsimInputError(
            exc.detail, file=file, key=keymap(exc.key) if exc.key else None, expected=exc.expected
        ) from None
