"""Sweeps: resume after an interruption, local == Dask, bad specs rejected up front."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pimsim.cli import main
from pimsim.sweep import load_spec, run_sweep, validate

REPO = Path(__file__).resolve().parents[2]

SPEC = """\
version: 1
name: small
hw: gddr6_aim
run: {models: [gpt2-small], prompt_len: 1, gen_len: 2}
axes:
  dram.channels: [4, 8]
  asic.clock_GHz: [0.5, 1.0]
"""


def _spec(tmp_path, text=SPEC):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_points_expand_in_order(tmp_path):
    spec = load_spec(_spec(tmp_path))
    assert spec.points() == [
        {"dram.channels": 4, "asic.clock_GHz": 0.5},
        {"dram.channels": 4, "asic.clock_GHz": 1.0},
        {"dram.channels": 8, "asic.clock_GHz": 0.5},
        {"dram.channels": 8, "asic.clock_GHz": 1.0},
    ]


def test_interrupted_sweep_resumes_to_the_same_table(tmp_path):
    spec = load_spec(_spec(tmp_path))
    full = run_sweep(spec, tmp_path / "full", jobs=1)
    partial = run_sweep(spec, tmp_path / "resumed", jobs=1, stop_after=2)  # interrupted
    assert sorted(partial["point"]) == [0, 1]
    resumed = run_sweep(spec, tmp_path / "resumed", jobs=2)
    a = pd.read_csv(tmp_path / "full" / "results.csv")
    b = pd.read_csv(tmp_path / "resumed" / "results.csv")
    pd.testing.assert_frame_equal(a, b)
    assert len(b) == 4 and b["point"].is_unique
    assert (tmp_path / "full" / "results.csv").read_bytes() == (
        tmp_path / "resumed" / "results.csv"
    ).read_bytes()
    # first principles on the values: more channels -> faster tokens
    by = full.set_index(["dram.channels", "asic.clock_GHz"])["pim_latency_s_per_token"]
    assert by[(8, 1.0)] < by[(4, 1.0)]
    # (a slower ASIC can even come out ahead by a little: its longer idle gaps take refreshes
    # that would otherwise interrupt VMMs; test_run_end_to_end checks the refresh-free order)
    assert by[(8, 0.5)] >= 0.97 * by[(8, 1.0)]
    assert len(resumed) == 4


def test_dask_executor_matches_local(tmp_path):
    import distributed  # a dev dependency: CI runs this against a real LocalCluster

    spec = load_spec(_spec(tmp_path))
    local = run_sweep(spec, tmp_path / "local", jobs=1)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
    ) as cluster:
        dask = run_sweep(
            spec, tmp_path / "dask", executor="dask", scheduler=cluster.scheduler_address
        )
    pd.testing.assert_frame_equal(local, dask)
    assert (tmp_path / "local" / "results.csv").read_bytes() == (
        tmp_path / "dask" / "results.csv"
    ).read_bytes()


def test_dask_without_a_scheduler_starts_its_own_cluster(tmp_path):
    pytest.importorskip("distributed")
    spec = load_spec(_spec(tmp_path))
    run_sweep(spec, tmp_path / "local", jobs=1)
    run_sweep(spec, tmp_path / "dask", executor="dask", jobs=2)  # a LocalCluster on loopback
    assert (tmp_path / "local" / "results.csv").read_bytes() == (
        tmp_path / "dask" / "results.csv"
    ).read_bytes()


@pytest.mark.parametrize(
    "text,fragment",
    [
        (SPEC.replace("dram.channels:", "dram.chanels:"), "dram.chanels"),
        (SPEC.replace("[4, 8]", "[]"), "the axis is empty"),
        (
            SPEC.replace("axes:", "zip:").replace("[0.5, 1.0]", "[0.5, 1.0, 2.0]"),
            "different lengths",
        ),
        (SPEC.replace("gpt2-small", "gpt5"), "run.models[0]"),
        (SPEC.replace("run:", "runs:"), "runs"),
    ],
)
def test_bad_spec_rejected_before_any_point(tmp_path, capsys, text, fragment):
    out = tmp_path / "out"
    assert main(["sweep", str(_spec(tmp_path, text)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "spec.yaml" in err and fragment in err
    assert not (out / "results.csv").exists()


def test_spec_validation_runs_every_point(tmp_path):
    spec = load_spec(_spec(tmp_path, SPEC.replace("[0.5, 1.0]", "[0.5, -1.0]")))
    with pytest.raises(Exception, match="asic.clock_GHz"):
        validate(spec)


def test_resume_refuses_a_different_spec(tmp_path, capsys):
    out = tmp_path / "out"
    spec = load_spec(_spec(tmp_path))
    run_sweep(spec, out, jobs=1, stop_after=1)
    other = _spec(tmp_path, SPEC.replace("[4, 8]", "[4, 16]"))
    assert main(["sweep", str(other), "--out", str(out)]) == 2
    assert "different sweep spec" in capsys.readouterr().err


def test_spec_paths_are_relative_to_the_spec_file(tmp_path, monkeypatch):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "mine.yaml").write_text((REPO / "hw_configs" / "gddr6_aim.yaml").read_text())
    (folder / "tiny.yaml").write_text((REPO / "workloads" / "gpt2-small.yaml").read_text())
    spec_text = SPEC.replace("hw: gddr6_aim", "hw: mine.yaml").replace(
        "models: [gpt2-small]", "models: [tiny.yaml]"
    )
    (folder / "spec.yaml").write_text(spec_text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = load_spec("../study/spec.yaml")
    validate(spec)
    assert spec.hw == str(Path("../study") / "mine.yaml")
    table = run_sweep(spec, "out", jobs=1, stop_after=1)
    assert list(table["status"]) == ["ok"]


def test_the_help_example_spec_is_valid(tmp_path):
    from pimsim.cli.sweep import SPEC_EXAMPLE

    lines = SPEC_EXAMPLE.splitlines()
    body = "\n".join(line[2:] for line in lines[lines.index("") + 1 :])
    path = tmp_path / "example.yaml"
    path.write_text(body + "\n")
    spec = load_spec(path)
    validate(spec)
    assert len(spec.points()) == 16


def test_the_kv_reservation_is_a_sweep_axis(tmp_path, capsys):
    text = """\
