"""The terminal table of a run report."""

from __future__ import annotations

from pimsim.config.schema import HardwareConfig


def _si(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3f} {unit}"
    return f"{seconds * 1e9:.3f} ns"


def format_report(report: dict, hw: HardwareConfig) -> str:
    pim = report["pim"]
    bounds = pim["bounds"]
    lines = [
        f"pimsim run: {report['model']['name']} ({report['model']['params'] / 1e6:.0f} M params) "
        f"on {hw.name}, prompt {report['prompt_len']}, generate {report['gen_len']}, "
        f"{report['mode']} mode, {report['exactness']}",
        f"  latency / token     {_si(pim['latency_s_per_token'])}   "
        f"({pim['tokens_per_s']:.1f} tokens/s)",
        f"  total               {_si(pim['latency_s'])}  ({pim['cycles']} DRAM cycles), "
        f"prefill {_si(pim['prefill_s'])}",
        f"  row-hit rate        {pim['row_hit_rate']:.4f}",
        f"  PIM busy            {_si(bounds['pim_busy_s'])}",
        f"  layout bound        {_si(bounds['layout_bound_s'])}  "
        f"(busy / bound {bounds['pim_busy_over_layout_bound']:.3f}: row switching and refresh)",
        f"  bandwidth bound     {_si(bounds['bandwidth_bound_s'])}  "
        f"(weights + KV over {bounds['peak_in_bank_bandwidth_GBps']:.0f} GB/s in-bank)",
        "  busy by unit        "
        + ", ".join(f"{k} {_si(v)}" for k, v in pim["unit_busy_s"].items()),
        "  latency by op kind  (summed over tokens)",
    ]
    total = sum(pim["latency_breakdown_s"].values()) or 1.0
    for kind, seconds in sorted(pim["latency_breakdown_s"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {kind:<14} {_si(seconds):>12}  {100 * seconds / total:5.1f} %")
    counts = ", ".join(f"{k} {v}" for k, v in pim["commands"].items() if v)
    lines.append(f"  commands            {counts}")
    if pim.get("energy_j") is None:
        lines.append("  energy, baselines   (not modelled yet)")
    return "\n".join(lines)
