"""Energy model: command counts x per-command energy + static power x time (hand sums)."""

from __future__ import annotations

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.core.commands import Cmd
from pimsim.dram.channel import ChannelModel
from pimsim.energy import EnergyInputs, per_command_energy_j, run_energy_j
from pimsim.gemv import plan_gemv


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_synthetic_command_stream_equals_hand_sum(config):
    hw = load_hw(config)
    e, org = hw.dram.energy, hw.dram.organization
    counters = np.zeros(len(Cmd) + 3, dtype=np.int64)
    counts = {
        Cmd.ACT: 3,
        Cmd.ACT16: 2,
        Cmd.PREA: 2,
        Cmd.RD: 5,
        Cmd.WR: 4,
        Cmd.MAC16: 100,
        Cmd.WRGB: 64,
        Cmd.RDMAC: 7,
        Cmd.REFab: 1,
    }
    for cmd, n in counts.items():
        counters[cmd] = n
    duration = 2e-6
    parts = run_energy_j(hw, EnergyInputs(counters, duration, 1000, 4096, 3200))
    bits = org.access_bytes * 8
    served = org.banks // hw.pim.banks_per_mac_unit
    hand = (
        (3 + 2 * org.banks) * e.act_per_bank_nJ * 1e-9
        + (5 * e.rd_nJ + 4 * e.wr_nJ) * 1e-9
        + 100 * served * e.mac_per_bank_nJ * 1e-9
        + 64 * e.global_buffer_write_nJ * 1e-9
        + 7 * e.result_read_nJ * 1e-9
        + 1 * e.refab_nJ * 1e-9
        + ((5 + 4 + 64 + 7) * bits + 3200 * 8) * e.io_pJ_per_bit * 1e-12
        + e.background_mW_per_channel * 1e-3 * hw.dram.channels * duration
        + 1000 * hw.asic.vector_op_pJ * 1e-12
        + 4096 * hw.asic.sram_pJ_per_byte * 1e-12
        + hw.asic.static_mW * 1e-3 * duration
    )
    assert sum(parts.values()) == pytest.approx(hand, rel=1e-12)


def test_per_command_table_matches_components():
    # per-command energies times counts give the command-driven components exactly
    hw = load_hw("gddr6_aim")
    plan = plan_gemv(hw, 2000, 3000)
    run = ChannelModel(hw).run_gemv(plan.chunks, plan.segments_per_unit[0])
    per_cmd = per_command_energy_j(hw)
    by_table = sum(per_cmd[c.name] * int(run.counters[c]) for c in Cmd)
    parts = run_energy_j(hw, EnergyInputs(run.counters, 0.0, 0, 0, 0))
    assert by_table == pytest.approx(sum(parts.values()), rel=1e-12)


def test_energy_overrides_and_bad_values(capsys):
    from pimsim.cli import main

    hw = load_hw("gddr6_aim", ["dram.energy.mac_per_bank_nJ=0.1"])
    assert hw.dram.energy.mac_per_bank_nJ == 0.1
    assert main(["check-config", "gddr6_aim", "--set", "dram.energy.rd_nJ=-1"]) == 2
    assert "dram.energy.rd_nJ" in capsys.readouterr().err
    assert main(["check-config", "gddr6_aim", "--set", "dram.energy.rdd_nJ=1"]) == 2
    assert "did you mean 'rd_nJ'" in capsys.readouterr().err


def test_run_report_energy_fields(tmp_path):
    import json

    from pimsim.cli import main

    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                "--hw",
                "gddr6_aim",
                "--model",
                "gpt2-small",
                "--gen-len",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    pim = report["pim"]
    assert pim["energy_j"] == pytest.approx(sum(pim["energy_breakdown_j"].values()))
    # energy per token: the decode step's (one token here), and the phases add up
    assert pim["energy_j_per_token"] == pytest.approx(pim["energy_by_phase_j"]["decode"])
    assert sum(pim["energy_by_phase_j"].values()) == pytest.approx(pim["energy_j"], rel=1e-12)
    assert 0.3 < pim["energy_j_per_token"] / (pim["energy_j"] / 2) < 1.2
    for key in ("gpu", "cpu"):
        base = report["baselines"][key]
        assert report["speedup"][key] == pytest.approx(
            base["latency_s_per_token"] / pim["latency_s_per_token"]
        )
        assert report["energy_efficiency"][key] == pytest.approx(
            base["energy_j_per_token"] / pim["energy_j_per_token"]
        )
    energy = json.loads((out / "energy.json").read_text())
    counts, per_cmd = energy["command_counts"], energy["energy_per_command_j"]
    command_part = sum(counts[k] * per_cmd[k] for k in per_cmd)
    components = energy["components_j"]
    driven = sum(
        v
        for k, v in components.items()
        if k not in ("dram_background", "asic_vector", "asic_sram", "asic_static")
    )
    io_links = (
        components["io"] - sum(counts[k] for k in ("RD", "WR", "WRGB", "RDMAC")) * 256 * 5.5e-12
    )
    assert command_part == pytest.approx(driven - io_links, rel=1e-9)


