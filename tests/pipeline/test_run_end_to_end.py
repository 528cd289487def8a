"""End-to-end runs: exact == fast, first principles, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pimsim.cli import main
from pimsim.config import load_hw
from pimsim.engine import simulate
from pimsim.pipeline import prepare_run


def _sim(hw, model="gpt2-small", gen_len=8, **kwargs):
    prepared = prepare_run(hw, model=model, prompt_len=1, gen_len=gen_len)
    return prepared, simulate(hw, prepared.table, prepared.mapping, **kwargs)


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
@pytest.mark.parametrize("mode", ["overlap", "serial"])
def test_exact_and_fast_runs_are_identical(config, mode):
    hw = load_hw(config)  # refresh on
    _, fast = _sim(hw, mode=mode)
    _, exact = _sim(hw, mode=mode, exact=True)
    assert fast.end_ps == exact.end_ps
    assert np.array_equal(fast.op_end_ps, exact.op_end_ps)
    assert np.array_equal(fast.pim.counters, exact.pim.counters)
    assert fast.pim.counters[-3:].sum() > 0  # row statistics were collected
    assert exact.pim.kernel_calls > fast.pim.kernel_calls  # the fast path did reuse work
    assert fast.pim.memo_hits > 0 and fast.pim.phase_free_hits > 0  # ... through the memo too


def test_latency_per_token_grows_with_context():
    # positions are spread over all 128 MAC units, so attention grows in steps of 128 tokens;
    # one channel (16 units) makes the steps 16 tokens apart
    hw = load_hw("gddr6_aim", ["dram.channels=2"])
    prepared, sim = _sim(hw, model="gpt2-small", gen_len=120)
    per_token = np.diff(np.array(sim.lm_head_end_ps))
    assert per_token[-10:].mean() > per_token[:10].mean()
    score = prepared.table["kind"].to_numpy() == "attn_score"
    duration = (sim.op_end_ps - sim.op_start_ps)[score]
    assert duration[-12:].mean() > duration[:12].mean()


@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_serial_is_never_faster_than_overlap_without_refresh(config):
    # without refresh the timing is a max-plus system: starting any operator no later can
    # finish nothing later, and overlap mode starts every operator no later than serial mode
    hw = load_hw(config, ["dram.refresh=none"])
    _, serial = _sim(hw, mode="serial")
    _, overlap = _sim(hw, mode="overlap")
    assert (np.sort(overlap.lm_head_end_ps) <= np.sort(serial.lm_head_end_ps)).all()
    assert overlap.end_ps < serial.end_ps  # ASIC work is hidden under PIM work
    assert overlap.asic_hidden_ps.sum() > 0 and serial.asic_hidden_ps.sum() == 0


def test_overlap_with_refresh_stays_close_to_serial():
    # with refresh the controller tucks refreshes into the idle gaps serial mode leaves, so
    # overlap can lose some of what it hides (README: overlap vs serial); never much
    hw = load_hw("gddr6_aim")
    _, serial = _sim(hw, mode="serial")
    _, overlap = _sim(hw, mode="overlap")
    assert overlap.end_ps <= 1.002 * serial.end_ps


def test_latency_scales_with_channels():
    # a large model is VMM-bound: doubling channels should nearly halve the time per token
    times = {}
    for channels in (8, 16):
        hw = load_hw("gddr6_aim", [f"dram.channels={channels}"])
        _, sim = _sim(hw, model="gpt2-large", gen_len=2)
        times[channels] = sim.end_ps
    assert 1.6 < times[8] / times[16] < 2.1


def test_asic_time_is_small_for_large_models(tmp_path):
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "run",
                "--hw",
                "gddr6_aim",
                "--model",
                "gpt2-large",
                "--gen-len",
                "2",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    busy = report["pim"]["unit_busy_s"]
    assert busy["vector"] < 0.15 * busy["pim"]
    assert report["schema"] == "pimsim.report.v1"
    pim = report["pim"]
    # two tokens: the first ends the prompt (TTFT), the decode step yields the second
    assert pim["latency_s_per_token"] == pytest.approx(pim["latency_s"] - pim["ttft_s"])
    assert pim["tpot_s"] == pim["latency_s_per_token"] == pim["tpot_p50_s"]
    assert report["pim"]["commands"]["MAC"] > 0 and 0.9 < report["pim"]["row_hit_rate"] <= 1


def test_model_too_big_is_exit_2(capsys):
    code = main(
        [
            "run",
            "--hw",
            "gddr6_aim",
            "--set",
            "dram.channels=1",
            "--model",
            "gpt2-xl",
            "--gen-len",
            "1",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "does not fit the PIM capacity" in err and "rows per bank" in err


def test_unknown_op_kind_is_exit_2(tmp_path, capsys):
    from pimsim.workload import lower, resolve_model, write_trace

    table = lower(resolve_model("gpt2-small"), prompt_len=1, gen_len=1)
    table.loc[3, "kind"] = "fft"
    path = tmp_path / "bad.jsonl"
    write_trace(table, path, encoding="plain")
    code = main(["run", "--hw", "gddr6_aim", "--trace", str(path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "line 5" in err and "field 'kind'" in err


def test_out_dir_and_timeline(tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            ["run", "--hw", "hbm_pim", "--model", "gpt2-small", "--gen-len", "2", "--out", str(out)]
        )
        == 0
    )
    for name in ("report.json", "hw_resolved.yaml", "ops.csv", "timeline.json"):
        assert (out / name).stat().st_size > 0
    trace = json.loads((out / "timeline.json").read_text())
    tracks = {e["tid"] for e in trace["traceEvents"] if e.get("ph") == "X"}
    assert tracks >= {0, 1}  # PIM and vector activity


@pytest.mark.parametrize("refresh", ["all_bank", "per_bank", "none"])
@pytest.mark.parametrize("config", ["gddr6_aim", "hbm_pim"])
def test_run_command_dump_passes_both_checkers_tight(tmp_path, capsys, config, refresh):
    """Every channel's first commands of a gpt2-small run (40k in all): legal to the rule-table
    checker and to the protocol checker, and every command at its earliest legal cycle once
    the operators' release cycles (ops.csv) are known."""
    from pimsim.dram.checker import read_command_log

    dump = tmp_path / "cmds.csv"
    out = tmp_path / "run"
    sets = ["--set", f"dram.refresh={refresh}"]
    per_channel = str(40_000 // load_hw(config).dram.channels)
    run = ["run", "--hw", config, "--model", "gpt2-small", "--gen-len", "2", *sets]
    assert main([*run, "--dump-commands", per_channel, str(dump), "--out", str(out)]) == 0
    log = read_command_log(dump)
    hw = load_hw(config)
    assert set(log["channel"]) == set(range(hw.dram.channels))
    expected = {"ACT16", "MAC16", "WR", "WRGB", "RDMAC"}
    if refresh != "none":
        expected.add("REFab" if refresh == "all_bank" else "REFpb")
    assert expected <= set(log["cmd"])
    capsys.readouterr()
    check = ["check-log", str(dump), "--hw", config, *sets, "--tight"]
    assert main([*check, "--ops", str(out / "ops.csv")]) == 0
    assert capsys.readouterr().out.strip().endswith(f"{len(log)} commands, 0 violations")
    # without the release cycles, commands held back for their operator look late
    assert main(check) == 1
    assert "not_tight" in capsys.readouterr().out
    # logging does not change the timing
    logged = json.loads((out / "report.json").read_text())["pim"]["cycles"]
    assert main([*run, "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["pim"]["cycles"] == logged


def test_max_context_caps_the_kv_reservation(capsys):
    from pimsim.pipeline import prepare_run

    hw = load_hw("gddr6_aim")
    full = prepare_run(hw, model="gpt3-small", prompt_len=2, gen_len=3)
    capped = prepare_run(hw, model="gpt3-small", prompt_len=2, gen_len=3, max_context=4)
    assert capped.mapping.rows_used < full.mapping.rows_used
    assert capped.mapping.kv[0].max_context == 4
    args = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gen-len", "3"]
    assert main([*args, "--max-context", "2"]) == 2  # fewer than the run's 3 positions
    assert "--max-context" in capsys.readouterr().err
    assert main([*args, "--max-context", "3"]) == 0
