"""The Python API as documented runs as written: every ```python block of docs/api.md, in
order, in one namespace, and the README's "Python API" section (a notebook-style test)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_page_runs(capsys):
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "TPOT" in out and "cycles" in out


def test_readme_api_section_runs(capsys):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API\n") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "Result(gpt2-small on gddr6_aim" in out and "s per token on 32 channels" in out
    assert namespace["report"]["pim"]["tpot_s"] == namespace["result"].tpot_s
    assert len(namespace["ops"]) == len(namespace["result"].run.prepared.table)
