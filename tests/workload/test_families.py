"""Today's model families from their shipped Hugging Face configs (`workloads/hf/`): parameter
counts against the published figures, per-token FLOPs and bytes against first-principles
formulas written here from the config numbers (not from pimsim's graph), and each family's
feature (sliding window, QKV biases, parallel block, partial rotary) in the operator table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.core.errors import PimsimInputError
from pimsim.pipeline import prepare_run
from pimsim.workload import count_parameters, load_hf_config, lower, resolve_model
from pimsim.workload.spec import ModelSpec

ROOT = Path(__file__).resolve().parents[2]
HF = ROOT / "workloads" / "hf"

# published parameter counts (Hugging Face model cards / safetensors metadata of each
# checkpoint named in its config's _name_or_path; Phi-2 and GPT-J add lm_head biases, which
# pimsim does not count: 51,200 and 50,400 parameters)
PUBLISHED = {
    "llama-3-8b": 8.03e9,  # meta-llama/Meta-Llama-3-8B: "8B", 8,030,261,248
    "llama-2-70b": 6.90e10,  # meta-llama/Llama-2-70b-hf: 69.0 B (Touvron et al. 2023, 2307.09288)
    "llama-2-13b": 1.30e10,  # meta-llama/Llama-2-13b-hf: 13.0 B (same paper)
    "mistral-7b": 7.24e9,  # mistralai/Mistral-7B-v0.1: 7.24 B (Jiang et al. 2023, arXiv 2310.06825)
    "qwen2-7b": 7.62e9,  # Qwen/Qwen2-7B: 7.62 B (Qwen2 technical report, arXiv 2407.10671)
    "phi-3-mini": 3.8e9,  # microsoft/Phi-3-mini-4k-instruct: 3.8 B (arXiv 2404.14219)
    "phi-2": 2.78e9,  # microsoft/phi-2: 2.7 B, 2,779,683,840
    "gpt-j-6b": 6.053e9,  # EleutherAI/gpt-j-6b: 6,053,381,344
    "pythia-1.4b": 1.4146e9,  # EleutherAI/pythia-1.4b: 1,414,647,808 (Biderman et al. 2023)
}


def _config(name: str) -> dict:
    return json.loads((HF / name / "config.json").read_text())


def _first_principles(name: str) -> dict:
    """Matrix parameters per layer and in the head, and KV elements per position and layer,
    from the config's numbers alone."""
    c = _config(name)
    if c["model_type"] == "gptj":
        d, layers, heads = c["n_embd"], c["n_layer"], c["n_head"]
        ffn, kv, gated = 4 * d, heads, False
    else:
        d, layers, heads = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"]
        ffn = c["intermediate_size"]
        kv = c.get("num_key_value_heads") or heads
        gated = c.get("hidden_act") == "silu"
    dh = d // heads
    attention = d * (heads + 2 * kv) * dh + heads * dh * d
    mlp = (3 if gated else 2) * d * ffn
    return {
        "layer_matrix": attention + mlp,
        "layers": layers,
        "head": d * c["vocab_size"],
        "kv_per_position_layer": 2 * kv * dh,
        "window": c.get("sliding_window") if c["model_type"] in ("mistral", "phi3") else None,
    }


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_count_within_one_percent_of_the_published_figure(name):
    spec = load_hf_config(HF / name / "config.json", name=name)
    counted = count_parameters(spec)
    assert abs(counted / PUBLISHED[name] - 1) < 0.01, (name, counted)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_decode_flops_and_bytes_per_token_from_first_principles(name):
    spec = load_hf_config(HF / name / "config.json", name=name)
    fp = _first_principles(name)
    context = 12
    table = lower(spec, prompt_len=context, gen_len=2)
    token = table[table["token"] == context]  # the one decode step
    vmm = token[token["kind"] == "vmm"]
    matrices = fp["layers"] * fp["layer_matrix"] + fp["head"]
    assert int((vmm["in_features"] * vmm["out_features"]).sum()) == matrices
    # 2 FLOPs per weight, plus one add per bias element
    biases = int((vmm["flops"] - 2 * vmm["in_features"] * vmm["out_features"]).sum())
    assert 0 <= biases < 0.001 * matrices
    assert int(vmm["flops"].sum()) == 2 * matrices + biases
    assert int(vmm["weight_bytes"].sum()) == 2 * (matrices + biases)  # bf16
    # the KV cache read per token: every layer's K and V over the positions attended
    attended = context + 1 if fp["window"] is None else min(context + 1, fp["window"])
    reads = token[token["kind"].isin(["attn_score", "attn_value"])]
    expected = fp["layers"] * fp["kv_per_position_layer"] * attended * 2
    assert int(reads["kv_bytes"].sum()) == expected


def _tiny(**fields) -> ModelSpec:
    base = dict(
        name="tiny",
        layers=2,
        d_model=64,
        heads=4,
        kv_heads=2,
        d_head=16,
        d_ffn=128,
        vocab_size=100,
        max_context_tokens=64,
        d_embed=64,
        norm="rmsnorm",
        ffn="swiglu",
        position_embedding="rotary",
        linear_bias=False,
        tied_lm_head=False,
    )
    return ModelSpec(**{**base, **fields})


