"""`pimsim sweep SPEC.yaml --out DIR`: run a design-space sweep (resumable)."""

from __future__ import annotations

import argparse

SPEC_EXAMPLE = """\
a spec (analysis/sweeps/ has more):

  version: 1
  name: channels
  hw: gddr6_aim                   # a shipped name or a path (relative to the spec file)
  set: ["asic.clock_GHz=1.0"]     # --set overrides applied at every point
  run: {models: [gpt2-small, gpt2-xl], prompt_len: 1, gen_len: 8, gpu: "H200-SXM:graph"}
  axes:                           # the grid: every combination of these values
    dram.channels: [2, 4, 8, 16]
    gen_len: [8, 64]              # run options (prompt_len, gen_len, mode) sweep too
  zip:                            # axes that move together, inside the grid
    pim.global_buffer_bytes: [1024, 2048]
    pim.result_registers: [1, 2]
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a design-space sweep described by a YAML spec",
        description="Expand the spec's axes into points, run every point not "
        "already in DIR (in parallel), and append each finished point atomically "
        "to DIR/results.csv. Re-running the same command resumes.",
        epilog=SPEC_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", metavar="SPEC.yaml", help="sweep specification")
    p.add_argument("--out", required=True, metavar="DIR", help="results directory")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local: worker processes on this machine; dask: a dask.distributed cluster "
        "(--scheduler ADDRESS, or a local cluster on the loopback without it)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask.distributed scheduler, e.g. tcp://127.0.0.1:8786",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar with ETA on stderr (default: when stderr is a terminal)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pimsim.core.errors import PimsimInputError
    from pimsim.sweep import load_spec, run_sweep, validate

    if args.jobs is not None and args.jobs < 1:
        raise PimsimInputError(f"got {args.jobs}", key="--jobs", expected="an integer >= 1")
    spec = load_spec(args.spec)
    validate(spec)  # every point's keys and the models, before anything runs
    table = run_sweep(
        spec,
        args.out,
        jobs=args.jobs,
        executor=args.executor,
        scheduler=args.scheduler,
        progress=args.progress,
    )
    failed = int((table["status"] != "ok").sum()) if "status" in table else 0
    print(
        f"sweep {spec.name}: {len(spec.points())} points x {len(spec.run['models'])} models "
        f"-> {args.out}/results.csv ({len(table)} rows, {failed} with errors)"
    )
    return 0
