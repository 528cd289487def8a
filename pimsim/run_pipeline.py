"""The front half of a run: workload -> operator table -> mapping (checked before simulating)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.errors import PimsimInputError
from pimsim.mapping import ModelMapping, map_model


@dataclass
class PreparedRun:
    spec: object
    table: pd.DataFrame
    mapping: ModelMapping
    prompt_len: int
    gen_len: int


def prepare_run(
    hw: HardwareConfig,
    *,
    model: str | None = None,
    trace: str | None = None,
    prompt_len: int = 1,
    gen_len: int = 8,
) -> PreparedRun:
    """Lower `model` (or read `trace`), check it against the hardware, and map it."""
    from pimsim.asic import check_sram_capacity
    from pimsim.engine.simulate import check_kinds
    from pimsim.workload import lower, read_trace, resolve_model, trace_spec

    if not hw.pim.enabled:
        raise PimsimInputError(
            "a run needs in-bank MAC units but pim.enabled is false",
            file=hw.source,
            key="pim.enabled",
            expected="true",
        )
    if trace:
        table = read_trace(trace)
        spec = trace_spec(table)
        prompt_len = int(table.attrs.get("prompt_len", prompt_len))
        gen_len = int(table.attrs.get("gen_len", gen_len))
        source = trace
    else:
        spec = resolve_model(model)
        table = lower(spec, prompt_len=prompt_len, gen_len=gen_len)
        source = model
    from pimsim.asic import VECTOR_KINDS

    check_kinds(table, set(VECTOR_KINDS), source)
    # the last generated token is not fed back: positions 0 .. prompt + gen - 2 are processed
    context = prompt_len + gen_len - 1
    if context > spec.max_context_tokens:
        raise PimsimInputError(
            f"prompt {prompt_len} + generated {gen_len} needs {context} positions, more than "
            f"the model's context of {spec.max_context_tokens}",
            key="--gen-len",
            expected=f"prompt_len + gen_len <= {spec.max_context_tokens + 1}",
        )
    check_sram_capacity(table, hw.asic, file=hw.source)
    mapping = map_model(hw, spec, spec.max_context_tokens)
    return PreparedRun(spec, table, mapping, prompt_len, gen_len)
