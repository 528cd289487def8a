"""Column access shared by the ASIC cost modules: kind codes, dtype sizes, per-op fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pimsim.core.dtypes import DTYPE_BYTES
from pimsim.core.errors import PimsimInputError
from pimsim.core.kinds import ASIC_KINDS, KINDS
from pimsim.core.kinds import PIM_KINDS as CORE_PIM_KINDS

# Kinds whose work runs in the PIM banks (the ASIC only feeds them vectors and reduces their
# partial sums), and the kinds the ASIC executes (pimsim.core.kinds)
PIM_KINDS: frozenset[str] = frozenset(CORE_PIM_KINDS)
VECTOR_KINDS: frozenset[str] = ASIC_KINDS
ALL_KINDS: tuple[str, ...] = KINDS


def unknown_kind_error(kind: object, op_id: object = None, op_name: object = None) -> Exception:
    """PimsimInputError for an operator kind pimsim does not know."""
    where = "" if op_id is None and op_name is None else f"op {op_id} '{op_name}': "
    return PimsimInputError(
        f"{where}unknown operator kind {kind!r}; the ASIC cost model knows the vector kinds "
        f"{', '.join(sorted(VECTOR_KINDS))} and the PIM kinds {', '.join(sorted(PIM_KINDS))}",
        key="kind",
    )


def op_field(op: Any, name: str) -> Any:
    """Field `name` of one op given as a Mapping, a pandas row (Series) or a namedtuple."""
    try:
        if isinstance(op, (Mapping, pd.Series)):
            return op[name]
        return getattr(op, name)
    except (KeyError, AttributeError):
        raise PimsimInputError(
            f"operator {op!r} has no field {name!r}", key=name, expected="an operator-table row"
        ) from None


def op_field_or_none(op: Any, name: str) -> Any:
    """Field `name` of one op, or None when the op has no such field."""
    try:
        return op_field(op, name)
    except PimsimInputError:
        return None


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of a dtype name (`bf16` -> 2)."""
    try:
        return DTYPE_BYTES[str(dtype)]
    except KeyError:
        raise PimsimInputError(
            f"unknown dtype {dtype!r}", key="dtype", expected=", ".join(DTYPE_BYTES)
        ) from None


def kind_codes(table: pd.DataFrame) -> np.ndarray:
    """Index into `ALL_KINDS` for every row (int64); an unknown kind raises PimsimInputError."""
    codes, uniques = pd.factorize(table["kind"], sort=False)
    lookup = np.empty(len(uniques), dtype=np.int64)
    for j, kind in enumerate(uniques):
        if kind not in ALL_KINDS:
            row = table.iloc[int(np.flatnonzero(codes == j)[0])]
            raise unknown_kind_error(kind, row.get("id"), row.get("name"))
        lookup[j] = ALL_KINDS.index(kind)
    return lookup[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def dtype_bytes_column(table: pd.DataFrame) -> np.ndarray:
    """Bytes per element of every row's dtype (int64)."""
    codes, uniques = pd.factorize(table["dtype"], sort=False)
    sizes = np.array([dtype_bytes(d) for d in uniques], dtype=np.int64)
    return sizes[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def int_column(table: pd.DataFrame, name: str) -> np.ndarray:
    """Integer column as an int64 numpy array."""
    return table[name].to_numpy(dtype=np.int64)