version: 1
name: reservation
hw: gddr6_aim
run: {models: [gpt3-small], prompt_len: 1, gen_len: 2}
axes:
  max_context: [64, 2048]
"""
    spec = load_spec(_spec(tmp_path, text))
    validate(spec)
    table = run_sweep(spec, tmp_path / "out", jobs=1)
    assert list(table["status"]) == ["ok", "ok"] and list(table["max_context"]) == [64, 2048]
    bad = _spec(tmp_path, text.replace("[64, 2048]", "[1, 64]"))  # 1 < the run's 2 positions
    assert main(["sweep", str(bad), "--out", str(tmp_path / "bad")]) == 2
    assert "axes.max_context" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    ("axis", "good", "bad"),
    [
        ("dtype", '["bf16", "fp16"]', '["bf16", "half"]'),
        ("routing", '["uniform", "skew:1"]', '["zipf"]'),
    ],
)
def test_string_run_axes_are_checked_by_their_own_rules(tmp_path, capsys, axis, good, bad):
    text = f"""\
version: 1
name: strings
hw: gddr6_aim
run: {{models: [gpt2-small], prompt_len: 1, gen_len: 2}}
axes:
  {axis}: {good}
"""
    validate(load_spec(_spec(tmp_path, text)))  # (string values are not counts)
    wrong = _spec(tmp_path, text.replace(good, bad))
    assert main(["sweep", str(wrong), "--out", str(tmp_path / "bad")]) == 2
    assert f"axes.{axis}" in capsys.readouterr().err
