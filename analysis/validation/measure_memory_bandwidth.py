"""Measure the memory bandwidth a CPU sustains: streaming copy and a large fp32 GEMV (the
decode kernel), with PyTorch's own threads (for the CPU baseline's calibration).

    python analysis/validation/measure_memory_bandwidth.py --out bandwidth.json

Copy counts read + write bytes; GEMV counts the matrix bytes it reads. Each is the median of
`--repeats` runs after a warm-up, on buffers far larger than the last-level cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch


def _median_s(fn, repeats: int) -> tuple[float, list[float]]:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", type=float, default=2.0, help="size of each buffer (GiB)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    n = int(args.gib * (1 << 30)) // 4
    src = torch.ones(n, dtype=torch.float32)
    dst = torch.empty_like(src)
    copy_s, copy_all = _median_s(lambda: dst.copy_(src), args.repeats)
    side = int((n) ** 0.5)
    matrix = src[: side * side].view(side, side)
    vector = torch.ones(side, dtype=torch.float32)
    gemv_s, gemv_all = _median_s(lambda: torch.mv(matrix, vector), args.repeats)
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if "model name" in line]
    result = {
        "environment": {
            "cpu": names[0] if names else platform.processor(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "script": "analysis/validation/measure_memory_bandwidth.py",
        },
        "copy_GBps": 2 * n * 4 / copy_s / 1e9,
        "copy_s_runs": copy_all,
        "gemv_read_GBps": side * side * 4 / gemv_s / 1e9,
        "gemv_s_runs": gemv_all,
        "buffer_bytes": n * 4,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("runs")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
