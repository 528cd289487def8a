"""How a run is shaped before and around the simulation: the element type, the tensor-parallel
shard, a trace's own options, the prompt on a compute device, the whole model's table for the
baselines of a shard (helpers of `pimsim.pipeline`)."""

from __future__ import annotations

from typing import Any

from pimsim.config.schema import HardwareConfig
from pimsim.core.errors import PimsimInputError


def trace_table(trace: str, batch: int, dtype: str | None, routing: str | None):
    """The trace's operator table, refusing run options that would contradict it."""
    from pimsim.workload import read_trace, trace_spec
    from pimsim.workload.lowering import check_batch, table_batch

    table = read_trace(trace)
    spec = trace_spec(table)
    if check_batch(batch) not in (1, table_batch(table)):
        raise PimsimInputError(
            f"the trace decodes {table_batch(table)} sequences, not {batch}",
            file=trace,
            key="--batch",
            expected="the trace's own batch (lower it again with --batch)",
        )
    if dtype is not None and dtype != spec.dtype:
        raise PimsimInputError(
            f"the trace's operators are {spec.dtype}; --dtype cannot change them",
            file=trace,
            key="--dtype",
            expected=f"{spec.dtype} (or lower the model again with that dtype)",
        )
    check_no_routing(routing, trace, "the trace holds its experts' choices")
    return table


def check_no_routing(routing: str | None, source: str | None, why: str) -> None:
    if routing is not None:
        raise PimsimInputError(
            f"--routing {routing}: {why}", file=source, key="--routing", expected="no --routing"
        )


def with_parallel(spec, tensor_parallel: int):
    """The model's shard on one of `tensor_parallel` devices (itself for 1)."""
    import dataclasses

    if tensor_parallel == 1:
        return spec
    try:
        return dataclasses.replace(spec, tensor_parallel=tensor_parallel)
    except PimsimInputError as exc:
        raise PimsimInputError(exc.detail, key="--tensor-parallel", expected=exc.expected) from None


def with_dtype(spec, dtype: str | None):
    """The model with its weights, KV cache and activations in `dtype` (None: its own)."""
    import dataclasses

    from pimsim.core.dtypes import DTYPE_BYTES

    if dtype is None:
        return spec
    if dtype not in DTYPE_BYTES:
        raise PimsimInputError(
            f"got {dtype!r}", key="--dtype", expected="one of " + ", ".join(DTYPE_BYTES)
        )
    return dataclasses.replace(spec, dtype=dtype)


def check_mac_dtype(hw: HardwareConfig, spec) -> None:
    """The MAC units must multiply elements as wide as the model's: the layout packs
    `pim.dtype` elements per column access. Same-width formats (a bf16 model on fp16 units)
    run as the unit's format, with the same bytes, rows and commands."""
    from pimsim.core.dtypes import DTYPE_BYTES

    if DTYPE_BYTES[spec.dtype] == hw.pim.dtype_bytes:
        return
    raise PimsimInputError(
        f"the model's elements are {spec.dtype} ({DTYPE_BYTES[spec.dtype]} B) but the MAC "
        f"units multiply {hw.pim.dtype} ({hw.pim.dtype_bytes} B)",
        file=hw.source,
        key="pim.dtype",
        expected=f"a unit that runs {spec.dtype} (--set pim.dtype={spec.dtype}, and "
        "pim.mac_lanes for its width) or --dtype of the unit's width",
    )


def whole_table(prepared):
    """The operator table of the whole model (a shard's run: lowered again without it)."""
    spec = prepared.spec
    if spec.tensor_parallel == 1:
        return prepared.table
    from pimsim.workload import lower
    from pimsim.workload.moe import parse_routing

    attrs = prepared.table.attrs
    routing = attrs.get("routing")
    return lower(
        spec.whole(),
        prompt_len=attrs["prompt_len"],
        gen_len=attrs["gen_len"],
        batched_prefill=attrs["batched_prefill"],
        batch=int(attrs.get("batch", 1)),
        routing=parse_routing(routing) if routing and not routing.startswith("file:") else None,
    )


