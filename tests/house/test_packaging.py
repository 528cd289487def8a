"""The package is self-contained: a wheel built from the repository holds the shipped hardware
descriptions, the models, the DRAM and baseline presets and the validation files, and the CLI
finds them by name from a directory outside the repository. The checkout's top-level
`hw_configs/` and `workloads/` are links into the package, so each file has one home.

The wheel is built from a copy of the files it is made of (pyproject.toml, README.md, LICENSE,
pimsim/): building in the checkout would write build/ and pimsim.egg-info/ there, and a stale
build/lib/ would leak files deleted since into the wheel."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pimsim"
WHEEL_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "pimsim")
SHIPPED = ("hw_configs", "workloads")
HW_NAMES = ("gddr6", "gddr6_aim", "hbm_pim")


def _can_build_wheels() -> bool:
    if importlib.util.find_spec("wheel") is not None:
        return True
    try:
        from setuptools.command import bdist_wheel  # noqa: F401  (setuptools >= 70.1)
    except ImportError:
        return False
    return True


def _files(folder: Path, pattern: str) -> list[str]:
    """Paths (relative to the repository) of the files under `folder` matching `pattern`."""
    found = sorted(
        str(p.relative_to(ROOT))
        for p in folder.glob(pattern)
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert found, f"no {pattern} under {folder}"
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if not _can_build_wheels():
        pytest.skip("building a wheel needs the 'wheel' package (pip install wheel)")
    src = tmp_path_factory.mktemp("src")
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*command, "-w", str(out), "."],
        cwd=src,
        env=dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = out.glob("pimsim-*.whl")
    return path


@pytest.fixture(scope="module")
def unpacked(wheel, tmp_path_factory) -> Path:
    """The wheel's contents: a site-packages folder holding pimsim and nothing of the checkout."""
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def _cli(args: list[str], cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(pythonpath), COLUMNS="120", MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, "-m", "pimsim", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_top_level_folders_are_relative_links_into_the_package(name):
    link = ROOT / name
    assert link.is_symlink(), f"{name}/ should link to pimsim/data/{name}/"
    assert not os.path.isabs(os.readlink(link)), f"{name} should be a relative link"
    assert link.resolve() == (PACKAGE / "data" / name).resolve()


def test_wheel_holds_the_shipped_files(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = [
        *_files(PACKAGE / "data" / "hw_configs", "*.yaml"),
        *_files(PACKAGE / "data" / "workloads", "*.yaml"),
        *_files(PACKAGE / "data" / "workloads", "**/*.md"),
        *_files(PACKAGE / "data" / "workloads" / "hf", "*/config.json"),
        *_files(PACKAGE / "presets" / "dram", "*.yaml"),
        *_files(PACKAGE / "presets" / "baselines", "*.yaml"),
        *_files(PACKAGE / "validation" / "points", "*.yaml"),
        *_files(PACKAGE / "validation" / "data", "*.json"),
        *_files(PACKAGE / "validation" / "hw", "*.yaml"),
    ]
    assert {f"pimsim/data/hw_configs/{n}.yaml" for n in HW_NAMES} <= set(expected)
    missing = [path for path in expected if path not in names]
    assert not missing, missing
    assert any(n.endswith(".dist-info/LICENSE") for n in names), "the wheel has no LICENSE"


def test_unpacked_wheel_is_the_package_imported(unpacked, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "import pimsim; print(pimsim.__file__)"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(unpacked)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve() == (unpacked / "pimsim" / "__init__.py").resolve()


def _check_list(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stderr
    names = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ")}
    for name in (*HW_NAMES, "preset:HBM2_PIM", "gpt2-xl", "tinyllama-1.1b", "T4", "EPYC-7763"):
        assert name in names, (name, done.stdout)


def test_wheel_cli_finds_the_shipped_files_outside_the_repository(unpacked, tmp_path):
    _check_list(_cli(["list"], tmp_path, unpacked))

    done = _cli(["check-config", "hbm_pim"], tmp_path, unpacked)
    assert done.returncode == 0, done.stderr
    shipped = unpacked / "pimsim" / "data" / "hw_configs" / "hbm_pim.yaml"
    assert done.stdout.splitlines()[0] == f"{shipped}: OK"

    for model in ("gpt2-small", str(unpacked / "pimsim" / "data" / "workloads" / "hf" / "gpt2")):
        args = ["lower", "--model", model, "--prompt-len", "1", "--gen-len", "1"]
        done = _cli([*args, "-o", str(tmp_path / "ops.jsonl")], tmp_path, unpacked)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "ops.jsonl").stat().st_size > 0


def test_checkout_cli_names_the_shipped_files_as_before(tmp_path):
    """Run from the checkout, a name resolves to the top-level link's path, as it always did."""
    _check_list(_cli(["list"], tmp_path, ROOT))
    done = _cli(["check-config", "hbm_pim"], tmp_path, ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"{ROOT / 'hw_configs' / 'hbm_pim.yaml'}: OK"
