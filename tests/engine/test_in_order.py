"""The in-order loop (the default engine) gives the SimPy processes' schedule exactly: every
time column, the PIM counts, the LM-head ends and the timeline, on randomised models, systems,
modes and prefill choices."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.core.errors import PimsimInputError
from pimsim.dram.program_cost import ProgramCycles
from pimsim.engine import simulate
from pimsim.mapping import map_model
from pimsim.workload import lower
from pimsim.workload.spec import ModelSpec

SYSTEMS = [
    ("gddr6_aim", []),
    ("hbm_pim", []),
    ("gddr6_aim", ["dram.channels=4", "asic.reduction_tile_rows=0"]),
    ("gddr6_aim", ["dram.timing.nREFI=700", "pim.adder_tree=false"]),
    ("hbm_pim", ["dram.channels=6", "asic.reduction_tile_rows=1"]),
]


def _random_spec(rng: np.random.Generator, index: int) -> ModelSpec:
    heads = int(rng.choice([2, 4, 8]))
    d_head = int(rng.choice([8, 16, 32]))
    kv_heads = int(rng.choice([h for h in (1, 2, heads) if heads % h == 0]))
    gated = bool(rng.integers(2))
    return ModelSpec(
        name=f"random-{index}",
        layers=int(rng.integers(1, 4)),
        d_model=heads * d_head,
        heads=heads,
        kv_heads=kv_heads,
        d_head=d_head,
        d_ffn=int(rng.integers(1, 5)) * heads * d_head,
        vocab_size=int(rng.integers(50, 600)),
        max_context_tokens=64,
        d_embed=heads * d_head,
        norm="rmsnorm" if gated else "layernorm",
        norm_position=str(rng.choice(["pre", "post"])),
        ffn="swiglu" if gated else str(rng.choice(["gelu", "relu"])),
        position_embedding="rotary" if gated else "learned",
        linear_bias=not gated,
        tied_lm_head=not gated,
    )


def _columns(result) -> dict:
    out = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if f.name == "pim":
            out["pim.counters"] = value.counters.tolist()
        elif f.name == "timeline":
            out[f.name] = sorted(value)  # (appended in event order by SimPy, op order here)
        elif isinstance(value, np.ndarray):
            out[f.name] = value.tolist()
        elif isinstance(value, dict):
            out[f.name] = {k: v.tolist() for k, v in sorted(value.items())}
        else:
            out[f.name] = value
    return out


@pytest.mark.parametrize("seed", range(10))
def test_loop_equals_simpy_on_random_runs(seed):
    rng = np.random.default_rng(seed)
    name, sets = SYSTEMS[seed % len(SYSTEMS)]
    hw = load_hw(name, sets)
    spec = _random_spec(rng, seed)
    prompt, gen = int(rng.integers(1, 6)), int(rng.integers(1, 8))
    table = lower(spec, prompt, gen, batched_prefill=bool(rng.integers(2)))
    mapping = map_model(hw, spec, spec.max_context_tokens, ProgramCycles(hw))
    for mode in ("overlap", "serial"):
        runs = [
            simulate(hw, table, mapping, mode=mode, engine=engine, timeline_tokens=2)
            for engine in ("simpy", "loop")
        ]
        simpy, loop = (_columns(r) for r in runs)
        assert simpy.keys() == loop.keys()
        for key in simpy:
            assert simpy[key] == loop[key], (seed, mode, key)
        assert runs[1].end_ps > 0


def test_loop_equals_simpy_command_by_command():
    hw = load_hw("hbm_pim", ["dram.channels=4"])
    spec = _random_spec(np.random.default_rng(99), 99)
    table = lower(spec, 2, 3)
    mapping = map_model(hw, spec, spec.max_context_tokens, ProgramCycles(hw))
    simpy, loop = (
        _columns(simulate(hw, table, mapping, engine=e, exact=True)) for e in ("simpy", "loop")
    )
    assert simpy == loop


def test_a_dependency_on_a_later_operator_is_refused():
    hw = load_hw("gddr6_aim")
    spec = _random_spec(np.random.default_rng(3), 3)
    table = lower(spec, 1, 2)
    mapping = map_model(hw, spec, spec.max_context_tokens, ProgramCycles(hw))
    table.at[1, "deps"] = [5]
    with pytest.raises(PimsimInputError, match="not an earlier operator"):
        simulate(hw, table, mapping)
    with pytest.raises(PimsimInputError, match="engine"):
        simulate(hw, lower(spec, 1, 2), mapping, engine="warp")
