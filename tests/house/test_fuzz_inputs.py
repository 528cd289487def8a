"""Seeded fuzzing of every input kind: hardware YAML, workload YAML, HF config.json, traces
(plain, compact, gzipped), sweep specs and command-line arguments. Every generated case is
invalid by construction; each must end with exit 2 and one `pimsim: error:` line that names
the file (and a key, line or flag), print no traceback, and leave no file behind."""

from __future__ import annotations

import copy
import gzip
import json
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pimsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("PIMSIM_FUZZ_SEED", "20261202"))
CASES_PER_KIND = int(os.environ.get("PIMSIM_FUZZ_CASES", "30"))

# values no numeric field accepts, and values no choice or flag accepts
BAD_NUMBERS = ["abc", -7, 10**30, 1.0e300, [1, 2], {"a": 1}, True, None, float("nan"), ""]
BAD_CHOICES = ["no-such-choice", 7, [1], {"a": 1}, None]
BAD_FLAGS = ["maybe", 2, [True], None]


def _leaves(data, path=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path, data


def _set(data, path, value):
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _mutate_mapping(data: dict, rng: random.Random, choices: set[str], skip: set[str]) -> dict:
    """One certainly-invalid change to a valid document."""
    data = copy.deepcopy(data)
    leaves = [(p, v) for p, v in _leaves(data) if p and p[-1] not in skip]
    operation = rng.choice(["value", "value", "value", "unknown_key", "top"])
    if operation == "unknown_key":
        mappings = [p for p, v in _leaves_with_mappings(data)]
        where = rng.choice(mappings)
        target = data
        for key in where:
            target = target[key]
        target["no_such_key_" + str(rng.randrange(100))] = 1
        return data
    if operation == "top":
        return rng.choice([{**data, "version": 2}, {**data, "version": "one"}])
    path, value = rng.choice(leaves)
    if isinstance(value, bool):
        _set(data, path, rng.choice(BAD_FLAGS))
    elif isinstance(value, (int, float)):
        _set(data, path, rng.choice(BAD_NUMBERS))
    elif path[-1] in choices:
        _set(data, path, rng.choice(BAD_CHOICES))
    else:  # a free-text leaf: replace its whole section's mapping by a list instead
        _set(data, path[:-1] or path, [1, 2]) if len(path) > 1 else _set(data, path, {"a": [1]})
    return data


def _leaves_with_mappings(data, path=()):
    if isinstance(data, dict):
        yield path, data
        for key, value in data.items():
            yield from _leaves_with_mappings(value, (*path, key))


def _whole_file(rng: random.Random, suffix: str) -> bytes:
    """Corruptions of the file as a whole, for any text format."""
    kind = rng.choice(["binary", "deep", "list", "empty_mapping_free", "huge_int"])
    if kind == "binary":
        return bytes(rng.randrange(128, 256) for _ in range(64)) + b"\x00\xff"
    if kind == "deep":
        depth = rng.choice([40, 200, 5000])
        if suffix == ".json":
            return ("[" * depth + "]" * depth).encode()
        return ("a: " + "[" * depth + "]" * depth).encode()
    if kind == "list":
        return b"[1, 2, 3]\n"
    if kind == "huge_int":
        return ('{"n_layer": ' + "9" * 5000 + "}").encode()
    return b"\n"


def _write(path: Path, data, suffix: str) -> None:
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))


# -- the input kinds: (name, valid document, how to run it, choice keys, keys left alone) ----


RICH_HW = {  # every section a hardware file may have, each with values of its own
    "dram": {
        "organization": {"rows": 16384, "columns": 64},
        "timing": {"nRCDRD": 36, "tRP_ns": 16.0, "nFAW": 64},
        "energy": {"act_per_bank_nJ": 1.5, "io_pJ_per_bit": 4.0, "refresh_window_ms": 32.0},
        "rules_extra": [{"scope": "bank", "prev": ["ACT"], "next": ["RD"], "distance": "nRCDRD"}],
    },
    "pim": {"result_registers": 1, "mode_switch": False},
    "asic": {
        "link_bandwidth_GBps": 64.0,
        "vector_lanes": 64,
        "sram_bytes": 1048576,
        "exp_taylor_terms": 8,
        "static_mW": 100.0,
        "vector_model": "pipelined",
    },
}


