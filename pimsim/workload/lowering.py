"""Lowering: model spec -> operator table for one generation run (prompt_len, gen_len).

Steps. Every step processes `m` consecutive positions starting at `token` and runs the
embedding, all layers, and (if the step yields a token) the final norm and LM head.

- By default (PIM-GPT's way) the prompt is fed one token per step (`phase="prefill"`);
  only its last step runs the LM head, which yields generated token 1. Each further
  generated token needs one decode step (`phase="decode"`) on the token sampled before.
  Positions processed: prompt_len + gen_len - 1 (prompt_len when gen_len = 0), so the KV
  cache ends with that many positions; the LM head runs gen_len times.
- `batched_prefill=True` processes the whole prompt as one step with m = prompt_len: its
  matrix products become `gemm` ops (m > 1) and the attention is causal over the prompt;
  the final norm and LM head run on the last row only (m = 1).

Vectorised: one template per kind of step (numpy arrays, dependencies relative to the
step), replicated with numpy; costs are computed once over the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pimsim.core.errors import PimsimInputError
from pimsim.core.kinds import KINDS
from pimsim.workload import moe
from pimsim.workload.costs import op_costs
from pimsim.workload.graph import (
    INPUT,
    PREV_HEAD,
    PREV_STEP,
    PREV_STEP_BASE,
    GraphNode,
    build_graph,
)
from pimsim.workload.params import qualified_name
from pimsim.workload.spec import ModelSpec
from pimsim.workload.table import MAX_BATCH, TRACE_SCHEMA, make_op_table

_NO_DEP = -9  # padding in the local dependency array

_SHAPE_COLS = ("layer", "in_features", "out_features", "heads", "kv_heads", "d_head")


@dataclass(frozen=True)
class StepRun:
    """`count` consecutive steps of the same shape; step j covers positions
    [token0 + j*m, token0 + (j+1)*m)."""

    token0: int
    count: int
    m: int
    phase: str
    head: bool


def plan_steps(prompt_len: int, gen_len: int, batched_prefill: bool = False) -> list[StepRun]:
    """The steps of a run, grouped into runs of identically shaped steps."""
    runs: list[StepRun] = []
    head_on_prompt = gen_len >= 1
    if batched_prefill:
        runs.append(StepRun(0, 1, prompt_len, "prefill", head_on_prompt))
    elif head_on_prompt:
        if prompt_len > 1:
            runs.append(StepRun(0, prompt_len - 1, 1, "prefill", False))
        runs.append(StepRun(prompt_len - 1, 1, 1, "prefill", True))
    else:
        runs.append(StepRun(0, prompt_len, 1, "prefill", False))
    if gen_len > 1:
        runs.append(StepRun(prompt_len, gen_len - 1, 1, "decode", True))
    return runs


def positions_processed(prompt_len: int, gen_len: int) -> int:
    """KV-cache length at the end of the run."""
    return prompt_len + max(gen_len - 1, 0)


def check_lengths(spec: ModelSpec, prompt_len: int, gen_len: int) -> None:
    """Raise `PimsimInputError` unless 1 <= prompt_len and 0 <= gen_len fit the context."""
    for key, value, low in (("prompt_len", prompt_len, 1), ("gen_len", gen_len, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise PimsimInputError(
                f"must be an integer >= {low}, got {value!r}", key=key, expected=f">= {low}"
            )
    total = positions_processed(prompt_len, gen_len)
    if total > spec.max_context_tokens:
        raise PimsimInputError(
            f"prompt_len + gen_len - 1 = {total} positions exceed the context of "
            f"{spec.name} ({spec.max_context_tokens} tokens)",
            key="gen_len",
            expected=f"prompt_len + gen_len - 1 <= {spec.max_context_tokens}",
        )


# operators a run may materialise: a run peaks at about 1.4 KB of memory per operator (0.9 GB
# for gpt2-xl's 642k operators over 1024 tokens, measured), so this is about 14 GB
MAX_OPERATORS = 10_000_000


def _check_table_size(spec: ModelSpec, operators: int) -> None:
    """Refuse, before any work, a run whose operator table would not fit in memory."""
    if operators > MAX_OPERATORS:
        raise PimsimInputError(
            f"{spec.layers} layers over these tokens are {operators:,} operators, about "
            f"{operators * 1.4e3 / 1e9:.0f} GB of memory to simulate",
            key="gen_len",
            expected=f"at most {MAX_OPERATORS:,} operators: fewer tokens or layers",
        )


class _Names:
    """Interning of op and weight names into integer codes."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {"": 0}

    def code(self, name: str) -> int:
        return self.codes.setdefault(name, len(self.codes))

    def array(self) -> np.ndarray:
        return np.array(list(self.codes), dtype=object)


