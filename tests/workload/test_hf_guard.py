"""A config.json relabelled to a supported model_type is refused, not run as another model:
Mixtral (experts), Mistral (sliding window), Qwen2 (its own keys), an `architectures` entry of
another family. Written from the public configs' architecture keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pimsim.cli import main
from pimsim.workload import load_hf_config

ROOT = Path(__file__).resolve().parents[2]
LLAMA = json.loads((ROOT / "workloads" / "hf" / "tinyllama-1.1b" / "config.json").read_text())


def _as_llama(**keys) -> dict:
    return {**LLAMA, "model_type": "llama", **keys}


RELABELLED = {
    "mixtral": (  # mistralai/Mixtral-8x7B-v0.1
        _as_llama(architectures=["MixtralForCausalLM"], num_local_experts=8, num_experts_per_tok=2),
        "architectures",
    ),
    "mixtral-no-architectures": (
        _as_llama(architectures=[], num_local_experts=8, num_experts_per_tok=2),
        "num_local_experts",
    ),
    "mistral": (  # mistralai/Mistral-7B-v0.1: 4096-token window, 32768 positions
        _as_llama(architectures=[], sliding_window=4096, max_position_embeddings=32768),
        "sliding_window",
    ),
    "qwen2": (  # Qwen/Qwen2-7B
        _as_llama(architectures=[], use_sliding_window=False, max_window_layers=28),
        "max_window_layers",
    ),
    "phi": (_as_llama(architectures=[], partial_rotary_factor=0.4), "partial_rotary_factor"),
}


@pytest.mark.parametrize("name", sorted(RELABELLED))
def test_a_relabelled_config_is_refused_naming_the_key(tmp_path, capsys, name):
    data, key = RELABELLED[name]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    assert main(["lower", "--model", str(path), "--gen-len", "1", "-o", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert f"config.json: {key}:" in err and "not modelled" in err, err
    assert not (tmp_path / "t").exists()


def test_harmless_keys_and_a_window_as_long_as_the_context_are_accepted(tmp_path):
    data = _as_llama(rope_scaling={"type": "linear", "factor": 2.0}, sliding_window=2048)
    data.update(attention_dropout=0.0, use_cache=True, num_experts_per_tok=None)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    spec = load_hf_config(path)
    assert (spec.layers, spec.kv_heads, spec.max_context_tokens) == (22, 4, 2048)
