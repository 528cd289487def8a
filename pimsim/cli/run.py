"""`pimsim run --hw HW --model MODEL | --trace FILE`: a GPT model generating tokens on PIM."""

from __future__ import annotations

import argparse
from pathlib import Path

from pimsim.cli.common import add_exactness_options, add_hw_options, dump_capacity
from pimsim.system import INTERCONNECTS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="simulate a model generating tokens on a PIM system",
        description="Lower a model (or read a trace), map it onto the PIM "
        "system, and simulate it operator by operator over the exact channel "
        "engine. Reports latency per token, breakdowns and bounds.",
    )
    add_hw_options(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--model", help="name in workloads/ (gpt2-xl), a workload YAML or an HF config.json"
    )
    src.add_argument("--trace", help="an operator trace written by `pimsim lower`")
    p.add_argument(
        "--prompt-len",
        type=int,
        default=1,
        metavar="P",
        help="prompt tokens, processed one at a time (default 1)",
    )
    p.add_argument(
        "--gen-len", type=int, default=8, metavar="N", help="tokens to generate (default 8)"
    )
    p.add_argument(
        "--mode",
        choices=("overlap", "serial"),
        default="overlap",
        help="overlap: operators wait only for inputs and their unit (default); "
        "serial: PIM-GPT's, every instruction waits until ASIC and PIM are idle",
    )
    p.add_argument(
        "--gpu",
        default=None,
        metavar="NAME[:RUNTIME]",
        help="GPU baseline and its runtime (graph, eager, hf), or a baseline YAML file "
        "(default T4 in its default runtime; `pimsim list gpus`); override its values with "
        "--set gpu.KEY=VALUE",
    )
    p.add_argument(
        "--cpu",
        default=None,
        metavar="NAME[:RUNTIME]",
        help="CPU baseline and its runtime (eager, hf), or a baseline YAML file (default "
        "Xeon-Gold-6154; `pimsim list cpus`); --set cpu.KEY=VALUE overrides",
    )
    p.add_argument(
        "--max-context",
        type=int,
        default=None,
        metavar="N",
        help="reserve the KV cache for N positions (default: the model's whole context; at "
        "least prompt + generated - 1)",
    )
    _add_run_shape_options(p)
    _add_output_options(p)
    add_exactness_options(p)
    p.set_defaults(func=run)


