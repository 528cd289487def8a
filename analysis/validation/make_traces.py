"""Write the plain-DRAM request traces of the replay reference points as files (deterministic).

The traces are pimsim.validation.traces' generators (stream, random, random_paced: see there),
written one request a line, ``CYCLE R|W ADDRESS`` with 0x-hex addresses, for `pimsim replay`
and the reference simulators' drivers (plain_dram_refs.py).

    python analysis/validation/make_traces.py OUT_DIR [--requests N] [--span-bytes B]
        [--line-bytes L]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pimsim.validation.traces import GENERATORS, LINE_BYTES, SPAN_BYTES, trace_arrays


def write_trace(path: Path, cycles: np.ndarray, addresses: np.ndarray, op: str = "R") -> None:
    path.write_text("".join(f"{c} {op} {a:#x}\n" for c, a in zip(cycles, addresses, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--span-bytes", type=int, default=SPAN_BYTES, help="random address range")
    parser.add_argument("--line-bytes", type=int, default=LINE_BYTES, help="request size")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in GENERATORS:
        cycles, addresses = trace_arrays(
            name, args.requests, line_bytes=args.line_bytes, span_bytes=args.span_bytes
        )
        write_trace(args.out_dir / f"{name}.trace", cycles, addresses)


if __name__ == "__main__":
    main()