def test_unknown_baseline_is_exit_2(capsys):
    from pimsim.cli import main

    assert main(["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gpu", "V100x"]) == 2
    err = capsys.readouterr().err
    assert "V100x" in err and "T4" in err


def test_compare_table(tmp_path, capsys):
    import json

    from pimsim.cli import main

    out = tmp_path / "c.json"
    csv = tmp_path / "c.csv"
    assert (
        main(
            [
                "compare",
                "--hw",
                "gddr6_aim",
                "--models",
                "gpt2-small,gpt2-medium",
                "--gen-len",
                "2",
                "--json",
                str(out),
                "--csv",
                str(csv),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())
    assert [r["model"] for r in rows] == ["gpt2-small", "gpt2-medium"]
    for row in rows:
        assert row["speedup_gpu"] == pytest.approx(
            row["gpu_latency_s_per_token"] / row["pim_latency_s_per_token"]
        )
    # a bigger model takes longer per token on every device
    assert rows[1]["pim_latency_s_per_token"] > rows[0]["pim_latency_s_per_token"]
    assert rows[1]["gpu_latency_s_per_token"] > rows[0]["gpu_latency_s_per_token"]
    assert csv.read_text().startswith("model,params,hw")
    assert "speedup GPU" in capsys.readouterr().out


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim", "gddr6"])
def test_refresh_energy_refreshes_every_row_once_per_retention_window(config):
    hw = load_hw(config)
    e, org, dram = hw.dram.energy, hw.dram.organization, hw.dram
    refi_s = dram.t("nREFI") * dram.tCK_ns * 1e-9
    refreshes_per_window = e.refresh_window_ms * 1e-3 / refi_s
    # one retention window of REFabs restores every row of every bank exactly once
    every_row_once = org.banks * org.rows * e.act_per_bank_nJ
    assert refreshes_per_window * e.refab_nJ == pytest.approx(every_row_once, rel=1e-12)
    assert refreshes_per_window * e.refpb_nJ == pytest.approx(every_row_once / org.banks)
    assert e.refresh_window_ms == 32.0  # JEDEC GDDR6 (JESD250) and HBM2 (JESD235)


def test_refresh_energy_override_and_bad_window():
    from pimsim.core.errors import PimsimInputError

    hw = load_hw("gddr6_aim", ["dram.energy.refab_nJ=50"])
    assert hw.dram.energy.refab_nJ == 50.0
    longer = load_hw("gddr6_aim", ["dram.energy.refresh_window_ms=64"])
    assert longer.dram.energy.refab_nJ == pytest.approx(
        load_hw("gddr6_aim").dram.energy.refab_nJ / 2
    )
    with pytest.raises(PimsimInputError, match="refresh_window_ms"):
        load_hw("gddr6_aim", ["dram.energy.refresh_window_ms=0"])


@pytest.mark.parametrize(("config", "bursts"), [("gddr6_aim", 1), ("hbm_pim", 8)])
def test_result_reads_carry_every_unit_value(config, bursts):
    # AiM units sum their lanes (adder tree): one 32 B burst holds 16 units x 2 B; HBM-PIM's
    # 8 lane-wise units hold 16 FP16 lane sums each: 8 x 16 x 2 B = 256 B = 8 bursts per step
    hw = load_hw(config, ["dram.refresh=none"])
    org, pim = hw.dram.organization, hw.pim
    units = org.banks // pim.banks_per_mac_unit
    values = units * (1 if pim.adder_tree else pim.mac_lanes)
    assert values * pim.dtype_bytes == bursts * org.access_bytes
    width = 8
    slots = org.columns // width
    chunks = np.array([(width, slots, 0, width)], dtype=np.int64)
    segments = 3 * slots * pim.banks_per_mac_unit
    for fast in (True, False):
        run = ChannelModel(hw).run_gemv(chunks, segments, fast=fast)
        steps = segments  # one result read per segment step (every unit in lock step)
        assert run.counters[Cmd.RDMAC] == steps * bursts
        assert run.counters[Cmd.MAC16] == steps * width
