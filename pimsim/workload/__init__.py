"""Transformer workloads: model spec -> decoder graph -> per-token operator table -> trace.

Public API:

- `resolve_model(name_or_path) -> ModelSpec`: a name in `workloads/`, a workload YAML, or a
  Hugging Face `config.json`.
- `lower(spec, prompt_len, gen_len, batched_prefill=False) -> pandas.DataFrame`: the op table
  (columns `COLUMN_NAMES`, one row per operator, ids in topological order).
- `write_trace(table, path)`, `read_trace(path)`: `pimsim.trace.v1` JSON-lines files.
- `weight_matrices(spec)`, `embedding_tables(spec)`, `kv_cache_bytes(spec, context_len)`,
  `count_parameters(spec)`: sizes for the mapping and for reports.
"""

from pimsim.core.kinds import KINDS
from pimsim.workload.catalog import available_models, model_table, resolve_model
from pimsim.workload.graph import DecoderGraph, GraphNode, build_graph
from pimsim.workload.hf_config import load_hf_config
from pimsim.workload.lowering import lower, plan_steps, positions_processed, trace_spec
from pimsim.workload.params import (
    EmbeddingTable,
    WeightMatrix,
    count_parameters,
    embedding_tables,
    kv_cache_bytes,
    parameter_breakdown,
    weight_matrices,
)
from pimsim.workload.spec import ModelSpec
from pimsim.workload.table import COLUMN_NAMES, TRACE_SCHEMA, deps_csr
from pimsim.workload.trace_io import read_trace, read_trace_header, write_trace
from pimsim.workload.yaml_model import load_workload_yaml

__all__ = [
    "COLUMN_NAMES",
    "KINDS",
    "TRACE_SCHEMA",
    "DecoderGraph",
    "EmbeddingTable",
    "GraphNode",
    "ModelSpec",
    "WeightMatrix",
    "available_models",
    "build_graph",
    "count_parameters",
    "deps_csr",
    "embedding_tables",
    "kv_cache_bytes",
    "load_hf_config",
    "load_workload_yaml",
    "lower",
    "model_table",
    "parameter_breakdown",
    "plan_steps",
    "positions_processed",
    "read_trace",
    "read_trace_header",
    "resolve_model",
    "trace_spec",
    "weight_matrices",
    "write_trace",
]
