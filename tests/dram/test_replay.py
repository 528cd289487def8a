"""`pimsim replay`: trace reading, address mapping, arrival cycles, legality, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pimsim.cli import main
from pimsim.config import load_hw
from pimsim.core.commands import Cmd
from pimsim.core.errors import PimsimInputError
from pimsim.dram.channel import ChannelModel
from pimsim.dram.checker import check_log
from pimsim.dram.protocol import check_protocol
from pimsim.dram.replay import address_mapping, read_trace, replay

PLAIN = ["dram.channels=1", "dram.refresh=none"]  # plain GDDR6 channel, no refresh


def gddr6_address(row: int, bank: int, bankgroup: int, column: int) -> int:
    """Byte address under the default row:bank:bankgroup:column:channel mapping (1 channel,
    4 x 4 banks, 64 columns of 32 B)."""
    return (((row * 4 + bank) * 4 + bankgroup) * 64 + column) * 32


def write(tmp_path, text: str, name: str = "t.trace"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_hand_checked_trace(tmp_path):
    """GDDR6 (nRCDRD 26, nCL 24, nBL 8, nCCDL 6, nRAS 53, nRP 26, nRC 79, nRTP 4; a burst
    holds the data bus nBL cycles):
    miss, hit in the same bank, conflict in the same bank, then a late arrival elsewhere."""
    hw = load_hw("gddr6", PLAIN)
    trace = write(
        tmp_path,
        "# cycle op address\n"
        f"0 R {gddr6_address(0, 0, 0, 0):#x}\n"  # ACT 0, RD 26 (nRCDRD): done 26 + 32 = 58
        f"0,R,{gddr6_address(0, 0, 0, 1)}\n"  # hit: RD 26 + nBL (> nCCDL) = 34, done 66
        f"0 R {gddr6_address(1, 0, 0, 0):#x}\n"  # PRE 53 (nRAS), ACT 79 (nRP, nRC), RD 105
        f"200 W {gddr6_address(5, 1, 2, 7):#x}\n",  # arrives at 200: ACT 200, WR 216 (nRCDWR)
    )
    result = replay(hw, read_trace(trace), log_commands=100)
    cycles = result.log["cycle"].tolist()
    assert result.log["cmd"].tolist() == ["ACT", "RD", "RD", "PRE", "ACT", "RD", "ACT", "WR"]
    assert cycles == [0, 26, 34, 53, 79, 105, 200, 216]
    assert result.cycles == 216 + 6 + 8  # WR + nCWL + nBL
    assert result.log["bank"].tolist()[-1] == 2 * 4 + 1
    assert (result.row_hits, result.row_misses, result.row_conflicts) == (1, 2, 1)
    assert result.command_counts["ACT"] == 3 and result.command_counts["PRE"] == 1
    assert result.mean_read_latency_cycles == pytest.approx((58 + 66 + 137) / 3)
    assert result.row_hit_rate == pytest.approx(0.25)


def _random_trace(tmp_path, hw, n: int, gap: int) -> tuple:
    rng = np.random.default_rng(7)
    span = address_mapping(hw).total_bits
    addresses = rng.integers(0, 1 << (span - 5), size=n) * 32  # some rows repeat below
    addresses[n // 2 :: 3] = addresses[n // 2]
    arrivals = np.sort(rng.integers(0, gap, size=n))
    writes = rng.random(n) < 0.3
    lines = [
        f"{c} {'W' if w else 'R'} {a:#x}\n"
        for c, w, a in zip(arrivals, writes, addresses, strict=True)
    ]
    return write(tmp_path, "".join(lines)), arrivals


@pytest.mark.parametrize("policy", ["open", "closed"])
@pytest.mark.parametrize("refresh", ["all_bank", "per_bank"])
def test_replay_log_is_legal(tmp_path, policy, refresh):
    """Random reads and writes with idle gaps spanning refresh intervals: both checkers
    find the command log legal, and no command issues before its request arrives."""
    hw = load_hw(
        "gddr6",
        [f"dram.page_policy={policy}", f"dram.refresh={refresh}", "dram.channels=2"],
    )
    trace, _ = _random_trace(tmp_path, hw, 400, 60 * hw.dram.t("nREFI"))
    result = replay(hw, read_trace(trace), log_commands=10_000)
    assert result.command_counts["REFab" if refresh == "all_bank" else "REFpb"] > 0
    assert check_log(result.log, hw) == []
    assert check_protocol(result.log, hw) == []
    columns = result.log[result.log["cmd"].isin(["RD", "WR"])]
    assert len(columns) == 400
    assert result.row_hits + result.row_misses + result.row_conflicts == 400


def test_arrivals_bound_issue(tmp_path):
    """Every column command issues at or after its request's arrival (one channel)."""
    hw = load_hw("gddr6", ["dram.channels=1"])
    trace, arrivals = _random_trace(tmp_path, hw, 300, 20 * hw.dram.t("nREFI"))
    result = replay(hw, read_trace(trace), log_commands=10_000)
    columns = result.log[result.log["cmd"].isin(["RD", "WR"])]["cycle"].to_numpy()
    assert (columns >= arrivals).all()
    assert check_log(result.log, hw, tight=True, releases=arrivals.tolist()) == []


