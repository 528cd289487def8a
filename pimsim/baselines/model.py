"""GPU / CPU baseline model over the same operator table that pimsim simulates on PIM.

Execution model: one kernel per operator (no fusion across operators), operators one after
another in table order, batch = the operator's `m`. Per operator, vectorised over the table:

    t_compute = flops / (peak_flops x achievable_compute_fraction)
    t_memory  = bytes / (bandwidth x achievable_bandwidth_fraction)
    time      = max(t_compute, t_memory) + overhead          (kernel launch / CPU dispatch)
              + step_overhead on each step's embedding       (the runtime's per-step cost)

The fractions and overheads are those of the device as run by a software runtime (`graph`,
`eager`, `hf`; `pimsim.baselines.devices`).
    roofline  = max(flops / peak_flops, bytes / bandwidth)   (fractions 1, no overhead: a bound)

Energy, an idle + dynamic power model:

    utilisation = roofline / time      (the fraction of the binding roof the operator achieves
                                        over its whole duration, overhead included; 0..1)
    energy      = idle_W x time + (tdp_W - idle_W) x utilisation x time
                = idle_W x time + (tdp_W - idle_W) x roofline

i.e. a device running flat out on its binding roof draws its TDP, an idle one its idle power,
linear in between. The roofline energy is the same model at utilisation 1 (tdp_W x roofline), a
lower bound on the modelled energy.

Per-token figures follow the PIM report (`pimsim.workload.windows`): the decode steps (the
steps after the one that yields token 1), divided by the tokens they produce; a run with one
generated token counts the step that produced it. With a batch of sequences decoding together
(`table.attrs["batch"]`), latency per token is a step's (each sequence's token takes that long),
energy per token a step's divided by the batch, and tokens/s the batch's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pimsim.baselines.devices import BaselineDevice, load_device
from pimsim.core.dtypes import DTYPE_BYTES
from pimsim.core.errors import PimsimInputError
from pimsim.workload.windows import output_token_window

REQUIRED_COLUMNS = ("name", "kind", "token", "flops", "bytes", "dtype")
LM_HEAD = "lm_head"
STEP_OP = "embed"  # every model step starts with its token embedding


@dataclass(frozen=True)
class OpCosts:
    """Per-operator arrays (one entry per table row)."""

    time_s: np.ndarray  # modelled time, overhead included
    roofline_s: np.ndarray  # pure roofline time
    energy_j: np.ndarray  # modelled energy
    roofline_energy_j: np.ndarray  # tdp_W x roofline_s
    utilisation: np.ndarray  # roofline_s / time_s
    compute_bound: np.ndarray  # bool: the compute roof binds in the modelled time


@dataclass(frozen=True)
class BaselineResult:
    """Per-generated-token latency and energy of a baseline device on one operator table."""

    device: BaselineDevice
    generated_tokens: int
    latency_s_per_token: float
    energy_j_per_token: float
    roofline_latency_s_per_token: float
    roofline_energy_j_per_token: float
    overhead_s_per_token: float  # fixed per-op time inside latency_s_per_token
    total_s: float  # every op in the table (prompt included)
    total_j: float
    roofline_total_s: float
    n_ops: int
    breakdown_s: dict[str, float] = field(default_factory=dict)  # per token, by op kind
    breakdown_j: dict[str, float] = field(default_factory=dict)  # per token, by op kind
    batch: int = 1  # sequences decoding together: a step yields one token of each
    resident_bytes: float = 0.0  # weights + the KV cache at the last step, as the device stores

    @property
    def fits_in_memory(self) -> bool | None:
        """Whether the weights and the KV cache fit the device's memory (None: not known)."""
        if self.device.memory_GB is None:
            return None
        return self.resident_bytes <= self.device.memory_GB * 1e9

    @property
    def tokens_per_s(self) -> float:
        """Tokens of the whole batch per second."""
        return self.batch / self.latency_s_per_token if self.latency_s_per_token > 0 else 0.0

    @property
    def mean_power_W(self) -> float:
        if self.latency_s_per_token <= 0.0:
            return 0.0
        return self.energy_j_per_token * self.batch / self.latency_s_per_token

    def to_json(self) -> dict[str, Any]:
        """The `baselines.gpu` / `baselines.cpu` entry of a pimsim.report.v1 (plus extras)."""
        return {
            "name": self.device.name,
            "runtime": self.device.runtime,
            "label": self.device.label,
            "kind": self.device.kind,
            "description": self.device.description,
            "latency_s_per_token": float(self.latency_s_per_token),
            "energy_j_per_token": float(self.energy_j_per_token),
            "tokens_per_s": float(self.tokens_per_s),
            "mean_power_W": float(self.mean_power_W),
            **({"batch": self.batch} if self.batch > 1 else {}),
            "roofline_latency_s_per_token": float(self.roofline_latency_s_per_token),
            "roofline_energy_j_per_token": float(self.roofline_energy_j_per_token),
            "overhead_s_per_token": float(self.overhead_s_per_token),
            "generated_tokens": int(self.generated_tokens),
            "total_s": float(self.total_s),
            "total_j": float(self.total_j),
            "latency_breakdown_s": {k: float(v) for k, v in self.breakdown_s.items()},
            "energy_breakdown_j": {k: float(v) for k, v in self.breakdown_j.items()},
            **self._memory_json(),
            "assumptions": self.device.assumptions(),
        }

    def _memory_json(self) -> dict[str, Any]:
        if self.device.memory_GB is None:
            return {}
        return {
            "memory_GB": float(self.device.memory_GB),
            "resident_GB": float(self.resident_bytes / 1e9),
            "fits_in_memory": bool(self.fits_in_memory),
        }


