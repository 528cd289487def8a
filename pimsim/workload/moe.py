"""Mixture of experts: which experts each row chooses (a routing policy), and the expert slots
of the operator table that carry those choices.

Expert choice is data-dependent, so a run names a policy instead of averaging it away:

- `uniform[:SEED]`: every row picks `experts_per_token` distinct experts uniformly at random;
- `skew:ALPHA[:SEED]`: expert popularity falls with its rank as rank^-ALPHA (Zipf), each layer
  with its own seeded ranking, and a row picks its experts without replacement in proportion
  to popularity (Gumbel top-k, i.e. Plackett-Luce sampling); ALPHA 0 is uniform;
- `file:PATH`: the expert ids themselves, a `.npy` integer array (positions, layers, k) or
  (sequences, positions, layers, k), or a `.csv` with the columns `sequence, position, layer,
  expert` (one row per chosen expert, k per sequence, position and layer).

A step serving R rows (m positions of each of B sequences) needs at most min(experts, R x k)
distinct experts: the layer's graph has that many expert slots (`expert_slots`), and the
lowering gives slot s the s-th expert used by the step (in id order) with the rows routed to it
(`m` of a routed operator counts rows over the whole batch, `op_sequences`); slots no expert
fills are dropped from the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pimsim.core.errors import PimsimInputError
from pimsim.workload.graph import GraphNode, expert_weight
from pimsim.workload.params import qualified_name
from pimsim.workload.spec import ModelSpec

POLICIES = ("uniform", "skew", "file")
ROUTED_NAME = re.compile(r"^L\d+\.moe\d+\.")  # an expert slot's operator (graph: `_moe`)
MAX_SKEW = 16.0


@dataclass(frozen=True)
class Routing:
    """A routing policy (see the module docstring)."""

    policy: str = "uniform"
    seed: int = 0
    skew: float = 0.0
    path: str = ""

    def describe(self) -> str:
        """The policy as `parse_routing` reads it (file: the file's name, no directory)."""
        if self.policy == "file":
            return f"file:{Path(self.path).name}"
        if self.policy == "skew":
            return f"skew:{self.skew:g}:{self.seed}"
        return f"uniform:{self.seed}"


def parse_routing(text: str, key: str = "--routing") -> Routing:
    """`uniform[:SEED]`, `skew:ALPHA[:SEED]` or `file:PATH` -> `Routing` (else exit-2 error)."""
    expected = "uniform[:SEED], skew:ALPHA[:SEED] or file:PATH"
    if not isinstance(text, str) or not text:
        raise PimsimInputError(f"got {text!r}", key=key, expected=expected)
    policy, _, rest = text.partition(":")
    if policy == "file":
        if not rest:
            raise PimsimInputError("file: needs a path", key=key, expected=expected)
        return Routing("file", path=rest)
    parts = rest.split(":") if rest else []
    try:
        if policy == "uniform" and len(parts) <= 1:
            return Routing("uniform", seed=_seed(parts[0]) if parts else 0)
        if policy == "skew" and 1 <= len(parts) <= 2:
            alpha = float(parts[0])
            if not 0.0 <= alpha <= MAX_SKEW:
                raise ValueError
            return Routing("skew", seed=_seed(parts[1]) if len(parts) > 1 else 0, skew=alpha)
    except ValueError:
        pass
    raise PimsimInputError(
        f"got {text!r}", key=key, expected=f"{expected} (ALPHA in 0..{MAX_SKEW:g}, SEED >= 0)"
    )


def _seed(text: str) -> int:
    seed = int(text)
    if seed < 0:
        raise ValueError
    return seed


def expert_slots(spec: ModelSpec, rows: int) -> int:
    """Expert slots a step of `rows` rows (over the batch) needs per layer."""
    return min(spec.experts, rows * spec.experts_per_token)


def expert_counts(routing: Routing, spec: ModelSpec, batch: int, positions: int) -> np.ndarray:
    """(positions, layers, experts) int64: rows of the batch at each position and layer that
    chose each expert (every row chooses `experts_per_token` distinct ones)."""
    experts, k, layers = spec.experts, spec.experts_per_token, spec.layers
    counts = np.zeros((positions, layers, experts), dtype=np.int64)
    if routing.policy == "file":
        ids = _read_ids(Path(routing.path), spec, batch, positions)  # (B, P, L, k)
        for layer in range(layers):
            _add_choices(counts[:, layer], ids[:, :, layer])
        return counts
    for layer in range(layers):
        rng = np.random.default_rng([routing.seed, layer])
        keys = rng.gumbel(size=(batch, positions, experts))
        if routing.policy == "skew" and routing.skew > 0:
            ranks = rng.permutation(experts)  # this layer's most popular expert has rank 0
            keys += -routing.skew * np.log1p(ranks.astype(np.float64))
        chosen = np.argsort(-keys, axis=-1, kind="stable")[..., :k]
        _add_choices(counts[:, layer], chosen)
    return counts


def _add_choices(counts: np.ndarray, chosen: np.ndarray) -> None:
    """counts (P, E) += how many of the batch's rows chose each expert; chosen (B, P, k)."""
    positions, experts = counts.shape
    flat = (np.arange(positions)[None, :, None] * experts + chosen).ravel()
    counts += np.bincount(flat, minlength=positions * experts).reshape(positions, experts)


def _read_ids(path: Path, spec: ModelSpec, batch: int, positions: int) -> np.ndarray:
    """Expert ids (batch, positions, layers, k) from a routing file (module docstring)."""
    k, layers = spec.experts_per_token, spec.layers
    shape = (batch, positions, layers, k)
    if not path.is_file():
        raise PimsimInputError("routing file not found", file=path, key="--routing")
    if path.suffix == ".npy":
        try:
            ids = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise PimsimInputError(f"not a .npy array: {exc}", file=path) from None
        if ids.ndim == 3 and batch == 1:
            ids = ids[None]
        if ids.ndim != 4 or ids.shape[0] != batch or ids.shape[2:] != (layers, k):
            raise PimsimInputError(
                f"array of shape {ids.shape}", file=path, expected=f"{shape[1:]} or {shape}"
            )
        ids = ids[:, :positions]
    elif path.suffix == ".csv":
        ids = _read_csv_ids(path, shape)
    else:
        raise PimsimInputError("unknown routing file type", file=path, expected=".npy or .csv")
    _check_ids(ids, path, spec, positions)
    return ids.astype(np.int64)


def _read_csv_ids(path: Path, shape: tuple[int, int, int, int]) -> np.ndarray:
    columns = ["sequence", "position", "layer", "expert"]
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError) as exc:
        raise PimsimInputError(f"not a readable CSV: {exc}", file=path) from None
    if list(frame.columns) != columns or not all(
        pd.api.types.is_integer_dtype(frame[c]) for c in columns
    ):
        raise PimsimInputError(
            f"columns {list(frame.columns)}", file=path, expected=f"integer columns {columns}"
        )
    batch, positions, layers, k = shape
    frame = frame[frame["position"] < positions]
    for col, high in (("sequence", batch), ("position", positions), ("layer", layers)):
        values = frame[col].to_numpy()
        if len(values) and (values.min() < 0 or values.max() >= high):
            raise PimsimInputError(f"a {col} outside 0..{high - 1}", file=path, key=col)
    frame = frame.sort_values(columns[:3], kind="stable")
    if len(frame) != batch * positions * layers * k:
        raise PimsimInputError(
            f"{len(frame)} choices for the run's first {positions} positions",
            file=path,
            expected=f"{k} experts for each of {batch} sequences x {positions} positions x "
            f"{layers} layers",
        )
    groups = frame.groupby(columns[:3]).size()
    if (groups != k).any():
        raise PimsimInputError("a (sequence, position, layer) without k experts", file=path)
    return frame["expert"].to_numpy().reshape(shape)


