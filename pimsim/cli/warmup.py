"""`pimsim warmup`: compile the simulator kernels ahead of time (once per install)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "warmup",
        help="compile the simulator kernels now (once per install; later runs start in seconds)",
        description="Run a tiny matrix-vector product (fast and command by command), a tiny "
        "model on both PIM systems and a request replay, so that numba compiles and caches "
        "every kernel (NUMBA_CACHE_DIR chooses where). A later first run then starts at once.",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pimsim.api import simulate
    from pimsim.config import load_hw
    from pimsim.dram.replay import read_trace, replay
    from pimsim.gemv import simulate_gemv

    began = time.perf_counter()
    for name in ("gddr6_aim", "hbm_pim"):
        hw = load_hw(name, ["dram.channels=4"])
        for exact in (False, True):
            simulate_gemv(hw, 64, 256, exact=exact)
        for mode in ("overlap", "serial"):
            simulate(hw, "gpt2-small", gen_len=2, mode=mode, timeline_tokens=0)
    with tempfile.TemporaryDirectory(prefix="pimsim-warmup-") as folder:
        trace = Path(folder) / "requests.txt"
        trace.write_text("0 R 0x0\n8 W 0x40\n")
        replay(load_hw("gddr6", ["dram.channels=1"]), read_trace(trace), log_commands=4)
    print(f"pimsim warmup: kernels compiled and cached in {time.perf_counter() - began:.1f} s")
    return 0
