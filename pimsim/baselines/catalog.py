"""`pimsim list gpus` / `pimsim list cpus`: the shipped baseline presets."""

from __future__ import annotations

from pimsim.baselines.devices import default_device, known_devices, load_device


def _table(kind: str) -> list[tuple[str, str]]:
    """One row per preset; its runtimes (`NAME:RUNTIME`) follow, the default one starred."""
    default = default_device(kind)
    precision = "dense FP16/BF16" if kind == "gpu" else "FP32"
    rows = []
    for name in known_devices(kind):
        d = load_device(kind, name)
        text = (
            f"{d.description}; {d.peak_flops_TFLOPS:g} TFLOPS {precision}, "
            f"{d.memory_bandwidth_GBps:g} GB/s, "
            f"{d.tdp_W:g} W"
        )
        if d.runtimes:
            names = [r + ("*" if r == d.default_runtime else "") for r in d.runtime_names()]
            text += "; runtimes " + ", ".join(names)
        if name == default:
            text += " (default)"
        rows.append((name, text))
    return rows


def gpu_table() -> list[tuple[str, str]]:
    """[(preset name, one-line description)] of the GPU baselines."""
    return _table("gpu")


def cpu_table() -> list[tuple[str, str]]:
    """[(preset name, one-line description)] of the CPU baselines."""
    return _table("cpu")
