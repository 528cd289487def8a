"""Record (or check) the byte-for-byte outputs of a set of pimsim runs: the safety net of a
refactor that must not change any number, key or file format.

Each case runs one command in a scratch directory that sees the repository's hw_configs/,
workloads/ and traces/, and keeps one file it writes; `tests/golden/CASE` holds the recorded
bytes.

    python tools/golden_outputs.py          # record (after a change that is meant to alter them)
    python tools/golden_outputs.py --check  # exit 1 naming every case whose bytes differ
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
LINKED = ("hw_configs", "workloads", "traces", "pimsim")
SWEEP = """version: 1
name: golden
hw: gddr6_aim
run: {models: [gpt2-small], prompt_len: 1, gen_len: 2}
axes:
  dram.channels: [4, 8]
  mode: [overlap, serial]
"""
# (case file, command, file the command writes)
CASES = [
    (
        "run_gddr6_aim_gpt2-small.json",
        "pimsim run --hw gddr6_aim --model gpt2-small --gen-len 4 --json out",
        "out",
    ),
    (
        "run_hbm_pim_gpt2-medium_serial.json",
        "pimsim run --hw hbm_pim --model gpt2-medium --prompt-len 3 --gen-len 3 --mode serial "
        "--gpu H200-SXM:hf --cpu Dev-Xeon-2vCPU --json out",
        "out",
    ),
    (
        "run_gddr6_aim_exact_refresh_per_bank.json",
        "pimsim run --hw gddr6_aim --model gpt2-small --gen-len 2 --exact "
        "--set dram.refresh=per_bank --set dram.page_policy=closed --json out",
        "out",
    ),
    (
        "run_gddr6_aim_tinyllama_trace.json",
        "pimsim run --hw gddr6_aim --model tinyllama-1.1b --prompt-len 2 --gen-len 2 "
        "--set asic.reduction_tile_rows=0 --json out",
        "out",
    ),
    (
        "run_ops.csv",
        "pimsim run --hw gddr6_aim --model gpt2-small --gen-len 2 --out run > /dev/null",
        "run/ops.csv",
    ),
    ("gemv_gddr6_aim.json", "pimsim gemv --hw gddr6_aim --rows 4096 --cols 4096 --json out", "out"),
    ("gemv_hbm_pim.json", "pimsim gemv --hw hbm_pim --rows 1024 --cols 3072 --json out", "out"),
    (
        "gemv_aim_compat.json",
        "pimsim gemv --hw pimsim/validation/hw/gddr6_aim_simulator.yaml --rows 1024 --cols 1024 "
        "--set dram.channels=1 --json out",
        "out",
    ),
    (
        "gemv_commands.csv",
        "pimsim gemv --hw gddr6_aim --rows 512 --cols 512 --dump-commands 300 out > /dev/null",
        "out",
    ),
    (
        "compare.csv",
        "pimsim compare --hw gddr6_aim --models gpt2-small,gpt3-small --gen-len 2 "
        "--csv out > /dev/null",
        "out",
    ),
    (
        "lower_gpt2-small.jsonl",
        "pimsim lower --model gpt2-small --prompt-len 2 --gen-len 2 -o out",
        "out",
    ),
    (
        "sweep_results.csv",
        f"printf '{SWEEP}' > spec.yaml && pimsim sweep spec.yaml --out sw > /dev/null",
        "sw/results.csv",
    ),
    (
        "check_config_resolved.yaml",
        "pimsim check-config hw_configs/hbm_pim.yaml --resolved > out",
        "out",
    ),
]


def run_case(command: str, output: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="pimsim-golden-") as tmp:
        for name in LINKED:
            os.symlink(ROOT / name, Path(tmp) / name)
        env = dict(os.environ, COLUMNS="120", MPLBACKEND="Agg")
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command!r} failed: {done.stderr[-2000:]}")
        return (Path(tmp) / output).read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of recording")
    parser.add_argument("--only", help="one case file name")
    args = parser.parse_args(argv)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    drifted = []
    for name, command, output in CASES:
        if args.only and name != args.only:
            continue
        fresh = run_case(command, output)
        path = GOLDEN / name
        if args.check:
            if not path.exists() or path.read_bytes() != fresh:
                drifted.append(name)
        else:
            path.write_bytes(fresh)
    if drifted:
        print("outputs differ from tests/golden/: " + ", ".join(drifted))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
