"""Every sample output in README.md is what the command prints today (one test per sample
block, so that a parallel run spreads them; `python tools/readme_samples.py` rewrites them)."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from readme_samples import find_samples, run_sample  # noqa: E402  (a tool script, not a package)

LINES = (ROOT / "README.md").read_text().splitlines()
SAMPLES = find_samples(LINES)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.commands[0][:60] for s in SAMPLES])
def test_readme_sample_matches_the_code(sample):
    current = LINES[sample.start : sample.stop]
    fresh = run_sample(sample)
    diff = "\n".join(difflib.unified_diff(current, fresh, "README.md", "regenerated", lineterm=""))
    assert fresh == current, diff[-4000:] + "\n(run python tools/readme_samples.py to rewrite)"


def test_sample_blocks_are_found():
    commands = [c for s in SAMPLES for c in s.commands]
    assert any(c.startswith("pimsim run --hw hbm_pim.yaml --model gpt2-xl") for c in commands)
    assert len(SAMPLES) >= 6