def test_sliding_window_caps_attention_and_cycles_the_kv_ring():
    spec = _tiny(sliding_window=8)
    table = lower(spec, prompt_len=1, gen_len=20)
    layer0 = table[table["layer"] == 0]
    score = layer0[layer0["kind"] == "attn_score"]
    write = layer0[layer0["kind"] == "kv_write"]
    positions = score["token"].to_numpy() + 1
    assert score["context"].tolist() == np.minimum(positions, 8).tolist()
    assert write["context"].tolist() == ((write["token"].to_numpy()) % 8 + 1).tolist()


def test_the_kv_reservation_is_the_window(tmp_path):
    path = _write_yaml(tmp_path, _tiny(sliding_window=8))
    prepared = prepare_run(load_hw("gddr6_aim"), model=str(path), gen_len=20)
    assert prepared.mapping.kv[0].max_context == 8  # not the model's 64 positions


def _write_yaml(tmp_path: Path, spec: ModelSpec) -> Path:
    import yaml

    skip = ("name", "family", "description", "source", "dtype")
    arch = {k: v for k, v in spec.to_dict().items() if k not in skip}
    path = tmp_path / "windowed.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "windowed", "architecture": arch}))
    return path


def test_sliding_window_per_token_latency_stops_growing(tmp_path):
    from pimsim.api import simulate

    growth = {}
    for window in (16, 0):
        model = _write_yaml(tmp_path, _tiny(sliding_window=window, max_context_tokens=256))
        result = simulate("gddr6_aim", str(model), gen_len=96)
        per_token = np.diff(result.run.sim.lm_head_end_ps)
        growth[window] = per_token[-20:].mean() / per_token[20:40].mean() - 1
    # after the window fills (token 16) attention reads 16 positions whatever the context; the
    # rest of the drift is refresh phase. Without the window it reads every position.
    assert growth[16] < 0.5 * growth[0], growth


def test_qwen2_has_qkv_biases_only_and_gptj_ffn_biases_only():
    qwen = resolve_model("qwen2-7b")
    assert (qwen.qkv_bias, qwen.linear_bias, qwen.mlp_bias) == (True, False, False)
    table = lower(qwen, 1, 1)
    layer0 = table[table["layer"] == 0].set_index("name")
    params = layer0["flops"] - 2 * layer0["in_features"] * layer0["out_features"]
    assert params["L0.qkv"] == qwen.qkv_out_features
    assert params["L0.attn_out"] == 0 and params["L0.down"] == 0
    gptj = lower(resolve_model("gpt-j-6b"), 1, 1)
    layer0 = gptj[gptj["layer"] == 0].set_index("name")
    params = layer0["flops"] - 2 * layer0["in_features"] * layer0["out_features"]
    assert params["L0.qkv"] == 0 and params["L0.attn_out"] == 0
    assert params["L0.fc1"] == 4 * 4096 and params["L0.fc2"] == 4096


@pytest.mark.parametrize(("name", "norms"), [("gpt-j-6b", 1), ("phi-2", 1), ("pythia-1.4b", 2)])
def test_parallel_block_feeds_the_ffn_from_the_layer_input(name, norms):
    spec = resolve_model(name)
    assert spec.parallel_block and spec.parallel_norms == norms
    table = lower(spec, 1, 1)
    layer1 = table[table["layer"] == 1]
    ids = dict(zip(layer1["name"], layer1["id"], strict=True))
    deps = dict(zip(layer1["name"], layer1["deps"], strict=True))
    first_ffn = "L1.fc1"
    norm = "L1.ffn_norm" if norms == 2 else "L1.attn_norm"
    assert deps[first_ffn] == [ids[norm]]  # not the attention's residual sum
    if norms == 2:
        assert deps["L1.ffn_norm"] == deps["L1.attn_norm"]  # both on the layer input
    assert ids["L1.attn_residual"] in deps["L1.ffn_residual"]


def test_partial_rotary_rotates_only_its_dimensions():
    for name, dims in (("phi-2", 32), ("gpt-j-6b", 64), ("pythia-1.4b", 32)):
        spec = resolve_model(name)
        assert spec.rotated_dims == dims
        rope = lower(spec, 1, 1).query("kind == 'rope'").iloc[0]
        assert rope["in_features"] == (spec.heads + spec.kv_heads) * dims


def test_feature_fields_are_checked():
    with pytest.raises(PimsimInputError, match="rotary_dims"):
        _tiny(rotary_dims=15)
    with pytest.raises(PimsimInputError, match="sliding_window"):
        _tiny(sliding_window=65)
    with pytest.raises(PimsimInputError, match="parallel_norms"):
        _tiny(parallel_norms=2)
    with pytest.raises(PimsimInputError, match="parallel_block"):
        _tiny(parallel_block=True, norm_position="post")
    with pytest.raises(PimsimInputError, match="prompt_len"):
        lower(_tiny(sliding_window=4), prompt_len=6, gen_len=1, batched_prefill=True)


def test_qwen2_layer_windows_are_refused(tmp_path):
    data = {**_config("qwen2-7b"), "use_sliding_window": True, "sliding_window": 4096}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PimsimInputError, match="use_sliding_window"):
        load_hf_config(path)
