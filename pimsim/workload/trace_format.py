"""The trace file format `pimsim.trace.v1`: encodings, header keys, field values, and the
header check and error helper shared by the reader and the validator (see traces/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pimsim.core.dtypes import DTYPE_BYTES
from pimsim.core.errors import PimsimInputError
from pimsim.core.kinds import KINDS
from pimsim.workload.spec import ModelSpec
from pimsim.workload.table import MAX_BATCH, TRACE_SCHEMA

ENCODINGS = ("auto", "plain", "compact")
AUTO_COMPACT_MIN_OPS = 100_000  # `auto` writes plain below this many ops, compact above
HEADER_KEYS = ("schema", "model", "prompt_len", "gen_len", "batched_prefill", "n_ops")
_ENUMS = {"kind": KINDS, "phase": ("prefill", "decode"), "dtype": tuple(DTYPE_BYTES)}


def _err(line: int, field: str | None, message: str, file: Path, expected: str | None = None):
    key = f"line {line}" + (f": field '{field}'" if field else "")
    return PimsimInputError(message, file=file, key=key, expected=expected)


def _check_header(header: dict[str, Any], path: Path) -> ModelSpec:
    schema = header.get("schema")
    if schema != TRACE_SCHEMA:
        raise _err(1, "schema", f"unsupported schema {schema!r}", path, TRACE_SCHEMA)
    for key in HEADER_KEYS:
        if key not in header:
            raise _err(1, key, "missing field", path)
    for key in ("prompt_len", "gen_len", "n_ops"):
        value = header[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _err(1, key, f"must be a non-negative integer, got {value!r}", path)
    if not isinstance(header["batched_prefill"], bool):
        raise _err(1, "batched_prefill", "must be true or false", path)
    batch = header.get("batch", 1)
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= MAX_BATCH:
        raise _err(1, "batch", f"got {batch!r}", path, f"an integer in 1..{MAX_BATCH} (optional)")
    model = header["model"]
    if not isinstance(model, dict):
        raise _err(1, "model", "must be an object (the model spec)", path)
    try:
        return ModelSpec.from_dict(model)
    except PimsimInputError as exc:
        raise _err(1, f"model.{exc.key}", exc.detail, path, exc.expected) from None
    except TypeError as exc:  # pragma: no cover - from_dict checks keys first
        raise _err(1, "model", str(exc), path) from None
