"""ASIC vector-unit cost of every non-VMM operator: operation counts as data, then cycles.

PIM-GPT (Wu, Wang, Lu, arXiv 2310.09385) runs LayerNorm, softmax, GELU, residual adds and
partial-sum accumulation on a 1 GHz 28 nm ASIC; it computes exp and GELU by Taylor series,
division by a Newton-Raphson reciprocal and 1/sqrt by the fast inverse square root. `STAGES`
turns those algorithms into an explicit count of simple lane operations (add, subtract, multiply,
compare/max, integer shift/subtract) per *unit* of an operator, where the units are

- ``element``: one element of the operator's vector(s): ``m * in_features`` for element-wise
  kinds, ``heads * S`` scores for softmax (S = causal (query, key) pairs of one head, as in
  `pimsim.workload.costs.score_pairs`; ``context`` for one token);
- ``row``: one normalised row (``m`` for the norms, ``heads * m`` for softmax), charged once for
  its scalar work (1/sqrt, reciprocal);
- ``table_add``: one element added from an extra embedding table (GPT-2's learned positions),
  ``m * out_features * (tables - 1)``.

Stages carry a ``step``: consecutive stages with the same step form one pass over the data; a
new step starts where a reduction (max, sum) must finish first. Two timing models use the same
counts (`mode`):

- ``"pipelined"`` (default): every lane is a chain of functional units, one per operation of the
  step, accepting one unit per cycle; a step takes ``ceil(units / vector_lanes) + depth`` cycles
  (depth = its ops per unit) and an op ``pipeline_latency_cycles + sum over steps``. This is how
  a fixed-function vector ASIC evaluates a Taylor series, and it is the model consistent with
  PIM-GPT's report that non-VMM work is about 1 % of latency and that a 100 MHz ASIC costs at
  most about 20 %.
- ``"serial"``: one operation per lane per cycle; an op takes
  ``pipeline_latency_cycles + ceil(total_ops / vector_lanes)``.

An op with no arithmetic (a LLaMA token embedding: only a vector fetch, see `pimsim.asic.link`)
takes 0 cycles. Cross-lane reduction trees (max, sums) are taken to be hidden in the pipeline
latency. Print `op_count_table()` to see every stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from pimsim.asic._columns import (
    ALL_KINDS,
    PIM_KINDS,
    VECTOR_KINDS,
    dtype_bytes,
    dtype_bytes_column,
    int_column,
    kind_codes,
    op_field,
    op_field_or_none,
    unknown_kind_error,
)
from pimsim.config.schema import AsicConfig
from pimsim.core.errors import PimsimInputError
from pimsim.core.kinds import NET_KINDS
from pimsim.workload.costs import score_pairs
from pimsim.workload.moe import op_sequences

UNITS: tuple[str, ...] = ("element", "row", "table_add")
MODES: tuple[str, ...] = ("pipelined", "serial")
DEFAULT_MODE = "pipelined"


@dataclass(frozen=True)
class Stage:
    """One stage of a vector operator: ops per unit = base + a*T + b*R + c*S, where
    T = `exp_taylor_terms`, R = `reciprocal_nr_iterations`, S = `rsqrt_nr_iterations`."""

    kind: str
    step: int
    stage: str
    unit: str
    base: int
    per_exp_term: int = 0
    per_recip_iter: int = 0
    per_rsqrt_iter: int = 0
    how: str = ""

    def ops(self, asic: AsicConfig) -> int:
        """Lane operations per unit for this ASIC configuration."""
        return (
            self.base
            + self.per_exp_term * asic.exp_taylor_terms
            + self.per_recip_iter * asic.reciprocal_nr_iterations
            + self.per_rsqrt_iter * asic.rsqrt_nr_iterations
        )

    def formula(self) -> str:
        """The ops-per-unit formula as text, e.g. ``1 + 3*R``."""
        terms = [f"{c}*{sym}" for c, sym in self._params() if c]
        return " + ".join(([str(self.base)] if self.base or not terms else []) + terms)

    def _params(self) -> tuple[tuple[int, str], ...]:
        return ((self.per_exp_term, "T"), (self.per_recip_iter, "R"), (self.per_rsqrt_iter, "S"))


def _exp(kind: str, step: int, how: str = "") -> Stage:
    # exp(x) by a T-term Taylor series in Horner form: one multiply and one add per term.
    how = how or "Taylor, Horner: 2 per term"
    return Stage(kind, step, "exp", "element", 0, per_exp_term=2, how=how)


def _recip(kind: str, step: int, unit: str, how: str = "") -> Stage:
    # 1/d: seed by an integer magic-constant subtract (1), then R Newton-Raphson steps
    # x <- x * (2 - d * x): 2 multiplies + 1 subtract each.
    how = how or "seed 1 + NR (2 mul, 1 sub)"
    return Stage(kind, step, "reciprocal", unit, 1, per_recip_iter=3, how=how)


def _rsqrt(kind: str, step: int) -> Stage:
    # Fast inverse square root: x/2 (1), seed by shift + integer subtract (2), then S Newton
    # steps y <- y * (1.5 - x/2 * y * y): 3 multiplies + 1 subtract each.
    return Stage(kind, step, "rsqrt", "row", 3, per_rsqrt_iter=4, how="x/2, shift, sub + NR 4")


def _stable_softmax(kind: str, value: str) -> tuple[Stage, ...]:
    # max-subtracted softmax of a row: running max; subtract, exp, sum; 1/sum; normalise
    return (
        Stage(kind, 0, "max", "element", 1, how="running max"),
        Stage(kind, 1, "subtract", "element", 1, how=f"{value} - max"),
        _exp(kind, 1),
        Stage(kind, 1, "sum", "element", 1, how="accumulate exp"),
        _recip(kind, 2, "row", how="1/sum: seed 1 + NR (2 mul, 1 sub)"),
        Stage(kind, 3, "normalise", "element", 1, how="exp * (1/sum)"),
    )


STAGES: tuple[Stage, ...] = (
    # LayerNorm: mean, variance, 1/sqrt(var + eps) per row, normalise, gain, bias.
    Stage("layernorm", 0, "mean_sum", "element", 1, how="accumulate x"),
    Stage("layernorm", 1, "mean_scale", "row", 1, how="sum * 1/N"),
    Stage("layernorm", 2, "center", "element", 1, how="x - mean (kept for normalise)"),
    Stage("layernorm", 2, "square", "element", 1, how="(x - mean)^2"),
    Stage("layernorm", 2, "var_sum", "element", 1, how="accumulate squares"),
    Stage("layernorm", 3, "var_scale_eps", "row", 2, how="sum * 1/N + eps"),
    _rsqrt("layernorm", 3),
    Stage("layernorm", 4, "normalise", "element", 1, how="(x - mean) * rstd"),
    Stage("layernorm", 4, "gain", "element", 1, how="* gamma"),
    Stage("layernorm", 4, "bias", "element", 1, how="+ beta"),
    # RMSNorm: mean square, 1/sqrt per row, normalise, gain.
    Stage("rmsnorm", 0, "square", "element", 1, how="x^2"),
    Stage("rmsnorm", 0, "sum", "element", 1, how="accumulate squares"),
    Stage("rmsnorm", 1, "scale_eps", "row", 2, how="sum * 1/N + eps"),
    _rsqrt("rmsnorm", 1),
    Stage("rmsnorm", 2, "normalise", "element", 1, how="x * rstd"),
    Stage("rmsnorm", 2, "gain", "element", 1, how="* gamma"),
    # Softmax over each head's score row (max-subtracted, as every stable softmax is).
    Stage("softmax", 0, "qk_scale", "element", 1, how="score * 1/sqrt(d_head)"),
    *_stable_softmax("softmax", "score"),
    # GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
    # tanh(u) = 1 - 2 / (exp(2u) + 1).
    Stage("gelu", 0, "polynomial", "element", 5, how="x^2, *0.044715, +1, *x, *sqrt(2/pi)"),
    Stage("gelu", 0, "tanh_arg", "element", 1, how="2u"),
    _exp("gelu", 0, how="exp(2u): Taylor, Horner: 2 per term"),
    Stage("gelu", 0, "tanh_denominator", "element", 1, how="exp(2u) + 1"),
    _recip("gelu", 0, "element", how="1/(exp(2u) + 1): seed 1 + NR (2 mul, 1 sub)"),
    Stage("gelu", 0, "tanh_out", "element", 2, how="1 - 2 * r"),
    Stage("gelu", 0, "output", "element", 3, how="1 + tanh, * x, * 0.5"),
    # SiLU: x * sigmoid(x) = x / (1 + exp(-x)).
    Stage("silu", 0, "negate", "element", 1, how="-x"),
    _exp("silu", 0, how="exp(-x): Taylor, Horner: 2 per term"),
    Stage("silu", 0, "denominator", "element", 1, how="1 + exp(-x)"),
    _recip("silu", 0, "element"),
    Stage("silu", 0, "output", "element", 1, how="x * 1/(1 + exp(-x))"),
    Stage("relu", 0, "max", "element", 1, how="max(x, 0)"),
    Stage("add", 0, "add", "element", 1, how="a + b (residual)"),
    Stage("mul", 0, "mul", "element", 1, how="a * b (SwiGLU gate)"),
    # Rotary embedding of q and k: per element pair 4 multiplies + 2 adds; sin/cos from a table.
    Stage("rope", 0, "rotate", "element", 3, how="(x0 c - x1 s, x0 s + x1 c) / 2 elements"),
    # MoE routing over the E expert logits of a row: a softmax (as above), then the top-k by
    # one pass of compare-and-insert into a k-entry list (compare with its minimum, insert).
    *_stable_softmax("moe_route", "logit"),
    Stage("moe_route", 3, "top_k", "element", 2, how="compare with the list's minimum, insert"),
    # MoE combine: each chosen expert's output times its gate weight, summed.
    Stage("moe_combine", 0, "weighted_sum", "element", 2, how="w_e * y_e, accumulate"),
    # Token embedding: a row fetch (link); extra tables (learned positions) are added.
    Stage("embed", 0, "table_add", "table_add", 1, how="+ position row, per extra table"),
)


class StageCount(NamedTuple):
    """Operations of one stage of one operator."""

    step: int
    stage: str
    unit: str
    units: int
    ops_per_unit: int
    ops: int


def resolve_mode(asic: AsicConfig, mode: str | None = None) -> str:
    """The timing model: `mode` if given, else `asic.vector_model` if the config has one, else
    `DEFAULT_MODE`."""
    mode = mode or getattr(asic, "vector_model", None) or DEFAULT_MODE
    if mode not in MODES:
        raise PimsimInputError(
            f"unknown ASIC vector timing model {mode!r}",
            key="asic.vector_model",
            expected=" or ".join(MODES),
        )
    return mode


def op_count_table(asic: AsicConfig | None = None) -> pd.DataFrame:
    """Every stage of every vector kind: step, unit, formula and ops per unit for `asic`
    (default configuration if None)."""
    asic = asic or AsicConfig()
    rows = [
        {
            "kind": s.kind,
            "step": s.step,
            "stage": s.stage,
            "unit": s.unit,
            "formula": s.formula(),
            "ops_per_unit": s.ops(asic),
            "how": s.how,
        }
        for s in STAGES
    ]
    return pd.DataFrame(rows)


def ops_per_unit(asic: AsicConfig) -> dict[str, dict[str, int]]:
    """Total ops per unit (`element`, `row`, `table_add`) of every vector kind."""
    out = {kind: dict.fromkeys(UNITS, 0) for kind in VECTOR_KINDS}
    for s in STAGES:
        out[s.kind][s.unit] += s.ops(asic)
    return out


def steps(asic: AsicConfig) -> dict[str, list[tuple[str, int]]]:
    """Per vector kind, its steps in order as (unit, depth = ops per unit of the step)."""
    out: dict[str, dict[int, tuple[str, int]]] = {kind: {} for kind in VECTOR_KINDS}
    for s in STAGES:
        unit, depth = out[s.kind].get(s.step, (s.unit, 0))
        if unit != s.unit:
            raise AssertionError(f"{s.kind} step {s.step} mixes units {unit} and {s.unit}")
        out[s.kind][s.step] = (unit, depth + s.ops(asic))
    return {kind: [v for _, v in sorted(d.items())] for kind, d in out.items()}


def op_units(op: Any) -> dict[str, int]:
    """Unit counts (`element`, `row`, `table_add`) of one vector op row."""
    kind = str(op_field(op, "kind"))
    m = int(op_field(op, "m"))
    if kind == "softmax":
        heads = int(op_field(op, "heads"))
        pairs = int(score_pairs(m, int(op_field(op, "context"))))
        return {"element": heads * pairs, "row": heads * m, "table_add": 0}
    if kind == "embed":
        out = int(op_field(op, "out_features"))
        width = m * out * dtype_bytes(op_field(op, "dtype"))
        tables = int(op_field(op, "weight_bytes")) // width if width else 0
        return {"element": m * out, "row": m, "table_add": m * out * max(tables - 1, 0)}
    if kind in VECTOR_KINDS:
        return {"element": m * int(op_field(op, "in_features")), "row": m, "table_add": 0}
    raise unknown_kind_error(kind, op_field_or_none(op, "id"), op_field_or_none(op, "name"))


def vector_op_breakdown(op: Any, asic: AsicConfig) -> list[StageCount]:
    """Per-stage operation counts of one vector op (empty for PIM kinds)."""
    kind = str(op_field(op, "kind"))
    if kind in PIM_KINDS or kind in NET_KINDS:  # (no ASIC work)
        return []
    units = op_units(op)
    out = []
    for s in STAGES:
        if s.kind == kind:
            n, per = units[s.unit], s.ops(asic)
            out.append(StageCount(s.step, s.stage, s.unit, n, per, n * per))
    return out


def cycles_from_ops(total_ops: int, asic: AsicConfig) -> int:
    """Serial timing: pipeline fill + ceil(ops / lanes) cycles; 0 if there are no ops."""
    if total_ops <= 0:
        return 0
    return asic.pipeline_latency_cycles + math.ceil(total_ops / asic.vector_lanes)


def cycles_from_breakdown(
    breakdown: list[StageCount], asic: AsicConfig, mode: str | None = None
) -> int:
    """ASIC cycles of one op from its stage counts, in the given timing model."""
    total = sum(c.ops for c in breakdown)
    if total <= 0:
        return 0
    if resolve_mode(asic, mode) == "serial":
        return cycles_from_ops(total, asic)
    cycles = asic.pipeline_latency_cycles
    for step in sorted({c.step for c in breakdown}):
        in_step = [c for c in breakdown if c.step == step]
        units = in_step[0].units
        if units > 0:
            cycles += math.ceil(units / asic.vector_lanes) + sum(c.ops_per_unit for c in in_step)
    return cycles


def vector_op_cycles(op: Any, asic: AsicConfig, *, mode: str | None = None) -> int:
    """ASIC cycles of one op row (Mapping, pandas row or namedtuple); 0 for PIM kinds."""
    return cycles_from_breakdown(vector_op_breakdown(op, asic), asic, mode)


def table_units(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Kind codes (into `ALL_KINDS`) and an (n, 3) int64 array of units per `UNITS`, for
    all the sequences of a batch (`table.attrs["batch"]`)."""
    code = kind_codes(table)
    m = int_column(table, "m")
    n_out = int_column(table, "out_features")
    heads = int_column(table, "heads")
    units = np.zeros((len(table), len(UNITS)), dtype=np.int64)
    units[:, 0] = m * int_column(table, "in_features")
    units[:, 1] = m

    soft = code == ALL_KINDS.index("softmax")
    units[soft, 0] = heads[soft] * score_pairs(m[soft], int_column(table, "context")[soft])
    units[soft, 1] = heads[soft] * m[soft]

    batch = op_sequences(table)  # (every op serves that many sequences; an expert slot 1)
    emb = np.flatnonzero(code == ALL_KINDS.index("embed"))
    if len(emb):
        width = m[emb] * n_out[emb] * dtype_bytes_column(table.iloc[emb]) * batch[emb]
        tables = int_column(table, "weight_bytes")[emb] // np.maximum(width, 1)
        units[emb, 0] = m[emb] * n_out[emb]
        units[emb, 2] = m[emb] * n_out[emb] * np.maximum(tables - 1, 0)
    return code, units * batch[:, None]


