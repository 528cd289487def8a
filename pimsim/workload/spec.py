"""Model specification: the architecture of a decoder-only transformer, no weights.

A `ModelSpec` is a frozen dataclass checked on construction. Loaders (`yaml_model`,
`hf_config`) fill defaults and translate a failing field name into the key path of the
file being read, so every error names the file and the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pimsim.core.dtypes import DTYPE_BYTES
from pimsim.core.errors import PimsimInputError
from pimsim.core.kinds import FFN_ACTIVATIONS

NORMS = ("layernorm", "rmsnorm")
NORM_POSITIONS = ("pre", "post")
FFNS = (*FFN_ACTIVATIONS, "swiglu")  # an activation kind (pimsim.core.kinds) or gated SiLU
POSITION_EMBEDDINGS = ("learned", "rotary", "none")


class SpecFieldError(ValueError):
    """A field of a `ModelSpec` is invalid; loaders map `field` to their own key path."""

    def __init__(self, field: str, message: str, expected: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.expected = expected


@dataclass(frozen=True)
class ModelSpec:
    """Architecture of a decoder-only transformer (sizes in elements, not bytes).

    `ffn`: `gelu` / `relu` are fc1 -> activation -> fc2 with `d_ffn` hidden units;
    `swiglu` is down(silu(gate(x)) * up(x)) with gate and up stored as one concatenated
    `d_model x 2*d_ffn` matrix. Attention has `heads` query heads and `kv_heads` key/value
    heads (grouped-query attention when `kv_heads < heads`), each `d_head` wide.
    `d_embed` is the width of the token embedding table (OPT-350m projects it to `d_model`).

    Family features: `sliding_window` > 0 attends to (and keeps KV for) only the last that many
    positions (Mistral, Phi-3); `qkv_bias` / `mlp_bias` give the QKV or FFN projections biases
    without `linear_bias` (Qwen2 / GPT-J); `parallel_block` computes attention and FFN from the
    same layer input and adds both (GPT-J, GPT-NeoX, Phi-2), with `parallel_norms` 1 (one
    shared norm) or 2 (one each, GPT-NeoX); `rotary_dims` > 0 rotates only that many of each
    head's dimensions (partial rotary embedding). `experts` > 0 makes every layer's FFN a
    mixture of that many experts (Mixtral): a router VMM (d_model x experts), the top
    `experts_per_token` chosen on the ASIC, each chosen expert an FFN of `expert_ffn_dim`
    hidden units (0: `d_ffn`) of the model's `ffn` kind, their outputs summed by gate weight;
    `shared_expert_ffn_dim` > 0 adds an expert every token uses (Qwen2-MoE), with a sigmoid
    gate of its own (a d_model x 1 VMM) when `shared_expert_gate`.

    `tensor_parallel` > 1 describes one device's shard of a model split over that many devices
    (Megatron-style): the query and KV heads (KV heads replicated when there are more devices),
    the FFN hidden units (each expert's too) and the vocabulary of the LM head divided among
    them (`local_*`), the attention output and FFN down
    projections summed over the devices by an all-reduce, the logits all-gathered.
    """

    name: str
    layers: int
    d_model: int
    heads: int
    kv_heads: int
    d_head: int
    d_ffn: int
    vocab_size: int
    max_context_tokens: int
    d_embed: int
    norm: str = "layernorm"
    norm_eps: float = 1e-5
    norm_position: str = "pre"
    final_norm: bool = True
    ffn: str = "gelu"
    position_embedding: str = "learned"
    linear_bias: bool = True
    tied_lm_head: bool = True
    dtype: str = "bf16"
    sliding_window: int = 0
    qkv_bias: bool = False
    mlp_bias: bool = False
    parallel_block: bool = False
    parallel_norms: int = 1
    rotary_dims: int = 0
    experts: int = 0
    experts_per_token: int = 0
    expert_ffn_dim: int = 0
    shared_expert_ffn_dim: int = 0
    shared_expert_gate: bool = False
    tensor_parallel: int = 1
    family: str = ""
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        try:
            _check(self)
        except SpecFieldError as exc:
            raise PimsimInputError(exc.message, key=exc.field, expected=exc.expected) from None

    # ---- derived sizes -------------------------------------------------------------------
    @property
    def bytes_per_element(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def qkv_out_features(self) -> int:
        """Output width of the concatenated QKV projection: q heads plus K and V heads."""
        return (self.local_heads + 2 * self.local_kv_heads) * self.d_head

    @property
    def rotated_dims(self) -> int:
        """Dimensions of each head that the rotary embedding rotates (0 without one)."""
        if self.position_embedding != "rotary":
            return 0
        return self.rotary_dims or self.d_head

    def attended_positions(self, context: int) -> int:
        """Positions a token at `context` (positions so far, itself included) attends to."""
        window = self.sliding_window
        return min(context, window) if window else context

    def kv_positions(self, context: int) -> int:
        """KV-cache positions kept for a context of `context`: all, or the window."""
        return self.attended_positions(context)

    @property
    def expert_hidden(self) -> int:
        """Hidden units of one expert's FFN on this device (mixture-of-experts models)."""
        return (self.expert_ffn_dim or self.d_ffn) // self.tensor_parallel

    @property
    def local_heads(self) -> int:
        """Query heads on one device (all of them without tensor parallelism)."""
        return self.heads // self.tensor_parallel

    @property
    def local_kv_heads(self) -> int:
        """KV heads on one device: a share of them, or one (replicated) when there are more
        devices than KV heads (Megatron-LM's rule for grouped-query attention)."""
        return max(1, self.kv_heads // self.tensor_parallel)

    @property
    def local_d_ffn(self) -> int:
        return self.d_ffn // self.tensor_parallel

    @property
    def local_shared_ffn(self) -> int:
        return self.shared_expert_ffn_dim // self.tensor_parallel

    @property
    def local_vocab(self) -> int:
        """LM-head outputs on one device (the vocabulary padded to a multiple of the devices)."""
        return -(-self.vocab_size // self.tensor_parallel)

    def whole(self) -> ModelSpec:
        """The model all devices hold together (this spec without tensor parallelism)."""
        return dataclasses.replace(self, tensor_parallel=1)

    def split_degrees(self) -> list[int]:
        """The tensor-parallel degrees 1, 2, 4, ... (up to the heads) that split the whole
        model evenly (`_check_tensor_parallel`): what `--tensor-parallel auto` tries."""
        whole, degrees, degree = self.whole(), [], 1
        while degree <= min(self.heads, MAX_DEVICES):
            try:
                dataclasses.replace(whole, tensor_parallel=degree)  # (checked as it is made)
            except PimsimInputError:
                pass
            else:
                degrees.append(degree)
            degree *= 2
        return degrees

    @property
    def gated_ffn(self) -> bool:
        return self.ffn == "swiglu"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (JSON / YAML friendly)."""
        return dataclasses.asdict(self)

    def header_dict(self) -> dict[str, Any]:
        """`to_dict` without the family features left at their defaults: a trace of a model
        without them has the header it had before they existed (older readers read it)."""
        return {
            k: v
            for k, v in self.to_dict().items()
            if k not in FEATURE_DEFAULTS or v != FEATURE_DEFAULTS[k]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Inverse of `to_dict`; an unknown, missing or invalid key raises `PimsimInputError`
        with `key` set to the field name."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise PimsimInputError(
                f"unknown key '{unknown[0]}'", key=unknown[0], expected=f"one of {names}"
            )
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        for key in required:
            if key not in data:
                raise PimsimInputError("missing key", key=key)
        return cls(**data)


FEATURE_DEFAULTS = {
    "sliding_window": 0,
    "qkv_bias": False,
    "mlp_bias": False,
    "parallel_block": False,
    "parallel_norms": 1,
    "rotary_dims": 0,
    "experts": 0,
    "experts_per_token": 0,
    "expert_ffn_dim": 0,
    "shared_expert_ffn_dim": 0,
    "shared_expert_gate": False,
    "tensor_parallel": 1,
}
MAX_DEVICES = 4096  # (a device per head of the largest models, and then some)
MAX_EXPERTS = 1024  # (DeepSeek-V3: 256 routed experts; Qwen2-MoE: 64)


def spec_field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(ModelSpec)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_SIZE_FIELDS = (
    "layers",
    "d_model",
    "heads",
    "kv_heads",
    "d_head",
    "d_ffn",
    "vocab_size",
    "max_context_tokens",
    "d_embed",
)
# the largest sizes a description may give (far beyond published models, e.g. Llama-3.1-405B:
# 126 layers, d_model 16384, d_ffn 53248, 128 heads; Gemma: vocabulary 256,000): anything
# larger is a typo, refused before any work
_SIZE_LIMITS = {
    "layers": 4096,
    "d_model": 1 << 18,
    "heads": 1 << 14,
    "kv_heads": 1 << 14,
    "d_head": 1 << 14,
    "d_ffn": 1 << 21,
    "vocab_size": 1 << 23,
    "max_context_tokens": 1 << 24,
    "d_embed": 1 << 18,
}
_CHOICE_FIELDS = (
    ("norm", NORMS),
    ("norm_position", NORM_POSITIONS),
    ("ffn", FFNS),
    ("position_embedding", POSITION_EMBEDDINGS),
    ("dtype", tuple(DTYPE_BYTES)),
)
_FLAG_FIELDS = (
    "final_norm",
    "linear_bias",
    "tied_lm_head",
    "qkv_bias",
    "mlp_bias",
    "parallel_block",
    "shared_expert_gate",
)


def _check(spec: ModelSpec) -> None:
    _check_fields(spec)
    _check_shapes(spec)


def _check_fields(spec: ModelSpec) -> None:
    """Each field on its own: types, ranges and choices."""
    if not isinstance(spec.name, str) or not spec.name:
        raise SpecFieldError("name", "must be a non-empty string")
    for field in ("family", "description", "source"):
        if not isinstance(getattr(spec, field), str):
            raise SpecFieldError(field, "must be a string")
    for field in _SIZE_FIELDS:
        value = getattr(spec, field)
        if not _is_int(value):
            raise SpecFieldError(field, f"must be an integer, got {value!r}", "a positive integer")
        if value <= 0:
            raise SpecFieldError(field, f"must be positive, got {value}", "a positive integer")
        if value > _SIZE_LIMITS[field]:
            raise SpecFieldError(
                field, f"{value} is beyond any model", f"at most {_SIZE_LIMITS[field]}"
            )
    for field, choices in _CHOICE_FIELDS:
        value = getattr(spec, field)
        if value not in choices:
            raise SpecFieldError(field, f"unknown value {value!r}", f"one of {list(choices)}")
    for field in _FLAG_FIELDS:
        if not isinstance(getattr(spec, field), bool):
            raise SpecFieldError(field, f"must be true or false, got {getattr(spec, field)!r}")
    eps = spec.norm_eps
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise SpecFieldError("norm_eps", f"must be a positive number, got {eps!r}")
    if eps > 1:  # an epsilon that outweighs the variance it guards is no normalisation at all
        raise SpecFieldError("norm_eps", f"{eps!r} is far beyond any model's", "a number in (0, 1]")


def _check_shapes(spec: ModelSpec) -> None:
    """How the sizes fit together: heads, head width and KV heads."""
    if spec.d_model % spec.heads:
        raise SpecFieldError(
            "heads",
            f"{spec.heads} heads do not divide d_model {spec.d_model}",
            "a divisor of d_model",
        )
    if spec.heads * spec.d_head != spec.d_model:
        raise SpecFieldError(
            "d_head",
            f"heads x d_head = {spec.heads} x {spec.d_head} != d_model {spec.d_model}",
            f"d_head = d_model / heads = {spec.d_model // spec.heads}",
        )
    if spec.heads % spec.kv_heads:
        raise SpecFieldError(
            "kv_heads",
            f"{spec.kv_heads} KV heads do not divide {spec.heads} query heads",
            "a divisor of heads",
        )
    if spec.position_embedding == "rotary" and spec.d_head % 2:
        raise SpecFieldError("d_head", "rotary embeddings need an even d_head")
    _check_family_features(spec)


def _check_family_features(spec: ModelSpec) -> None:
    """Sliding window, partial rotary and parallel-block fields, and how they fit."""
    for field, low, high in (
        ("sliding_window", 0, spec.max_context_tokens),
        ("rotary_dims", 0, spec.d_head),
        ("parallel_norms", 1, 2),
    ):
        value = getattr(spec, field)
        if not _is_int(value) or not low <= value <= high:
            raise SpecFieldError(field, f"got {value!r}", f"an integer in {low}..{high}")
    if spec.rotary_dims % 2:
        raise SpecFieldError("rotary_dims", "a rotary embedding rotates pairs", "an even number")
    if spec.rotary_dims and spec.position_embedding != "rotary":
        raise SpecFieldError(
            "rotary_dims", "only a rotary position embedding has rotated dimensions", "0"
        )
    if spec.parallel_block and spec.norm_position != "pre":
        raise SpecFieldError(
            "parallel_block",
            "a parallel block reads the normalised layer input",
            "norm_position: pre",
        )
    if spec.parallel_norms == 2 and not spec.parallel_block:
        raise SpecFieldError("parallel_norms", "only a parallel block has a second norm", "1")
    _check_experts(spec)
    _check_tensor_parallel(spec)


def _check_tensor_parallel(spec: ModelSpec) -> None:
    """Every split dimension divides evenly over the devices (the vocabulary is padded)."""
    tp = spec.tensor_parallel
    if not _is_int(tp) or not 1 <= tp <= MAX_DEVICES:
        raise SpecFieldError("tensor_parallel", f"got {tp!r}", f"an integer in 1..{MAX_DEVICES}")
    if tp == 1:
        return
    if spec.kv_heads % tp and tp % spec.kv_heads:
        raise SpecFieldError(
            "tensor_parallel",
            f"{tp} devices neither divide nor are a multiple of kv_heads = {spec.kv_heads}",
            "a divisor or multiple of kv_heads (more devices than KV heads replicate them)",
        )
    dims = {"heads": spec.heads, "d_ffn": spec.d_ffn}
    if spec.experts:
        dims["expert_ffn_dim"] = spec.expert_ffn_dim or spec.d_ffn
        dims["shared_expert_ffn_dim"] = spec.shared_expert_ffn_dim
    for field, value in dims.items():
        if value % tp:
            raise SpecFieldError(
                "tensor_parallel",
                f"{tp} devices do not divide {field} = {value}",
                f"a divisor of {field}",
            )


def _check_experts(spec: ModelSpec) -> None:
    """A dense model has no expert fields; a mixture has 2.. experts and 1..experts chosen."""
    for field, high in (
        ("experts", MAX_EXPERTS),
        ("experts_per_token", max(spec.experts, 0)),
        ("expert_ffn_dim", _SIZE_LIMITS["d_ffn"]),
        ("shared_expert_ffn_dim", _SIZE_LIMITS["d_ffn"]),
    ):
        value = getattr(spec, field)
        if not _is_int(value) or not 0 <= value <= high:
            raise SpecFieldError(field, f"got {value!r}", f"an integer in 0..{high}")
    if spec.experts == 1:
        raise SpecFieldError("experts", "one expert is a dense FFN", "0 (dense) or 2 and more")
    if spec.experts and not spec.experts_per_token:
        raise SpecFieldError("experts_per_token", "a mixture chooses experts", "1..experts")
    extra = ("experts_per_token", "expert_ffn_dim", "shared_expert_ffn_dim", "shared_expert_gate")
    for field in extra:
        if not spec.experts and getattr(spec, field):
            raise SpecFieldError(field, "only a mixture of experts has it", "0 (or set experts)")
    if spec.shared_expert_gate and not spec.shared_expert_ffn_dim:
        raise SpecFieldError(
            "shared_expert_gate", "gates a shared expert", "false (or set shared_expert_ffn_dim)"
        )
