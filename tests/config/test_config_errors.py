"""Hardware descriptions: presets, overrides, ns -> cycles, and clear errors (exit 2)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from pimsim.cli import main
from pimsim.config import load_hw

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str, name: str = "hw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BASE = """\
version: 1
name: test
dram:
  preset: GDDR6_AiM
  channels: 2
pim:
  enabled: true
"""


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("name", ["gddr6_aim", "hbm_pim", "gddr6"])
def test_shipped_configs_load(name):
    hw = load_hw(name)
    assert hw.dram.organization.banks == 16
    assert hw.resolved["dram"]["timing_cycles"] == dict(hw.dram.timing_cycles)
    assert load_hw(REPO / "hw_configs" / f"{name}.yaml").sha256 == hw.sha256


def test_overrides_and_ns_conversion(tmp_path):
    hw = load_hw("gddr6_aim", ["dram.channels=16", "dram.timing.tRCDRD_ns=14.2"])
    assert hw.dram.channels == 16
    assert hw.dram.t("nRCDRD") == math.ceil(14.2 / 0.5)  # 29 cycles, rounded up
    path = _write(tmp_path, BASE + "  mac_lanes: 16\n")
    assert load_hw(path).dram.channels == 2
    assert load_hw("gddr6_aim").sha256 != hw.sha256


def test_rules_use_resolved_timing():
    hw = load_hw("gddr6_aim", ["dram.timing.nRCDRDMAC=70"])
    rule = next(r for r in hw.dram.rules if r.expression == "nRCDRDMAC")
    assert rule.distance_cycles == 70


def test_check_config_ok_and_resolved(capsys):
    assert main(["check-config", "hbm_pim"]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["check-config", "gddr6_aim", "--resolved"]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    assert resolved == load_hw("gddr6_aim").resolved_dict()


def test_malformed_yaml(tmp_path, capsys):
    path = _write(tmp_path, "version: 1\ndram: {preset: GDDR6_AiM\n")
    err = _error(capsys, ["check-config", str(path)])
    assert str(path) in err and "malformed YAML" in err and "line" in err


def test_misspelt_key(tmp_path, capsys):
    path = _write(tmp_path, BASE.replace("channels: 2", "chanels: 2"))
    err = _error(capsys, ["check-config", str(path)])
    assert str(path) in err and "dram.chanels" in err and "did you mean 'channels'" in err


def test_unknown_timing_key(tmp_path, capsys):
    path = _write(tmp_path, BASE.replace("  channels: 2", "  channels: 2\n  timing: {nRCDD: 3}"))
    err = _error(capsys, ["check-config", str(path)])
    assert "dram.timing.nRCDD" in err and "unknown timing parameter" in err


@pytest.mark.parametrize("value", ["-3", "0", "2.5", "'fast'"])
def test_bad_timing_values(tmp_path, capsys, value):
    path = _write(
        tmp_path, BASE.replace("  channels: 2", f"  channels: 2\n  timing: {{nRP: {value}}}")
    )
    err = _error(capsys, ["check-config", str(path)])
    assert str(path) in err and "dram.timing.nRP" in err and "integer >= 1" in err


def test_negative_ns_timing(tmp_path, capsys):
    path = _write(
        tmp_path, BASE.replace("  channels: 2", "  channels: 2\n  timing: {tRP_ns: -1.5}")
    )
    err = _error(capsys, ["check-config", str(path)])
    assert "dram.timing.tRP_ns" in err


@pytest.mark.parametrize("value", ["2.5", "0", "'four'", "true"])
def test_bad_bank_count(tmp_path, capsys, value):
    path = _write(
        tmp_path,
        BASE.replace("  channels: 2", f"  channels: 2\n  organization: {{bank_groups: {value}}}"),
    )
    err = _error(capsys, ["check-config", str(path)])
    assert str(path) in err and "dram.organization.bank_groups" in err


@pytest.mark.parametrize("key", ["refresh_postpone", "refresh_pull_in"])
@pytest.mark.parametrize("value", ["9", "-1", "2.5"])
def test_bad_refresh_allowance(tmp_path, capsys, key, value):
    path = _write(tmp_path, BASE.replace("  channels: 2", f"  channels: 2\n  {key}: {value}"))
    err = _error(capsys, ["check-config", str(path)])
    assert str(path) in err and f"dram.{key}" in err


def test_too_many_banks(tmp_path, capsys):
    org = "  organization: {bank_groups: 8, banks_per_group: 8}"
    path = _write(tmp_path, BASE.replace("  channels: 2", f"  channels: 2\n{org}"))
    err = _error(capsys, ["check-config", str(path)])
    assert "dram.organization" in err and "at most 32 banks" in err


def test_wrong_version_and_preset(tmp_path, capsys):
    err = _error(
        capsys, ["check-config", str(_write(tmp_path, BASE.replace("version: 1", "version: 7")))]
    )
    assert "version" in err and "expected version: 1" in err
    err = _error(
        capsys, ["check-config", str(_write(tmp_path, BASE.replace("GDDR6_AiM", "GDDR6_AIM")))]
    )
    assert "dram.preset" in err and "did you mean 'GDDR6_AiM'" in err


def test_bad_set_override(capsys):
    err = _error(
        capsys,
        ["gemv", "--hw", "gddr6_aim", "--rows", "4", "--cols", "4", "--set", "dram.chanels=4"],
    )
    assert "gddr6_aim.yaml" in err and "--set dram.chanels" in err and "dram.chanels" in err


@pytest.mark.parametrize("flag,value", [("--rows", "0"), ("--cols", "-5")])
def test_gemv_bad_shape(capsys, flag, value):
    argv = ["gemv", "--hw", "gddr6_aim", "--rows", "64", "--cols", "64"]
    argv[argv.index(flag) + 1] = value
    err = _error(capsys, argv)
    assert flag in err and "integer >= 1" in err


def test_unknown_hw(capsys):
    err = _error(capsys, ["gemv", "--hw", "gddr7_aim", "--rows", "4", "--cols", "4"])
    assert "gddr7_aim" in err and "gddr6_aim" in err


def test_gemv_needs_pim(capsys):
    err = _error(capsys, ["gemv", "--hw", "gddr6", "--rows", "4", "--cols", "4"])
    assert "pim.enabled" in err


def test_matrix_too_large(capsys):
    # larger than the banks altogether: refused before any layout work
    err = _error(capsys, ["gemv", "--hw", "gddr6_aim", "--rows", "2000000", "--cols", "100000"])
    assert "dram.organization.rows" in err and "but the banks hold 4,294,967,296" in err
    # fits the banks in bytes but not this layout's rows per bank
    err = _error(capsys, ["gemv", "--hw", "gddr6_aim", "--rows", "1", "--cols", "100000000"])
    assert "DRAM rows per bank" in err


def test_rule_with_unknown_parameter(tmp_path, capsys):
    text = BASE.replace(
        "  channels: 2",
        "  channels: 2\n  rules_extra:\n"
        "    - {scope: bank, prev: [ACT], next: [RD], distance: nRCDX}",
    )
    err = _error(capsys, ["check-config", str(_write(tmp_path, text))])
    assert "dram.rules_extra[0].distance" in err and "nRCDX" in err
