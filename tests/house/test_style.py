"""House rules CI enforces: ruff clean and formatted, modest complexity, small modules and short
functions outside the numba kernels, and an import graph whose arrows point down the layers."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pimsim"
KERNELS = PACKAGE / "dram" / "kernel"  # numba kernels: flat loops on purpose
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
# the layers, bottom first: a package may import its own layer and those below it
LAYERS = [
    {"core"},
    {"config", "plots"},
    {"workload", "dram"},
    {"mapping", "asic", "baselines", "system"},
    {"engine"},
    {"energy"},
    {"report"},
    {"pipeline", "gemv", "run_shape"},
    {"sweep", "validation", "api"},
    {"cli", "__main__"},
]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True, check=False)


def _python_files():
    return sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize(
    "args",
    [
        ("check", "pimsim", "tests", "tools", "analysis"),
        ("format", "--check", "pimsim", "tests", "tools", "analysis"),
        (
            "check",
            "--select",
            "C901",
            "--config",
            "lint.mccabe.max-complexity=15",
            "--exclude",
            "pimsim/dram/kernel",
            "pimsim",
        ),
    ],
    ids=["lint", "format", "complexity"],
)
def test_ruff(args):
    done = _ruff(*args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_modules_are_small_and_functions_short():
    long_modules, long_functions = [], []
    for path in _python_files():
        text = path.read_text()
        if KERNELS in path.parents:
            continue
        if text.count("\n") > MAX_MODULE_LINES:
            long_modules.append((str(path.relative_to(ROOT)), text.count("\n")))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append((str(path.relative_to(ROOT)), node.name, length))
    assert not long_modules, long_modules
    assert not long_functions, long_functions


def _layer(package: str) -> int:
    for i, layer in enumerate(LAYERS):
        if package in layer:
            return i
    raise AssertionError(f"package pimsim.{package} is in no layer of tests/house/test_style.py")


def test_imports_point_down_the_layers():
    climbing = []
    for path in _python_files():
        rel = path.relative_to(PACKAGE)
        package = rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else None
        if package is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("pimsim.")
            ):
                target = node.module.split(".")[1]
                if target != package and _layer(target) > _layer(package):
                    climbing.append(f"{rel} imports pimsim.{target}")
    assert not climbing, climbing
