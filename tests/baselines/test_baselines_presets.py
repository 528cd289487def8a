"""Baseline presets: names, aliases, overrides, errors, sources, `pimsim list gpus|cpus`."""

from __future__ import annotations

import re

import pytest

from pimsim.baselines import default_device, known_devices, load_device
from pimsim.baselines.devices import preset_path
from pimsim.cli import main
from pimsim.core.errors import PimsimInputError

GPUS = ["T4", "A100-SXM-80GB", "H100-SXM", "H200-SXM", "RTX-4090"]
CPUS = ["Xeon-Gold-6154", "EPYC-7763", "Dev-Xeon-2vCPU"]


def test_shipped_presets_and_defaults():
    assert known_devices("gpu") == GPUS
    assert known_devices("cpu") == CPUS
    assert default_device("gpu") == "T4" and default_device("cpu") == "Xeon-Gold-6154"
    assert load_device("gpu").name == "T4"
    assert load_device("cpu").name == "Xeon-Gold-6154"


@pytest.mark.parametrize(
    ("kind", "alias", "name"),
    [
        ("cpu", "xeon_gold_6154", "Xeon-Gold-6154"),
        ("cpu", "XEON GOLD 6154", "Xeon-Gold-6154"),
        ("cpu", "epyc7763", "EPYC-7763"),
        ("gpu", "t4", "T4"),
        ("gpu", "tesla_t4", "T4"),
        ("gpu", "a100", "A100-SXM-80GB"),
        ("gpu", "h100", "H100-SXM"),
        ("gpu", "H200", "H200-SXM"),
        ("gpu", "rtx4090", "RTX-4090"),
    ],
)
def test_names_match_case_insensitively_and_by_alias(kind, alias, name):
    assert load_device(kind, alias).name == name


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(PimsimInputError) as info:
        load_device("gpu", "V100")
    message = str(info.value)
    assert "V100" in message
    for name in GPUS:
        assert name in message
    with pytest.raises(PimsimInputError, match="Xeon-Gold-6154, EPYC-7763"):
        load_device("cpu", "T4")
    with pytest.raises(PimsimInputError, match="'gpu' or 'cpu'"):
        load_device("tpu", "v4")


def test_overrides_replace_values_and_are_checked():
    slow = load_device("gpu", "T4", {"kernel_launch_overhead_us": 20, "idle_W": 10})
    assert (slow.overhead_us, slow.idle_W) == (20.0, 10.0)
    assert load_device("gpu", "T4").overhead_us == 3.09  # the preset itself is unchanged
    assert load_device("cpu", None, {"op_dispatch_overhead_us": 0}).overhead_us == 0.0
    with pytest.raises(PimsimInputError, match="kernel_launch_overhead_us"):
        load_device("cpu", None, {"kernel_launch_overhead_us": 1})  # the GPU's key
    with pytest.raises(PimsimInputError, match="unknown gpu baseline key 'flops'"):
        load_device("gpu", "T4", {"flops": 1})
    with pytest.raises(PimsimInputError, match="0 < f <= 1"):
        load_device("gpu", "T4", {"achievable_bandwidth_fraction": 1.5})
    with pytest.raises(PimsimInputError, match="idle_W"):
        load_device("gpu", "T4", {"idle_W": 80})
    with pytest.raises(PimsimInputError, match="number"):
        load_device("gpu", "T4", {"tdp_W": "seventy"})
    with pytest.raises(PimsimInputError, match="null, 1, 2, 4 or 8"):
        load_device("cpu", None, {"storage_bytes_per_element": 3})


def test_device_values_are_sane():
    for kind, names in (("gpu", GPUS), ("cpu", CPUS)):
        for name in names:
            d = load_device(kind, name)
            assert 0 < d.idle_W < d.tdp_W, name
            assert 0 < d.achievable_compute_fraction <= 1, name
            assert 0 < d.achievable_bandwidth_fraction <= 1, name
            assert d.description, name
    # Datasheet figures the rest of the code and the docs quote.
    h100 = load_device("gpu", "H100")
    assert (h100.peak_flops_TFLOPS, h100.memory_bandwidth_GBps, h100.tdp_W) == (989, 3350, 700)
    t4 = load_device("gpu", "T4")
    assert (t4.peak_flops_TFLOPS, t4.memory_bandwidth_GBps, t4.tdp_W) == (65, 320, 70)


def test_cpu_peak_is_cores_x_ghz_x_fma_units_x_lanes_x_2():
    for name in CPUS:
        d = load_device("cpu", name)
        p = dict(d.peak_derivation)
        gflops = p["cores"] * p["clock_GHz"] * p["fma_units_per_core"] * p["fp32_lanes_per_fma"] * 2
        assert d.peak_flops_TFLOPS == pytest.approx(gflops / 1000, rel=1e-6), name
    xeon = dict(load_device("cpu", "Xeon-Gold-6154").peak_derivation)
    assert xeon == {
        "cores": 18,
        "clock_GHz": 3.0,
        "fma_units_per_core": 2,
        "fp32_lanes_per_fma": 16,
    }


@pytest.mark.parametrize("kind", ["gpu", "cpu"])
def test_every_preset_value_carries_a_source_comment(kind):
    """Each numeric device key has a comment on its line or in the comment block above it."""
    lines = preset_path(kind).read_text().splitlines()
    keys = re.compile(
        r"^\s{4,6}(peak_flops_TFLOPS|memory_bandwidth_GBps|tdp_W|idle_W|achievable_\w+|"
        r"kernel_launch_overhead_us|op_dispatch_overhead_us|cores|clock_GHz|fma_units_per_core|"
        r"fp32_lanes_per_fma):"
    )
    checked = 0
    for i, line in enumerate(lines):
        match = keys.match(line)
        if not match:
            continue
        checked += 1
        above = lines[i - 1].strip()
        assert "#" in line or above.startswith("#"), f"{kind}s.yaml line {i + 1}: {line.strip()}"
    assert checked >= 7 * len(known_devices(kind))


def test_cli_lists_gpus_and_cpus(capsys):
    assert main(["list", "gpus"]) == 0
    out = capsys.readouterr().out
    assert "gpus:" in out and "T4" in out and "H100-SXM" in out and "(default)" in out
    assert main(["list", "cpus"]) == 0
    out = capsys.readouterr().out
    assert "Xeon-Gold-6154" in out and "EPYC-7763" in out


def test_bad_preset_file_names_the_file_and_key(tmp_path, monkeypatch):
    from pimsim.baselines import devices

    good = preset_path("gpu").read_text()
    bad_key = good.replace("    tdp_W: 70.0", "    tdp_W: 70.0\n    tdp: 1")
    (tmp_path / "gpus.yaml").write_text(bad_key)
    monkeypatch.setattr(devices, "PRESET_DIR", tmp_path)
    devices._catalog.cache_clear()
    try:
        with pytest.raises(PimsimInputError) as info:
            load_device("gpu", "T4")
        assert "gpus.yaml" in str(info.value) and "devices.T4.tdp" in str(info.value)
        (tmp_path / "gpus.yaml").write_text(good.replace("    idle_W: 26.0", "    idle_W: -1"))
        devices._catalog.cache_clear()
        with pytest.raises(PimsimInputError, match="devices.T4.idle_W"):
            load_device("gpu", "T4")
    finally:
        devices._catalog.cache_clear()