def _add_run_shape_options(p: argparse.ArgumentParser) -> None:
    """How the model runs: the batch, the prompt's treatment, the element type."""
    p.add_argument(
        "--batch",
        type=int,
        default=1,
        metavar="B",
        help="B sequences decoding together (default 1): a weight VMM serves as many input "
        "vectors per opened row as the global buffer holds; each sequence has its own KV cache",
    )
    p.add_argument(
        "--dtype",
        default=None,
        metavar="DTYPE",
        help="the model's weights, KV cache and activations in DTYPE (bf16, fp16, fp32, fp8, "
        "int8; default the model's own): bytes, DRAM rows and MAC commands follow; the MAC "
        "units must multiply elements that wide (pim.dtype, pim.mac_lanes)",
    )
    p.add_argument(
        "--routing",
        default=None,
        metavar="POLICY",
        help="a mixture of experts: how each row chooses its experts, uniform[:SEED] "
        "(default uniform:0), skew:ALPHA[:SEED] (Zipf popularity, rank^-ALPHA) or file:PATH "
        "(.npy or .csv expert ids)",
    )
    p.add_argument(
        "--expert-groups",
        type=int,
        default=1,
        metavar="G",
        help="a mixture of experts: deal the experts over G channel groups (expert e on group "
        "e mod G, experts on different groups run at once); default 1, every expert on every "
        "channel",
    )
    p.add_argument(
        "--tensor-parallel",
        default="1",
        metavar="N",
        help="split the model over N devices like HW (heads, FFN columns, vocabulary), their "
        "partial sums all-reduced over --interconnect; the report's system block says what "
        "each device and the links did; auto: the fewest devices (1, 2, 4, ...) whose share "
        "fits one device (the report's parallel_choice says what was tried)",
    )
    p.add_argument(
        "--interconnect",
        default="cxl",
        choices=tuple(INTERCONNECTS),
        help="the links between devices (default cxl: CXL 2.0 on PCIe 5.0 x16, through a "
        "switch; cent_cxl3: CENT's CXL 3.0 fabric, 4 lanes per device); "
        "--set interconnect.KEY=VALUE changes bandwidth_GBps, latency_ns, "
        "switch_latency_ns or energy_pJ_per_bit",
    )
    p.add_argument(
        "--hybrid",
        action="store_true",
        help="AttAcc's split: projections, FFN, norms and the LM head on the --gpu baseline, "
        "attention (q.K, softmax, s.V, KV writes) on PIM, q/k/v and the attention output over "
        "a PCIe 4.0 x16 host link (the report's hybrid block)",
    )
    p.add_argument(
        "--prefill",
        choices=("token", "gemm", "gpu"),
        default="token",
        help="the prompt on PIM token by token (default, PIM-GPT's way), as one batched "
        "step (its matrix products as GEMMs: an opened row serves every prompt row the global "
        "buffer holds), or as one step on the --gpu baseline, its KV cache sent to PIM over "
        "a PCIe 4.0 x16 host link",
    )


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="FILE", help="write the pimsim.report.v1 report here")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write report.json, the resolved hardware config, ops.csv and timeline.json here",
    )
    p.add_argument(
        "--timeline",
        metavar="FILE",
        help="write a Chrome/Perfetto trace-event JSON of ASIC and PIM activity",
    )
    p.add_argument(
        "--timeline-tokens",
        type=int,
        default=4,
        metavar="T",
        help="tokens shown in the timeline (default 4; keeps files small)",
    )
    p.add_argument(
        "--dump-commands",
        nargs=2,
        metavar=("N", "FILE"),
        help="write the first N commands of every channel to a CSV for check-log",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    from pimsim.api import simulate
    from pimsim.baselines import load_device
    from pimsim.baselines.options import split_set_options
    from pimsim.config import load_hw
    from pimsim.report.text import format_report
    from pimsim.run_shape import parse_tensor_parallel

    hw_sets, baseline_sets = split_set_options(args.overrides)
    hw = load_hw(args.hw, hw_sets)
    _check_counts(args)
    # unknown names, runtimes and keys fail before the simulation, listing the known ones
    load_device("gpu", args.gpu, baseline_sets["gpu"])
    load_device("cpu", args.cpu, baseline_sets["cpu"])
    capacity = dump_capacity(args.dump_commands, hw.dram.channels)
    want_timeline = bool(args.timeline or args.out)
    result = simulate(
        hw,
        args.model,
        trace=args.trace,
        prompt_len=args.prompt_len,
        gen_len=args.gen_len,
        mode=args.mode,
        exact=args.exact,
        gpu=args.gpu,
        cpu=args.cpu,
        baseline_overrides=baseline_sets,
        timeline_tokens=args.timeline_tokens if want_timeline else 0,
        progress=args.progress,
        log_capacity=capacity,
        max_context=args.max_context,
        batch=args.batch,
        batched_prefill=args.prefill == "gemm",
        prefill_on="gpu" if args.prefill == "gpu" else None,
        dtype=args.dtype,
        routing=args.routing,
        expert_groups=args.expert_groups,
        tensor_parallel=parse_tensor_parallel(args.tensor_parallel),
        interconnect=args.interconnect,
        hybrid=args.hybrid,
    )
    result.report["command"] = getattr(args, "command_line", None)  # (how it was made)
    _write_outputs(args, result.run, capacity)
    print(format_report(result.report, hw))
    return 0


def _check_counts(args: argparse.Namespace) -> None:
    from pimsim.core.errors import PimsimInputError

    for name in ("prompt_len", "gen_len", "timeline_tokens"):
        value = getattr(args, name)
        minimum = 0 if name == "timeline_tokens" else 1
        if value < minimum:
            raise PimsimInputError(
                f"got {value}",
                key="--" + name.replace("_", "-"),
                expected=f"an integer >= {minimum}",
            )


def _write_outputs(args: argparse.Namespace, result, capacity: int) -> None:
    """--dump-commands, --json, --timeline and --out."""
    from pimsim.config.loader import dump_resolved
    from pimsim.core.io import atomic_write_json, atomic_write_text
    from pimsim.energy.run import energy_breakdown
    from pimsim.report.build import op_table, perfetto_trace

    hw, sim, report, table = result.hw, result.sim, result.report, result.prepared.table
    if capacity:
        from pimsim.dram.checker import write_command_log

        write_command_log(
            args.dump_commands[1],
            sim.pim.command_logs(),
            banks_per_group=hw.dram.organization.banks_per_group,
        )
    if args.json:
        atomic_write_json(args.json, report)
    if args.timeline:
        atomic_write_json(args.timeline, perfetto_trace(sim, hw, table))
    if args.out:
        out = Path(args.out)
        atomic_write_json(out / "report.json", report)
        dump_resolved(hw, out / "hw_resolved.yaml")
        atomic_write_text(out / "ops.csv", op_table(table, sim).to_csv(index=False))
        atomic_write_json(out / "timeline.json", perfetto_trace(sim, hw, table))
        offload = result.offload
        energy = energy_breakdown(
            hw, table, sim, device_energy_j=None if offload is None else offload.energy_j
        )
        atomic_write_json(
            out / "energy.json",
            {
                "command_counts": report["pim"]["commands_by_type"],
                "energy_per_command_j": energy["per_command_j"],
                "components_j": energy["components"],
                "by_kind_j": energy["by_kind"],
                "dram_energy_table": hw.resolved_dict()["dram_energy"],
                "asic": hw.resolved_dict()["asic"],
            },
        )
