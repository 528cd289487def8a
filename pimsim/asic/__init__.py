"""The ASIC controller's non-VMM cost model: vector ops, partial-sum reduction, link, SRAM.

Public API:

- `VECTOR_KINDS`, `PIM_KINDS`: operator kinds the ASIC vector unit runs / the PIM banks run.
- `op_count_table(asic)`: the documented ops-per-unit of every stage of every vector kind.
- `vector_op_breakdown(op, asic)`, `vector_op_cycles(op, asic, mode=None)`: one op row ->
  stages / cycles.
- `asic_cycles_for_table(table, asic, mode=None)`: ASIC cycles of every row (vectorised; 0 for
  PIM kinds).
- `mode`: `"pipelined"` (default) or `"serial"` timing of the same op counts; see
  `pimsim.asic.vector`. `AsicConfig.vector_model` (asic.vector_model in the YAML) is used
  when mode is None.
- `reduction_cycles(partials_per_output, outputs, asic)`: summing a chunked VMM's partials.
- `link_transfer_ps(nbytes, asic, channels=1)`: PIM <-> ASIC transfer time (integer ps).
- `check_sram_capacity(table, asic, file=None)`: largest live working set vs `asic.sram_bytes`.

Cycles are ASIC cycles; multiply by `asic.cycle_ps` for picoseconds.
"""

from pimsim.asic._columns import PIM_KINDS, VECTOR_KINDS
from pimsim.asic.link import link_transfer_ps, link_transfer_ps_array
from pimsim.asic.reduction import reduction_cycles, reduction_ops
from pimsim.asic.sram import SramUse, check_sram_capacity, working_set_bytes
from pimsim.asic.vector import (
    DEFAULT_MODE,
    MODES,
    STAGES,
    Stage,
    StageCount,
    asic_cycles_for_table,
    cycles_from_breakdown,
    cycles_from_ops,
    op_count_table,
    op_units,
    ops_per_unit,
    resolve_mode,
    steps,
    table_ops,
    table_units,
    vector_op_breakdown,
    vector_op_cycles,
)

__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "PIM_KINDS",
    "STAGES",
    "VECTOR_KINDS",
    "SramUse",
    "Stage",
    "StageCount",
    "asic_cycles_for_table",
    "check_sram_capacity",
    "cycles_from_breakdown",
    "cycles_from_ops",
    "link_transfer_ps",
    "link_transfer_ps_array",
    "op_count_table",
    "op_units",
    "ops_per_unit",
    "reduction_cycles",
    "reduction_ops",
    "resolve_mode",
    "steps",
    "table_ops",
    "table_units",
    "vector_op_breakdown",
    "vector_op_cycles",
    "working_set_bytes",
]
