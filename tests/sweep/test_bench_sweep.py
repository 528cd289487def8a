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


def test_bench_results_append_at_10k_rows(benchmark, tmp_path):
    """Recording one finished point into a 10,000-row results table: an append of its line
    (the whole table was rewritten per point before: about 0.6 s at this size)."""
    from pimsim.sweep.spec import load_spec_from_mapping
    from pimsim.sweep.store import ResultsStore

    values = [round(0.5 + i * 1e-4, 6) for i in range(10_100)]
    raw = {
        "version": 1,
        "name": "append",
        "hw": "gddr6_aim",
        "run": {"models": ["gpt2-small"]},
        "axes": {"asic.clock_GHz": values},
    }
    spec = load_spec_from_mapping(raw, "spec.yaml")
    metrics = {f"metric_{k}": k * 1.25e-6 for k in range(50)}
    store = ResultsStore(tmp_path / "out", spec)
    index = iter(range(10_100))

    def row(i: int) -> dict:
        return {
            "point": i,
            "asic.clock_GHz": values[i],
            "model": "gpt2-small",
            **metrics,
            "status": "ok",
        }

    store.add([row(next(index)) for _ in range(10_000)])  # (one write: the setup, not timed)
    benchmark.pedantic(lambda: store.add([row(next(index))]), rounds=50, iterations=1)
    added = next(index)  # (50 rounds when timed; one when benchmarks are off, as under xdist)
    store.finish()
    table = store.frame()
    assert len(table) == added and table["point"].is_monotonic_increasing
    assert len(ResultsStore(tmp_path / "out", spec).done) == added > 10_000
