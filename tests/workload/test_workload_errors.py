"""Bad model files name the file and the key; the `pimsim lower` CLI exits 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pimsim.cli import main
from pimsim.core.errors import PimsimInputError
from pimsim.workload import load_hf_config, load_workload_yaml, read_trace, resolve_model

REPO = Path(__file__).resolve().parents[2]
GPT2_YAML = REPO / "workloads" / "gpt2-small.yaml"


def _yaml(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(GPT2_YAML.read_text())
    change(data)
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (lambda d: d.update(colour="red"), "colour", "unknown key"),
        (lambda d: d["architecture"].update(n_layer=12), "architecture.n_layer", "unknown key"),
        (lambda d: d.pop("version"), "version", "missing"),
        (lambda d: d.update(version=2), "version", "unsupported version"),
        (lambda d: d["architecture"].pop("d_model"), "architecture.d_model", "missing"),
        (lambda d: d["architecture"].update(layers="12"), "architecture.layers", "integer"),
        (lambda d: d["architecture"].update(layers=12.0), "architecture.layers", "integer"),
        (lambda d: d["architecture"].update(d_ffn=0), "architecture.d_ffn", "positive"),
        (lambda d: d["architecture"].update(vocab_size=-1), "architecture.vocab_size", "positive"),
        (lambda d: d["architecture"].update(heads=7), "architecture.heads", "divide"),
        (
            lambda d: (d["architecture"].pop("d_head"), d["architecture"].update(heads=7)),
            "architecture.heads",
            "divide",
        ),
        (lambda d: d["architecture"].update(d_head=32), "architecture.d_head", "d_model"),
        (lambda d: d["architecture"].update(kv_heads=5), "architecture.kv_heads", "divide"),
        (lambda d: d["architecture"].update(norm="batchnorm"), "architecture.norm", "unknown"),
        (lambda d: d["architecture"].update(ffn="swish"), "architecture.ffn", "unknown"),
        (lambda d: d["architecture"].update(linear_bias="yes"), "architecture.linear_bias", "true"),
        (lambda d: d["architecture"].update(norm_eps=0), "architecture.norm_eps", "positive"),
        (lambda d: d.update(dtype="bf17"), "dtype", "unknown"),
        (lambda d: d.update(architecture=[1, 2]), "architecture", "mapping"),
    ],
)
def test_yaml_errors_name_file_and_key(tmp_path, change, key, message):
    path = _yaml(tmp_path, change)
    with pytest.raises(PimsimInputError) as info:
        load_workload_yaml(path)
    assert info.value.file == str(path)
    assert info.value.key == key
    assert message in str(info.value)


def test_yaml_not_a_mapping(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(PimsimInputError, match="mapping"):
        load_workload_yaml(path)
    path.write_text("a: [1,\n")
    with pytest.raises(PimsimInputError, match="YAML"):
        load_workload_yaml(path)


def _hf(tmp_path: Path, change, base: str = "gpt2") -> Path:
    data = json.loads((REPO / "workloads" / "hf" / base / "config.json").read_text())
    change(data)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "base", "key", "message"),
    [
        (lambda d: d.update(n_embd="768"), "gpt2", "n_embd", "wrong type"),
        (lambda d: d.pop("n_layer"), "gpt2", "n_layer", "missing"),
        (lambda d: d.update(n_head=5), "gpt2", "n_head", "divide"),
        (lambda d: d.update(vocab_size=0), "gpt2", "vocab_size", "positive"),
        (lambda d: d.update(activation_function="swish"), "gpt2", "activation_function", "act"),
        (lambda d: d.update(model_type="t5"), "gpt2", "model_type", "unsupported"),
        (lambda d: d.update(num_key_value_heads=5), "tinyllama-1.1b", "num_key_value_heads", ""),
        (lambda d: d.update(hidden_act="gelu"), "tinyllama-1.1b", "hidden_act", "silu"),
        (lambda d: d.update(rms_norm_eps=-1.0), "tinyllama-1.1b", "rms_norm_eps", "positive"),
        (lambda d: d.update(rms_norm_eps="small"), "tinyllama-1.1b", "rms_norm_eps", "type"),
        (lambda d: d.update(head_dim=32), "tinyllama-1.1b", "head_dim", "d_model"),
    ],
)
def test_hf_errors_name_file_and_key(tmp_path, change, base, key, message):
    path = _hf(tmp_path, change, base)
    with pytest.raises(PimsimInputError) as info:
        load_hf_config(path)
    assert info.value.file == str(path)
    assert info.value.key == key
    assert message in str(info.value)


def test_resolve_errors(tmp_path):
    with pytest.raises(PimsimInputError, match="unknown model 'gpt5'"):
        resolve_model("gpt5")
    with pytest.raises(PimsimInputError, match="not found"):
        resolve_model(tmp_path / "missing.yaml")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(PimsimInputError, match="unknown model file type"):
        resolve_model(tmp_path / "x.txt")


def test_resolve_prefers_current_directory(tmp_path, monkeypatch):
    (tmp_path / "workloads").mkdir()
    data = yaml.safe_load(GPT2_YAML.read_text())
    data["description"] = "local copy"
    (tmp_path / "workloads" / "gpt2-small.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    assert resolve_model("gpt2-small").description == "local copy"
    assert resolve_model("gpt2-xl").layers == 48  # still found in the repository


def test_cli_lower_writes_a_trace(tmp_path, capsys):
    out = tmp_path / "t.jsonl"
    rc = main(
        ["lower", "--model", "gpt2-small", "--prompt-len", "2", "--gen-len", "3", "-o", str(out)]
    )
    assert rc == 0
    table = read_trace(out)
    assert table.attrs["prompt_len"] == 2 and table.attrs["gen_len"] == 3
    assert "ops" in capsys.readouterr().err


def test_cli_lower_batched_hf_config(tmp_path):
    out = tmp_path / "t.jsonl.gz"
    config = REPO / "workloads" / "hf" / "tinyllama-1.1b" / "config.json"
    args = ["lower", "--model", str(config), "--prompt-len", "4", "--batched-prefill"]
    assert main([*args, "-o", str(out)]) == 0
    table = read_trace(out)
    assert table.attrs["batched_prefill"] is True
    assert (table["kind"] == "gemm").any()


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "no-such-model"],
        ["--model", "gpt2-small", "--gen-len", "5000"],
        ["--model", "gpt2-small", "--prompt-len", "0"],
        ["--model", "BAD_YAML"],
        ["--model", "BAD_HF"],
    ],
)
def test_cli_lower_bad_input_exits_2(tmp_path, capsys, args):
    bad_yaml = _yaml(tmp_path, lambda d: d["architecture"].update(heads=7))
    bad_hf = _hf(tmp_path, lambda d: d.update(n_layer=-3))
    args = [{"BAD_YAML": str(bad_yaml), "BAD_HF": str(bad_hf)}.get(a, a) for a in args]
    rc = main(["lower", *args, "-o", str(tmp_path / "t.jsonl")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("pimsim: error:")
    assert not (tmp_path / "t.jsonl").exists()


def test_python_m_pimsim_lower_exit_code(tmp_path):
    bad = _yaml(tmp_path, lambda d: d["architecture"].update(kv_heads=5))
    proc = subprocess.run(
        [sys.executable, "-m", "pimsim", "lower", "--model", str(bad), "-o", str(tmp_path / "t")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "architecture.kv_heads" in proc.stderr
