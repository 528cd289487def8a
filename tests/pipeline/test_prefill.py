"""The prompt's treatment (`--prefill`): token by token on PIM, as one batched GEMM step on PIM,
or on a compute device with the KV cache sent to PIM over the link. Whichever way, every prompt
position's K and V end up in the banks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pimsim.api import simulate
from pimsim.core.commands import Cmd


def test_a_batched_prefill_writes_every_prompt_position_to_the_cache():
    # K and V of all 32 prompt positions, in every layer: the same WRs as token by token
    token = simulate("gddr6_aim", "gpt2-small", prompt_len=32, gen_len=1)
    gemm = simulate("gddr6_aim", "gpt2-small", prompt_len=32, gen_len=1, batched_prefill=True)
    writes = [r.run.sim.kind_counters["kv_write"][Cmd.WR] for r in (token, gemm)]
    assert writes[0] == writes[1]
    # 12 layers x 32 positions x (K: 12 heads x 64 elements / 16 per column, V: two full
    # columns of 16 positions, one WR per V row of every head: 2 x 768)
    assert writes[0] == 12 * (32 * 12 * 64 // 16 + 2 * 768)


def _gpu_run(**kw):
    return simulate(
        "gddr6_aim", "gpt2-small", prompt_len=24, gen_len=3, prefill_on="gpu", gpu="h200", **kw
    )


def test_a_prompt_on_the_gpu_costs_its_baseline_time_and_sends_the_kv_cache():
    from pimsim.baselines import load_device
    from pimsim.baselines.model import op_costs
    from pimsim.baselines.offload import HostLink
    from pimsim.workload import lower, resolve_model

    result = _gpu_run()
    pre, pim = result.report["prefill"], result.report["pim"]
    spec = resolve_model("gpt2-small")
    table = lower(spec, prompt_len=24, gen_len=3, batched_prefill=True)
    prompt = (table["phase"] == "prefill") & (table["kind"] != "kv_write")
    gpu_s = op_costs(load_device("gpu", "h200"), table).time_s[prompt.to_numpy()]
    # K and V of 24 positions of every layer, bf16, one transfer per layer
    per_layer = 24 * 2 * spec.kv_heads * spec.d_head * 2
    assert pre["kv_bytes_sent"] == spec.layers * per_layer
    link = HostLink()
    assert pre["kv_transfer_s"] == pytest.approx(
        spec.layers * (link.latency_ns * 1e-9 + per_layer / (link.bandwidth_GBps * 1e9))
    )
    # the GPU never waits (its operators need only each other): the first token comes when it
    # has run them all, transfers included
    ceil_ps = (pre["device_ops"] + spec.layers) * 1e-12  # (each time rounded up to a ps)
    busy = gpu_s.sum() + pre["kv_transfer_s"]
    assert busy <= pre["device_busy_s"] <= busy + ceil_ps
    assert pim["ttft_s"] == pytest.approx(pre["device_busy_s"], rel=1e-9)
    # the time and energy accounts still add up, the GPU's included
    assert sum(pim["latency_breakdown_ps"].values()) == round(pim["latency_s"] * 1e12)
    assert sum(v for k, v in pim["latency_breakdown_ps"].items() if k.startswith("device_")) > 0
    assert pim["energy_breakdown_j"]["compute_device"] == pytest.approx(pre["device_energy_j"])
    assert sum(pim["energy_breakdown_j"].values()) == pytest.approx(pim["energy_j"])


def test_after_a_gpu_prompt_pim_holds_the_cache_and_decodes_as_after_its_own():
    gpu = _gpu_run().run.sim
    gemm = simulate("gddr6_aim", "gpt2-small", prompt_len=24, gen_len=3, batched_prefill=True)
    gemm = gemm.run.sim
    # every prompt position's K and V written to the banks, and the decode steps' work (their
    # refreshes differ: they fall at other times)
    assert gpu.kind_counters["kv_write"][Cmd.WR] == gemm.kind_counters["kv_write"][Cmd.WR]
    work = [Cmd.MAC16, Cmd.WRGB, Cmd.RDMAC, Cmd.WR]
    assert np.array_equal(gpu.token_counters[24:, work], gemm.token_counters[24:, work])
    # no PIM MAC work for the prompt itself (only its KV writes)
    assert gpu.token_counters[:24, Cmd.MAC16].sum() == 0 < gemm.token_counters[:24, Cmd.MAC16].sum()


@pytest.mark.parametrize("mode", ["overlap", "serial"])
def test_the_gpu_prompt_schedules_the_same_in_both_engines(mode):
    from pimsim.baselines.offload import plan_prefill_offload
    from pimsim.config import load_hw
    from pimsim.engine import simulate as simulate_table
    from pimsim.pipeline import prepare_run

    hw = load_hw("gddr6_aim")
    prepared = prepare_run(hw, model="gpt2-small", prompt_len=16, gen_len=3, batched_prefill=True)
    plan = plan_prefill_offload(prepared.table, "t4")
    runs = [
        simulate_table(
            hw, prepared.table, prepared.mapping, mode=mode, engine=e, device_ps=plan.time_ps
        )
        for e in ("loop", "simpy")
    ]
    for column in ("op_start_ps", "op_end_ps", "dram_start_ps", "pim_end_ps", "asic_end_ps"):
        assert np.array_equal(getattr(runs[0], column), getattr(runs[1], column)), column
    assert runs[0].end_ps == runs[1].end_ps


def test_gpu_prefill_from_the_command_line(tmp_path, capsys):
    from pimsim.cli import main

    out = tmp_path / "r.json"
    argv = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--prompt-len", "8"]
    assert main([*argv, "--gen-len", "2", "--prefill", "gpu", "--json", str(out)]) == 0
    assert "prompt on" in capsys.readouterr().out
    assert json.loads(out.read_text())["prefill"]["on"] == "gpu"


def test_hybrid_runs_attention_on_pim_and_the_rest_on_the_gpu():
    from pimsim.engine.simulate import UNIT_DEVICE, UNIT_PIM
    from pimsim.workload import resolve_model

    kw = dict(prompt_len=20, gen_len=3)  # (past 16 positions: V columns in the banks)
    hybrid = simulate("gddr6_aim", "gpt2-small", hybrid=True, gpu="a100", **kw)
    alone = simulate("gddr6_aim", "gpt2-small", **kw)
    run, report = hybrid.run, hybrid.report
    table, sim = run.prepared.table, run.sim
    attention = table["kind"].isin(["attn_score", "softmax", "attn_value", "kv_write"]).to_numpy()
    assert (sim.op_unit[attention & (table["kind"] != "softmax").to_numpy()] == UNIT_PIM).all()
    assert (sim.op_unit[~attention] == UNIT_DEVICE).all()
    assert run.prepared.mapping.matrices == {}  # (the weights live on the GPU)
    # PIM does every attention command a PIM-only run does, and no weight VMM
    ours, theirs = sim.kind_counters, alone.run.sim.kind_counters
    assert "vmm" not in ours
    for kind in ("attn_score", "attn_value", "kv_write"):
        assert ours[kind][Cmd.MAC16] == theirs[kind][Cmd.MAC16], kind
        assert ours[kind][Cmd.WR] == theirs[kind][Cmd.WR], kind
    # q, k, v to PIM and the attention output back: 12 layers x 22 steps, one row each, bf16
    spec = resolve_model("gpt2-small")
    per_step = spec.layers * ((3 * spec.heads + spec.heads) * spec.d_head * 2)
    assert report["hybrid"]["bytes_exchanged"] == 22 * per_step
    pim = report["pim"]
    assert sum(pim["latency_breakdown_ps"].values()) == round(pim["latency_s"] * 1e12)
    assert sum(pim["energy_breakdown_j"].values()) == pytest.approx(pim["energy_j"])
    with pytest.raises(Exception, match="not both"):
        simulate("gddr6_aim", "gpt2-small", hybrid=True, prefill_on="gpu", **kw)
