"""The trace reader rejects malformed files with a PimsimInputError naming line and field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pimsim.core.errors import PimsimInputError
from pimsim.workload import lower, read_trace, resolve_model, write_trace

LINE = 17  # an op line (1-based; line 1 is the header)


@pytest.fixture(scope="module")
def plain_lines(tmp_path_factory) -> list[str]:
    path = tmp_path_factory.mktemp("trace") / "t.jsonl"
    write_trace(lower(resolve_model("gpt2-small"), 2, 2), path, encoding="plain")
    return path.read_text().splitlines(keepends=True)


@pytest.fixture(scope="module")
def compact_lines(tmp_path_factory) -> list[str]:
    path = tmp_path_factory.mktemp("trace") / "c.jsonl"
    write_trace(lower(resolve_model("gpt2-small"), 1, 6), path, encoding="compact")
    return path.read_text().splitlines(keepends=True)


def _write(tmp_path: Path, lines: list[str], name: str = "bad.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


def _edit(lines: list[str], lineno: int, change) -> list[str]:
    out = list(lines)
    rec = json.loads(out[lineno - 1])
    change(rec)
    out[lineno - 1] = json.dumps(rec) + "\n"
    return out


def _rejects(path: Path, *fragments: str) -> PimsimInputError:
    with pytest.raises(PimsimInputError) as info:
        read_trace(path)
    text = str(info.value)
    assert str(path) in text
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    return info.value


def test_valid_file_reads(tmp_path, plain_lines):
    assert len(read_trace(_write(tmp_path, plain_lines))) == len(plain_lines) - 1


def test_truncated_mid_line(tmp_path, plain_lines):
    text = "".join(plain_lines)
    path = tmp_path / "cut.jsonl"
    path.write_text(text[: len(text) // 2])
    _rejects(path, "line ", "truncated")


def test_truncated_at_line_boundary(tmp_path, plain_lines):
    path = _write(tmp_path, plain_lines[:-10])
    err = _rejects(path, f"line {len(plain_lines) - 9}", "truncated", "n_ops")
    assert err.key.startswith("line ")


def test_truncated_gzip(tmp_path, plain_lines):
    data = gzip.compress("".join(plain_lines).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    _rejects(path, "line ", "truncated")


def test_empty_file(tmp_path):
    _rejects(_write(tmp_path, []), "line 1", "header")


@pytest.mark.parametrize("schema", ["pimsim.trace.v2", "pimsim.report.v1", None])
def test_wrong_schema(tmp_path, plain_lines, schema):
    lines = _edit(plain_lines, 1, lambda h: h.update(schema=schema))
    _rejects(_write(tmp_path, lines), "line 1: field 'schema'", "pimsim.trace.v1")


def test_header_missing_field(tmp_path, plain_lines):
    lines = _edit(plain_lines, 1, lambda h: h.pop("n_ops"))
    _rejects(_write(tmp_path, lines), "line 1: field 'n_ops'", "missing")


def test_header_bad_model(tmp_path, plain_lines):
    lines = _edit(plain_lines, 1, lambda h: h["model"].update(heads=7))
    _rejects(_write(tmp_path, lines), "line 1: field 'model.heads'")


@pytest.mark.parametrize("field", ["deps", "kind", "flops", "id", "context"])
def test_missing_field(tmp_path, plain_lines, field):
    lines = _edit(plain_lines, LINE, lambda r: r.pop(field))
    _rejects(_write(tmp_path, lines), f"line {LINE}: field '{field}'", "missing")


def test_dependency_on_unknown_id(tmp_path, plain_lines):
    lines = _edit(plain_lines, LINE, lambda r: r.update(deps=[99999]))
    _rejects(_write(tmp_path, lines), f"line {LINE}: field 'deps'", "unknown op id 99999")


def test_dependency_on_later_op(tmp_path, plain_lines):
    later = json.loads(plain_lines[LINE + 3])["id"]
    lines = _edit(plain_lines, LINE, lambda r: r.update(deps=[later]))
    _rejects(_write(tmp_path, lines), f"line {LINE}: field 'deps'", "not an earlier op")


@pytest.mark.parametrize("field", ["in_features", "out_features", "m", "heads", "context"])
def test_negative_shape(tmp_path, plain_lines, field):
    lines = _edit(plain_lines, LINE, lambda r: r.update({field: -5}))
    _rejects(_write(tmp_path, lines), f"line {LINE}: field '{field}'", "negative")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("m", "1", "integer"),
        ("flops", 1.5, "integer"),
        ("layer", True, "integer"),
        ("kind", "conv2d", "unknown value"),
        ("phase", "train", "unknown value"),
        ("name", 3, "string"),
        ("deps", "0", "list"),
        ("deps", [1.0], "integers"),
        ("layer", -2, ">= -1"),
    ],
)
def test_bad_values(tmp_path, plain_lines, field, value, message):
    lines = _edit(plain_lines, LINE, lambda r: r.update({field: value}))
    _rejects(_write(tmp_path, lines), f"line {LINE}: field '{field}'", message)


def test_duplicate_id(tmp_path, plain_lines):
    prev = json.loads(plain_lines[LINE - 2])["id"]
    lines = _edit(plain_lines, LINE, lambda r: r.update(id=prev))
    _rejects(_write(tmp_path, lines), f"line {LINE}: field 'id'")


def test_invalid_json_line(tmp_path, plain_lines):
    lines = list(plain_lines)
    lines[LINE - 1] = lines[LINE - 1][:40] + "\n"
    _rejects(_write(tmp_path, lines), f"line {LINE}", "JSON")


def test_more_ops_than_declared(tmp_path, plain_lines):
    lines = _edit(plain_lines, 1, lambda h: h.update(n_ops=h["n_ops"] - 3))
    _rejects(_write(tmp_path, lines), "n_ops")


def _repeat_line(lines: list[str]) -> int:
    return next(i for i, text in enumerate(lines, start=1) if text.startswith('{"repeat"'))


def test_compact_valid(tmp_path, compact_lines):
    assert _repeat_line(compact_lines) > 1
    read_trace(_write(tmp_path, compact_lines))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r["repeat"].update(ops=10**9), "repeat.ops"),
        (lambda r: r["repeat"].update(count=0), "repeat.count"),
        (lambda r: r["repeat"].update(count=10**6), "repeat.count"),
        (lambda r: r["repeat"]["delta"].update(name=1), "repeat.delta.name"),
        (lambda r: r["repeat"]["delta"].update(flops=[1, 2]), "repeat.delta.flops"),
        (lambda r: r["repeat"]["delta"].update(context=-100), "context"),
        (lambda r: r["repeat"].pop("delta"), "repeat.delta"),
    ],
)
def test_compact_bad_repeat(tmp_path, compact_lines, change, field):
    lineno = _repeat_line(compact_lines)
    lines = _edit(compact_lines, lineno, change)
    _rejects(_write(tmp_path, lines), f"line {lineno}: field '{field}'")
