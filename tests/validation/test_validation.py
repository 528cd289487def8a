"""`pimsim validate`: reference points as data, their verdicts, and the quick subset CI runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pimsim.cli import main
from pimsim.core.errors import PimsimInputError
from pimsim.validation.points import POINTS_DIR, Point, load_points
from pimsim.validation.runner import judge, validate, verdict


def _point(**kw) -> Point:
    base = dict(
        id="p",
        subset="full",
        quantity="q",
        pimsim={"kind": "gemv"},
        value=100.0,
        unit="",
        kind="simulator",
        source="s",
        file="f.yaml",
    )
    return Point(**{**base, **kw})


def test_judge_compares_as_the_point_says():
    assert judge(_point(tolerance=0.03), 103.0) == (pytest.approx(1.03), True)
    assert judge(_point(tolerance=0.03), 103.5)[1] is False
    assert judge(_point(compare="at_most", tolerance=0.0), 100.0)[1] is True
    assert judge(_point(compare="at_most", tolerance=0.0), 100.1)[1] is False
    assert judge(_point(compare="at_least", tolerance=0.1), 90.0)[1] is True
    assert judge(_point(compare="at_least", tolerance=0.1), 89.0)[1] is False
    rng = _point(compare="range", high=200.0, tolerance=0.0)
    assert [judge(rng, v)[1] for v in (99.0, 100.0, 200.0, 201.0)] == [False, True, True, False]


def test_verdicts_name_what_kind_of_miss_it_is():
    assert verdict(_point(), True) == "ok"
    assert verdict(_point(), False) == "outside"
    assert verdict(_point(known_difference="a mode switch"), False) == "known"
    assert verdict(_point(claim=True), False) == "claim"


def test_every_shipped_point_is_well_formed_and_unique():
    points = load_points(POINTS_DIR, subset="full")
    assert len(points) > 200
    assert len({p.id for p in points}) == len(points)
    files = {p.file for p in points}
    for name in (
        "aim_simulator.yaml",
        "pimsimulator.yaml",
        "plain_dram.yaml",
        "h200.yaml",
        "cpu_dev.yaml",
        "pim_gpt_paper.yaml",
    ):
        assert name in files
    for p in points:
        assert p.source and p.reason, p.id
        assert p.tolerance >= 0, p.id
    quick = load_points(POINTS_DIR, subset="quick")
    assert 0 < len(quick) < 15
    # the quick subset covers every kind of reference the full table has
    assert {p.file for p in quick} >= {
        "aim_simulator.yaml",
        "plain_dram.yaml",
        "h200.yaml",
        "cpu_dev.yaml",
    }


def test_quick_subset_agrees_with_its_references():
    rows = validate("quick")
    assert rows and all(r.verdict == "ok" for r in rows), [
        (r.id, r.ratio) for r in rows if r.verdict != "ok"
    ]
    for r in rows:
        assert r.ratio == pytest.approx(r.pimsim / r.reference)
    by_id = {r.id: r for r in rows}
    # the AiM simulator's own ordering (mode switches, in-order activation, blocking result
    # reads) reproduced: within 3 cycles of 18241 on one channel
    aim = by_id["aim-compat-pimsim-order-1ch-1024x1024"]
    assert abs(aim.pimsim - aim.reference) <= 3
    # Ramulator 2.0, in order, refresh off: to the clock origin (1 cycle)
    ram = by_id["replay-ramulator2-inorder-norefresh-stream-cycles"]
    assert abs(ram.pimsim - ram.reference) <= 1


def _points_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "points"
    folder.mkdir()
    (folder / "mine.yaml").write_text(text)
    return folder


GOOD = """\
version: 1
points:
  - id: tiny-gemv
    subset: quick
    quantity: GEMV cycles
    pimsim: {kind: gemv, hw: gddr6_aim, set: [dram.channels=1, dram.refresh=none],
             rows: 64, cols: 64}
    reference: {value: 1, unit: cycles, source: made up}
    tolerance: 0.01
    reason: a point that must fail
"""


def test_cli_exit_status_1_when_a_point_is_outside(tmp_path, capsys):
    folder = _points_dir(tmp_path, GOOD)
    out = tmp_path / "rows.json"
    assert main(["validate", "--points", str(folder), "--json", str(out)]) == 1
    rows = json.loads(out.read_text())
    assert rows[0]["verdict"] == "outside" and rows[0]["pimsim"] > 1
    assert "tiny-gemv" in capsys.readouterr().out


def test_cli_known_difference_does_not_fail(tmp_path):
    folder = _points_dir(tmp_path, GOOD + "    known_difference: the reference is made up\n")
    assert main(["validate", "--points", str(folder)]) == 0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (GOOD.replace("tolerance: 0.01", "tolerence: 0.01"), "points[0].tolerence"),
        (GOOD.replace("subset: quick", "subset: nightly"), "points[0].subset"),
        (GOOD.replace("kind: gemv,", "kind: magic,"), "points[0].pimsim.kind"),
        (GOOD.replace("tolerance: 0.01", "tolerance: lots"), "points[0].tolerance"),
        (GOOD.replace("rows: 64,", "rows: 64, metric: speed,"), "tiny-gemv"),
        (GOOD.replace("reference: {value: 1,", "reference: {"), "points[0].value"),
        (GOOD + GOOD.split("points:\n")[1], "points[1].id"),
        ("version: 1\npoints: {}\n", "points"),
    ],
)
def test_bad_points_files_exit_2_naming_the_key(tmp_path, capsys, text, key):
    folder = _points_dir(tmp_path, text)
    assert main(["validate", "--points", str(folder), "--subset", "full"]) == 2
    err = capsys.readouterr().err
    assert key in err and "Traceback" not in err


def test_load_points_names_file_and_key(tmp_path):
    folder = _points_dir(
        tmp_path,
        GOOD.replace("compare: ratio", "").replace(
            "tolerance: 0.01", "compare: within\n    tolerance: 0.01"
        ),
    )
    with pytest.raises(PimsimInputError) as err:
        load_points(folder)
    assert "mine.yaml" in str(err.value) and "points[0].compare" in str(err.value)
