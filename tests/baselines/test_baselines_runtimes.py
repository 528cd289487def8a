"""Baseline runtimes (`--gpu NAME[:RUNTIME]`), overrides (`--set gpu.KEY=V`), baseline YAML
files, and their errors (exit 2 naming the file and the key)."""

from __future__ import annotations

import json

import pytest

from pimsim.baselines import evaluate, load_device
from pimsim.baselines.catalog import cpu_table, gpu_table
from pimsim.baselines.options import split_set_options
from pimsim.cli import main
from pimsim.core.errors import PimsimInputError
from pimsim.workload import lower, resolve_model


@pytest.fixture(scope="module")
def decode_table():
    return lower(resolve_model("gpt2-small"), prompt_len=127, gen_len=2)


def test_runtime_changes_only_what_the_software_sets(decode_table):
    graph = load_device("gpu", "H200-SXM")
    eager = load_device("gpu", "h200:eager")
    hf = load_device("gpu", "H200-SXM:hf")
    assert (graph.runtime, eager.runtime, hf.runtime) == ("graph", "eager", "hf")
    assert (graph.label, eager.label) == ("H200-SXM:graph", "H200-SXM:eager")
    # the calibrated values of the preset (h200_calibration.json)
    assert (graph.overhead_us, eager.overhead_us, hf.overhead_us) == (3.09, 15.43, 31.40)
    assert hf.step_overhead_us == 49.1
    for d in (eager, hf):  # the same kernels: same hardware and bandwidth fraction
        assert d.memory_bandwidth_GBps == graph.memory_bandwidth_GBps
        assert d.achievable_bandwidth_fraction == graph.achievable_bandwidth_fraction
    times = [evaluate(d, decode_table).latency_s_per_token for d in (graph, eager, hf)]
    assert times[0] < times[1] < times[2]
    # hf's per-step cost lands once per output token
    no_step = hf.with_overrides({"step_overhead_us": 0.0})
    delta = (
        evaluate(hf, decode_table).latency_s_per_token
        - evaluate(no_step, decode_table).latency_s_per_token
    )
    assert delta == pytest.approx(49.1e-6, rel=1e-9)


def test_cpu_runtime_stores_fp32(decode_table):
    bf16 = load_device("cpu", "Xeon-Gold-6154", {"storage_bytes_per_element": 2})
    fp32 = load_device("cpu", "Xeon-Gold-6154:eager")
    assert fp32.storage_bytes_per_element == 4 and fp32.runtime == "eager"
    assert (
        evaluate(fp32, decode_table).latency_s_per_token
        > evaluate(bf16, decode_table).latency_s_per_token
    )


def test_overrides_apply_after_the_runtime(decode_table):
    hw, base = split_set_options(
        ["dram.channels=4", "gpu.achievable_bandwidth_fraction=0.5", "cpu.tdp_W=100"]
    )
    assert hw == ["dram.channels=4"]
    assert base == {
        "gpu": {"achievable_bandwidth_fraction": 0.5},
        "cpu": {"tdp_W": 100},
        "interconnect": {},  # (a multi-device system's links: none set)
    }
    slow = load_device("gpu", "H200-SXM:eager", base["gpu"])
    assert slow.achievable_bandwidth_fraction == 0.5 and slow.overhead_us == 15.43
    with pytest.raises(PimsimInputError) as err:
        load_device("gpu", "T4", {"bandwidth_frac": 0.7})
    assert "gpu.bandwidth_frac" in str(err.value) and "achievable_bandwidth_fraction" in str(
        err.value
    )
    with pytest.raises(PimsimInputError):
        load_device("gpu", "T4", {"achievable_bandwidth_fraction": 1.5})


def test_unknown_runtime_lists_the_known_ones():
    with pytest.raises(PimsimInputError) as err:
        load_device("gpu", "h200:warp")
    assert "graph, eager, hf" in str(err.value)


