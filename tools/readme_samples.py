"""Regenerate (or check) the sample outputs in README.md.

A sample is a fenced block right after a `<!-- sample -->` line. Inside it, every line that
starts with `$ ` is a shell command; the lines after it, up to the next command or the end of
the block, are what that command prints. The commands of one block run in order, in one
scratch directory that sees the repository's hw_configs/, workloads/, traces/ and analysis/, so
files a command writes (cmds.csv, out.json) never land in the repository.

    python tools/readme_samples.py          # rewrite README.md with fresh outputs
    python tools/readme_samples.py --check  # exit 1 and show a diff if any sample drifted
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = "<!-- sample -->"
LINKED = ("hw_configs", "workloads", "traces", "analysis")


@dataclass
class Sample:
    start: int  # index of the block's first line after the opening fence
    stop: int  # index of the closing fence
    commands: list[str]


def find_samples(lines: list[str]) -> list[Sample]:
    samples = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == MARKER:
            if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
                raise ValueError(f"README line {i + 1}: {MARKER} must precede a fenced block")
            j = i + 2
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            commands = [line[2:] for line in lines[i + 2 : j] if line.startswith("$ ")]
            if not commands:
                raise ValueError(f"README line {i + 1}: a sample block needs a `$ ` command")
            samples.append(Sample(i + 2, j, commands))
            i = j
        i += 1
    return samples


def run_sample(sample: Sample) -> list[str]:
    """The block's new lines: each command followed by what it prints."""
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pimsim-readme-") as tmp:
        for name in LINKED:
            os.symlink(ROOT / name, Path(tmp) / name)
        env = dict(os.environ, COLUMNS="120", MPLBACKEND="Agg")
        for command in sample.commands:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            text = (done.stdout + done.stderr).replace(tmp + "/", "").replace(tmp, ".")
            out.append(f"$ {command}")
            out += [
                re.sub(r"\s+$", "", line)
                for line in text.splitlines()
                if not line.startswith(COMPILE_NOTICE)  # (a cold numba cache's one-time line)
            ]
    return out


COMPILE_NOTICE = "pimsim: compiling simulator kernels"


def regenerate(text: str) -> str:
    lines = text.splitlines()
    for sample in reversed(find_samples(lines)):
        lines[sample.start : sample.stop] = run_sample(sample)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of rewriting")
    args = parser.parse_args(argv)
    current = README.read_text()
    fresh = regenerate(current)
    if args.check:
        if fresh == current:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), fresh.splitlines(), "README.md", "regenerated", lineterm=""
        )
        print("\n".join(diff))
        return 1
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
