"""`pimsim lower`: write the operator trace of a model run (schema pimsim.trace.v1)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_PROMPT_LEN = 1
DEFAULT_GEN_LEN = 8


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lower",
        help="write the per-token operator trace of a model (JSON lines, pimsim.trace.v1)",
        description=(
            "Lower a transformer to its operator list for one generation run and write it as "
            "a pimsim.trace.v1 JSON-lines file (gzipped if FILE ends in .gz)."
        ),
    )
    p.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="a name in workloads/ (e.g. gpt2-xl), a workload YAML, or a HF config.json",
    )
    p.add_argument(
        "--prompt-len",
        type=int,
        default=DEFAULT_PROMPT_LEN,
        metavar="P",
        help=f"prompt tokens (default {DEFAULT_PROMPT_LEN})",
    )
    p.add_argument(
        "--gen-len",
        type=int,
        default=DEFAULT_GEN_LEN,
        metavar="N",
        help=f"generated tokens (default {DEFAULT_GEN_LEN}); needs P + N - 1 <= model context",
    )
    p.add_argument(
        "--batched-prefill",
        action="store_true",
        help="process the prompt as one step (matrix products become gemm, m = P) instead of "
        "one token at a time",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=1,
        metavar="B",
        help="B sequences decoding together (default 1); the trace header records it",
    )
    p.add_argument(
        "--routing",
        default=None,
        metavar="POLICY",
        help="a mixture of experts: uniform[:SEED] (default), skew:ALPHA[:SEED] or file:PATH "
        "(see pimsim run --help); the trace holds the choices",
    )
    p.add_argument(
        "--encoding",
        choices=("auto", "plain", "compact"),
        default="auto",
        help="plain: one op per line; compact: repeated tokens as repeat records; "
        "auto (default): plain below 100000 ops",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="trace file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pimsim.core.errors import PimsimInputError
    from pimsim.workload import lower, resolve_model, write_trace
    from pimsim.workload.moe import parse_routing

    spec = resolve_model(args.model)
    routing = None if args.routing is None else parse_routing(args.routing)
    if routing is not None and not spec.experts:
        raise PimsimInputError(f"model {spec.name} has no experts", key="--routing")
    table = lower(
        spec,
        args.prompt_len,
        args.gen_len,
        batched_prefill=args.batched_prefill,
        batch=args.batch,
        routing=routing,
    )
    try:
        header = write_trace(table, args.output, encoding=args.encoding)
    except OSError as exc:
        raise PimsimInputError(f"cannot write: {exc.strerror}", file=args.output) from None
    size = Path(args.output).stat().st_size
    sys.stderr.write(
        f"pimsim lower: {spec.name}, prompt {args.prompt_len}, generate {args.gen_len}: "
        f"{len(table)} ops -> {args.output} ({header['encoding']}, {size} bytes)\n"
    )
    return 0
