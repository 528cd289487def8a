"""Precision as a run option (`--dtype`): the model's weights, KV cache and activations in
another element type; bytes, DRAM rows and MAC commands follow from the MAC unit's width, and
a unit that does not multiply elements that wide is an error naming `pim.dtype`."""

from __future__ import annotations

import pytest

from pimsim.api import simulate
from pimsim.cli import main
from pimsim.core.commands import Cmd
from pimsim.core.errors import PimsimInputError

INT8_UNITS = ["pim.dtype=int8", "pim.mac_lanes=32"]  # 32 int8 lanes per 32-byte column access


@pytest.fixture(scope="module")
def runs():
    bf16 = simulate("gddr6_aim", "gpt2-medium", gen_len=3)
    int8 = simulate("gddr6_aim", "gpt2-medium", gen_len=3, overrides=INT8_UNITS, dtype="int8")
    return bf16, int8


def test_int8_halves_bytes_rows_and_mac_commands(runs):
    bf16, int8 = runs
    a, b = (r.run.prepared.table for r in runs)
    vmm = (a["kind"] == "vmm").to_numpy()
    assert (b["weight_bytes"][vmm] * 2 == a["weight_bytes"][vmm]).all()
    assert (b["kv_bytes"] * 2 == a["kv_bytes"]).all()
    rows = [r.run.prepared.mapping.rows_used for r in runs]
    assert rows[1] < 0.6 * rows[0]
    macs = [r.run.sim.kind_counters["vmm"][Cmd.MAC16] for r in runs]
    assert abs(macs[1] / macs[0] - 0.5) < 0.05  # twice the elements per MAC command
    assert int8.report["pim"]["tpot_s"] < bf16.report["pim"]["tpot_s"]
    assert int8.report["pim"]["energy_j_per_token"] < bf16.report["pim"]["energy_j_per_token"]


def test_a_unit_that_cannot_multiply_the_dtype_is_refused(capsys):
    with pytest.raises(PimsimInputError, match="pim.dtype"):
        simulate("gddr6_aim", "gpt2-small", gen_len=2, dtype="int8")
    # same-width formats run as the unit's (a bf16 model on hbm_pim's fp16 units)
    assert simulate("hbm_pim", "gpt2-small", gen_len=2).tpot_s > 0
    code = main(["run", "--hw", "gddr6_aim", "--model", "gpt2-small", "--dtype", "int4"])
    assert code == 2 and "--dtype" in capsys.readouterr().err
