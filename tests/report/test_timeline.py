"""The Perfetto timeline is a valid trace-event document: every event of a known phase with the
fields that phase needs, one track per unit, operator arguments, slices on a track that never
overlap (Perfetto draws overlapping slices of one track wrongly), times inside the run and
matching the per-operator table, and per-token counters that sum to the run's commands."""

from __future__ import annotations

import json

import pytest

import pimsim
from pimsim.report.timeline import TRACKS

FIELDS = {
    "M": {"name": str, "ph": str, "pid": int, "args": dict},
    "X": {"name": str, "cat": str, "ph": str, "pid": int, "tid": int, "ts": float, "dur": float},
    "C": {"name": str, "ph": str, "pid": int, "ts": float, "args": dict},
}


@pytest.fixture(scope="module", params=["overlap", "serial"])
def result(request):
    return pimsim.simulate("gddr6_aim", "gpt2-small", gen_len=3, mode=request.param)


def test_events_follow_the_trace_event_format(result):
    trace = json.loads(json.dumps(result.timeline()))  # JSON-clean
    assert trace["displayTimeUnit"] == "ns"
    names = {}
    for event in trace["traceEvents"]:
        fields = FIELDS[event["ph"]]
        for key, kind in fields.items():
            value = event[key]
            assert isinstance(value, (int, float) if kind is float else kind), (key, event)
        if event["ph"] == "M" and event["name"] == "thread_name":
            names[event["tid"]] = event["args"]["name"]
        if event["ph"] == "X":
            assert event["dur"] > 0 and event["ts"] >= 0
            assert set(event["args"]) == {"id", "kind", "layer", "token"}
        if event["ph"] == "C":
            assert all(isinstance(v, int) and v >= 0 for v in event["args"].values())
    assert {tid: names[tid] for tid in range(len(TRACKS))} == dict(enumerate(TRACKS))
    for tid, name in names.items():  # extra lanes of a track carry its name
        assert name.startswith(TRACKS[tid % len(TRACKS)])


def test_slices_of_a_track_do_not_overlap_and_match_the_operators(result):
    slices = [e for e in result.timeline()["traceEvents"] if e["ph"] == "X"]
    assert {e["tid"] for e in slices} >= {0, 1, 2, 3}
    by_track: dict[int, list] = {}
    for event in slices:
        by_track.setdefault(event["tid"], []).append((event["ts"], event["ts"] + event["dur"]))
    for tid, spans in by_track.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end - 1e-9, (tid, end, start)
    ops = result.ops.set_index("id")
    for event in slices:
        op = ops.loc[event["args"]["id"]]
        assert op["start_s"] * 1e6 - 1e-6 <= event["ts"]
        assert event["ts"] + event["dur"] <= op["end_s"] * 1e6 + 1e-6
        assert op["kind"] == event["args"]["kind"] and op["token"] == event["args"]["token"]


def test_counters_sum_to_the_run_commands(result):
    counters = [e for e in result.timeline()["traceEvents"] if e["ph"] == "C"]
    tokens = result.report["prompt_len"] + result.report["gen_len"] - 1
    rows = [e["args"] for e in counters if e["name"] == "DRAM rows"]
    assert len(rows) == tokens
    commands = result.report["pim"]["commands_by_type"]
    mac = sum(e["args"]["MAC"] for e in counters if e["name"] == "PIM commands")
    assert mac == commands.get("MAC", 0) + commands.get("MAC16", 0)
