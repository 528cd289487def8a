"""Benchmark: evaluating a 642k-op GPT2-XL 1024-token table (target: well under a second)."""

from __future__ import annotations

import pytest

from pimsim.baselines import evaluate, load_device
from pimsim.workload import lower, resolve_model


@pytest.fixture(scope="module")
def big_table():
    return lower(resolve_model("gpt2-xl"), prompt_len=1, gen_len=1024)


def test_bench_evaluate_gpt2_xl_1024(benchmark, big_table):
    t4 = load_device("gpu", "T4")
    result = benchmark.pedantic(evaluate, args=(t4, big_table), rounds=3, iterations=1)
    assert len(big_table) == 1024 * (1 + 13 * 48 + 2) == result.n_ops
    assert result.generated_tokens == 1023  # the decode steps (token 1 ends the prompt)
    benchmark.extra_info["ops"] = len(big_table)
