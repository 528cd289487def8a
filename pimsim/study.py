"""One model on one hardware description with its baselines, as a flat result row."""

from __future__ import annotations

from typing import Any

from pimsim.config.schema import HardwareConfig


def full_report(
    hw: HardwareConfig,
    prepared,
    sim,
    *,
    gpu: str | None,
    cpu: str | None,
    exact: bool,
    mapping_summary: dict | None = None,
    baseline_overrides: dict[str, dict] | None = None,
) -> dict[str, Any]:
    """The pimsim.report.v1 dictionary of a simulated run, baselines included."""
    from pimsim.baselines import baselines_report
    from pimsim.report.build import build_report

    overrides = baseline_overrides or {}
    baselines = baselines_report(
        prepared.table,
        gpu=gpu,
        cpu=cpu,
        prompt_len=prepared.prompt_len,
        gpu_overrides=overrides.get("gpu"),
        cpu_overrides=overrides.get("cpu"),
    )
    return build_report(
        hw,
        prepared.spec,
        prepared.table,
        sim,
        prompt_len=prepared.prompt_len,
        gen_len=prepared.gen_len,
        mapping_summary=mapping_summary or {},
        exact=exact,
        baselines=baselines,
    )


def result_row(
    hw: HardwareConfig,
    model: str,
    *,
    prompt_len: int = 1,
    gen_len: int = 8,
    mode: str = "overlap",
    gpu: str | None = None,
    cpu: str | None = None,
    baseline_overrides: dict[str, dict] | None = None,
) -> dict[str, Any]:
    """Simulate `model` on `hw` and evaluate the baselines: PIM, GPU and CPU latency and energy
    per token, their ratios, and the PIM latency / energy breakdowns."""
    from pimsim.engine import simulate
    from pimsim.run_pipeline import prepare_run

    prepared = prepare_run(hw, model=model, prompt_len=prompt_len, gen_len=gen_len)
    sim = simulate(hw, prepared.table, prepared.mapping, mode=mode)
    report = full_report(
        hw, prepared, sim, gpu=gpu, cpu=cpu, exact=False, baseline_overrides=baseline_overrides
    )
    baselines = report["baselines"]
    pim = report["pim"]
    row: dict[str, Any] = {
        "model": report["model"]["name"],
        "params": report["model"]["params"],
        "hw": hw.name,
        "hw_sha256": hw.sha256,
        "prompt_len": prompt_len,
        "gen_len": gen_len,
        "mode": mode,
        "pim_latency_s_per_token": pim["latency_s_per_token"],
        "pim_ttft_s": pim["ttft_s"],
        "pim_tpot_p50_s": pim["tpot_p50_s"],
        "pim_tpot_p99_s": pim["tpot_p99_s"],
        "pim_energy_j_per_token": pim["energy_j_per_token"],
        "pim_tokens_per_s": pim["tokens_per_s"],
        "pim_row_hit_rate": pim["row_hit_rate"],
        "pim_busy_s": pim["bounds"]["pim_busy_s"],
        "layout_bound_s": pim["bounds"]["layout_bound_s"],
        "bandwidth_bound_s": pim["bounds"]["bandwidth_bound_s"],
        "asic_busy_s": pim["overlap"]["asic_busy_s"],
        "asic_hidden_s": pim["overlap"]["asic_hidden_s"],
    }
    for unit, seconds in pim["time_by_unit_s"].items():
        row[f"time_{unit}_s"] = seconds
    for kind, seconds in sorted(pim["latency_breakdown_s"].items()):
        row[f"latency_{kind}_s"] = seconds
    for part, joules in sorted(pim["energy_breakdown_j"].items()):
        row[f"energy_{part}_j"] = joules
    for key in ("gpu", "cpu"):
        base = baselines[key]
        row[f"{key}_name"] = base["name"]
        row[f"{key}_runtime"] = base["runtime"]
        row[f"{key}_latency_s_per_token"] = base["latency_s_per_token"]
        row[f"{key}_energy_j_per_token"] = base["energy_j_per_token"]
        row[f"speedup_{key}"] = report["speedup"][key]
        row[f"energy_efficiency_{key}"] = report["energy_efficiency"][key]
    return row