def _check_table(table: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise PimsimInputError(
            "operator table lacks columns " + ", ".join(missing),
            key="table",
            expected="a table from pimsim.workload.lower() or read_trace()",
        )


def _byte_scale(device: BaselineDevice, table: pd.DataFrame) -> np.ndarray | float:
    """Factor on each op's bytes when the device stores elements at a different width."""
    if device.storage_bytes_per_element is None:
        return 1.0
    codes, dtypes = pd.factorize(table["dtype"])
    try:
        widths = np.array([DTYPE_BYTES[str(d)] for d in dtypes], dtype=np.float64)
    except KeyError as exc:
        raise PimsimInputError(
            f"unknown dtype {exc.args[0]!r} in the operator table",
            key="dtype",
            expected="one of " + ", ".join(DTYPE_BYTES),
        ) from None
    return device.storage_bytes_per_element / widths[codes]


def op_costs(device: BaselineDevice, table: pd.DataFrame) -> OpCosts:
    """Modelled and roofline time and energy of every operator (vectorised)."""
    _check_table(table)
    flops = table["flops"].to_numpy(dtype=np.float64)
    nbytes = table["bytes"].to_numpy(dtype=np.float64) * _byte_scale(device, table)
    roof_c = flops / device.peak_flops
    roof_m = nbytes / device.bandwidth_Bps
    t_c = roof_c / device.achievable_compute_fraction
    t_m = roof_m / device.achievable_bandwidth_fraction
    busy = np.maximum(t_c, t_m)
    time = busy + device.overhead_s
    if device.step_overhead_us:  # once per model step: on the step's token embedding
        time = time + np.where((table["name"] == STEP_OP).to_numpy(), device.step_overhead_s, 0.0)
    roof = np.maximum(roof_c, roof_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(time > 0.0, roof / time, 0.0)
    energy = device.idle_W * time + (device.tdp_W - device.idle_W) * roof
    return OpCosts(
        time_s=time,
        roofline_s=roof,
        energy_j=energy,
        roofline_energy_j=device.tdp_W * roof,
        utilisation=util,
        compute_bound=t_c > t_m,
    )


def generated_token_window(
    table: pd.DataFrame, prompt_len: int | None = None
) -> tuple[np.ndarray, int]:
    """(mask of the ops that count per output token, number of those tokens): the decode
    steps, as in the PIM report (`pimsim.workload.windows`); a run generating one token counts
    the step that produced it. `prompt_len` is accepted for compatibility and not needed: the
    window follows from the LM heads' positions."""
    del prompt_len
    window = output_token_window(table)
    return window.mask, window.tokens


def _by_kind(
    codes: np.ndarray, kinds: pd.Index, mask: np.ndarray, values: np.ndarray, scale: float
) -> dict[str, float]:
    sums = np.bincount(codes[mask], weights=values[mask], minlength=len(kinds)) * scale
    counts = np.bincount(codes[mask], minlength=len(kinds))
    return {str(k): float(s) for k, s, c in zip(kinds, sums, counts, strict=True) if c}


def evaluate(
    device: BaselineDevice, table: pd.DataFrame, prompt_len: int | None = None
) -> BaselineResult:
    """Per-generated-token latency and energy of `device` running `table` (see module doc)."""
    costs = op_costs(device, table)
    mask, n_tokens = generated_token_window(table, prompt_len)
    per = 1.0 / n_tokens  # (per step: the latency of one sequence's token)
    batch = int(table.attrs.get("batch", 1))
    per_token = per / batch  # (energy: every sequence's token of the step)
    codes, kinds = pd.factorize(table["kind"])
    window_ops = int(np.count_nonzero(mask))
    return BaselineResult(
        device=device,
        generated_tokens=n_tokens,
        latency_s_per_token=float(costs.time_s[mask].sum()) * per,
        energy_j_per_token=float(costs.energy_j[mask].sum()) * per_token,
        roofline_latency_s_per_token=float(costs.roofline_s[mask].sum()) * per,
        roofline_energy_j_per_token=float(costs.roofline_energy_j[mask].sum()) * per_token,
        overhead_s_per_token=(
            window_ops * device.overhead_s
            + int(np.count_nonzero(mask & (table["name"] == STEP_OP).to_numpy()))
            * device.step_overhead_s
        )
        * per,
        total_s=float(costs.time_s.sum()),
        total_j=float(costs.energy_j.sum()),
        roofline_total_s=float(costs.roofline_s.sum()),
        n_ops=len(table),
        breakdown_s=_by_kind(codes, kinds, mask, costs.time_s, per),
        breakdown_j=_by_kind(codes, kinds, mask, costs.energy_j, per_token),
        batch=batch,
        resident_bytes=resident_bytes(device, table),
    )


def resident_bytes(device: BaselineDevice, table: pd.DataFrame) -> float:
    """What the device must hold to run the table: every parameter of the model (all experts of
    a mixture, the whole embedding table) at the device's element width, plus the KV cache its
    attention reads at the last step (every sequence). 0 for a table without a model header."""
    from pimsim.workload import count_parameters
    from pimsim.workload.lowering import trace_spec

    if not table.attrs.get("model"):
        return 0.0
    spec = trace_spec(table)
    element = device.storage_bytes_per_element or spec.bytes_per_element
    weights = count_parameters(spec.whole()) * element
    attention = table["kind"].isin(("attn_score", "attn_value")).to_numpy()
    if not attention.any():
        return float(weights)
    tokens = table["token"].to_numpy()
    last = attention & (tokens == tokens[attention].max())
    kv = table["kv_bytes"].to_numpy(dtype=np.float64) * _byte_scale(device, table)
    return float(weights) + float(kv[last].sum())


def baselines_report(
    table: pd.DataFrame,
    gpu: str | None = None,
    cpu: str | None = None,
    prompt_len: int | None = None,
    gpu_overrides: dict[str, Any] | None = None,
    cpu_overrides: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """`{"gpu": {...}, "cpu": {...}}` for the report's `baselines` key (defaults T4 and
    Xeon-Gold-6154, PIM-GPT's baselines)."""
    return {
        "gpu": evaluate(load_device("gpu", gpu, gpu_overrides), table, prompt_len).to_json(),
        "cpu": evaluate(load_device("cpu", cpu, cpu_overrides), table, prompt_len).to_json(),
    }
