"""Tensor parallelism over identical PIM devices: a device's shard holds half (a quarter, ...)
of every split matrix, runs as one device running those smaller matrices, and waits for the
all-reduces the interconnect times; the report counts every device and the links."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pimsim.api import simulate
from pimsim.cli import main
from pimsim.config import load_hw
from pimsim.core.errors import PimsimInputError
from pimsim.engine import simulate as simulate_table
from pimsim.pipeline import prepare_run
from pimsim.system import load_interconnect
from pimsim.workload import lower, resolve_model, weight_matrices

COLUMN_SPLIT = ("qkv", "fc1", "gate_up", "lm_head")  # outputs divided over the devices
ROW_SPLIT = ("attn_out", "fc2", "down")  # inputs divided, partial sums all-reduced


@pytest.mark.parametrize("model", ["gpt2-small", "tinyllama-1.1b"])
def test_a_shard_holds_the_split_half_of_every_matrix(model):
    whole = resolve_model(model)
    half = dataclasses.replace(whole, tensor_parallel=2)
    full = {m.name: m for m in weight_matrices(whole)}
    for m in weight_matrices(half):
        part, w = m.name.split(".")[-1], full[m.name]
        if part in COLUMN_SPLIT:
            assert (m.in_features, m.out_features) == (w.in_features, -(-w.out_features // 2))
        else:
            assert part in ROW_SPLIT and m.out_features == w.out_features
            assert m.in_features == w.in_features // 2


def _without_collectives(table):
    """The shard's table with its all-reduces taken out: one device running the half-sized
    matrices alone (every dependency on a collective moved to the collective's input)."""
    import pandas as pd

    from pimsim.workload.table import make_op_table

    net = (table["kind"] == "allreduce").to_numpy()
    source = {int(i): int(table["deps"].iloc[i][0]) for i in np.flatnonzero(net)}
    keep = np.flatnonzero(~net)
    new_id = np.cumsum(~net) - 1
    deps = [[int(new_id[source.get(d, d)]) for d in table["deps"].iloc[i]] for i in keep]
    cols = {c: table[c].to_numpy()[keep] for c in table.columns if c != "deps"}
    cols["id"] = np.arange(len(keep))
    counts = np.array([len(d) for d in deps], dtype=np.int64)
    flat = np.array([x for d in deps for x in d], dtype=np.int64)
    out = make_op_table(cols, counts, flat)
    out.attrs.update({**table.attrs, "model": {**table.attrs["model"], "tensor_parallel": 1}})
    assert isinstance(out, pd.DataFrame)
    return out


def test_two_devices_run_as_one_device_of_half_matrices_plus_the_collectives():
    hw = load_hw("gddr6_aim", ["dram.refresh=none"])  # (DRAM work then shifts with its start)
    prepared = prepare_run(hw, model="gpt2-small", gen_len=3, tensor_parallel=2)
    link = load_interconnect("cxl")
    shard = simulate_table(hw, prepared.table, prepared.mapping, interconnect=link, devices=2)
    alone_table = _without_collectives(prepared.table)
    alone = simulate_table(hw, alone_table, prepared.mapping)
    # the same DRAM commands, and every PIM operator the same DRAM cycles
    assert np.array_equal(shard.pim.counters, alone.pim.counters)
    pim = (prepared.table["kind"] != "allreduce").to_numpy()
    span = (shard.pim_end_ps - shard.dram_start_ps)[pim]
    assert np.array_equal(span, alone.pim_end_ps - alone.dram_start_ps)
    # and the run longer by exactly the collectives' modelled time (each on the critical path)
    net = np.flatnonzero(~pim)
    times = shard.op_end_ps[net] - shard.op_start_ps[net]
    d = 768 * 2  # the vector all-reduced: d_model bf16 elements
    assert (times == link.collective_ps("allreduce", d, 2)).all()
    # (each wait ends on the next DRAM clock edge, where the next PIM operator is handed over)
    late = shard.end_ps - alone.end_ps - int(times.sum())
    assert 0 <= late < len(net) * shard.tck_ps


def test_ring_collective_time_and_energy():
    link = load_interconnect("pcie4", {"latency_ns": 100.0})
    # 4 devices, 1 MB: 6 steps of 100 ns, and 3/2 MB sent each at 31.5 GB/s
    assert link.collective_ps("allreduce", 10**6, 4) == round(6 * 100e3 + 1.5e6 * 1e3 / 31.5)
    assert link.collective_ps("allgather", 10**6, 4) == round(3 * 100e3 + 0.75e6 * 1e3 / 31.5)
    assert link.collective_ps("allreduce", 10**6, 1) == 0
    assert link.collective_j("allreduce", 10**6, 4) == pytest.approx(4 * 1.5e6 * 8 * 4.4e-12)
    with pytest.raises(PimsimInputError):
        load_interconnect("pcie4", {"bandwidth_GBps": -1})
    with pytest.raises(PimsimInputError):
        load_interconnect("token-ring")


def test_the_report_counts_every_device_and_the_links():
    kw = dict(gen_len=3, max_context=16)
    one = simulate("gddr6_aim", "tinyllama-1.1b", **kw).report
    four = simulate("gddr6_aim", "tinyllama-1.1b", tensor_parallel=4, **kw).report
    system = four["system"]
    assert system["devices"] == 4 and system["interconnect"]["name"] == "cxl"
    assert four["model"]["params"] == one["model"]["params"]  # (the whole model)
    # every device's energy, plus the links', is the system's
    parts = four["pim"]["energy_breakdown_j"]
    assert sum(parts.values()) == pytest.approx(four["pim"]["energy_j"])
    assert parts["interconnect"] == pytest.approx(system["links"]["energy_j"])
    assert system["per_device"]["energy_j"] * 4 + parts["interconnect"] == pytest.approx(
        four["pim"]["energy_j"]
    )
    # two all-reduces per layer per step (22 layers, 3 steps), 2048 bf16 values each
    assert system["links"]["collectives"] == 2 * 22 * 3
    assert system["links"]["bytes_sent_per_device"] == 2 * 22 * 3 * (2 * 3 * 2048 * 2 // 4)
    # the baselines run the whole model, as for one device
    assert four["baselines"]["gpu"]["latency_s_per_token"] == pytest.approx(
        one["baselines"]["gpu"]["latency_s_per_token"]
    )
    table = lower(resolve_model("tinyllama-1.1b"), gen_len=3)
    assert "allreduce" not in set(table["kind"])


def test_bad_parallel_options_exit_2_naming_the_key(capsys):
    argv = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small"]
    assert main([*argv, "--tensor-parallel", "5"]) == 2  # 12 heads
    assert "--tensor-parallel" in capsys.readouterr().err
    assert main([*argv, "--tensor-parallel", "2", "--set", "interconnect.speed=3"]) == 2
    assert "interconnect.speed" in capsys.readouterr().err
    assert main([*argv, "--tensor-parallel", "2", "--hybrid"]) == 2  # (not modelled together)
    assert "--tensor-parallel" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["overlap", "serial"])
def test_collectives_schedule_the_same_in_both_engines(mode):
    hw = load_hw("gddr6_aim")
    prepared = prepare_run(hw, model="gpt2-small", prompt_len=2, gen_len=2, tensor_parallel=4)
    link = load_interconnect("nvlink4")
    runs = [
        simulate_table(
            hw, prepared.table, prepared.mapping, mode=mode, engine=e, interconnect=link, devices=4
        )
        for e in ("loop", "simpy")
    ]
    for column in ("op_start_ps", "op_end_ps", "dram_start_ps", "pim_end_ps"):
        assert np.array_equal(getattr(runs[0], column), getattr(runs[1], column)), column


def test_a_tensor_parallel_trace_replays_the_run(tmp_path):
    from pimsim.workload import write_trace

    direct = simulate("gddr6_aim", "gpt2-small", gen_len=2, tensor_parallel=2)
    trace = tmp_path / "tp.jsonl"
    write_trace(direct.run.prepared.table, trace)
    again = simulate("gddr6_aim", trace=str(trace))
    assert again.report["pim"]["cycles"] == direct.report["pim"]["cycles"]
    assert again.report["system"] == direct.report["system"]


def test_more_devices_than_kv_heads_replicate_them():
    spec = resolve_model("tinyllama-1.1b")  # 32 query heads, 4 KV heads of 64
    eight = dataclasses.replace(spec, tensor_parallel=8)
    assert (eight.local_heads, eight.local_kv_heads) == (4, 1)  # (each KV head on 2 devices)
    qkv = next(m for m in weight_matrices(eight) if m.name == "L0.qkv")
    assert qkv.out_features == (4 + 2 * 1) * 64
    with pytest.raises(PimsimInputError):
        dataclasses.replace(spec, tensor_parallel=6)  # (6 divides neither the heads nor 4)
    run = simulate("gddr6_aim", "tinyllama-1.1b", gen_len=2, tensor_parallel=8).report
    assert run["system"]["devices"] == 8


def test_auto_takes_the_fewest_devices_that_hold_the_model_and_says_why():
    """Llama-2-13B (26 GB) on 32-channel devices (16 GB each): one does not hold it, two do;
    the run is the --tensor-parallel 2 run, and the report lists what was tried."""
    hw = load_hw("gddr6_aim", ["dram.channels=32"])
    options = {"model": "llama-2-13b", "gen_len": 2, "max_context": 16}
    auto = simulate(hw, tensor_parallel="auto", **options).report
    two = simulate(hw, tensor_parallel=2, **options).report
    choice = auto.pop("parallel_choice")
    assert [t["devices"] for t in choice["tried"]] == [1, 2]
    assert [t["fits"] for t in choice["tried"]] == [False, True]
    assert "does not fit the PIM capacity" in choice["tried"][0]["why"]
    assert auto == two
    one = simulate(load_hw("gddr6_aim"), model="gpt2-small", gen_len=2, tensor_parallel="auto")
    assert one.report["parallel_choice"]["tried"] == [{"devices": 1, "fits": True}]
    assert "system" not in one.report


def test_auto_is_refused_for_a_trace_and_bad_counts_exit_2(tmp_path, capsys):
    trace = tmp_path / "t.jsonl"
    assert main(["lower", "--model", "gpt2-small", "--gen-len", "2", "-o", str(trace)]) in (0, None)
    capsys.readouterr()
    run = ["run", "--hw", "gddr6_aim", "--gen-len", "2", "--tensor-parallel"]
    assert main([*run, "auto", "--trace", str(trace)]) == 2
    assert "--tensor-parallel: a trace is one device's operators" in capsys.readouterr().err
    for count in ("0", "two"):
        assert main([*run, count, "--model", "gpt2-small"]) == 2
        assert "an integer >= 1 or auto" in capsys.readouterr().err


def test_the_timeline_names_the_device_and_has_an_interconnect_track(tmp_path):
    """A tensor-parallel run's Perfetto trace: its process says it is device 0 of N (one
    device's simulation stands for all), and the all-reduces lie on their own track."""
    import json

    path = tmp_path / "timeline.json"
    argv = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gen-len", "2"]
    assert main([*argv, "--tensor-parallel", "2", "--timeline", str(path)]) in (0, None)
    events = json.loads(path.read_text())["traceEvents"]
    process = next(e for e in events if e["name"] == "process_name")["args"]["name"]
    assert "device 0 of 2" in process
    tracks = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    net = [t for t, name in tracks.items() if name == "interconnect"]
    allreduces = [e for e in events if e.get("ph") == "X" and e["tid"] in net]
    assert len(allreduces) == 2 * 12 * 2  # (two per layer per step; 12 layers, 2 steps)
    assert main([*argv, "--timeline", str(path)]) in (0, None)
    events = json.loads(path.read_text())["traceEvents"]
    assert next(e for e in events if e["name"] == "process_name")["args"]["name"] == (
        "pimsim gddr6_aim"
    )


def test_split_degrees_are_the_powers_of_two_the_spec_accepts():
    """gpt2-small has 12 heads: 8 devices do not divide them, so 1, 2, 4; each listed degree
    makes a valid shard and the next power of two does not."""
    spec = resolve_model("gpt2-small")
    assert spec.split_degrees() == [1, 2, 4]
    with pytest.raises(PimsimInputError):
        dataclasses.replace(spec, tensor_parallel=8)
    llama = resolve_model("llama-2-70b")  # 64 heads, 8 KV heads (replicated beyond 8)
    assert llama.split_degrees() == [1, 2, 4, 8, 16, 32, 64]
    assert dataclasses.replace(llama, tensor_parallel=32).split_degrees() == llama.split_degrees()


def test_cent_fabric_preset_follows_its_artifact():
    """CENT's CXL fabric (github.com/Yufeng98/CENT at 8c7978606f3b, cxl_latency.py): 144 lanes
    over 32 devices at 8 GB/s each, a transfer paying 4 x 25 ns ports + 2 x 30 ns PHY + 20 ns
    switch = 180 ns; a 2-device all-reduce of 16 KiB is 2 such steps and 16 KiB over 32 GB/s."""
    link = load_interconnect("cent_cxl3")
    assert link.bandwidth_GBps == 32.0
    assert link.latency_ns + link.switch_latency_ns == 180.0
    assert link.collective_ps("allreduce", 16384, 2) == 2 * 180_000 + 16384 * 1000 // 32
    assert link.collective_j("allreduce", 16384, 2) == pytest.approx(2 * 16384 * 8 * 4.4e-12)
