"""The channels sweep of analysis/sweeps (6 points x 2 models) as a benchmark."""

from __future__ import annotations

from pathlib import Path

from pimsim.sweep import load_spec, run_sweep, validate

SPEC = Path(__file__).resolve().parents[2] / "analysis" / "sweeps" / "channels.yaml"


def test_bench_channels_sweep(benchmark, tmp_path):
    spec = load_spec(SPEC)
    validate(spec)
    counter = iter(range(100))

    def run():
        return run_sweep(spec, tmp_path / f"run{next(counter)}", jobs=2)

    table = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["points"] = len(spec.points())
    assert len(table) == len(spec.points()) * len(spec.run["models"])
    ok = table[table["status"] == "ok"]
    xl = ok[ok["model"] == "gpt2-xl"].sort_values("dram.channels")
    # gpt2-xl fits from 8 channels on, and gets faster with every doubling
    assert list(xl["dram.channels"]) == [8, 16, 32]
    assert xl["pim_latency_s_per_token"].is_monotonic_decreasing
