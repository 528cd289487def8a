"""Faults that must lose nothing and leak nothing: a sweep killed at random moments resumes to
the same table byte for byte, its workers die with it, two sweeps into one DIR end with every
point, a damaged results table is refused (or its missing rows recomputed), a full disk exits
2 without debris, and a wrong Dask scheduler is refused before any file is written."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pimsim.cli import main

SPEC = """\
version: 1
name: faults
hw: gddr6_aim
run: {models: [gpt2-medium], prompt_len: 1, gen_len: 24}
axes:
  dram.channels: [4, 8]
  asic.clock_GHz: [0.5, 1.0, 2.0]
  gen_len: [16, 24]
"""


def _sweep(spec: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.Popen(
        [sys.executable, "-m", "pimsim", "sweep", str(spec), "--out", str(out), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, bytes]:
    """The spec and the table an uninterrupted sweep writes."""
    folder = tmp_path_factory.mktemp("reference")
    spec = folder / "spec.yaml"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(folder / "out"), "--jobs", "1"]) == 0
    return spec, (folder / "out" / "results.csv").read_bytes()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_sweep_leaves_no_worker_and_resumes_to_the_same_table(reference, tmp_path, how):
    spec, expected = reference
    out = tmp_path / f"killed-{how.name}"
    rng = random.Random(how)
    interrupted = 0
    for _ in range(2):  # killed twice at random moments after a point landed, then resumed
        sweep = _sweep(spec, out, "--jobs", "2")
        before = len((out / "results.csv").read_text().splitlines()) if interrupted else 0
        deadline = time.time() + 120
        while sweep.poll() is None and time.time() < deadline:
            rows = out / "results.csv"
            if rows.exists() and len(rows.read_text().splitlines()) > before:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.5))
        sweep.send_signal(how)
        _, err = sweep.communicate(timeout=60)
        if sweep.returncode == 0:
            break  # finished before the signal
        interrupted += 1
        assert "Traceback" not in err, err
        deadline = time.time() + 10
        while _processes_naming(str(out)) and time.time() < deadline:
            time.sleep(0.2)
        assert not _processes_naming(str(out)), "workers outlived the sweep"
    assert interrupted >= 1
    assert main(["sweep", str(spec), "--out", str(out), "--jobs", "2"]) == 0
    assert (out / "results.csv").read_bytes() == expected
    assert not list(out.glob(".*.tmp"))


def test_two_sweeps_into_one_directory_end_with_every_point(reference, tmp_path):
    spec, expected = reference
    out = tmp_path / "shared"
    first, second = _sweep(spec, out, "--jobs", "1"), _sweep(spec, out, "--jobs", "1")
    for sweep in (first, second):
        _, err = sweep.communicate(timeout=300)
        assert sweep.returncode == 0, err
    assert (out / "results.csv").read_bytes() == expected


def _damaged(reference, tmp_path, edit) -> tuple[Path, Path]:
    spec, _ = reference
    out = tmp_path / "damaged"
    shutil.copytree(spec.parent / "out", out)  # the reference sweep's directory
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    (out / "results.csv").write_text("".join(edit(lines)))
    return spec, out


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda lines: [*lines[:6], lines[6][: len(lines[6]) // 2] + "\n", *lines[7:]], "line 7"),
        (lambda lines: [*lines, lines[3]], "a second row for point 2"),
        (
            lambda lines: [lines[0], lines[1].replace("gpt2-medium", "gpt2-large"), *lines[2:]],
            "model",
        ),
        (lambda lines: [lines[0], lines[2].replace(",4,", ",9,", 1), *lines[2:]], "line 2"),
        (lambda lines: [lines[0].replace("point", "p"), *lines[1:]], "has no column 'point'"),
    ],
    ids=["truncated", "duplicated", "other-model", "other-point-values", "header"],
)
def test_a_damaged_table_is_refused_with_its_line_and_kept(
    reference, tmp_path, capsys, edit, fragment
):
    spec, out = _damaged(reference, tmp_path, edit)
    before = (out / "results.csv").read_bytes()
    capsys.readouterr()
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "results.csv" in err and "delete that line" in err, err
    assert (out / "results.csv").read_bytes() == before  # nothing overwritten


def test_missing_rows_are_recomputed(reference, tmp_path):
    _, expected = reference
    spec, out = _damaged(reference, tmp_path, lambda lines: [lines[0], *lines[1:3], *lines[5:]])
    assert main(["sweep", str(spec), "--out", str(out), "--jobs", "1"]) == 0
    assert (out / "results.csv").read_bytes() == expected


def test_a_row_cut_short_by_a_kill_mid_append_is_run_again(reference, tmp_path):
    _, expected = reference
    spec, out = _damaged(reference, tmp_path, lambda lines: [*lines[:-1], lines[-1][:30]])
    assert main(["sweep", str(spec), "--out", str(out), "--jobs", "1"]) == 0
    assert (out / "results.csv").read_bytes() == expected


def test_a_truncated_sweep_json_is_refused(reference, tmp_path, capsys):
    spec, out = _damaged(reference, tmp_path, lambda lines: lines)
    meta = out / "sweep.json"
    meta.write_text(meta.read_text()[:40])
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "sweep.json" in err and "delete it" in err


def test_a_full_disk_exits_2_and_leaves_no_temporary(tmp_path, monkeypatch, capsys):
    """ENOSPC while writing (simulated: fsync fails as on a full disk): the old file stays."""
    target = tmp_path / "report.json"
    target.write_text("old\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("pimsim.core.io.os.fsync", full)
    args = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gen-len", "1"]
    assert main([*args, "--json", str(target)]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "No space left on device" in err
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_wrong_scheduler_is_refused_and_leaves_no_directory(reference, tmp_path, capsys):
    pytest.importorskip("distributed")
    spec, _ = reference
    out = tmp_path / "never"
    args = ["--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"]
    assert main(["sweep", str(spec), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert "--scheduler" in err and "cannot reach" in err
    assert not out.exists()


@pytest.mark.parametrize("version", ["0.0.9", None])
def test_a_directory_of_another_version_is_refused(reference, tmp_path, capsys, version):
    import json

    spec, out = _damaged(reference, tmp_path, lambda lines: lines)
    meta = json.loads((out / "sweep.json").read_text())
    if version is None:
        meta.pop("pimsim_version")
    else:
        meta["pimsim_version"] = version
    (out / "sweep.json").write_text(json.dumps(meta))
    before = (out / "results.csv").read_bytes()
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert ("pimsim 0.0.9" if version else "no version recorded") in err and "not mixed" in err
    assert (out / "results.csv").read_bytes() == before
