"""Batched decode (`--batch B`): B sequences in lockstep. A weight VMM serves as many input
vectors per opened row as the global buffer holds (MAC commands scale with B, activations do
not); each sequence has its own KV cache on its own channel group; the report's per-token
figures, and the baselines', account for the batch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pimsim.api import simulate
from pimsim.cli import main
from pimsim.core.commands import Cmd
from pimsim.core.errors import PimsimInputError
from pimsim.workload import lower, read_trace, resolve_model, write_trace

# a GDDR6-AiM system large enough for Llama-2-7B, with a global buffer of 16 input chunks
# (32 KiB: AiM's is 2 KiB, one chunk) and an ASIC SRAM for 16 sequences' activations
BIG = ["dram.channels=64", "pim.global_buffer_bytes=32768", "asic.sram_bytes=16777216"]


@pytest.fixture(scope="module")
def llama_runs():
    return {
        b: simulate("gddr6_aim", "llama-2-7b", overrides=BIG, gen_len=3, max_context=8, batch=b)
        for b in (1, 16)
    }


def test_weight_vmms_share_opened_rows_across_the_batch(llama_runs):
    one, sixteen = (llama_runs[b].run.sim.kind_counters["vmm"] for b in (1, 16))
    assert sixteen[Cmd.MAC16] == 16 * one[Cmd.MAC16]
    assert sixteen[Cmd.RDMAC] == 16 * one[Cmd.RDMAC]
    assert abs(sixteen[Cmd.ACT16] / one[Cmd.ACT16] - 1) < 0.05  # the rows open once


def test_each_sequence_attends_over_its_own_cache(llama_runs):
    one, sixteen = (llama_runs[b].run.sim.kind_counters for b in (1, 16))
    assert sixteen["kv_write"][Cmd.WR] == 16 * one["kv_write"][Cmd.WR]
    # 16 sequences side by side on 16 groups of 4 channels, each its own KV region
    mapping = llama_runs[16].run.prepared.mapping
    assert (mapping.kv_groups, mapping.kv_slots, mapping.kv_channels) == (16, 1, 4)


def test_a_sequence_attends_on_its_group_as_it_would_alone():
    # 8 sequences on 8 channels, one each: the attention commands are 8 times those of one
    # sequence alone on a 1-channel system
    kinds = ("attn_score", "attn_value", "kv_write")
    sram = ["asic.sram_bytes=4194304"]
    batch = simulate(
        "gddr6_aim", "gpt2-small", overrides=sram, prompt_len=40, gen_len=3, max_context=48, batch=8
    )
    alone = simulate(
        "gddr6_aim",
        "gpt2-small",
        overrides=[*sram, "dram.channels=1"],
        prompt_len=40,
        gen_len=3,
        max_context=48,
    )
    for kind in kinds:  # (refreshes differ: the runs last differently long)
        ours, its = batch.run.sim.kind_counters[kind], alone.run.sim.kind_counters[kind]
        for cmd in (Cmd.MAC16, Cmd.ACT16, Cmd.RDMAC, Cmd.WRGB, Cmd.WR):
            assert ours[cmd] == 8 * its[cmd], (kind, cmd.name)


def test_more_sequences_than_channels_stack_in_rows():
    result = simulate(
        "gddr6_aim",
        "gpt2-small",
        overrides=["asic.sram_bytes=4194304"],
        gen_len=3,
        max_context=8,
        batch=12,
    )
    mapping = result.run.prepared.mapping
    assert (mapping.kv_groups, mapping.kv_slots, mapping.kv_channels) == (8, 2, 1)
    one = simulate("gddr6_aim", "gpt2-small", gen_len=3, max_context=8).run.sim.kind_counters
    assert result.run.sim.kind_counters["kv_write"][Cmd.WR] == 12 * one["kv_write"][Cmd.WR]


def test_report_counts_every_sequence_token(llama_runs):
    for b, result in llama_runs.items():
        pim = result.report["pim"]
        assert pim["tokens_per_s"] == pytest.approx(b / pim["tpot_s"])
        window_j = pim["energy_by_phase_j"]["decode"]
        steps = pim["per_token_window"]["tokens"]
        assert pim["energy_j_per_token"] == pytest.approx(window_j / steps / b)
        gpu = result.report["baselines"]["gpu"]
        assert gpu["tokens_per_s"] == pytest.approx(b / gpu["latency_s_per_token"])
    assert llama_runs[16].report["batch"] == 16 and "batch" not in llama_runs[1].report
    # a batch shares the weights: more tokens per second and less energy per token
    one, sixteen = (llama_runs[b].report["pim"] for b in (1, 16))
    assert sixteen["tokens_per_s"] > one["tokens_per_s"]
    assert sixteen["energy_j_per_token"] < one["energy_j_per_token"]


def test_gpu_becomes_compute_bound_on_projections_while_attention_stays_memory_bound():
    from pimsim.baselines.devices import load_device
    from pimsim.baselines.model import op_costs

    spec = resolve_model("llama-2-7b")
    device = load_device("gpu", "H200-SXM", None)
    shares = {}
    for b in (1, 256):
        table = lower(spec, prompt_len=512, gen_len=2, batch=b)
        decode = (table["phase"] == "decode").to_numpy()
        costs = op_costs(device, table)
        vmm = decode & (table["kind"] == "vmm").to_numpy()
        attention = decode & table["kind"].isin(["attn_score", "attn_value"]).to_numpy()
        shares[b] = (costs.compute_bound[vmm].mean(), costs.compute_bound[attention].mean())
    assert shares[1] == (0.0, 0.0)
    assert shares[256][0] == 1.0 and shares[256][1] == 0.0


def test_the_batch_travels_in_the_trace_header(tmp_path):
    spec = resolve_model("gpt2-small")
    table = lower(spec, 2, 3, batch=4)
    path = tmp_path / "batch.jsonl"
    write_trace(table, path)
    assert json.loads(path.read_text().splitlines()[0])["batch"] == 4
    back = read_trace(path)
    assert back.attrs["batch"] == 4
    assert np.array_equal(back["flops"].to_numpy(), table["flops"].to_numpy())
    plain = tmp_path / "one.jsonl"
    write_trace(lower(spec, 2, 3), plain)
    assert "batch" not in json.loads(plain.read_text().splitlines()[0])
    # a run of the trace takes its batch; asking for another is refused
    result = simulate("gddr6_aim", trace=path, overrides=["asic.sram_bytes=4194304"])
    assert result.report["batch"] == 4
    with pytest.raises(PimsimInputError, match="4 sequences"):
        simulate("gddr6_aim", trace=path, overrides=["asic.sram_bytes=4194304"], batch=2)


def test_costs_scale_with_the_batch_except_the_weights():
    spec = resolve_model("gpt2-small")
    one, four = lower(spec, 2, 3), lower(spec, 2, 3, batch=4)
    vmm = (one["kind"] == "vmm").to_numpy()
    assert np.array_equal(four["flops"].to_numpy(), 4 * one["flops"].to_numpy())
    assert np.array_equal(four["weight_bytes"][vmm], one["weight_bytes"][vmm])
    assert np.array_equal(four["kv_bytes"].to_numpy(), 4 * one["kv_bytes"].to_numpy())


def test_bad_batches_are_refused(tmp_path, capsys):
    for bad in ("0", "5000"):
        code = main(["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--batch", bad])
        assert code == 2
        assert "--batch" in capsys.readouterr().err
