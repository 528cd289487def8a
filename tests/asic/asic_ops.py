"""Shared helper for the ASIC tests: one operator row with every table column."""

from __future__ import annotations


def op(kind: str, **kw: object) -> dict[str, object]:
    """One operator row with every column, zero unless given."""
    row: dict[str, object] = {
        "id": 0,
        "name": f"t.{kind}",
        "kind": kind,
        "layer": 0,
        "token": 0,
        "phase": "decode",
        "deps": [],
        "m": 1,
        "in_features": 0,
        "out_features": 0,
        "heads": 0,
        "kv_heads": 0,
        "d_head": 0,
        "context": 0,
        "weight": "",
        "dtype": "bf16",
        "flops": 0,
        "bytes": 0,
        "weight_bytes": 0,
        "kv_bytes": 0,
    }
    row.update(kw)
    return row
