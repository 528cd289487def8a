"""`pimsim gemv`: the JSON report (pimsim.gemv.v1), determinism, and the command dump."""

from __future__ import annotations

import json

import pytest

from pimsim.cli import main
from pimsim.config import load_hw
from pimsim.gemv import plan_gemv, simulate_gemv


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_gemv_json_report(tmp_path, capsys, config):
    out = tmp_path / "gemv.json"
    # refresh off: then every activate serves exactly one first access (with refresh on, a row
    # opened just before a refresh falls due is opened again after it)
    argv = ["gemv", "--hw", config, "--rows", "1000", "--cols", "3000", "--json", str(out)]
    assert main([*argv, "--set", "dram.refresh=none"]) == 0
    report = json.loads(out.read_text())
    hw = load_hw(config, ["dram.refresh=none"])
    plan = plan_gemv(hw, 1000, 3000)
    assert report["schema"] == "pimsim.gemv.v1"
    assert (report["rows"], report["cols"]) == (1000, 3000)
    assert report["cycles"] == simulate_gemv(hw, 1000, 3000, exact=True).cycles
    assert report["time_s"] == pytest.approx(report["cycles"] * hw.dram.tCK_ns * 1e-9)
    # every channel issues (segments per unit) x (columns of all chunks) all-bank MACs
    macs = sum(s * int(plan.chunks[:, 0].sum()) for s in plan.segments_per_unit)
    assert report["commands"]["MAC"] == macs == report["commands_by_type"]["MAC16"]
    assert report["commands"]["ACT"] == report["commands_by_type"]["ACT16"]
    hits = macs - report["commands"]["ACT"]  # every activate serves exactly one first access
    assert report["row_hit_rate"] == pytest.approx(hits / macs)
    assert "row-hit rate" in capsys.readouterr().out


def test_gemv_is_deterministic(tmp_path):
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        assert (
            main(
                ["gemv", "--hw", "gddr6_aim", "--rows", "777", "--cols", "999", "--json", str(path)]
            )
            == 0
        )
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_dump_commands_passes_check_log(tmp_path, capsys):
    dump = tmp_path / "cmds.csv"
    assert (
        main(
            [
                "gemv",
                "--hw",
                "hbm_pim",
                "--rows",
                "600",
                "--cols",
                "700",
                "--dump-commands",
                "4000",
                str(dump),
            ]
        )
        == 0
    )
    assert main(["check-log", str(dump), "--hw", "hbm_pim", "--tight"]) == 0
    assert "0 violations" in capsys.readouterr().out
