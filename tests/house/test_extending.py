"""docs/extending.md's file counts hold: the names of an activation kind and of a PIM command
appear (as code, not prose) only in the files that page lists."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# where docs/extending.md's operator-kind blocks go: (file, the line each block follows)
KIND_EXAMPLE = (
    ("pimsim/core/kinds.py", 'OperatorKind("silu", "vector", False, "SiLU", elementwise_flops=4),'),
    ("pimsim/asic/vector.py", 'Stage("relu", 0, "max", "element", 1, how="max(x, 0)"),'),
)


def _files_naming(name: str) -> set[str]:
    found = set()
    for path in (ROOT / "pimsim").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            value = (
                node.value
                if isinstance(node, ast.Constant)
                else node.attr
                if isinstance(node, ast.Attribute)
                else node.id
                if isinstance(node, ast.Name)
                else None
            )
            if value == name:
                found.add(str(path.relative_to(ROOT)))
    return found


def _kind_example_blocks() -> list[str]:
    page = (ROOT / "docs" / "extending.md").read_text()
    section = page[page.index("## A new operator kind") : page.index("## A new PIM command")]
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)\n *```", section, re.S)]


def _apply_after(path: Path, anchor: str, block: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    (at,) = [i for i, line in enumerate(lines) if line.strip() == anchor]
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at + 1, textwrap.indent(block, indent) + "\n")
    path.write_text("".join(lines))


def test_the_worked_example_adds_a_kind_in_two_files_and_runs(tmp_path):
    """Apply the page's `quick_gelu` example to a copy of the package and run a model whose FFN
    uses it: lowering, the ASIC cost, the engine, energy and the report follow from two edits.
    The kernels run uncompiled (NUMBA_DISABLE_JIT) so the copy needs no compile of its own."""
    blocks = _kind_example_blocks()
    assert len(blocks) == len(KIND_EXAMPLE)
    shutil.copytree(
        ROOT / "pimsim", tmp_path / "pimsim", ignore=shutil.ignore_patterns("__pycache__")
    )
    for (file, anchor), block in zip(KIND_EXAMPLE, blocks, strict=True):
        _apply_after(tmp_path / file, anchor, block)
    changed = sorted(
        str(p.relative_to(tmp_path))
        for p in (tmp_path / "pimsim").rglob("*")
        if p.is_file() and p.read_bytes() != (ROOT / p.relative_to(tmp_path)).read_bytes()
    )
    assert changed == sorted(file for file, _ in KIND_EXAMPLE)

    model = (ROOT / "workloads" / "gpt2-small.yaml").read_text()
    for old, new in (
        ("name: gpt2-small", "name: tiny-quick-gelu"), ("layers: 12", "layers: 1"),
        ("d_model: 768", "d_model: 128"), ("heads: 12", "heads: 2"),  # (kv_heads too)
        ("d_ffn: 3072", "d_ffn: 512"), ("vocab_size: 50257", "vocab_size: 512"),
        ("max_context_tokens: 1024", "max_context_tokens: 64"), ("ffn: gelu", "ffn: quick_gelu"),
    ):  # fmt: skip
        assert old in model, old
        model = model.replace(old, new)
    (tmp_path / "tiny.yaml").write_text(model)
    env = dict(os.environ, PYTHONPATH=str(tmp_path), NUMBA_DISABLE_JIT="1", MPLBACKEND="Agg")
    args = ["run", "--hw", "gddr6_aim", "--model", "tiny.yaml", "--prompt-len", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "pimsim", *args, "--gen-len", "2", "--json", "report.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    by_category = report["pim"]["latency_breakdown_ps"]
    assert by_category.get("quick_gelu", 0) > 0, by_category
    assert abs(sum(by_category.values()) * 1e-12 - report["pim"]["latency_s"]) < 1e-12


def test_an_activation_kind_lives_in_the_kind_table_and_its_stages():
    # relu is an ungated FFN activation: the table row, its ASIC stages, the HF name mapping
    assert _files_naming("relu") <= {
        "pimsim/core/kinds.py",
        "pimsim/asic/vector.py",
        "pimsim/workload/hf_config.py",
    }


def test_a_program_issued_command_lives_in_four_places():
    # RDMAC, a command the GEMV loop issues: its table row, the kernel that issues it (and its
    # constants), the protocol checker; the bounds report names it too (its result-read time)
    allowed = {
        "pimsim/core/commands.py",
        "pimsim/dram/protocol.py",
        "pimsim/engine/metrics.py",
    }
    for name in ("RDMAC", "WRGB"):
        files = _files_naming(name)
        kernel = {f for f in files if f.startswith("pimsim/dram/kernel/")}
        assert files - kernel <= allowed, (name, files)
        assert len(kernel) <= 2, kernel  # the program loop and the kernel's command constants
