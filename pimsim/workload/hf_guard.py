"""What a Hugging Face `config.json` may say that pimsim does not model: refused, never
approximated. A config relabelled to a supported `model_type` (a Mixtral or Mistral file
saying `llama`) would otherwise run silently as another model: as a dense model without its
experts, with full instead of sliding-window attention, without Qwen2's QKV biases.

Refused: the `architectures` entry of another family; mixture-of-experts keys (more than one
expert) outside the families that read them (Mixtral, Qwen2-MoE); and, for families whose
reader does not read them (`READ_BY_FAMILY`), a sliding window shorter than the context, a
partial rotary embedding, parallel attention and FFN; encoder-decoder and cross-attention
models. Harmless keys (dropout rates, token ids, `rope_theta`, `rope_scaling`,
`torch_dtype`, initialisers, ...) are read by nobody and change nothing pimsim counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pimsim.core.errors import PimsimInputError

ARCHITECTURES = {
    "gpt2": ("GPT2LMHeadModel", "GPT2Model", "GPT2ForSequenceClassification"),
    "opt": ("OPTForCausalLM", "OPTModel"),
    "llama": ("LlamaForCausalLM", "LlamaModel"),
    "mistral": ("MistralForCausalLM", "MistralModel"),
    "mixtral": ("MixtralForCausalLM", "MixtralModel"),
    "qwen2": ("Qwen2ForCausalLM", "Qwen2Model"),
    "qwen2_moe": ("Qwen2MoeForCausalLM", "Qwen2MoeModel"),
    "phi3": ("Phi3ForCausalLM", "Phi3Model"),
    "phi": ("PhiForCausalLM", "PhiModel"),
    "gptj": ("GPTJForCausalLM", "GPTJModel"),
    "gpt_neox": ("GPTNeoXForCausalLM", "GPTNeoXModel"),
}
# keys a family's own reader reads (so they are not refused for it)
READ_BY_FAMILY = {
    "mistral": ("sliding_window",),
    "mixtral": ("sliding_window", "num_local_experts"),
    "phi3": ("sliding_window", "partial_rotary_factor"),
    "qwen2": ("use_sliding_window", "max_window_layers", "sliding_window"),
    "qwen2_moe": ("use_sliding_window", "max_window_layers", "sliding_window", "num_experts"),
    "phi": ("partial_rotary_factor",),
    "gptj": ("rotary_dim",),
    "gpt_neox": ("use_parallel_residual", "rotary_pct"),
}
EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
# keys only another family's configs have (their architecture differs from ours)
FOREIGN_KEYS = {
    "max_window_layers": "Qwen2's sliding-window layers (and its QKV biases)",
    "use_sliding_window": "Qwen2's sliding-window attention",
    "parallel_attn": "parallel attention and FFN (Falcon)",
    "use_parallel_residual": "parallel attention and FFN (GPT-NeoX)",
    "parallel_residual": "parallel attention and FFN",
    "rotary_pct": "a partial rotary embedding (GPT-NeoX)",
    "qkv_bias": "QKV biases",
}


def refuse_unmodelled(data: dict[str, Any], family: str, path: Path) -> None:
    """Raise `PimsimInputError` (naming the key) if the config describes an architecture that
    its family's reader would read as something else."""

    def refuse(key: str, what: str) -> None:
        raise PimsimInputError(
            f"{key} = {data[key]!r}: {what} is not modelled for model_type {family!r}",
            file=path,
            key=key,
            expected="a config of that family (pimsim runs no silent approximation)",
        )

    archs = data.get("architectures")
    if isinstance(archs, list) and archs:
        known = ARCHITECTURES[family]
        if not any(a in known for a in archs if isinstance(a, str)):
            refuse("architectures", f"{archs[0]!s}")
    read = READ_BY_FAMILY.get(family, ())
    for key in EXPERT_KEYS:
        if key not in read and isinstance(data.get(key), int) and data[key] > 1:
            refuse(key, "a mixture of experts")
    for key, what in FOREIGN_KEYS.items():
        if key not in read and data.get(key) not in (None, False, 0):
            refuse(key, what)
    window, context = data.get("sliding_window"), data.get("max_position_embeddings")
    is_window = isinstance(window, int) and not isinstance(window, bool)
    if (
        "sliding_window" not in read
        and is_window
        and (not isinstance(context, int) or window < context)
    ):
        refuse("sliding_window", "sliding-window attention")
    factor = data.get("partial_rotary_factor")
    if "partial_rotary_factor" not in read and factor is not None and factor != 1:
        refuse("partial_rotary_factor", "a partial rotary embedding")
    for key in ("is_encoder_decoder", "add_cross_attention"):
        if data.get(key) is True:
            refuse(key, "an encoder-decoder / cross-attention model")
