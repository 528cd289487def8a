"""Element types: bytes per element of every dtype a model, a PIM unit or a baseline stores."""

from __future__ import annotations

DTYPE_BYTES: dict[str, int] = {"bf16": 2, "fp16": 2, "fp32": 4, "fp8": 1, "int8": 1}
# the element types a PIM MAC unit may be described with (pim.dtype)
PIM_DTYPES: tuple[str, ...] = ("bf16", "fp16", "fp32", "int8")
