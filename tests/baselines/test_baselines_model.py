"""Baseline model: per-op formula, roofline bound, energy model, per-token window."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pimsim.baselines import (
    BaselineDevice,
    baselines_report,
    evaluate,
    generated_token_window,
    known_devices,
    load_device,
    op_costs,
)
from pimsim.core.errors import PimsimInputError
from pimsim.workload import lower, resolve_model


@pytest.fixture(scope="module")
def gpt2_xl_table():
    return lower(resolve_model("gpt2-xl"), prompt_len=1, gen_len=8)


@pytest.fixture(scope="module")
def gpt2_small_table():
    return lower(resolve_model("gpt2-small"), prompt_len=16, gen_len=32)


def _all_devices():
    return [load_device(k, n) for k in ("gpu", "cpu") for n in known_devices(k)]


def test_single_gemv_is_roofline_formula_plus_launch_overhead(gpt2_xl_table):
    """L0.fc1 of GPT2-XL (1600 x 6400 VMM, bf16) on the T4 preset."""
    op = gpt2_xl_table[gpt2_xl_table["name"] == "L0.fc1"].iloc[[0]]
    flops, nbytes = int(op["flops"].iloc[0]), int(op["bytes"].iloc[0])
    assert (flops, nbytes) == (2 * 1600 * 6400 + 6400, 2 * (1600 * 6400 + 6400) + 2 * (1600 + 6400))
    t4 = load_device("gpu", "T4")  # its default runtime: graph
    # The preset's numbers, written out: 65 TFLOPS x 0.65, 320 GB/s x 0.70, and the graph
    # runtime's 3.09 us per kernel (measured on the H200, not scaled).
    assert t4.runtime == "graph"
    assert (t4.peak_flops_TFLOPS, t4.achievable_compute_fraction) == (65.0, 0.65)
    assert (t4.memory_bandwidth_GBps, t4.achievable_bandwidth_fraction) == (320.0, 0.70)
    assert t4.overhead_us == 3.09
    expected = max(flops / (65e12 * 0.65), nbytes / (320e9 * 0.70)) + 3.09e-6
    costs = op_costs(t4, op)
    assert costs.time_s[0] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(20508800 / 224e9 + 3.09e-6, rel=1e-12)  # memory-bound
    assert not costs.compute_bound[0]
    assert costs.roofline_s[0] == pytest.approx(nbytes / 320e9, rel=1e-12)


def test_roofline_never_slower_than_model_per_op(gpt2_small_table):
    for device in _all_devices():
        costs = op_costs(device, gpt2_small_table)
        assert np.all(costs.roofline_s <= costs.time_s), device.name
        assert np.all(costs.roofline_energy_j <= costs.energy_j + 1e-18), device.name
        assert np.all((costs.utilisation >= 0.0) & (costs.utilisation <= 1.0)), device.name
        r = evaluate(device, gpt2_small_table)
        assert r.roofline_latency_s_per_token <= r.latency_s_per_token
        assert r.roofline_energy_j_per_token <= r.energy_j_per_token
        assert r.roofline_total_s <= r.total_s


# A device with round numbers and a four-op, two-token table whose costs are worked by hand.
_DEVICE = BaselineDevice(
    name="toy",
    kind="gpu",
    description="toy",
    peak_flops_TFLOPS=1.0,
    memory_bandwidth_GBps=100.0,
    tdp_W=100.0,
    idle_W=20.0,
    achievable_compute_fraction=0.5,
    achievable_bandwidth_fraction=0.8,
    overhead_us=10.0,
)


def _toy_table(prompt_len: int = 1) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "id": [0, 1, 2, 3],
            "name": ["L0.fc1", "lm_head", "L0.attn_residual", "lm_head"],
            "kind": ["gemm", "vmm", "add", "vmm"],
            "token": [0, 0, 1, 1],
            "flops": [10**9, 2 * 10**6, 0, 2 * 10**6],
            "bytes": [10**6, 4 * 10**8, 0, 4 * 10**8],
            "dtype": ["bf16"] * 4,
        }
    )
    table.attrs["prompt_len"] = prompt_len
    return table


def test_energy_of_synthetic_table_matches_hand_computation():
    # gemm: t_c = 1e9 / (1e12 x 0.5) = 2 ms, t_m = 1e6 / (1e11 x 0.8) = 12.5 us -> 2.01 ms;
    #       roofline max(1 ms, 10 us) = 1 ms; energy 20 W x 2.01 ms + 80 W x 1 ms = 0.1202 J.
    # vmm:  t_c = 4 us, t_m = 4e8 / 8e10 = 5 ms -> 5.01 ms; roofline 4 ms;
    #       energy 20 x 5.01e-3 + 80 x 4e-3 = 0.4202 J.
    # add:  no work -> 10 us; energy 20 x 1e-5 = 2e-4 J.
    costs = op_costs(_DEVICE, _toy_table())
    np.testing.assert_allclose(costs.time_s, [2.01e-3, 5.01e-3, 1e-5, 5.01e-3], rtol=1e-12)
    np.testing.assert_allclose(costs.roofline_s, [1e-3, 4e-3, 0.0, 4e-3], rtol=1e-12)
    np.testing.assert_allclose(costs.energy_j, [0.1202, 0.4202, 2e-4, 0.4202], rtol=1e-12)
    np.testing.assert_allclose(costs.utilisation, [1e-3 / 2.01e-3, 4 / 5.01, 0.0, 4 / 5.01])
    np.testing.assert_array_equal(costs.compute_bound, [True, False, False, False])

    # two LM heads: the first token ends the prompt step (position 0), the decode step at
    # position 1 yields the second; per-token figures are the decode step's
    r = evaluate(_DEVICE, _toy_table())
    assert r.generated_tokens == 1
    assert r.latency_s_per_token == pytest.approx(1e-5 + 5.01e-3)
    assert r.energy_j_per_token == pytest.approx(2e-4 + 0.4202)
    assert r.roofline_latency_s_per_token == pytest.approx(4e-3)
    assert r.roofline_energy_j_per_token == pytest.approx(100.0 * 4e-3)
    assert r.overhead_s_per_token == pytest.approx(2 * 1e-5)
    assert r.breakdown_s == pytest.approx({"vmm": 5.01e-3, "add": 1e-5})
    assert r.breakdown_j == pytest.approx({"vmm": 0.4202, "add": 2e-4})
    assert r.mean_power_W == pytest.approx(r.energy_j_per_token / r.latency_s_per_token)
    assert r.total_j == pytest.approx(0.1202 + 2 * 0.4202 + 2e-4)
    # one LM head only (one token): the step that produced it
    one = evaluate(_DEVICE, _toy_table().iloc[:2])
    assert one.generated_tokens == 1
    assert one.latency_s_per_token == pytest.approx(2.01e-3 + 5.01e-3)


def test_breakdowns_add_up_to_the_per_token_figures(gpt2_xl_table):
    r = evaluate(load_device("cpu"), gpt2_xl_table)
    assert sum(r.breakdown_s.values()) == pytest.approx(r.latency_s_per_token, rel=1e-12)
    assert sum(r.breakdown_j.values()) == pytest.approx(r.energy_j_per_token, rel=1e-12)
    assert set(r.breakdown_s) == set(gpt2_xl_table["kind"].unique())
    assert r.breakdown_s["vmm"] > 0.5 * r.latency_s_per_token  # decode is weight streaming


def test_window_follows_the_pim_report_convention():
    spec = resolve_model("gpt2-small")
    table = lower(spec, prompt_len=4, gen_len=3)
    mask, n = generated_token_window(table)
    assert n == 2  # lm_head at positions 3 (token 1, ends the prompt), 4 and 5 (decode)
    assert np.array_equal(mask, table["token"].to_numpy() >= 4)
    # the window follows from the LM heads, not from attrs or prompt_len
    bare = table.copy()
    bare.attrs = {}
    mask2, n2 = generated_token_window(bare)
    assert n2 == 2 and np.array_equal(mask, mask2)
    assert generated_token_window(table, prompt_len=5)[1] == 2
    # Batched prefill: the m = 4 step sits at position 0 and falls outside the window.
    batched = lower(spec, prompt_len=4, gen_len=3, batched_prefill=True)
    mask3, n3 = generated_token_window(batched)
    assert n3 == 2 and not mask3[batched["phase"].to_numpy() == "prefill"].any()
    # one generated token: no decode step, the step that produced it counts
    single = lower(spec, prompt_len=4, gen_len=1)
    mask4, n4 = generated_token_window(single)
    assert n4 == 1 and np.array_equal(mask4, single["token"].to_numpy() == 3)
    # More generated tokens on the same device: per-token latency grows only with attention.
    t4 = load_device("gpu", "T4")
    short = evaluate(t4, lower(spec, prompt_len=1, gen_len=4))
    long = evaluate(t4, lower(spec, prompt_len=1, gen_len=64))
    assert short.latency_s_per_token < long.latency_s_per_token < 1.05 * short.latency_s_per_token


def test_storage_bytes_per_element_scales_bytes_not_flops(gpt2_xl_table):
    xeon = load_device("cpu", "Xeon-Gold-6154", {"storage_bytes_per_element": 2})
    fp32 = load_device("cpu", "Xeon-Gold-6154", {"storage_bytes_per_element": 4})
    a, b = op_costs(xeon, gpt2_xl_table), op_costs(fp32, gpt2_xl_table)
    np.testing.assert_allclose(b.roofline_s, 2.0 * a.roofline_s, rtol=1e-12)  # all memory-bound
    busy_a, busy_b = a.time_s - xeon.overhead_s, b.time_s - xeon.overhead_s
    np.testing.assert_allclose(busy_b, 2.0 * busy_a, rtol=1e-9)


def test_to_json_carries_the_contract_keys_and_serialises(gpt2_xl_table):
    data = evaluate(load_device("gpu", "H100"), gpt2_xl_table).to_json()
    for key in ("name", "latency_s_per_token", "energy_j_per_token"):  # DESIGN.md 4.2
        assert key in data
    assert data["name"] == "H100-SXM"
    for key in ("roofline_latency_s_per_token", "roofline_energy_j_per_token", "assumptions"):
        assert key in data
    assumptions = data["assumptions"]
    assert assumptions["kernel_launch_overhead_us"] == 3.09  # the graph runtime (default)
    assert assumptions["runtime"] == "graph"
    assert assumptions["achievable_bandwidth_fraction"] == 0.80
    json.dumps(data, allow_nan=False)

    report = baselines_report(gpt2_xl_table)
    assert (report["gpu"]["name"], report["cpu"]["name"]) == ("T4", "Xeon-Gold-6154")
    assert report["gpu"]["latency_s_per_token"] < report["cpu"]["latency_s_per_token"]


def test_table_without_cost_columns_is_an_input_error(gpt2_xl_table):
    with pytest.raises(PimsimInputError, match="lacks columns bytes"):
        evaluate(load_device("gpu"), gpt2_xl_table.drop(columns=["bytes"]))


def test_resident_memory_is_every_parameter_plus_the_last_steps_kv_cache():
    """GPT2-XL on a T4: 1,557,611,200 parameters (count_parameters, PIM-GPT's 1.5 B) at 2 bytes
    plus K and V of every layer at the last step's context, and it fits 16 GB; Llama-2-13B
    (13.0 B parameters, 26 GB in bf16) does not, and the report says so."""
    from pimsim.baselines.model import resident_bytes
    from pimsim.workload import count_parameters

    spec = resolve_model("gpt2-xl")
    table = lower(spec, prompt_len=1, gen_len=8)
    t4 = load_device("gpu", "T4")
    kv = 2 * spec.layers * 8 * spec.kv_heads * spec.d_head * 2  # K and V, 8 positions, bf16
    assert resident_bytes(t4, table) == count_parameters(spec) * 2 + kv
    result = evaluate(t4, table)
    assert result.fits_in_memory is True
    assert result.to_json()["memory_GB"] == 16.0
    cpu = evaluate(load_device("cpu", "Xeon-Gold-6154"), table)  # (a host's RAM: not checked)
    assert cpu.fits_in_memory is None and "memory_GB" not in cpu.to_json()
    big = lower(resolve_model("llama-2-13b"), prompt_len=1, gen_len=2)
    entry = evaluate(t4, big).to_json()
    assert entry["fits_in_memory"] is False and 25.9 < entry["resident_GB"] < 26.2


def test_the_text_report_says_when_the_gpu_cannot_hold_the_model(capsys):
    from pimsim.cli import main

    argv = ["run", "--hw", "gddr6_aim", "--model", "llama-2-13b", "--gen-len", "2"]
    main([*argv, "--max-context", "16", "--set", "dram.channels=128"])
    text = capsys.readouterr().out
    gpu_line = next(i for i, line in enumerate(text.splitlines()) if "GPU (T4" in line)
    warning = text.splitlines()[gpu_line + 1]
    assert "does not fit" in warning and "the T4 holds 16 GB" in warning