@dataclass(frozen=True)
class _Template:
    cols: dict[str, np.ndarray]  # per-op static columns of one step
    deps: np.ndarray  # (n, width) local indices, PREV_STEP / PREV_HEAD / PREV_STEP_BASE - k
    # (node k of the previous step) markers, _NO_DEP

    @property
    def n(self) -> int:
        return len(self.deps)


def _template(
    spec: ModelSpec, names: _Names, m: int, head: bool, decode: bool, batch: int = 1
) -> _Template:
    slots = moe.expert_slots(spec, m * batch) if spec.experts else 0
    graph = build_graph(spec, slots)
    rows: list[tuple[int, GraphNode, int]] = []  # (layer, node, m)
    deps: list[list[int]] = []

    def emit(section: tuple[GraphNode, ...], layer: int, rows_m: int, input_index: int) -> int:
        base = len(rows)
        for node in section:
            local = []
            for d in node.deps:
                if d == INPUT:
                    if input_index >= 0:
                        local.append(input_index)
                elif d == PREV_HEAD:
                    if decode:
                        local.append(PREV_HEAD)
                elif d == PREV_STEP:
                    local.append(PREV_STEP)
                elif d <= PREV_STEP_BASE:  # another node of this section, previous step
                    local.append(PREV_STEP_BASE - (base + PREV_STEP_BASE - d))
                else:
                    local.append(base + d)
            rows.append((layer, node, rows_m))
            deps.append(local)
        return len(rows) - 1

    out = emit(graph.pre, -1, m, -1)
    for layer in range(spec.layers):
        out = emit(graph.layer, layer, m, out)
    if head:
        emit(graph.post, -1, 1, out)

    n = len(rows)
    width = max(len(d) for d in deps)
    dep_arr = np.full((n, width), _NO_DEP, dtype=np.int64)
    for i, d in enumerate(deps):
        dep_arr[i, : len(d)] = d
    cols: dict[str, np.ndarray] = {
        "m": np.array([r[2] for r in rows], dtype=np.int64),
        "kind_code": np.array(
            [
                KINDS.index("gemm" if node.kind == "vmm" and rm > 1 else node.kind)
                for _, node, rm in rows
            ],
            dtype=np.int64,
        ),
        "name_code": np.array([names.code(qualified_name(lay, nd.name)) for lay, nd, _ in rows]),
        "weight_code": np.array(
            [names.code(qualified_name(lay, nd.weight) if nd.weight else "") for lay, nd, _ in rows]
        ),
        "layer": np.array([r[0] for r in rows], dtype=np.int64),
        "param_elems": np.array(
            [
                nd.matrix_params + nd.bias_params + nd.norm_params + nd.table_read
                for _, nd, _ in rows
            ],
            dtype=np.int64,
        ),
        "attention": np.array([nd.attention for _, nd, _ in rows], dtype=bool),
        # expert slots (mixture of experts): the slot, and which weight of the expert
        "slot": np.array([moe.slot_of(nd) for _, nd, _ in rows], dtype=np.int64),
        "part": np.array([moe.part_of(nd) for _, nd, _ in rows], dtype=np.int64),
    }
    for col in _SHAPE_COLS[1:]:
        cols[col] = np.array([getattr(nd, col) for _, nd, _ in rows], dtype=np.int64)
    return _Template(cols, dep_arr)


