"""Byte-for-byte outputs of several runs, gemvs, a comparison, a trace and a sweep table equal
the recorded ones (tests/golden/, recorded by tools/golden_outputs.py): a refactor changes no
number, key or file format. A change meant to alter outputs re-records them and says why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_outputs_are_byte_identical_to_the_recorded_ones():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "golden_outputs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