def test_untimed_requests_unchanged():
    """A five-column request array and the same with zero arrivals give identical runs."""
    hw = load_hw("gddr6", ["dram.channels=1"])
    model = ChannelModel(hw)
    rng = np.random.default_rng(3)
    reqs = np.zeros((500, 5), dtype=np.int64)
    reqs[:, 0] = int(Cmd.RD)
    reqs[:, 1] = rng.integers(0, 16, 500)
    reqs[:, 2] = rng.integers(0, 4, 500)
    reqs[:, 3] = rng.integers(0, 64, 500)
    timed = np.concatenate([reqs, np.zeros((500, 1), dtype=np.int64)], axis=1)
    a = model.run_requests(reqs, log_capacity=4000)
    b = model.run_requests(timed, log_capacity=4000)
    assert a.end_cycle == b.end_cycle
    assert np.array_equal(a.counters, b.counters) and np.array_equal(a.log, b.log)
    tuples = model.requests_array([(Cmd.RD, 0, 1, 2), (Cmd.RD, 0, 1, 3, 50)])
    assert tuples.shape == (2, 6) and tuples[1, 5] == 50


def test_cli_json(tmp_path, capsys):
    trace = write(tmp_path, f"0 R {gddr6_address(0, 0, 0, 0)}\n")
    out = tmp_path / "r.json"
    assert main(["replay", "--hw", "gddr6", "--trace", str(trace), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cycles        58" in printed and "row-hit rate" in printed
    report = json.loads(out.read_text())
    assert report["schema"] == "pimsim.replay.v1" and report["cycles"] == 58
    assert report["commands"] == {"ACT": 1, "RD": 1}
    assert main(["replay", "--hw", "gddr6", "--trace", str(trace), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["row_misses"] == 1
    dump = tmp_path / "cmds.csv"
    args = ["replay", "--hw", "gddr6", "--trace", str(trace), "--dump-commands", "5", str(dump)]
    assert main(args) == 0
    assert main(["check-log", str(dump), "--hw", "gddr6"]) == 0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("0 X 0x40\n", "line 1: operation 'X' is not R or W"),
        ("0 R 0x40\n# ok\n\n5 R\n", "line 4: 2 fields"),
        ("9 R 0x40\n3 R 0x80\n", "line 2: arrival 3 before the previous one 9"),
        ("0 R zz\n", "line 1: not an integer"),
        ("-1 R 64\n", "line 1: negative cycle"),
        (f"0 R {1 << 64}\n", "line 1: cycle or address out of range"),
        ("# nothing\n", "no requests"),
        ("0 R 0x40\n1 R 0x1000000000000\n", "line 2: address 0x1000000000000 is beyond"),
    ],
)
def test_bad_trace_exits_2(tmp_path, capsys, text, needle):
    trace = write(tmp_path, text)
    assert main(["replay", "--hw", "gddr6", "--trace", str(trace)]) == 2
    err = capsys.readouterr().err
    assert needle in err and str(trace) in err and "Traceback" not in err


def test_bad_mapping_and_missing_file(tmp_path, capsys):
    trace = write(tmp_path, "0 R 0\n")
    args = ["replay", "--hw", "gddr6", "--trace", str(trace), "--mapping", "row:bank:column"]
    assert main(args) == 2
    assert "--mapping: got 'row:bank:column'" in capsys.readouterr().err
    assert main(["replay", "--hw", "gddr6", "--trace", str(tmp_path / "none.trace")]) == 2
    assert "none.trace: cannot read file: No such file" in capsys.readouterr().err
    with pytest.raises(PimsimInputError, match="power of two"):
        address_mapping(load_hw("gddr6", ["dram.channels=3"]))