def _windowed(cols: dict[str, np.ndarray], window: int) -> np.ndarray:
    """The context column under a sliding window: attention reads the last `window` positions,
    and the KV write of position p fills slot p mod `window` of a ring of that many (its
    context column: the slot + 1, the positions up to it)."""
    context = cols["context"]
    if not window:
        return context
    write = cols["kind_code"] == KINDS.index("kv_write")
    slot = (context - 1) % window + 1
    return np.where(write, slot, np.minimum(context, window))


def _expand(
    tpl: _Template, run: StepRun, base: int, prev: tuple[int, int] | None, window: int = 0
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns and (rows, width) absolute dependency ids (-1 = none) of `run`'s steps."""
    n, k = tpl.n, run.count
    starts = base + n * np.arange(k, dtype=np.int64)
    if prev is None:
        prev_start = np.concatenate(([-1], starts[:-1]))
        prev_len = np.full(k, n, dtype=np.int64)
    else:
        prev_start = np.concatenate(([prev[0]], starts[:-1]))
        prev_len = np.concatenate(([prev[1]], np.full(k - 1, n, dtype=np.int64)))
    local = tpl.deps[None, :, :]
    own = np.arange(n, dtype=np.int64)[None, :, None]
    s = starts[:, None, None]
    ps = prev_start[:, None, None]
    pl = prev_len[:, None, None]
    deps = np.where(local >= 0, s + local, -1)
    deps = np.where(local == PREV_STEP, np.where(ps >= 0, ps + own, -1), deps)
    other = local <= PREV_STEP_BASE  # a given node of the previous step
    deps = np.where(other, np.where(ps >= 0, ps + (PREV_STEP_BASE - local), -1), deps)
    deps = np.where(local == PREV_HEAD, np.where(ps >= 0, ps + pl - 1, -1), deps)
    deps = deps.reshape(k * n, -1)

    cols = {name: np.tile(arr, k) for name, arr in tpl.cols.items()}
    token = np.repeat(run.token0 + run.m * np.arange(k, dtype=np.int64), n)
    cols["token"] = token
    cols["context"] = np.where(cols["attention"], token + cols["m"], 0)
    context = cols["context"] = _windowed(cols, window)
    kind = cols["kind_code"]
    score = kind == KINDS.index("attn_score")
    value = kind == KINDS.index("attn_value")
    soft = kind == KINDS.index("softmax")
    cols["out_features"] = np.where(score | soft, context, cols["out_features"])
    cols["in_features"] = np.where(value | soft, context, cols["in_features"])
    cols["phase"] = np.full(k * n, run.phase, dtype=object)
    return cols, deps


def check_batch(batch: object, key: str = "--batch") -> int:
    """The batch size as an int, or `PimsimInputError` naming `key`."""
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)):
        raise PimsimInputError(f"got {batch!r}", key=key, expected="an integer >= 1")
    if not 1 <= batch <= MAX_BATCH:
        raise PimsimInputError(f"got {batch}", key=key, expected=f"1 .. {MAX_BATCH}")
    return int(batch)


