"""Does every operator's live working set fit the ASIC SRAM (`asic.sram_bytes`)?

Live bytes of one operator, for one row (one token) at a time; an op over m > 1 rows (batched
prefill) can always be streamed row by row, so one row is the least the SRAM must hold:

- element-wise kinds: input + output vectors (two inputs for `add`, `mul`); the norms also hold
  their gain/bias vectors (`weight_bytes`); `rope` also holds a cos/sin row of `d_head`;
- `softmax`: the score row of every head (`heads * context`), in and out;
- `embed`: the fetched table rows and the output vector;
- `vmm`, `gemm`: the input vector + one fp32 partial-sum accumulator per output;
- `attn_score`: q (`heads * d_head`) + fp32 scores (`heads * context`);
- `attn_value`: the probabilities (`heads * context`) + fp32 outputs (`heads * d_head`);
- `kv_write`: the K and V vectors it sends (`in_features`).

Values live across operators (the residual stream while the FFN runs) are not counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from pimsim.asic._columns import (
    ALL_KINDS,
    dtype_bytes_column,
    int_column,
    kind_codes,
)
from pimsim.config.schema import AsicConfig
from pimsim.core.errors import PimsimInputError
from pimsim.core.kinds import ELEMENTWISE_FLOPS, KIND_TABLE
from pimsim.workload.moe import op_sequences

ACCUMULATOR_BYTES = 4  # fp32 partial sums


class SramUse(NamedTuple):
    """The op with the largest live working set, and that set in bytes."""

    peak_bytes: int
    op_id: int
    op_name: str
    kind: str
    sram_bytes: int


def working_set_bytes(table: pd.DataFrame) -> np.ndarray:
    """Live SRAM bytes of every op row (one row / token at a time; every sequence of a batch
    at once, the gains once), int64."""
    code = kind_codes(table)
    b = dtype_bytes_column(table)
    m = int_column(table, "m")
    n_in = int_column(table, "in_features")
    n_out = int_column(table, "out_features")
    heads = int_column(table, "heads")
    d_head = int_column(table, "d_head")
    context = int_column(table, "context")
    weight = int_column(table, "weight_bytes")
    acc = ACCUMULATOR_BYTES
    batch = op_sequences(table)  # (an expert slot's rows: one at a time, as a gemm's)

    def kinds(*names: str) -> np.ndarray:
        return np.isin(code, [ALL_KINDS.index(n) for n in names])

    inputs = np.array([KIND_TABLE[k].inputs for k in ALL_KINDS], dtype=np.int64)[code]
    return np.select(
        [
            kinds(*ELEMENTWISE_FLOPS),
            kinds("rope"),
            kinds("softmax"),
            kinds("embed"),
            kinds("vmm", "gemm"),
            kinds("attn_score"),
            kinds("attn_value"),
            kinds("kv_write"),
        ],
        [
            (inputs * n_in + n_out) * b * batch + weight,  # element-wise: in, out, gains
            (n_in + n_out + d_head) * b * batch,
            2 * heads * context * b * batch,
            weight // np.maximum(m, 1) + n_out * b * batch,  # (each sequence's rows)
            (n_in * b + n_out * acc) * batch,
            (heads * d_head * b + heads * context * acc) * batch,
            (heads * context * b + heads * d_head * acc) * batch,
            n_in * b * batch,
        ],
        default=0,
    ).astype(np.int64)


def check_sram_capacity(
    table: pd.DataFrame, asic: AsicConfig, *, file: str | Path | None = None
) -> SramUse:
    """Raise PimsimInputError (naming `asic.sram_bytes`, `file` if given, the op and both sizes)
    if some op's live working set exceeds the SRAM; else return the largest one."""
    if len(table) == 0:
        return SramUse(0, -1, "", "", asic.sram_bytes)
    need = working_set_bytes(table)
    i = int(np.argmax(need))
    row = table.iloc[i]
    use = SramUse(int(need[i]), int(row["id"]), str(row["name"]), str(row["kind"]), asic.sram_bytes)
    if use.peak_bytes > asic.sram_bytes:
        raise PimsimInputError(
            f"the ASIC SRAM is too small: op {use.op_id} '{use.op_name}' ({use.kind}) needs "
            f"{use.peak_bytes} bytes live ({use.peak_bytes / 1024:.1f} KiB) but asic.sram_bytes "
            f"is {asic.sram_bytes} bytes ({asic.sram_bytes / 1024:.1f} KiB); raise "
            f"asic.sram_bytes to at least {use.peak_bytes}",
            file=file,
            key="asic.sram_bytes",
            expected=f">= {use.peak_bytes}",
        )
    return use
