"""ASIC SRAM capacity check: per-op live working sets against asic.sram_bytes."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from asic_ops import op

from pimsim.asic import check_sram_capacity, working_set_bytes
from pimsim.config import AsicConfig
from pimsim.core.errors import PimsimInputError
from pimsim.workload import lower, resolve_model


@pytest.fixture(scope="module")
def xl_decode():
    return lower(resolve_model("gpt2-xl"), prompt_len=1, gen_len=3)


def test_working_sets_hand_computed():
    rows = [
        # layernorm 1600 in + 1600 out at 2 B + gain and bias (6400 B): 6400 + 6400.
        (op("layernorm", in_features=1600, out_features=1600, weight_bytes=6400), 12_800),
        # add: two inputs + one output, 3 x 1600 x 2 B.
        (op("add", in_features=1600, out_features=1600), 9_600),
        (op("gelu", in_features=6400, out_features=6400), 25_600),
        # rope: q+k in and out (2 x 2304 x 2 B) + a cos/sin row of d_head (64 x 2 B).
        (op("rope", in_features=2304, out_features=2304, d_head=64), 9_344),
        # softmax: 25 heads x 512 scores, in and out, 2 B each.
        (op("softmax", heads=25, context=512, in_features=512, out_features=512), 51_200),
        # vmm: the input vector (1600 x 2 B) + fp32 accumulators (6400 x 4 B).
        (op("vmm", in_features=1600, out_features=6400), 3_200 + 25_600),
        # attn_score: q (25 x 64 x 2 B) + fp32 scores (25 x 512 x 4 B).
        (op("attn_score", heads=25, d_head=64, context=512), 3_200 + 51_200),
        # attn_value: probabilities (25 x 512 x 2 B) + fp32 outputs (25 x 64 x 4 B).
        (op("attn_value", heads=25, d_head=64, context=512), 25_600 + 6_400),
        # embed: two table rows (token + position, 2 x 1600 x 2 B) + the output vector.
        (op("embed", out_features=1600, weight_bytes=6400), 6_400 + 3_200),
        (op("kv_write", in_features=3200, out_features=3200), 6_400),
        # a batched row block is streamed one row at a time: the same as one row.
        (op("gelu", m=128, in_features=6400, out_features=6400), 25_600),
    ]
    table = pd.DataFrame([r for r, _ in rows])
    assert working_set_bytes(table).tolist() == [need for _, need in rows]


def test_gpt2_xl_fits_the_default_sram(xl_decode):
    use = check_sram_capacity(xl_decode, AsicConfig())
    # The LM head's fp32 accumulators dominate: 1600 x 2 B in + 50257 x 4 B out.
    assert use.op_name == "lm_head" and use.kind == "vmm"
    assert use.peak_bytes == 1600 * 2 + 50257 * 4
    assert use.sram_bytes == 1 << 20


def test_too_small_sram_names_key_sizes_and_file(xl_decode):
    asic = dataclasses.replace(AsicConfig(), sram_bytes=100_000)
    need = 1600 * 2 + 50257 * 4
    with pytest.raises(PimsimInputError) as e:
        check_sram_capacity(xl_decode, asic, file="hw_configs/tiny.yaml")
    msg = str(e.value)
    for text in ("asic.sram_bytes", str(need), "100000", "lm_head", "hw_configs/tiny.yaml"):
        assert text in msg
    assert e.value.key == "asic.sram_bytes"


def test_exact_fit_passes():
    table = pd.DataFrame([op("gelu", in_features=1000, out_features=1000)])
    assert check_sram_capacity(table, AsicConfig(sram_bytes=4000)).peak_bytes == 4000
    with pytest.raises(PimsimInputError):
        check_sram_capacity(table, AsicConfig(sram_bytes=3999))


def test_empty_table():
    empty = pd.DataFrame([op("add")]).iloc[:0]
    assert check_sram_capacity(empty, AsicConfig()).peak_bytes == 0
