"""Trace files: lower -> write -> read gives the identical table, in every encoding."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pimsim.workload import TRACE_SCHEMA, lower, read_trace, read_trace_header, resolve_model
from pimsim.workload.trace_io import AUTO_COMPACT_MIN_OPS, write_trace

REPO = Path(__file__).resolve().parents[2]

CASES = [
    ("gpt2-small", 3, 5, False),
    ("gpt2-small", 1, 1, False),
    ("gpt2-small", 4, 0, False),
    ("tinyllama-1.1b", 4, 3, True),
    ("gpt3-xl", 2, 6, False),
]


@pytest.mark.parametrize(("model", "prompt", "gen", "batched"), CASES)
@pytest.mark.parametrize("encoding", ["plain", "compact"])
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_round_trip(tmp_path, model, prompt, gen, batched, encoding, suffix):
    table = lower(resolve_model(model), prompt, gen, batched_prefill=batched)
    path = tmp_path / f"trace{suffix}"
    header = write_trace(table, path, encoding=encoding)
    back = read_trace(path)
    pd.testing.assert_frame_equal(back, table)
    assert back.attrs == table.attrs
    assert header["n_ops"] == len(table) and header["encoding"] == encoding
    assert read_trace_header(path)["schema"] == TRACE_SCHEMA


def test_plain_is_one_op_per_line(tmp_path):
    table = lower(resolve_model("gpt2-small"), 2, 2)
    path = tmp_path / "t.jsonl"
    write_trace(table, path, encoding="plain")
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + len(table)
    header = json.loads(lines[0])
    assert header["schema"] == TRACE_SCHEMA
    assert header["model"]["name"] == "gpt2-small"
    assert (header["prompt_len"], header["gen_len"], header["batched_prefill"]) == (2, 2, False)
    first = json.loads(lines[1])
    assert list(first) == header["columns"]


def test_compact_is_smaller_and_auto_switches(tmp_path):
    table = lower(resolve_model("gpt2-small"), 1, 64)
    plain, compact = tmp_path / "p.jsonl", tmp_path / "c.jsonl"
    write_trace(table, plain, encoding="plain")
    write_trace(table, compact, encoding="compact")
    assert compact.stat().st_size * 10 < plain.stat().st_size
    assert write_trace(table, tmp_path / "a.jsonl")["encoding"] == (
        "compact" if len(table) >= AUTO_COMPACT_MIN_OPS else "plain"
    )


def test_gzip_output_is_deterministic(tmp_path):
    table = lower(resolve_model("gpt2-small"), 1, 3)
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    write_trace(table, a)
    write_trace(table, b)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("file", "prompt", "gen"),
    [("gpt2-small-p2-g2.jsonl", 2, 2), ("gpt2-small-p1-g6.compact.jsonl", 1, 6)],
)
def test_shipped_examples_match_lowering(file, prompt, gen):
    # If this fails after a change to the lowering, regenerate (see traces/README.md).
    back = read_trace(REPO / "traces" / file)
    pd.testing.assert_frame_equal(back, lower(resolve_model("gpt2-small"), prompt, gen))


def test_write_requires_trace_attrs(tmp_path):
    table = lower(resolve_model("gpt2-small"), 1, 1)
    bare = pd.DataFrame(table.to_dict("list"))
    with pytest.raises(ValueError):
        write_trace(bare, tmp_path / "x.jsonl")
    with pytest.raises(ValueError):
        write_trace(table, tmp_path / "x.jsonl", encoding="zip")


def test_compact_adjacent_repeats_with_different_strides(tmp_path):
    # Make the per-token stride change at token 4: the writer must start a second repeat whose
    # base is the last copy of the first one, and the reader must expand it from there.
    table = lower(resolve_model("gpt2-small"), 1, 9)
    late = table["token"] >= 4
    table.loc[late, "flops"] += 7 * (table.loc[late, "token"] - 3)
    path = tmp_path / "t.jsonl"
    write_trace(table, path, encoding="compact")
    records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    repeats = [i for i, r in enumerate(records) if "repeat" in r]
    assert len(repeats) == 2 and repeats[1] == repeats[0] + 1
    pd.testing.assert_frame_equal(read_trace(path), table)
