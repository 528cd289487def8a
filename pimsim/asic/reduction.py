"""ASIC cost of summing the partial results of a VMM split into chunks.

PIM-GPT splits a matrix whose rows do not fit one DRAM row into chunks; every chunk yields a
partial sum per output, and the ASIC adds them (arXiv 2310.09385). A bias vector, when the ASIC
adds it here, counts as one more partial.
"""

from __future__ import annotations

from pimsim.asic.vector import cycles_from_ops
from pimsim.config.schema import AsicConfig


def reduction_ops(partials_per_output: int, outputs: int) -> int:
    """Adds needed: (partials - 1) per output, 0 when there is nothing to sum."""
    if partials_per_output < 0 or outputs < 0:
        raise ValueError(f"negative reduction shape: {partials_per_output=}, {outputs=}")
    return max(partials_per_output - 1, 0) * outputs


def reduction_cycles(partials_per_output: int, outputs: int, asic: AsicConfig) -> int:
    """ASIC cycles to reduce `partials_per_output` partial sums for each of `outputs` outputs:
    pipeline latency + ceil((partials - 1) * outputs / vector_lanes); 0 if partials <= 1."""
    return cycles_from_ops(reduction_ops(partials_per_output, outputs), asic)