PREFILL_DEVICES = ("gpu",)


def hybrid_offload(hybrid: bool, prepared, gpu, baseline_overrides):
    """The GPU's share of a hybrid run (everything but attention), or None."""
    if not hybrid:
        return None
    from pimsim.baselines.offload import plan_hybrid

    return plan_hybrid(prepared.table, gpu, (baseline_overrides or {}).get("gpu"))


def prefill_offload(prefill_on: str | None, prepared, gpu, baseline_overrides):
    """The GPU's share of the prompt (`prefill_on="gpu"`), or None."""
    if prefill_on is None:
        return None
    if prefill_on not in PREFILL_DEVICES:
        raise PimsimInputError(
            f"got {prefill_on!r}", key="--prefill", expected="token, gemm or gpu"
        )
    from pimsim.baselines.offload import plan_prefill_offload

    overrides = (baseline_overrides or {}).get("gpu")
    return plan_prefill_offload(prepared.table, gpu, overrides)


def beside_pim(prepared, prefill_on, hybrid: bool, gpu, baseline_overrides, interconnect: str):
    """(the interconnect of a tensor-parallel run or None, the GPU's share or None), refusing
    the combinations not modelled."""
    from pimsim.system import load_interconnect

    link = None
    if prepared.spec.tensor_parallel > 1:
        if hybrid or prefill_on is not None:
            raise PimsimInputError(
                "a GPU beside a tensor-parallel system is not modelled",
                key="--tensor-parallel",
                expected="--tensor-parallel 1 with --hybrid or --prefill gpu",
            )
        link = load_interconnect(interconnect, (baseline_overrides or {}).get("interconnect"))
    if hybrid and prefill_on is not None:
        raise PimsimInputError(
            "a hybrid run already puts the prompt's projections on the GPU",
            key="--hybrid",
            expected="--hybrid or --prefill gpu, not both",
        )
    offload = prefill_offload(prefill_on, prepared, gpu, baseline_overrides)
    return link, offload or hybrid_offload(hybrid, prepared, gpu, baseline_overrides)


AUTO = "auto"
CAPACITY_KEY = "dram.organization.rows"  # (the key of the mapping's capacity error)


def choose_tensor_parallel(hw: HardwareConfig, spec, place) -> tuple[Any, Any, dict]:
    """`--tensor-parallel auto`: the fewest devices like `hw` whose shard of `spec` fits one of
    them. Tries the even splits 1, 2, 4, ... (`ModelSpec.split_degrees`); `place(shard)` maps a
    shard (raising the capacity error when it does not fit). Returns (shard, its mapping, the
    choice for the report: the policy and every degree tried, with why it was refused)."""
    tried: list[dict] = []
    last_error = None
    for degree in spec.split_degrees():
        shard = with_parallel(spec, degree)
        try:
            mapping = place(shard)
        except PimsimInputError as exc:
            if exc.key != CAPACITY_KEY:
                raise
            tried.append({"devices": degree, "fits": False, "why": exc.detail})
            last_error = exc
        else:
            tried.append({"devices": degree, "fits": True})
            policy = "the fewest devices (1, 2, 4, ...) whose shard fits one device"
            return shard, mapping, {"tensor_parallel": AUTO, "policy": policy, "tried": tried}
    raise PimsimInputError(
        f"no even split of {spec.name} over up to {spec.heads} devices fits one device "
        f"(the largest tried: {last_error.detail if last_error else 'none'})",
        file=hw.source,
        key="--tensor-parallel",
        expected="a larger device (more channels or rows), a shorter --max-context or a "
        "smaller model",
    )


def parse_tensor_parallel(value: str) -> int | str:
    """The --tensor-parallel option: a device count >= 1, or `auto`."""
    if value == AUTO:
        return AUTO
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise PimsimInputError(
            f"got {value!r}", key="--tensor-parallel", expected="an integer >= 1 or auto"
        )
    return count
