"""Hugging Face readers of the mixture-of-experts families (Mixtral, Qwen2-MoE): their dense
relatives' readers (`hf_config`) plus the expert keys; registered into `hf_config`'s tables."""

from __future__ import annotations

from typing import Any

from pimsim.workload import hf_config as hf


def _mixtral(r) -> dict[str, Any]:
    """Mixtral: Mistral whose FFN is a mixture of SwiGLU experts of `intermediate_size`."""
    experts, chosen = r.get("num_local_experts", int), r.get("num_experts_per_tok", int)
    if chosen > experts:
        raise r.error("num_experts_per_tok", f"{chosen} > {experts} experts", "<= experts")
    return {**hf._mistral(r), "experts": experts, "experts_per_token": chosen}


def _qwen2_moe(r) -> dict[str, Any]:
    """Qwen2-MoE: Qwen2 whose FFN is `num_experts` SwiGLU experts of `moe_intermediate_size`
    (`num_experts_per_tok` per token) plus a shared expert of `shared_expert_intermediate_size`
    behind a sigmoid gate, on every layer (`decoder_sparse_step` 1, no `mlp_only_layers`)."""
    step = r.get("decoder_sparse_step", int, 1)
    if step != 1:
        raise r.error("decoder_sparse_step", f"{step}: dense layers between", "1 (every layer)")
    dense = r.data.get("mlp_only_layers") or []
    if dense:
        raise r.error("mlp_only_layers", f"{dense}: dense layers are not modelled", "[]")
    experts, chosen = r.get("num_experts", int), r.get("num_experts_per_tok", int)
    if chosen > experts:
        raise r.error("num_experts_per_tok", f"{chosen} > {experts} experts", "<= experts")
    shared = r.get("shared_expert_intermediate_size", int, 0)
    return {
        **hf._qwen2(r),
        "experts": experts,
        "experts_per_token": chosen,
        "expert_ffn_dim": r.get("moe_intermediate_size", int),
        "shared_expert_ffn_dim": shared,
        "shared_expert_gate": bool(shared),
    }


MOE_KEYS: dict[str, dict[str, str]] = {}
MOE_KEYS["qwen2_moe"] = {
    **hf._HF_KEYS["llama"],
    "experts": "num_experts",
    "experts_per_token": "num_experts_per_tok",
    "expert_ffn_dim": "moe_intermediate_size",
    "shared_expert_ffn_dim": "shared_expert_intermediate_size",
}
MOE_KEYS["mixtral"] = {
    **hf._HF_KEYS["mistral"],
    "experts": "num_local_experts",
    "experts_per_token": "num_experts_per_tok",
}

MOE_READERS = {"mixtral": _mixtral, "qwen2_moe": _qwen2_moe}
