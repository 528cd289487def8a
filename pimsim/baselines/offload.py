"""Work on a GPU beside the PIM system, the data it exchanges with it over the host link: the
prompt (`--prefill gpu`), or every operator but attention (`--hybrid`, AttAcc's split).

Hybrid (Park et al., "AttAcc! Unleashing the power of PIM for batched transformer-based
generative model inference", ASPLOS 2024): the GPU runs the projections, the FFN, norms and
the LM head, for which a batch reuses each weight; PIM runs attention (q.K^T, softmax on the
ASIC, softmax x V, the KV writes), whose KV cache is each sequence's own. After the operator
that makes a layer's q, k and v the GPU sends them to PIM; the attention output comes back
before the output projection. Each transfer is timed on the host link as part of the GPU
operator that sends or receives it.

The prompt on the GPU:

The prompt is one batched step (its matrix products GEMMs, its attention causal). The GPU,
described like a baseline (`--gpu`, the baseline model's per-operator time and energy: its
kernel overheads and achievable fractions included), runs every operator of that step but the
KV-cache writes; after the operator that produces a layer's K and V (its QKV projection, or the
rotary embedding after it) it sends them over the host link, and the PIM system writes them to
the banks (`kv_write` on the channels, as a batched prefill's). The GPU holds its own copy of
the weights. Decode then runs on PIM as always; time to first token ends with the GPU's LM head.

The host link (`HostLink`): PCIe 4.0 x16, 16 GT/s x 16 lanes with 128b/130b coding = 31.5 GB/s
per direction (PCI-SIG, PCI Express Base Specification 4.0); 4.4 pJ per bit over PCIe, as CENT's
per-command power calculator counts it (Gu et al., ASPLOS 2025; see REFERENCES.md, derivation
not re-checked); 1 us per transfer, an assumed order of magnitude for a DMA across PCIe. A
layer's transfer follows its computation on the GPU (no overlap of the two is modelled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pimsim.asic._columns import dtype_bytes_column
from pimsim.baselines.devices import BaselineDevice, load_device
from pimsim.baselines.model import op_costs

PS = 1e-12


@dataclass(frozen=True)
class HostLink:
    """The link between the GPU and the PIM system (module docstring for the sources)."""

    bandwidth_GBps: float = 31.5
    latency_ns: float = 1000.0
    energy_pJ_per_bit: float = 4.4

    def transfer_ps(self, nbytes: int) -> int:
        if nbytes <= 0:
            return 0
        return math.ceil(self.latency_ns * 1000 + nbytes * 1000 / self.bandwidth_GBps)

    def energy_j(self, nbytes: int) -> float:
        return nbytes * 8 * self.energy_pJ_per_bit * PS


@dataclass(frozen=True)
class PrefillOffload:
    """What the GPU does for the prompt: per operator its time (ps, -1: not on the GPU) and
    energy (J, the link's included), and what it sent."""

    device: BaselineDevice
    link: HostLink
    time_ps: np.ndarray
    energy_j: np.ndarray
    kv_bytes: int
    transfer_ps: int

    @property
    def on_device(self) -> np.ndarray:
        return self.time_ps >= 0

    role: str = "prefill"  # or "hybrid"

    def summary(self, sim) -> dict[str, Any]:
        """The report's `prefill` / `hybrid` block (the simulated run `sim` places them)."""
        on = self.on_device
        busy = int(self.time_ps[on].sum())
        return {
            "on": "gpu",
            "device": self.device.label,
            "device_busy_s": busy * PS,
            "device_energy_j": float(self.energy_j.sum()),
            ("kv_bytes_sent" if self.role == "prefill" else "bytes_exchanged"): int(self.kv_bytes),
            ("kv_transfer_s" if self.role == "prefill" else "transfer_s"): self.transfer_ps * PS,
            "host_link": {
                "bandwidth_GBps": self.link.bandwidth_GBps,
                "latency_ns": self.link.latency_ns,
                "energy_pJ_per_bit": self.link.energy_pJ_per_bit,
            },
            "device_ops": int(on.sum()),
            "device_end_s": int(sim.op_end_ps[on].max(initial=0)) * PS,
        }


def plan_prefill_offload(
    table: pd.DataFrame,
    gpu: str | None = None,
    gpu_overrides: dict | None = None,
    link: HostLink | None = None,
) -> PrefillOffload:
    """The GPU's share of a batched-prefill table (module docstring)."""
    kinds = table["kind"].to_numpy()
    prompt = (table["phase"] == "prefill").to_numpy()
    device, time_ps, energy = _on_gpu(table, gpu, gpu_overrides, prompt & (kinds != "kv_write"))
    link = link or HostLink()
    writes = np.flatnonzero(prompt & (kinds == "kv_write"))
    deps = table["deps"].to_numpy()
    kv_bytes = table["kv_bytes"].to_numpy()
    sent = transfer = 0
    for i in writes.tolist():  # (from the operator that made this layer's K and V)
        nbytes = int(kv_bytes[i])
        sent, transfer = _send(time_ps, energy, int(deps[i][0]), nbytes, link, sent, transfer)
    return PrefillOffload(device, link, time_ps, energy, sent, transfer)


ATTENTION_ON_PIM = ("attn_score", "softmax", "attn_value", "kv_write")


def plan_hybrid(
    table: pd.DataFrame,
    gpu: str | None = None,
    gpu_overrides: dict | None = None,
    link: HostLink | None = None,
) -> PrefillOffload:
    """The GPU's share of a hybrid run: everything but attention (module docstring); q, k, v
    to PIM after the operator that makes them, the attention output back before `attn_out`."""
    from pimsim.workload.moe import op_rows

    kinds = table["kind"].to_numpy()
    device, time_ps, energy = _on_gpu(table, gpu, gpu_overrides, ~np.isin(kinds, ATTENTION_ON_PIM))
    link = link or HostLink()
    deps, rows = table["deps"].to_numpy(), op_rows(table)
    width = dtype_bytes_column(table)
    heads, kv_heads, d_head = (table[c].to_numpy() for c in ("heads", "kv_heads", "d_head"))
    moved = total_ps = 0
    for i in np.flatnonzero(kinds == "attn_score").tolist():
        # q, k and v of every row to PIM, from the operator that made them
        nbytes = int(rows[i] * (heads[i] + 2 * kv_heads[i]) * d_head[i] * width[i])
        producer = int(deps[i][0])
        moved, total_ps = _send(time_ps, energy, producer, nbytes, link, moved, total_ps)
    for i in np.flatnonzero(kinds == "attn_value").tolist():
        nbytes = int(rows[i] * heads[i] * d_head[i] * width[i])  # the attention output back
        consumer = next(j for j in range(i + 1, len(deps)) if i in deps[j])  # (attn_out)
        moved, total_ps = _send(time_ps, energy, consumer, nbytes, link, moved, total_ps)
    return PrefillOffload(device, link, time_ps, energy, moved, total_ps, role="hybrid")


def _on_gpu(table: pd.DataFrame, gpu, overrides, on: np.ndarray):
    """(the GPU, each operator's time on it in ps (-1: not on it), its energy) for `on`."""
    device = load_device("gpu", gpu, overrides)
    costs = op_costs(device, table)
    time_ps = np.where(on, np.ceil(costs.time_s / PS), -1).astype(np.int64)
    return device, time_ps, np.where(on, costs.energy_j, 0.0)


def _send(time_ps, energy, op: int, nbytes: int, link: HostLink, moved: int, total: int):
    """Operator `op` (on the GPU) also moves `nbytes` over the link: its time and energy grow;
    returns the running totals of bytes and transfer time."""
    ps = link.transfer_ps(nbytes)
    time_ps[op] += ps
    energy[op] += link.energy_j(nbytes)
    return moved + nbytes, total + ps
