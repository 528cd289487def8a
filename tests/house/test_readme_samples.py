"""Every sample output in README.md is what the command prints today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_samples_match_the_code():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "readme_samples.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_sample_blocks_are_found():
    sys.path.insert(0, str(ROOT / "tools"))
    from readme_samples import find_samples

    samples = find_samples((ROOT / "README.md").read_text().splitlines())
    commands = [c for s in samples for c in s.commands]
    assert any(c.startswith("pimsim run --hw hbm_pim.yaml --model gpt2-xl") for c in commands)
    assert len(samples) >= 6
