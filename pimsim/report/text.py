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
        f"{report['mode']} mode, {report['exactness']}"
        + (f", batch {report['batch']}" if report.get("batch", 1) > 1 else ""),
        f"  latency / token     {_si(pim['tpot_s'])}   ({pim['tokens_per_s']:.1f} tokens/s"
        + (" of the batch" if report.get("batch", 1) > 1 else "")
        + "; "
        f"p50 {_si(pim['tpot_p50_s'])}, p99 {_si(pim['tpot_p99_s'])}"
        + (", the one token's step)" if pim["per_token_window"]["steps"] != "decode" else ")"),
        f"  first token         {_si(pim['ttft_s'])}  (TTFT: prompt of {report['prompt_len']})",
        f"  total               {_si(pim['latency_s'])}  ({pim['cycles']} DRAM cycles)",
        f"  row-hit rate        {pim['row_hit_rate']:.4f}",
        f"  PIM busy            {_si(bounds['pim_busy_s'])}  (some channel working)",
        f"  layout bound        {_si(bounds['layout_bound_s'])}  "
        f"(busy / bound {bounds['pim_busy_over_layout_bound']:.3f}: row switching, refresh, "
        "buffer writes, result reads)",
        f"  refresh while busy  {_si(bounds['refresh_while_busy_s'])}  "
        f"((busy - refresh) / bound {bounds['pim_busy_less_refresh_over_layout_bound']:.3f})",
        f"  global-buffer fill  {_si(bounds['global_buffer_fill_s'])}  "
        "(input-vector broadcasts, WRGB; not in the layout bound)",
        f"  bandwidth bound     {_si(bounds['bandwidth_bound_s'])}  "
        f"(weights + KV over {bounds['peak_in_bank_bandwidth_GBps']:.0f} GB/s in-bank)",
        "  busy by unit        "
        + ", ".join(f"{k} {_si(v)}" for k, v in pim["unit_busy_s"].items()),
        f"  ASIC overlap        {_si(pim['overlap']['asic_hidden_s'])} of "
        f"{_si(pim['overlap']['asic_busy_s'])} ASIC work hidden under PIM work "
        f"({100 * pim['overlap']['asic_hidden_fraction']:.1f} %)",
        "  time by unit        "
        + ", ".join(f"{k} {_si(v)}" for k, v in pim["time_by_unit_s"].items() if v),
        "  time by category    (every picosecond once: sums to the total)",
    ]
    total = sum(pim["latency_breakdown_s"].values()) or 1.0
    for kind, seconds in sorted(pim["latency_breakdown_s"].items(), key=lambda kv: -kv[1]):
        if seconds:
            lines.append(f"    {kind:<14} {_si(seconds):>12}  {100 * seconds / total:5.1f} %")
    _add_system_lines(report, pim, lines)
    counts = ", ".join(f"{k} {v}" for k, v in pim["commands"].items() if v)
    lines.append(f"  commands            {counts}")
    if pim.get("energy_j") is not None:
        lines.append(
            f"  energy / token      {pim['energy_j_per_token'] * 1e3:.3f} mJ   "
            f"(total {pim['energy_j'] * 1e3:.3f} mJ, to first token "
            f"{pim['energy_by_phase_j']['prefill'] * 1e3:.3f} mJ)"
        )
        total_e = sum(pim["energy_breakdown_j"].values()) or 1.0
        parts = sorted(pim["energy_breakdown_j"].items(), key=lambda kv: -kv[1])
        lines.append(
            "  energy by component "
            + ", ".join(f"{k} {100 * v / total_e:.1f} %" for k, v in parts if v / total_e >= 0.005)
        )
    if report.get("baselines"):
        lines.extend(_baseline_lines(report, hw))
    return "\n".join(lines)


def _baseline_lines(report: dict, hw: HardwareConfig) -> list[str]:
    """The PIM / GPU / CPU comparison table under a run report."""
    pim = report["pim"]
    out: list[str] = []
    out.append("")
    out.append(
        f"  {'':<26}{'latency/token':>15}{'tokens/s':>11}{'energy/token':>15}"
        f"{'speedup':>10}{'energy eff.':>13}"
    )
    out.append(
        f"  {'PIM (' + hw.name + ')':<26}{_si(pim['latency_s_per_token']):>15}"
        f"{pim['tokens_per_s']:>11.1f}{pim['energy_j_per_token'] * 1e3:>12.3f} mJ"
        f"{'1.0x':>10}{'1.0x':>13}"
    )
    for key in ("gpu", "cpu"):
        base = report["baselines"].get(key)
        if not base:
            continue
        label = f"{key.upper()} ({base.get('label', base['name'])})"
        out.append(
            f"  {label:<26}{_si(base['latency_s_per_token']):>15}"
            f"{base['tokens_per_s']:>11.1f}"
            f"{base['energy_j_per_token'] * 1e3:>12.3f} mJ"
            f"{report['speedup'][key]:>9.1f}x{report['energy_efficiency'][key]:>12.1f}x"
        )
        if base.get("fits_in_memory") is False:
            out.append(
                f"  {'':<26}(does not fit: the weights and KV cache take "
                f"{base['resident_GB']:.1f} GB, the {base['name']} holds {base['memory_GB']:g} GB;"
                " its figures are for a device with enough memory)"
            )
    out.append(
        "  (speedup and energy efficiency: baseline / PIM per output token over the same "
        "decode steps; baselines model kernel overheads and achievable bandwidth, see --json)"
    )
    return out


def _add_system_lines(report: dict, pim: dict, lines: list[str]) -> None:
    """The lines of what runs beside or around one PIM device: a GPU (the prompt, or all but
    attention), the other devices of a tensor-parallel system, a mixture's experts."""
    for role, what, sent, took in (
        ("prefill", "prompt on", "kv_bytes_sent", "kv_transfer_s"),
        ("hybrid", "hybrid (all but attention) on", "bytes_exchanged", "transfer_s"),
    ):
        block = report.get(role)
        if block:
            lines.insert(
                3,
                f"  {what:<19} {block['device']}: busy {_si(block['device_busy_s'])}, "
                f"{block[sent] / 1e6:.2f} MB over the host link in {_si(block[took])}, "
                f"{block['device_energy_j'] * 1e3:.3f} mJ",
            )
    if report.get("system"):
        sys_ = report["system"]
        links = sys_["links"]
        lines.insert(
            3,
            f"  devices             {sys_['devices']} (tensor parallel) over "
            f"{sys_['interconnect']['name']}: {links['collectives']} collectives, "
            f"{links['bytes_sent_per_device'] / 1e6:.2f} MB sent per device, links busy "
            f"{_si(links['busy_s'])} ({_si(links['exposed_s'])} exposed)",
        )
    choice = report.get("parallel_choice")
    if choice:
        refused = [str(t["devices"]) for t in choice["tried"] if not t["fits"]]
        chosen = next(t["devices"] for t in choice["tried"] if t["fits"])
        lines.insert(
            3,
            f"  tensor parallel     auto: {chosen} device{'s' if chosen > 1 else ''}, "
            + (
                f"the fewest that fit ({', '.join(refused)}: the share does not fit one device)"
                if refused
                else "the model fits one device"
            ),
        )
    if report.get("moe"):
        from pimsim.report.moe import moe_line

        lines.append(moe_line(report["moe"], pim["tpot_s"], _si))