def lower(
    spec: ModelSpec,
    prompt_len: int = 1,
    gen_len: int = 8,
    batched_prefill: bool = False,
    batch: int = 1,
    routing: moe.Routing | None = None,
) -> pd.DataFrame:
    """Operator table (one row per op, columns `table.COLUMN_NAMES`) for generating `gen_len`
    tokens after a `prompt_len`-token prompt, for each of `batch` sequences decoding in
    lockstep (every op serves all of them: `m` rows per sequence; its costs cover the batch).
    `table.attrs` carries the trace header fields (schema, model spec dict, prompt_len,
    gen_len, batched_prefill, batch when > 1, and a mixture's `routing` policy: default
    uniform, seed 0) for `write_trace`."""
    check_lengths(spec, prompt_len, gen_len)
    batch = check_batch(batch)
    prompt_len, gen_len = int(prompt_len), int(gen_len)
    if batched_prefill:
        _check_prefill_window(spec, prompt_len)
    names = _Names()
    templates: dict[tuple[int, bool, bool], _Template] = {}
    runs = plan_steps(prompt_len, gen_len, batched_prefill)
    for run in runs:
        key = (run.m, run.head, run.phase == "decode")
        if key not in templates:
            templates[key] = _template(spec, names, *key, batch=batch)
    router = moe.Router(spec, routing, batch, positions_processed(prompt_len, gen_len), names)
    _check_table_size(
        spec, sum(templates[(r.m, r.head, r.phase == "decode")].n * r.count for r in runs)
    )
    parts: list[dict[str, np.ndarray]] = []
    dep_parts: list[np.ndarray] = []
    base = 0
    prev: tuple[int, int] | None = None
    for run in runs:
        tpl = templates[(run.m, run.head, run.phase == "decode")]
        cols, deps = _expand(tpl, run, base, prev, spec.sliding_window)
        router.route(cols, run)
        parts.append(cols)
        dep_parts.append(deps)
        base += tpl.n * run.count
        prev = (base - tpl.n, tpl.n)

    cols = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    del parts  # (each run's columns, now copied: freed before the table is built)
    width = max(d.shape[1] for d in dep_parts)
    deps = np.concatenate(
        [np.pad(d, ((0, 0), (0, width - d.shape[1])), constant_values=-1) for d in dep_parts]
    )
    del dep_parts
    cols, deps = moe.drop_empty_slots(cols, deps)
    sequences = np.where(cols["slot"] >= 0, 1, batch)  # (a slot's m: rows of the whole batch)
    costs = op_costs(cols, cols["param_elems"], spec.bytes_per_element, sequences)
    name_arr = names.array()
    total = len(cols["m"])
    present = deps >= 0
    table_cols = {
        "id": np.arange(total, dtype=np.int64),
        "name": name_arr[cols["name_code"]],
        "kind": np.array(KINDS, dtype=object)[cols["kind_code"]],
        "token": cols["token"],
        "phase": cols["phase"],
        "m": cols["m"],
        "context": cols["context"],
        "weight": name_arr[cols["weight_code"]],
        "dtype": np.full(total, spec.dtype, dtype=object),
        **{c: cols[c] for c in _SHAPE_COLS},
        **costs,
    }
    counts, flat = present.sum(axis=1), deps[present]
    del cols, deps, present, costs  # (what the table does not hold)
    table = make_op_table(table_cols, counts, flat)
    table.attrs.update(trace_header_fields(spec, prompt_len, gen_len, batched_prefill, batch))
    if spec.experts:
        table.attrs["routing"] = router.routing.describe()
    return table


def _check_prefill_window(spec: ModelSpec, prompt_len: int) -> None:
    if spec.sliding_window and prompt_len > spec.sliding_window:
        raise PimsimInputError(
            f"a {prompt_len}-token prompt in one batched step overruns the sliding window "
            f"of {spec.sliding_window} positions",
            key="prompt_len",
            expected=f"at most {spec.sliding_window} with batched prefill",
        )


def trace_header_fields(
    spec: ModelSpec, prompt_len: int, gen_len: int, batched_prefill: bool, batch: int = 1
) -> dict[str, object]:
    """The run description stored in `table.attrs` and in a trace file's header (`batch` only
    when more than one sequence decodes: a batch-1 trace has the header it always had)."""
    fields: dict[str, object] = {
        "schema": TRACE_SCHEMA,
        "model": spec.header_dict(),
        "prompt_len": int(prompt_len),
        "gen_len": int(gen_len),
        "batched_prefill": bool(batched_prefill),
    }
    if batch > 1:
        fields["batch"] = int(batch)
    return fields


def table_batch(table: pd.DataFrame) -> int:
    """Sequences every op of `table` serves (its `attrs`; 1 for a table without a batch)."""
    return int(table.attrs.get("batch", 1))


def trace_spec(table: pd.DataFrame) -> ModelSpec:
    """The `ModelSpec` a table (from `lower` or `read_trace`) was lowered from."""
    try:
        return ModelSpec.from_dict(dict(table.attrs["model"]))
    except KeyError:
        raise ValueError("table.attrs has no model (not from lower / read_trace)") from None