def test_cli_unknown_runtime_and_override_exit_2(capsys):
    argv = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gen-len", "2"]
    assert main([*argv, "--gpu", "h200:warp"]) == 2
    assert "no runtime 'warp'" in capsys.readouterr().err
    assert main([*argv, "--set", "gpu.nonsense=1"]) == 2
    err = capsys.readouterr().err
    assert "gpu.nonsense" in err and "Traceback" not in err


MY_GPU = """\
version: 1
kind: gpu
name: My-GPU
description: a GPU that is not in the catalogue
peak_flops_TFLOPS: 100
memory_bandwidth_GBps: 1000
tdp_W: 300
idle_W: 50
achievable_compute_fraction: 0.5
achievable_bandwidth_fraction: 0.8
kernel_launch_overhead_us: 4
default_runtime: fast
runtimes:
  fast: {kernel_launch_overhead_us: 2, source: a guess}
  slow: {kernel_launch_overhead_us: 20, step_overhead_us: 100}
"""


def test_baseline_yaml_file_describes_a_new_machine(tmp_path, decode_table):
    path = tmp_path / "my_gpu.yaml"
    path.write_text(MY_GPU)
    fast = load_device("gpu", str(path))
    slow = load_device("gpu", f"{path}:slow")
    assert (fast.name, fast.runtime, fast.overhead_us) == ("My-GPU", "fast", 2.0)
    assert (slow.overhead_us, slow.step_overhead_us) == (20.0, 100.0)
    ops = len(decode_table) / 3  # three steps of equal operator count (prompt 127 + 2 tokens)
    assert ops > 0
    t_fast = evaluate(fast, decode_table).latency_s_per_token
    t_slow = evaluate(slow, decode_table).latency_s_per_token
    assert t_slow > t_fast
    out = tmp_path / "r.json"
    argv = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gen-len", "2"]
    assert main([*argv, "--gpu", f"{path}:slow", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["baselines"]["gpu"]["name"] == "My-GPU"
    assert report["baselines"]["gpu"]["runtime"] == "slow"


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("tdp_W: 300", "tdp_W: lots"), "tdp_W"),
        (("kind: gpu", "kind: tpu"), "kind"),
        (("default_runtime: fast", "default_runtime: warp"), "default_runtime"),
        (("  slow: {kernel_launch_overhead_us: 20,", "  slow: {launch_us: 20,"), "runtimes.slow"),
    ],
)
def test_bad_baseline_file_exits_2_naming_file_and_key(tmp_path, capsys, edit, key):
    path = tmp_path / "bad_gpu.yaml"
    path.write_text(MY_GPU.replace(*edit))
    argv = ["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--gen-len", "2"]
    assert main([*argv, "--gpu", str(path)]) == 2
    err = capsys.readouterr().err
    assert "bad_gpu.yaml" in err and key in err and "Traceback" not in err


def test_catalogue_lists_runtimes_and_the_default():
    gpus = dict(gpu_table())
    assert "runtimes graph*, eager, hf" in gpus["H200-SXM"]
    cpus = dict(cpu_table())
    assert "runtimes eager*, hf" in cpus["Dev-Xeon-2vCPU"]


def test_sweep_specs_name_runtimes(tmp_path):
    from pimsim.sweep import load_spec, validate

    text = (
        "version: 1\nname: rt\nhw: gddr6_aim\n"
        "run: {models: [gpt2-small], gpu: H200-SXM:eager, cpu: Dev-Xeon-2vCPU:hf}\n"
        "axes: {dram.channels: [4, 8]}\n"
    )
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    spec = load_spec(path)
    validate(spec)
    assert spec.run["gpu"] == "H200-SXM:eager"
    path.write_text(text.replace("H200-SXM:eager", "H200-SXM:warp"))
    with pytest.raises(PimsimInputError) as err:
        validate(load_spec(path))
    assert "run.gpu" in str(err.value) and "warp" in str(err.value)
