"""Benchmark: lowering GPT2-XL for 1024 generated tokens (target: under 5 s), and the size of
its trace file (must stay under 50 MB)."""

from __future__ import annotations

import pandas as pd

from pimsim.workload import lower, read_trace, resolve_model, write_trace


def test_bench_lower_gpt2_xl_1024(benchmark, tmp_path):
    spec = resolve_model("gpt2-xl")
    table = benchmark.pedantic(lower, args=(spec, 1, 1024), rounds=1, iterations=1)
    per_token = 1 + 13 * spec.layers + 2
    assert len(table) == 1024 * per_token

    path = tmp_path / "gpt2-xl-1024.jsonl"
    write_trace(table, path)  # auto: compact for a trace this size
    size = path.stat().st_size
    benchmark.extra_info["ops"] = len(table)
    benchmark.extra_info["trace_bytes"] = size
    assert size < 50e6
    pd.testing.assert_frame_equal(read_trace(path), table)
