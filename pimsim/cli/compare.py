"""`pimsim compare --hw HW --models a,b,...`: PIM vs GPU vs CPU over many models."""

from __future__ import annotations

import argparse

from pimsim.cli.common import add_hw_options

PAPER_MODELS = "gpt2-small,gpt2-medium,gpt2-large,gpt2-xl,gpt3-small,gpt3-medium,gpt3-large,gpt3-xl"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="PIM vs GPU vs CPU latency and energy over many models",
        description="Run each model on the PIM system and the GPU/CPU baselines "
        "(the table behind the paper-style figures).",
    )
    add_hw_options(p)
    p.add_argument(
        "--models",
        default=PAPER_MODELS,
        help=f"comma-separated model names or paths (default: {PAPER_MODELS})",
    )
    p.add_argument(
        "--prompt-len", type=int, default=1, metavar="P", help="prompt tokens (default 1)"
    )
    p.add_argument(
        "--gen-len", type=int, default=8, metavar="N", help="tokens generated (default 8)"
    )
    p.add_argument(
        "--mode",
        choices=("overlap", "serial"),
        default="overlap",
        help="overlap: ASIC work overlaps PIM work where dependencies allow; serial: one "
        "operator at a time (default overlap)",
    )
    p.add_argument(
        "--gpu", default=None, metavar="NAME[:RUNTIME]", help="GPU baseline (default T4)"
    )
    p.add_argument(
        "--cpu",
        default=None,
        metavar="NAME[:RUNTIME]",
        help="CPU baseline (default Xeon-Gold-6154)",
    )
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    p.add_argument("--csv", metavar="FILE", help="write the rows as CSV")
    p.set_defaults(func=run)


def compare_rows(
    hw,
    models: list[str],
    *,
    prompt_len: int,
    gen_len: int,
    mode: str,
    gpu: str | None,
    cpu: str | None,
    baseline_overrides: dict[str, dict] | None = None,
) -> list[dict]:
    """One row per model: PIM, GPU and CPU per-token latency and energy, and the ratios."""
    from pimsim.pipeline import result_row

    return [
        result_row(
            hw,
            model,
            prompt_len=prompt_len,
            gen_len=gen_len,
            mode=mode,
            gpu=gpu,
            cpu=cpu,
            baseline_overrides=baseline_overrides,
        )
        for model in models
    ]


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from pimsim.baselines import load_device
    from pimsim.baselines.options import split_set_options
    from pimsim.config import load_hw
    from pimsim.core.io import atomic_write_json, atomic_write_text

    hw_sets, baseline_sets = split_set_options(args.overrides)
    hw = load_hw(args.hw, hw_sets)
    gpu = load_device("gpu", args.gpu, baseline_sets["gpu"])
    cpu = load_device("cpu", args.cpu, baseline_sets["cpu"])
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    rows = compare_rows(
        hw,
        models,
        prompt_len=args.prompt_len,
        gen_len=args.gen_len,
        mode=args.mode,
        gpu=args.gpu,
        cpu=args.cpu,
        baseline_overrides=baseline_sets,
    )
    table = pd.DataFrame(rows)
    if args.json:
        atomic_write_json(args.json, rows)
    if args.csv:
        atomic_write_text(args.csv, table.to_csv(index=False))
    shown = pd.DataFrame(
        {
            "model": table["model"],
            "PIM ms/tok": table["pim_latency_s_per_token"] * 1e3,
            "PIM mJ/tok": table["pim_energy_j_per_token"] * 1e3,
            f"{rows[0]['gpu_name']} ms/tok": table["gpu_latency_s_per_token"] * 1e3,
            f"{rows[0]['cpu_name']} ms/tok": table["cpu_latency_s_per_token"] * 1e3,
            "speedup GPU": table["speedup_gpu"],
            "speedup CPU": table["speedup_cpu"],
            "energy eff. GPU": table["energy_efficiency_gpu"],
            "energy eff. CPU": table["energy_efficiency_cpu"],
        }
    )
    print(
        f"pimsim compare on {hw.name}: prompt {args.prompt_len}, generate {args.gen_len}, "
        f"{args.mode} mode; baselines {gpu.label} and {cpu.label} "
        "(NAME:RUNTIME, `pimsim list gpus`)"
    )
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0
