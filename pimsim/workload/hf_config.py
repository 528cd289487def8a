"""Hugging Face `config.json` (GPT-2, OPT, LLaMA, Mistral, Mixtral, Qwen2, Phi-3, Phi, GPT-J,
GPT-NeoX) -> `ModelSpec`.

Reads only the architecture keys listed below (from disk; no network, no weights). Other keys
of a `config.json` (dropout rates, token ids, ...) are ignored, except those that describe an
architecture pimsim does not model (experts, sliding windows, ...: `pimsim.workload.hf_guard`),
which are refused. Defaults follow the
`transformers` configuration classes of each family.

Spec field <- GPT-2 key | OPT key | LLaMA key (default in parentheses):

- layers <- n_layer | num_hidden_layers | num_hidden_layers
- d_model <- n_embd | hidden_size | hidden_size
- heads <- n_head | num_attention_heads | num_attention_heads
- kv_heads <- (heads) | (heads) | num_key_value_heads (heads)
- d_head <- (d_model / heads) | (d_model / heads) | head_dim (d_model / heads)
- d_ffn <- n_inner (4 d_model) | ffn_dim | intermediate_size
- max_context_tokens <- n_positions or n_ctx | max_position_embeddings | same
- vocab_size <- vocab_size in all three
- d_embed <- (d_model) | word_embed_proj_dim (d_model) | (d_model)
- ffn <- activation_function gelu*/relu | activation_function | hidden_act silu -> swiglu
- norm_position <- (pre) | do_layer_norm_before (true: pre) | (pre)
- linear_bias <- (true) | enable_bias (true) | attention_bias = mlp_bias (false)
- tied_lm_head <- tie_word_embeddings: (true) | (true) | (false)

The LLaMA-like families read as LLaMA, plus: Mistral and Phi-3 `sliding_window` (kept when
shorter than the context); Mixtral as Mistral with `num_local_experts` experts of
`intermediate_size`, `num_experts_per_tok` chosen per token; Qwen2-MoE as Qwen2 with
`num_experts` experts of `moe_intermediate_size` and a gated shared expert of
`shared_expert_intermediate_size`; Qwen2 biases on the QKV
projection only (`use_sliding_window: true` is refused). The parallel-block families
(LayerNorm, rotary, attention and FFN both from the layer input): Phi
(`partial_rotary_factor`, one shared norm, biases), GPT-J (GPT-2's key names, `rotary_dim`,
biases on the FFN only), GPT-NeoX (`rotary_pct`, two norms when `use_parallel_residual`,
else a sequential pre-norm block)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pimsim.core.errors import PimsimInputError
from pimsim.core.io import check_nesting, read_text
from pimsim.workload.hf_guard import refuse_unmodelled
from pimsim.workload.spec import ModelSpec
from pimsim.workload.yaml_model import make_spec

_MISSING = object()
_GELU_NAMES = ("gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_python", "quick_gelu")
# model_type -> reader; the LLaMA-like families share one reader with their own differences
FAMILIES = (
    "gpt2",
    "opt",
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "phi3",
    "phi",
    "gptj",
    "gpt_neox",
)


class _Reader:
    """Typed access to config keys; every error names the file and the key."""

    def __init__(self, data: dict[str, Any], file: Path) -> None:
        self.data = data
        self.file = file

    def error(self, key: str, message: str, expected: str | None = None) -> PimsimInputError:
        return PimsimInputError(message, file=self.file, key=key, expected=expected)

    def get(self, key: str, kind: type, default: Any = _MISSING, *alt: str) -> Any:
        for name in (key, *alt):
            if name in self.data and self.data[name] is not None:
                key = name
                value = self.data[name]
                break
        else:
            if default is _MISSING:
                raise self.error(key, "missing key")
            return default
        if kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            if ok and value <= 0:
                raise self.error(key, f"must be positive, got {value}", "a positive integer")
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok and not value > 0:
                raise self.error(key, f"must be positive, got {value}", "a positive number")
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise self.error(key, f"wrong type: {value!r}", f"a {kind.__name__}")
        return value


def detect_family(data: dict[str, Any]) -> str | None:
    """`model_type` if it is a supported family, else guessed from the keys present."""
    model_type = data.get("model_type")
    if model_type in FAMILIES:
        return model_type
    if model_type is not None:
        return None
    if "n_layer" in data and "n_embd" in data:
        return "gpt2"
    if "ffn_dim" in data:
        return "opt"
    if "intermediate_size" in data:
        return "llama"
    return None


def load_hf_config(path: str | Path, name: str | None = None) -> ModelSpec:
    """Read a Hugging Face `config.json` (file or the directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    text = read_text(path, "config.json file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PimsimInputError(f"not valid JSON: {exc}", file=path) from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, a number too long
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise PimsimInputError(f"not readable JSON: {reason}", file=path) from None
    if not isinstance(data, dict):
        raise PimsimInputError("must be a JSON object", file=path)
    check_nesting(data, path)
    family = detect_family(data)
    if family is None:
        raise PimsimInputError(
            f"unsupported model_type {data.get('model_type')!r}",
            file=path,
            key="model_type",
            expected=f"one of {list(FAMILIES)}",
        )
    refuse_unmodelled(data, family, path)
    r = _Reader(data, path)
    fields = _READERS[family](r)
    if name is None:
        label = data.get("_name_or_path")
        if isinstance(label, str) and label:
            name = label.rstrip("/").split("/")[-1]
        else:
            name = path.parent.name if path.name == "config.json" else path.stem
    fields.update(
        name=name or "model",
        family=family,
        description=f"{family} architecture from {path.name}",
        source=str(path),
    )
    keys = _HF_KEYS.get(family, _HF_KEYS["llama"])
    return make_spec(fields, file=path, keymap=lambda k: keys.get(k, k))


def _activation(r: _Reader, key: str, default: str) -> str:
    act = r.get(key, str, default)
    if act in _GELU_NAMES:
        return "gelu"
    if act == "relu":
        return "relu"
    raise r.error(key, f"unsupported activation {act!r}", f"relu or one of {list(_GELU_NAMES)}")


def _gpt2(r: _Reader) -> dict[str, Any]:
    d = r.get("n_embd", int)
    heads = r.get("n_head", int)
    _divides(r, "n_head", heads, d)
    return dict(
        layers=r.get("n_layer", int),
        d_model=d,
        heads=heads,
        kv_heads=heads,
        d_head=d // heads,
        d_ffn=r.get("n_inner", int, 4 * d),
        vocab_size=r.get("vocab_size", int),
        max_context_tokens=r.get("n_positions", int, _MISSING, "n_ctx"),
        d_embed=d,
        norm="layernorm",
        norm_eps=r.get("layer_norm_epsilon", float, 1e-5),
        ffn=_activation(r, "activation_function", "gelu_new"),
        position_embedding="learned",
        linear_bias=True,
        tied_lm_head=r.get("tie_word_embeddings", bool, True),
    )


def _opt(r: _Reader) -> dict[str, Any]:
    d = r.get("hidden_size", int)
    heads = r.get("num_attention_heads", int)
    _divides(r, "num_attention_heads", heads, d)
    pre = r.get("do_layer_norm_before", bool, True)
    return dict(
        layers=r.get("num_hidden_layers", int),
        d_model=d,
        heads=heads,
        kv_heads=heads,
        d_head=d // heads,
        d_ffn=r.get("ffn_dim", int),
        vocab_size=r.get("vocab_size", int),
        max_context_tokens=r.get("max_position_embeddings", int),
        d_embed=r.get("word_embed_proj_dim", int, d),
        norm="layernorm",
        norm_eps=1e-5,
        norm_position="pre" if pre else "post",
        final_norm=pre and not r.get("_remove_final_layer_norm", bool, False),
        ffn=_activation(r, "activation_function", "relu"),
        position_embedding="learned",
        linear_bias=r.get("enable_bias", bool, True),
        tied_lm_head=r.get("tie_word_embeddings", bool, True),
    )


def _llama(r: _Reader) -> dict[str, Any]:
    d = r.get("hidden_size", int)
    heads = r.get("num_attention_heads", int)
    if "head_dim" not in r.data or r.data["head_dim"] is None:
        _divides(r, "num_attention_heads", heads, d)
    act = r.get("hidden_act", str, "silu")
    if act != "silu":
        raise r.error("hidden_act", f"unsupported activation {act!r}", "silu (SwiGLU FFN)")
    attn_bias = r.get("attention_bias", bool, False)
    mlp_bias = r.get("mlp_bias", bool, False)
    if attn_bias != mlp_bias:
        raise r.error("mlp_bias", "differs from attention_bias", "attention_bias == mlp_bias")
    return dict(
        layers=r.get("num_hidden_layers", int),
        d_model=d,
        heads=heads,
        kv_heads=r.get("num_key_value_heads", int, heads),
        d_head=r.get("head_dim", int, d // heads),
        d_ffn=r.get("intermediate_size", int),
        vocab_size=r.get("vocab_size", int),
        max_context_tokens=r.get("max_position_embeddings", int),
        d_embed=d,
        norm="rmsnorm",
        norm_eps=r.get("rms_norm_eps", float, 1e-6),
        ffn="swiglu",
        position_embedding="rotary",
        linear_bias=attn_bias,
        tied_lm_head=r.get("tie_word_embeddings", bool, False),
    )


def _window(r: _Reader, context: int) -> int:
    """`sliding_window` (Mistral, Phi-3): 0 when absent or not shorter than the context."""
    window = r.get("sliding_window", int, 0)
    return window if window < context else 0


def _mistral(r: _Reader) -> dict[str, Any]:
    fields = _llama(r)
    return {**fields, "sliding_window": _window(r, fields["max_context_tokens"])}


def _qwen2(r: _Reader) -> dict[str, Any]:
    """Qwen2: LLaMA with biases on the QKV projection only (its attention always has them)."""
    if r.get("use_sliding_window", bool, False):
        raise r.error(
            "use_sliding_window",
            "sliding windows on only some layers (max_window_layers) are not modelled",
            "false (as Qwen2's released configs)",
        )
    return {**_llama(r), "linear_bias": False, "qkv_bias": True}


def _phi3(r: _Reader) -> dict[str, Any]:
    """Phi-3: LLaMA with fused QKV and gate/up matrices (pimsim's layout) and a window."""
    factor = r.get("partial_rotary_factor", float, 1.0)
    if factor != 1:
        raise r.error("partial_rotary_factor", f"got {factor}", "1 for phi3")
    return _mistral(r)


def _rotary_dims(r: _Reader, key: str, d_head: int, fraction: bool) -> int:
    """Rotated dimensions per head from a fraction (`partial_rotary_factor`, `rotary_pct`)
    or a count (`rotary_dim`); 0 means the whole head."""
    if fraction:
        value = r.get(key, float, 1.0)
        if value > 1:
            raise r.error(key, f"got {value}", "a fraction in (0, 1]")
        dims = int(value * d_head)
    else:
        dims = r.get(key, int, d_head)
        if dims > d_head:
            raise r.error(key, f"{dims} is wider than a head ({d_head})", f"at most {d_head}")
    if dims % 2:
        raise r.error(key, f"rotates {dims} dimensions, an odd number", "pairs of dimensions")
    return 0 if dims == d_head else dims


def _parallel(r: _Reader, d: int, heads: int, d_ffn: int) -> dict[str, Any]:
    """The fields GPT-J, GPT-NeoX and Phi-2 share: a pre-norm LayerNorm parallel block."""
    act_key = "hidden_act" if "hidden_act" in r.data else "activation_function"
    return dict(
        d_model=d,
        heads=heads,
        kv_heads=heads,
        d_head=d // heads,
        d_ffn=d_ffn,
        vocab_size=r.get("vocab_size", int),
        d_embed=d,
        norm="layernorm",
        ffn=_activation(r, act_key, "gelu_new"),
        position_embedding="rotary",
        parallel_block=True,
        tied_lm_head=r.get("tie_word_embeddings", bool, False),
    )


def _phi(r: _Reader) -> dict[str, Any]:
    """Phi-1/1.5/2: one LayerNorm feeding attention and FFN, biases, partial rotary."""
    d, heads = r.get("hidden_size", int), r.get("num_attention_heads", int)
    _divides(r, "num_attention_heads", heads, d)
    kv = r.get("num_key_value_heads", int, heads)
    if kv != heads:
        raise r.error("num_key_value_heads", f"got {kv}", f"{heads} (phi has no GQA)")
    fields = _parallel(r, d, heads, r.get("intermediate_size", int))
    return {
        **fields,
        "layers": r.get("num_hidden_layers", int),
        "max_context_tokens": r.get("max_position_embeddings", int),
        "norm_eps": r.get("layer_norm_eps", float, 1e-5),
        "linear_bias": True,
        "rotary_dims": _rotary_dims(r, "partial_rotary_factor", d // heads, True),
    }


def _gptj(r: _Reader) -> dict[str, Any]:
    """GPT-J: one LayerNorm feeding attention and FFN; biases only on the FFN."""
    d, heads = r.get("n_embd", int), r.get("n_head", int)
    _divides(r, "n_head", heads, d)
    fields = _parallel(r, d, heads, r.get("n_inner", int, 4 * d))
    return {
        **fields,
        "layers": r.get("n_layer", int),
        "max_context_tokens": r.get("n_positions", int),
        "norm_eps": r.get("layer_norm_epsilon", float, 1e-5),
        "linear_bias": False,
        "mlp_bias": True,
        "rotary_dims": _rotary_dims(r, "rotary_dim", d // heads, False),
    }


def _gpt_neox(r: _Reader) -> dict[str, Any]:
    """GPT-NeoX / Pythia: two LayerNorms on the layer input (parallel) or a sequential
    pre-norm block (`use_parallel_residual: false`), biases, partial rotary."""
    d, heads = r.get("hidden_size", int), r.get("num_attention_heads", int)
    _divides(r, "num_attention_heads", heads, d)
    parallel = r.get("use_parallel_residual", bool, True)
    fields = _parallel(r, d, heads, r.get("intermediate_size", int))
    return {
        **fields,
        "layers": r.get("num_hidden_layers", int),
        "max_context_tokens": r.get("max_position_embeddings", int),
        "norm_eps": r.get("layer_norm_eps", float, 1e-5),
        "linear_bias": r.get("attention_bias", bool, True),
        "mlp_bias": True,
        "parallel_block": parallel,
        "parallel_norms": 2 if parallel else 1,
        "rotary_dims": _rotary_dims(r, "rotary_pct", d // heads, True),
    }


def _divides(r: _Reader, key: str, heads: int, d: int) -> None:
    if d % heads:
        raise r.error(key, f"{heads} heads do not divide the hidden size {d}", "a divisor")


# spec field -> HF key, for errors raised by ModelSpec's own checks.
_HF_KEYS: dict[str, dict[str, str]] = {
    "gpt2": {
        "layers": "n_layer",
        "d_model": "n_embd",
        "heads": "n_head",
        "d_head": "n_head",
        "d_ffn": "n_inner",
        "vocab_size": "vocab_size",
        "max_context_tokens": "n_positions",
        "norm_eps": "layer_norm_epsilon",
    },
    "opt": {
        "layers": "num_hidden_layers",
        "d_model": "hidden_size",
        "heads": "num_attention_heads",
        "d_head": "num_attention_heads",
        "d_ffn": "ffn_dim",
        "vocab_size": "vocab_size",
        "max_context_tokens": "max_position_embeddings",
        "d_embed": "word_embed_proj_dim",
    },
    "llama": {
        "layers": "num_hidden_layers",
        "d_model": "hidden_size",
        "heads": "num_attention_heads",
        "kv_heads": "num_key_value_heads",
        "d_head": "head_dim",
        "d_ffn": "intermediate_size",
        "vocab_size": "vocab_size",
        "max_context_tokens": "max_position_embeddings",
        "norm_eps": "rms_norm_eps",
    },
}

_HF_KEYS["gptj"] = {**_HF_KEYS["gpt2"], "rotary_dims": "rotary_dim"}
_HF_KEYS["gpt_neox"] = {
    **_HF_KEYS["llama"],
    "rotary_dims": "rotary_pct",
    "norm_eps": "layer_norm_eps",
}
_HF_KEYS["phi"] = {**_HF_KEYS["gpt_neox"], "rotary_dims": "partial_rotary_factor"}
_HF_KEYS["mistral"] = _HF_KEYS["phi3"] = {**_HF_KEYS["llama"], "sliding_window": "sliding_window"}

_READERS = {
    "gpt2": _gpt2,
    "opt": _opt,
    "llama": _llama,
    "mistral": _mistral,
    "qwen2": _qwen2,
    "phi3": _phi3,
    "phi": _phi,
    "gptj": _gptj,
    "gpt_neox": _gpt_neox,
}

from pimsim.workload.hf_moe import MOE_KEYS, MOE_READERS  # noqa: E402  (they read as above)

_READERS.update(MOE_READERS)
_HF_KEYS.update(MOE_KEYS)