def _check_ids(ids: np.ndarray, path: Path, spec: ModelSpec, positions: int) -> None:
    if ids.shape[1] < positions:
        raise PimsimInputError(
            f"{ids.shape[1]} positions", file=path, expected=f"the run's {positions}"
        )
    if not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= spec.experts:
        raise PimsimInputError(
            "expert ids outside the model",
            file=path,
            expected=(f"integers in 0..{spec.experts - 1}"),
        )
    ordered = np.sort(ids, axis=-1)
    if (ordered[..., 1:] == ordered[..., :-1]).any():
        raise PimsimInputError("a row chooses an expert twice", file=path)


def step_slots(
    counts: np.ndarray, token0: int, steps: int, m: int, slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """(expert, rows) of each slot of each of `steps` steps of `m` positions from `token0`:
    arrays (steps, layers, slots), the experts a step uses in id order, then unused ones
    with 0 rows."""
    per_step = counts[token0 : token0 + steps * m]
    per_step = per_step.reshape(steps, m, *counts.shape[1:]).sum(axis=1)
    order = np.argsort(per_step == 0, axis=-1, kind="stable")[..., :slots]
    return order, np.take_along_axis(per_step, order, axis=-1)


PARTS = ("gate_up", "fc1", "down", "fc2")  # the weight matrices of one expert's FFN


def slot_of(node: GraphNode) -> int:
    """The expert slot of a graph node (`moe3.down` -> 3), -1 outside the slots."""
    return int(node.name.split(".", 1)[0][3:]) if node.routed else -1


def part_of(node: GraphNode) -> int:
    """Which of an expert's weights (index into `PARTS`) a slot's VMM reads; -1 otherwise."""
    if not (node.routed and node.kind == "vmm"):
        return -1
    return PARTS.index(node.weight.rsplit(".", 1)[1])


class Router:
    """Fills a mixture's expert slots in the lowering's columns, step by step."""

    def __init__(
        self, spec: ModelSpec, routing: Routing | None, batch: int, positions: int, names
    ) -> None:
        self.spec = spec
        self.routing = routing or Routing()
        self.batch = batch
        if not spec.experts:
            return
        self.counts = expert_counts(self.routing, spec, batch, positions)
        layers, experts = spec.layers, spec.experts
        self.codes = np.array(
            [
                [
                    [names.code(qualified_name(lay, expert_weight(e, p))) for p in PARTS]
                    for e in range(experts)
                ]
                for lay in range(layers)
            ],
            dtype=np.int64,
        )

    def route(self, cols: dict[str, np.ndarray], run) -> None:
        """Give each expert slot of `run`'s steps its expert (the weight VMMs' weights) and
        rows (every slot operator's `m`)."""
        slot = cols["slot"]
        index = np.flatnonzero(slot >= 0)
        if not len(index):
            return
        slots = int(slot.max()) + 1
        experts, rows = step_slots(self.counts, run.token0, run.count, run.m, slots)
        step = index // (len(slot) // run.count)
        layer = cols["layer"][index]
        cols["m"][index] = rows[step, layer, slot[index]]
        part = cols["part"][index]
        vmm = part >= 0
        chosen = experts[step[vmm], layer[vmm], slot[index][vmm]]
        cols["weight_code"][index[vmm]] = self.codes[layer[vmm], chosen, part[vmm]]


def drop_empty_slots(
    cols: dict[str, np.ndarray], deps: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Remove the expert slots no row was routed to (and the dependencies on them); ids of
    the other operators close up, the dependency array (rows, width; -1: none) follows."""
    keep = ~((cols["slot"] >= 0) & (cols["m"] == 0))
    if keep.all():
        return cols, deps
    new_id = np.cumsum(keep) - 1
    present = deps >= 0
    target = np.where(present, deps, 0)
    deps = np.where(present & keep[target], new_id[target], -1)[keep]
    return {name: col[keep] for name, col in cols.items()}, deps


def routed_mask(table: pd.DataFrame) -> np.ndarray:
    """Operators of expert slots (their `m`: rows routed over the whole batch)."""
    codes, names = pd.factorize(table["name"])
    routed = np.array([bool(ROUTED_NAME.match(str(n))) for n in names], dtype=bool)
    return routed[codes] if len(names) else np.zeros(len(table), dtype=bool)


def op_sequences(table: pd.DataFrame) -> np.ndarray:
    """Per operator, how many times its `m` rows are served: the batch (each sequence's own
    rows), or 1 for an expert slot's operator (its `m` counts the whole batch's rows)."""
    batch = int(table.attrs.get("batch", 1))
    factor = np.full(len(table), batch, dtype=np.int64)
    if batch > 1 and int(table.attrs.get("model", {}).get("experts", 0)):
        factor[routed_mask(table)] = 1
    return factor


def op_rows(table: pd.DataFrame) -> np.ndarray:
    """Rows every operator serves over the whole batch (`m` x `op_sequences`)."""
    return table["m"].to_numpy(dtype=np.int64) * op_sequences(table)