def _merged(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _hw_case(rng: random.Random, folder: Path):
    valid = yaml.safe_load((ROOT / "hw_configs" / "gddr6_aim.yaml").read_text())
    if rng.random() < 0.7:
        valid = _merged(valid, RICH_HW)
    choices = {"preset", "page_policy", "refresh", "dtype", "vector_model"}
    path = folder / "hw.yaml"
    data = (
        _whole_file(rng, ".yaml")
        if rng.random() < 0.2
        else _mutate_mapping(valid, rng, choices, {"name", "description"})
    )
    _write(path, data, ".yaml")
    return path, ["check-config", str(path)]


def _workload_case(rng: random.Random, folder: Path):
    valid = yaml.safe_load((ROOT / "workloads" / "gpt2-small.yaml").read_text())
    choices = {"norm", "norm_position", "ffn", "position_embedding", "dtype"}
    path = folder / "model.yaml"
    data = (
        _whole_file(rng, ".yaml")
        if rng.random() < 0.2
        else _mutate_mapping(valid, rng, choices, {"name", "description", "source", "family"})
    )
    _write(path, data, ".yaml")
    return path, ["lower", "--model", str(path), "--gen-len", "1", "-o", str(folder / "t.jsonl")]


HF_ARCHITECTURE = ("n_embd", "n_head", "n_layer", "n_positions", "vocab_size", "layer_norm_epsilon")


def _hf_case(rng: random.Random, folder: Path):
    valid = json.loads((ROOT / "workloads" / "hf" / "gpt2" / "config.json").read_text())
    path = folder / "config.json"
    roll = rng.random()
    if roll < 0.2:
        data = _whole_file(rng, ".json")
    elif roll < 0.35:
        text = json.dumps(valid)
        data = text[: rng.randrange(1, len(text) - 1)].encode()  # truncated: invalid JSON
    else:
        data = dict(valid)
        key = rng.choice([*HF_ARCHITECTURE, "activation_function", "model_type"])
        if key in ("activation_function", "model_type"):
            data[key] = rng.choice(["no-such", 3, ["gelu"]])
        else:  # (null is HF's "use the default", so it is not a bad value there)
            data[key] = rng.choice([x for x in BAD_NUMBERS if x is not None])
    _write(path, data, ".json")
    return path, ["lower", "--model", str(path), "--gen-len", "1", "-o", str(folder / "t.jsonl")]


def _trace_lines() -> list[str]:
    from pimsim.workload import lower, resolve_model

    table = lower(resolve_model("gpt2-small"), prompt_len=1, gen_len=2)
    return table


@pytest.fixture(scope="module")
def trace_texts(tmp_path_factory) -> dict[str, bytes]:
    from pimsim.workload import lower, resolve_model, write_trace

    folder = tmp_path_factory.mktemp("traces")
    table = lower(resolve_model("gpt2-small"), prompt_len=1, gen_len=3)
    texts = {}
    for encoding in ("plain", "compact"):
        path = folder / f"{encoding}.jsonl"
        write_trace(table, path, encoding=encoding)
        texts[encoding] = path.read_bytes()
    return texts


OP_FIELDS_NUMERIC = ("id", "layer", "token", "m", "in_features", "out_features", "heads", "context")


def _trace_case(rng: random.Random, folder: Path, texts: dict[str, bytes]):
    encoding = rng.choice(["plain", "compact"])
    lines = texts[encoding].decode().splitlines()
    roll = rng.random()
    if roll < 0.15:
        lines = lines[: rng.randrange(1, len(lines) - 1)]  # truncated: fewer ops than n_ops
    elif roll < 0.25:
        header = json.loads(lines[0])
        header[rng.choice(["schema", "n_ops", "prompt_len", "model"])] = rng.choice(["x", -1])
        lines[0] = json.dumps(header)
    elif roll < 0.35:
        lines.insert(rng.randrange(1, len(lines)), "{not json")
    else:
        plain_rows = [i for i, line in enumerate(lines[1:], 1) if '"repeat"' not in line]
        i = rng.choice(plain_rows)
        record = json.loads(lines[i])
        field = rng.choice([*OP_FIELDS_NUMERIC, "kind", "weight", "deps", "phase", "missing"])
        if field == "missing":
            record.pop(rng.choice(sorted(record)))
        elif field == "kind":
            record["kind"] = rng.choice(["no-such-kind", 3, None])
        elif field == "phase":
            record["phase"] = "during"
        elif field == "weight" and record.get("kind") == "vmm":
            record["weight"] = "no-such-weight"
        elif field == "deps":
            record["deps"] = rng.choice([[10**9], "x", [-1], [record["id"] + 1]])
        elif field in ("id", "layer", "token"):
            record[field] = rng.choice(["x", -5, 10**30, None, 1.5])
        else:
            record[field] = rng.choice(["x", -5, 10**30, None, 1.5])
        lines[i] = json.dumps(record)
    text = ("\n".join(lines) + "\n").encode()
    gz = rng.random() < 0.3
    path = folder / ("trace.jsonl.gz" if gz else "trace.jsonl")
    if gz:
        data = gzip.compress(text, mtime=0)
        if rng.random() < 0.3:
            data = data[: len(data) // 2]  # a truncated gzip stream
        path.write_bytes(data)
    else:
        path.write_bytes(text)
    return path, [
        "run",
        "--hw",
        "gddr6_aim",
        "--trace",
        str(path),
        "--json",
        str(folder / "r.json"),
    ]


SWEEP = {
    "version": 1,
    "name": "fuzz",
    "hw": "gddr6_aim",
    "run": {"models": ["gpt2-small"], "prompt_len": 1, "gen_len": 2},
    "axes": {"dram.channels": [4, 8]},
}


def _sweep_case(rng: random.Random, folder: Path):
    data = copy.deepcopy(SWEEP)
    change = rng.choice(
        ["axis_key", "axis_value", "model", "hw", "run_key", "gen_len", "top", "huge", "twice"]
    )
    if change == "axis_key":
        data["axes"] = {rng.choice(["dram.nosuch", "asic", "pim.nosuch.key", ""]): [1]}
    elif change == "axis_value":
        data["axes"] = {"dram.channels": rng.choice([[], "x", [0], [-1], [10**30], [{"a": 1}]])}
    elif change == "model":
        data["run"]["models"] = rng.choice([[], ["no-such-model"], "gpt2-small", [3]])
    elif change == "hw":
        data["hw"] = rng.choice(["no-such-hw", 3, None])
    elif change == "twice":  # a point, a model or a key given twice: meaningless, refused
        twice = rng.choice(["value", "model", "set"])
        if twice == "value":
            data["axes"] = {"dram.channels": [4, 8, 4]}
        elif twice == "model":
            data["run"]["models"] = ["gpt2-small", "gpt2-small"]
        else:
            data["set"] = ["dram.channels=8"]
    elif change == "huge":  # more points than a sweep may have, refused before any work
        data["axes"] = {k: list(range(1, 61)) for k in ("dram.channels", "gen_len", "prompt_len")}
    elif change == "run_key":
        data["run"]["no_such_option"] = 1
    elif change == "gen_len":
        data["run"]["gen_len"] = rng.choice([-1, "x", 10**9])
    else:
        data = rng.choice([{**data, "version": 7}, {**data, "extra": 1}, [1, 2]])
    path = folder / "spec.yaml"
    _write(path, data if isinstance(data, dict) else yaml.safe_dump(data).encode(), ".yaml")
    return path, ["sweep", str(path), "--out", str(folder / "out"), "--jobs", "1"]


CLI_CASES = [
    ["run", "--hw", "no-such-hw", "--model", "gpt2-small"],
    ["run", "--hw", "gddr6_aim", "--model", "no-such-model"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gen-len", "-3"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gen-len", "abc"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--prompt-len", "0"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--prompt-len", "99999999999999"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--set", "garbage"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--set", "dram.nosuch=1"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--set", "dram.channels=1e99"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gpu", "no-such-gpu"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--cpu", "no-such-cpu"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--mode", "sideways"],
    ["gemv", "--hw", "gddr6_aim", "--rows", "-1", "--cols", "64"],
    ["gemv", "--hw", "gddr6_aim", "--rows", "64", "--cols", "99999999999999"],
    ["gemv", "--hw", "gddr6", "--rows", "64", "--cols", "64"],
    ["compare", "--hw", "gddr6_aim", "--models", "no-such-model"],
    ["lower", "--model", "gpt2-small", "--gen-len", "99999"],
    ["check-config", "no-such-file.yaml"],
    ["check-log", "no-such-log.csv", "--hw", "gddr6_aim"],
    ["sweep", "no-such-spec.yaml", "--out", "x"],
    ["plot", "no-such-dir"],
    ["run", "--no-such-flag"],
    ["gemv", "--hw", "gddr6_aim", "--rows", "8", "--cols", "8", "--dump-commands", "1e3", "c.csv"],
    ["gemv", "--hw", "gddr6_aim", "--rows", "8", "--cols", "8", "--dump-commands", "10000000000"]
    + ["c.csv"],
    ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--dump-commands", "0", "c.csv"],
    ["sweep", "no-such-spec.yaml", "--out", "x", "--jobs", "0"],
    ["plot", ".", "--kind", "energy", "-o", "f.png", "--dpi", "0"],
    ["plot", ".", "--kind", "no-such-kind", "-o", "f.png"],
    ["plot", ".", "--kind", "energy", "-o", "f.gif"],
]


BASELINE = {
    "version": 1,
    "kind": "gpu",
    "name": "my-gpu",
    "peak_flops_TFLOPS": 100.0,
    "memory_bandwidth_GBps": 1000.0,
    "tdp_W": 300.0,
    "idle_W": 50.0,
    "achievable_compute_fraction": 0.7,
    "achievable_bandwidth_fraction": 0.8,
    "kernel_launch_overhead_us": 5.0,
}


def _baseline_case(rng: random.Random, folder: Path):
    path = folder / "gpu.yaml"
    data = (
        _whole_file(rng, ".yaml")
        if rng.random() < 0.2
        else _mutate_mapping(BASELINE, rng, {"kind"}, {"name", "description"})
    )
    _write(path, data, ".yaml")
    args = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gen-len", "1"]
    return path, [*args, "--gpu", str(path)]


LOG = "cycle,cmd,channel,bankgroup,bank,row,column\n0,ACT16,0,0,0,0,-1\n1,WRGB,0,0,0,-1,0\n"


def _log_case(rng: random.Random, folder: Path):
    path = folder / "log.csv"
    lines = LOG.splitlines()
    roll = rng.random()
    if roll < 0.2:
        path.write_bytes(_whole_file(rng, ".csv"))
    else:
        row = rng.randrange(0, len(lines))
        fields = lines[row].split(",")
        column = rng.randrange(len(fields))
        fields[column] = rng.choice(["x", "-5", "1e99", "NOPE", "", "99999999999999999999999"])
        if row == 0:
            fields[column] = "no_such_field"
        if rng.random() < 0.2:
            fields = fields[:-1]  # a short row
        lines[row] = ",".join(fields)
        path.write_text("\n".join(lines) + "\n")
    return path, ["check-log", str(path), "--hw", "gddr6_aim"]


def _request_case(rng: random.Random, folder: Path):
    path = folder / "requests.txt"
    good = ["0 R 0x100", "10 W 0x200", "20 R 0x300"]
    roll = rng.random()
    if roll < 0.2:
        path.write_bytes(_whole_file(rng, ".txt"))
    else:
        at = rng.randrange(len(good))
        good[at] = rng.choice(
            [
                "0 X 0x100",
                "-5 R 0x1",
                "x R 0x1",
                "0 R zz",
                "0 R",
                "0 R 0x1 extra",
                "1" * 40 + " R 1",
            ]
        )
        path.write_text("\n".join(good) + "\n")
    return path, ["replay", "--hw", "gddr6", "--trace", str(path)]


def _cli_case(rng: random.Random, folder: Path):
    return None, list(rng.choice(CLI_CASES))


KINDS: dict[str, Callable] = {
    "hardware": _hw_case,
    "workload": _workload_case,
    "hf_config": _hf_case,
    "sweep_spec": _sweep_case,
    "baseline": _baseline_case,
    "command_log": _log_case,
    "request_trace": _request_case,
    "cli": _cli_case,
}


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _check_refused(args, path, folder, capsys, monkeypatch) -> None:
    monkeypatch.chdir(folder)
    before = _listing(folder)
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exc:  # argparse refuses a flag with exit 2
        code = exc.code
    err = capsys.readouterr().err
    shown = path.read_bytes()[:1500] if path is not None and path.exists() else b""
    case = f"{args}: {err[-2000:]}\n{shown!r}"
    assert code == 2, case
    assert "Traceback" not in err, case
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, case
    if path is not None:
        assert path.name in lines[0], case
        # file: key (or line / field): message
        assert lines[0].count(": ") >= 3, case
    assert _listing(folder) == before, case  # nothing left behind


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bad_input_is_refused_cleanly(kind, tmp_path, capsys, monkeypatch):
    rng = random.Random(f"{SEED}-{kind}")
    for index in range(CASES_PER_KIND):
        folder = tmp_path / f"case{index}"
        folder.mkdir()
        path, args = KINDS[kind](rng, folder)
        _check_refused(args, path, folder, capsys, monkeypatch)


def test_bad_traces_are_refused_cleanly(trace_texts, tmp_path, capsys, monkeypatch):
    rng = random.Random(f"{SEED}-trace")
    for index in range(CASES_PER_KIND * 2):
        folder = tmp_path / f"case{index}"
        folder.mkdir()
        path, args = _trace_case(rng, folder, trace_texts)
        _check_refused(args, path, folder, capsys, monkeypatch)
