"""Mixture of experts: Mixtral's parameter count and per-token cost from its config, the
routing policies, the expert slots of the operator table, the engine's exactness with experts
on channel groups, and the load imbalance a skewed routing causes (and the report explains)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from pimsim.api import simulate
from pimsim.cli import main
from pimsim.config import load_hw
from pimsim.core.errors import PimsimInputError
from pimsim.dram.checker import check_log
from pimsim.engine import simulate as simulate_table
from pimsim.pipeline import prepare_run
from pimsim.workload import count_parameters, load_hf_config, lower, read_trace, write_trace
from pimsim.workload.moe import Routing, expert_counts, parse_routing, routed_mask
from pimsim.workload.spec import ModelSpec

HF = Path(__file__).resolve().parents[2] / "workloads" / "hf"
MIXTRAL_PUBLISHED = 46.7e9  # Jiang et al. 2024, "Mixtral of Experts", arXiv 2401.04088
MIXTRAL_ACTIVE = 12.9e9  # (same paper: "13B active parameters" per token, 12.9 B)
# Qwen team, "Qwen1.5-MoE: Matching 7B Model Performance with 1/3 Activated Parameters" (blog,
# March 2024): 14.3 B parameters in total, 2.7 B activated
QWEN_MOE_PUBLISHED, QWEN_MOE_ACTIVE = 14.3e9, 2.7e9


def _tiny(**fields) -> ModelSpec:
    base = dict(
        name="tiny-moe",
        layers=2,
        d_model=128,
        heads=4,
        kv_heads=2,
        d_head=32,
        d_ffn=256,
        vocab_size=200,
        max_context_tokens=64,
        d_embed=128,
        norm="rmsnorm",
        ffn="swiglu",
        position_embedding="rotary",
        linear_bias=False,
        tied_lm_head=False,
        experts=4,
        experts_per_token=2,
    )
    return ModelSpec(**{**base, **fields})


def _yaml(tmp_path: Path, spec: ModelSpec) -> str:
    skip = ("name", "family", "description", "source", "dtype")
    arch = {k: v for k, v in spec.to_dict().items() if k not in skip}
    path = tmp_path / f"{spec.name}.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": spec.name, "architecture": arch}))
    return str(path)


def test_mixtral_parameters_total_and_active_from_its_config():
    spec = load_hf_config(HF / "mixtral-8x7b" / "config.json")
    c = json.loads((HF / "mixtral-8x7b" / "config.json").read_text())
    assert (spec.experts, spec.experts_per_token) == (8, 2)
    assert abs(count_parameters(spec) / MIXTRAL_PUBLISHED - 1) < 0.01
    # one decode step reads the attention, the router, two experts and the head
    d, f, layers = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    kv, dh = c["num_key_value_heads"], d // c["num_attention_heads"]
    attention = d * d * 2 + 2 * d * kv * dh
    per_layer = attention + d * c["num_local_experts"] + 2 * 3 * d * f
    active = layers * per_layer + d * c["vocab_size"]
    table = lower(spec, prompt_len=5, gen_len=2)
    step = table[table["token"] == 5]
    vmm = step[step["kind"] == "vmm"]
    assert int((vmm["in_features"] * vmm["out_features"]).sum()) == active
    assert int(vmm["flops"].sum()) == 2 * active  # (no biases)
    assert int(vmm["weight_bytes"].sum()) == 2 * active  # bf16
    embeddings = d * c["vocab_size"]  # (the token table: read one row per token)
    assert abs((active + embeddings) / MIXTRAL_ACTIVE - 1) < 0.01
    # the router and combine work on the ASIC: softmax + top-k over 8 logits, a 2-way sum
    route = step[step["kind"] == "moe_route"]
    combine = step[step["kind"] == "moe_combine"]
    assert route["flops"].tolist() == [7 * 8] * layers
    assert combine["flops"].tolist() == [2 * 2 * d] * layers


def test_qwen_moe_counts_and_its_shared_expert_from_its_config(tmp_path):
    path = HF / "qwen1.5-moe-a2.7b" / "config.json"
    spec = load_hf_config(path)
    c = json.loads(path.read_text())
    assert (spec.experts, spec.experts_per_token, spec.expert_ffn_dim) == (60, 4, 1408)
    assert spec.shared_expert_ffn_dim == 5632 and spec.shared_expert_gate and spec.qkv_bias
    assert abs(count_parameters(spec) / QWEN_MOE_PUBLISHED - 1) < 0.01
    d, layers, f, fs = c["hidden_size"], c["num_hidden_layers"], 1408, 5632
    per_layer = 4 * d * d + d * 60 + d * 1 + 3 * d * fs + 4 * 3 * d * f  # (MHA: 16 KV heads)
    active = layers * per_layer + d * c["vocab_size"]
    table = lower(spec, prompt_len=5, gen_len=2)
    step = table[table["token"] == 5]
    vmm = step[step["kind"] == "vmm"]
    assert int((vmm["in_features"] * vmm["out_features"]).sum()) == active
    assert abs((active + d * c["vocab_size"]) / QWEN_MOE_ACTIVE - 1) < 0.01
    # every token runs the shared expert and its gate; the combine takes 4 + 1 outputs
    assert (step["name"] == "L0.shared.down").sum() == 1
    assert step.loc[step["name"] == "L0.combine", "in_features"].tolist() == [5 * d]
    # layers without experts between the sparse ones are refused, naming the key
    for key, value in (("decoder_sparse_step", 2), ("mlp_only_layers", [0])):
        bad = tmp_path / f"{key}.json"
        bad.write_text(json.dumps({**c, key: value}))
        with pytest.raises(PimsimInputError) as error:
            load_hf_config(bad)
        assert error.value.key == key


def test_uniform_and_skewed_routing_choose_k_distinct_experts_per_row():
    spec = _tiny(experts=8, experts_per_token=2, layers=3)
    for policy in (Routing("uniform", seed=3), Routing("skew", seed=3, skew=1.5)):
        counts = expert_counts(policy, spec, batch=5, positions=40)
        assert counts.shape == (40, 3, 8)
        assert (counts.sum(axis=-1) == 5 * 2).all()  # every row: two experts
        assert counts.max() <= 5  # distinct per row: at most one pick per row
    uniform = expert_counts(Routing("uniform"), spec, 16, 400).sum(axis=0)
    skewed = expert_counts(Routing("skew", skew=2.0), spec, 16, 400).sum(axis=0)
    share = lambda c: c.max(axis=-1) / c.sum(axis=-1)  # noqa: E731
    assert (share(uniform) < 0.16).all()  # 1/8 = 0.125 each, sampling noise aside
    assert (share(skewed) > 0.3).all()  # a hot expert in every layer
    # each layer has its own hot expert order, and the same seed the same choices
    assert len({int(np.argmax(c)) for c in skewed}) > 1 or spec.layers == 1
    again = expert_counts(Routing("skew", skew=2.0), spec, 16, 400).sum(axis=0)
    assert np.array_equal(skewed, again)


def test_routing_policies_parse_and_bad_ones_are_refused():
    assert parse_routing("uniform") == Routing("uniform", seed=0)
    assert parse_routing("skew:1.2:7") == Routing("skew", seed=7, skew=1.2)
    assert parse_routing("file:ids.npy") == Routing("file", path="ids.npy")
    for bad in ("", "zipf", "skew", "skew:-1", "skew:99", "uniform:x", "uniform:-2", "file:"):
        with pytest.raises(PimsimInputError):
            parse_routing(bad)


def test_a_routing_file_replays_its_choices(tmp_path):
    spec = _tiny()
    positions, batch = 6, 2
    rng = np.random.default_rng(0)
    ids = np.argsort(rng.random((batch, positions, spec.layers, 4)), axis=-1)[..., :2]
    np.save(tmp_path / "ids.npy", ids)
    rows = [
        (b, p, lay, int(e))
        for b in range(batch)
        for p in range(positions)
        for lay in range(spec.layers)
        for e in ids[b, p, lay]
    ]
    csv = tmp_path / "ids.csv"
    csv.write_text(
        "sequence,position,layer,expert\n" + "".join(f"{r[0]},{r[1]},{r[2]},{r[3]}\n" for r in rows)
    )
    from_npy = expert_counts(Routing("file", path=str(tmp_path / "ids.npy")), spec, batch, 6)
    from_csv = expert_counts(Routing("file", path=str(csv)), spec, batch, 6)
    assert np.array_equal(from_npy, from_csv)
    expected = np.zeros_like(from_npy)
    for _, p, lay, e in rows:
        expected[p, lay, e] += 1
    assert np.array_equal(from_npy, expected)
    # a row choosing an expert twice, or an id beyond the experts, is refused
    twice = ids.copy()
    twice[0, 0, 0, 1] = twice[0, 0, 0, 0]
    np.save(tmp_path / "twice.npy", twice)
    beyond = ids + 4
    np.save(tmp_path / "beyond.npy", beyond)
    for name in ("twice.npy", "beyond.npy", "missing.npy"):
        with pytest.raises(PimsimInputError):
            expert_counts(Routing("file", path=str(tmp_path / name)), spec, batch, 6)


def test_expert_slots_carry_every_routed_row_and_empty_slots_are_dropped():
    spec = _tiny(experts=8, experts_per_token=2)
    table = lower(spec, prompt_len=2, gen_len=6, batch=3, routing=Routing("skew", skew=1.0))
    routed = routed_mask(table)
    first = routed & table["weight"].str.endswith("gate_up").to_numpy()
    per_step = table[first].groupby(["token", "layer"])["m"].sum()
    assert (per_step == 3 * 2).all()  # every sequence's row, two experts each
    assert (table.loc[routed, "m"] >= 1).all()  # (no slot without rows)
    # each step uses each expert at most once, and a combine waits for all its experts
    assert not table[first].duplicated(["token", "layer", "weight"]).any()
    combine = table[table["kind"] == "moe_combine"]
    downs = table[routed & table["weight"].str.endswith("down").to_numpy()]
    n_downs = downs.groupby(["token", "layer"]).size().to_numpy()
    assert (combine["deps"].map(len).to_numpy() == 1 + n_downs).all()
    # an expert slot's m counts the batch: its FLOPs are not multiplied again
    one = first & (table["m"] == 1).to_numpy()
    row = table[one].iloc[0]
    assert row["flops"] == 2 * row["in_features"] * row["out_features"]


def test_a_moe_trace_round_trips_and_runs_as_lowered(tmp_path):
    spec = _tiny()
    path = _yaml(tmp_path, spec)
    hw = load_hw("gddr6_aim")
    direct = simulate(hw, path, gen_len=4, batch=2, routing="skew:1:4")
    lowered = direct.run.prepared.table
    for encoding in ("plain", "compact"):
        trace = tmp_path / f"moe-{encoding}.jsonl"
        write_trace(lowered, trace, encoding=encoding)
        back = read_trace(trace)
        assert back.attrs["routing"] == "skew:1:4"
        for column in ("weight", "m", "flops", "deps"):
            assert back[column].tolist() == lowered[column].tolist(), (encoding, column)
        replayed = simulate(hw, trace=str(trace))
        assert replayed.report["pim"]["cycles"] == direct.report["pim"]["cycles"]
        assert replayed.report["moe"] == direct.report["moe"]
    out = tmp_path / "cli.jsonl"
    argv = ["lower", "--model", path, "--gen-len", "4", "--batch", "2", "--routing", "skew:1:4"]
    assert main([*argv, "-o", str(out)]) == 0
    assert read_trace(out)["weight"].tolist() == lowered["weight"].tolist()


@pytest.mark.parametrize(
    ("groups", "batch", "shared"), [(1, 3, 0), (4, 3, 0), (4, 1, 0), (2, 2, 96)]
)
def test_experts_on_channel_groups_exact_equals_fast_and_logs_are_legal(
    tmp_path, groups, batch, shared
):
    spec = _tiny(layers=1, shared_expert_ffn_dim=shared, shared_expert_gate=bool(shared))
    hw = load_hw("gddr6_aim", ["dram.timing.nREFI=900"])  # (refresh inside the run)
    prepared = prepare_run(
        hw, model=_yaml(tmp_path, spec), gen_len=3, batch=batch, expert_groups=groups
    )
    table, mapping = prepared.table, prepared.mapping
    fast = simulate_table(hw, table, mapping)
    exact = simulate_table(hw, table, mapping, exact=True, log_capacity=400_000)
    for column in ("op_start_ps", "op_end_ps", "dram_start_ps", "pim_end_ps"):
        assert np.array_equal(getattr(fast, column), getattr(exact, column)), column
    assert np.array_equal(fast.pim.counters, exact.pim.counters)
    logs = exact.pim.command_logs()
    assert all(int(n[0]) < 400_000 for _, n in exact.pim.logs)  # (the whole run is logged)
    assert len(logs) > 5_000
    assert check_log(logs, hw) == []  # every command legal
    if batch == 1:  # and tight: none later than it could be, but where an operator started
        # (a batch's VMM passes start where the previous pass ended: no release cycle kept)
        starts = exact.dram_start_ps[exact.dram_start_ps >= 0] // exact.tck_ps
        assert check_log(logs, hw, tight=True, releases=starts.tolist()) == []
    if groups == 4:  # expert e's matrices sit on group e mod 4 only
        layout = mapping.matrices["L0.experts.2.down"]
        busy = [c for c, p in enumerate(layout.programs) if not p.is_empty]
        assert busy == [4, 5] and layout.channels == 2


def test_experts_on_different_groups_run_at_the_same_time(tmp_path):
    spec = _tiny(layers=1, experts=4, experts_per_token=2)
    path = _yaml(tmp_path, spec)
    ids = np.array([[[[0, 1]]] * 3])  # (batch 1, 3 positions, 1 layer, k = 2): experts 0, 1
    np.save(tmp_path / "ids.npy", ids)
    run = simulate(
        "gddr6_aim", path, gen_len=3, routing=f"file:{tmp_path / 'ids.npy'}", expert_groups=4
    ).run
    table, sim = run.prepared.table, run.sim
    first = table.index[table["name"].isin(["L0.moe0.gate_up", "L0.moe1.gate_up"])].to_numpy()
    a, b = first[-2:]
    # the two experts' VMMs overlap in time on their own channels
    assert sim.dram_start_ps[b] < sim.pim_end_ps[a]


def test_skewed_routing_is_slower_on_grouped_experts_and_the_report_says_why():
    options = dict(
        overrides=["dram.channels=256", "asic.sram_bytes=16777216"],
        gen_len=3,
        max_context=8,
        batch=16,
        expert_groups=8,
    )
    uniform = simulate("gddr6_aim", "mixtral-8x7b", routing="uniform", **options).report
    skewed = simulate("gddr6_aim", "mixtral-8x7b", routing="skew:1.5", **options).report
    assert skewed["pim"]["tpot_s"] > 1.2 * uniform["pim"]["tpot_s"]
    u, s = uniform["moe"], skewed["moe"]
    assert sum(u["rows_per_group"]) == pytest.approx(16 * 2)  # the same rows, placed unevenly
    assert sum(s["rows_per_group"]) == pytest.approx(16 * 2)
    assert s["busiest_group_rows"] > 1.5 * u["busiest_group_rows"]
    assert s["expert_time_s_per_token"] > u["expert_time_s_per_token"]
    # the experts' extra span is the latency difference (the rest of the step is the same)
    extra = s["expert_time_s_per_token"] - u["expert_time_s_per_token"]
    difference = skewed["pim"]["tpot_s"] - uniform["pim"]["tpot_s"]
    assert extra == pytest.approx(difference, rel=0.1)


def test_bad_moe_options_exit_2_with_the_key(capsys):
    assert main(["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--routing", "skew:1"]) == 2
    assert "--routing" in capsys.readouterr().err
    argv = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--expert-groups", "2"]
    assert main(argv) == 2
    assert "--expert-groups" in capsys.readouterr().err
    with pytest.raises(PimsimInputError):
        _tiny(experts=1)
    with pytest.raises(PimsimInputError):
        _tiny(experts=4, experts_per_token=5)
    with pytest.raises(PimsimInputError):
        _tiny(experts=0, experts_per_token=2)


def test_a_later_pass_leaves_idle_channels_where_they_were(tmp_path):
    # expert 1 serves 3 vectors in 3 passes on its group; expert 2, handed to its own idle
    # group just after expert 1 started, runs as it would on a fresh system
    from pimsim.dram.system import PimSystem

    hw = load_hw("gddr6_aim")
    path = _yaml(tmp_path, _tiny(layers=1))
    mapping = prepare_run(hw, model=path, gen_len=2, expert_groups=4).mapping
    one = mapping.matrices["L0.experts.1.gate_up"].programs
    two = mapping.matrices["L0.experts.2.gate_up"].programs
    system = PimSystem(hw)
    cycle = 0
    for index in range(3):
        cycle = system.run(one, cycle, later_pass=index > 0).end_cycle
    after = system.run(two, 100)
    alone = PimSystem(hw).run(two, 100)
    assert cycle > 2 * after.end_cycle  # (the passes took far longer than expert 2 alone)
    assert after.end_cycle == alone.end_cycle
    assert np.array_equal(after.counters, alone.counters)