def _ops_from_units(code: np.ndarray, units: np.ndarray, asic: AsicConfig) -> np.ndarray:
    per = ops_per_unit(asic)
    coef = np.zeros((len(ALL_KINDS), len(UNITS)), dtype=np.int64)
    for i, kind in enumerate(ALL_KINDS):
        if kind in per:
            coef[i] = [per[kind][u] for u in UNITS]
    return (units * coef[code]).sum(axis=1)


def table_ops(table: pd.DataFrame, asic: AsicConfig) -> np.ndarray:
    """Total lane operations of every row of an operator table (int64; 0 for PIM kinds)."""
    code, units = table_units(table)
    return _ops_from_units(code, units, asic)


def asic_cycles_for_table(
    table: pd.DataFrame, asic: AsicConfig, *, mode: str | None = None
) -> np.ndarray:
    """ASIC cycles of every row of an operator table (int64; 0 for PIM kinds), vectorised."""
    mode = resolve_mode(asic, mode)
    lanes = asic.vector_lanes
    code, units = table_units(table)
    ops = _ops_from_units(code, units, asic)
    if mode == "serial":
        cycles = asic.pipeline_latency_cycles + (ops + lanes - 1) // lanes
        return np.where(ops > 0, cycles, 0).astype(np.int64)
    cycles = np.zeros(len(table), dtype=np.int64)
    for kind, kind_steps in steps(asic).items():
        idx = np.flatnonzero(code == ALL_KINDS.index(kind))
        if not len(idx):
            continue
        c = np.full(len(idx), asic.pipeline_latency_cycles, dtype=np.int64)
        for unit, depth in kind_steps:
            n = units[idx, UNITS.index(unit)]
            c += np.where(n > 0, (n + lanes - 1) // lanes + depth, 0)
        cycles[idx] = np.where(ops[idx] > 0, c, 0)
    return cycles
