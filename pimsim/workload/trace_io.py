"""Operator traces on disk: JSON lines, schema `pimsim.trace.v1` (see traces/README.md).

Line 1 is a header object; every further line is either one operator (all table columns)
or, in the compact encoding, a repeat record that replays the previous `ops` operators
`count` times with per-field integer strides. A file whose name ends in `.gz` is gzipped.
`read_trace` validates everything and raises `PimsimInputError` naming the line and field.

The work is split by job: `trace_format` (encodings, header keys, the header check),
`trace_write` (writing), `trace_read` (reading) and `trace_check` (validating the ops read);
this module is the entry point that gathers them.
"""

from __future__ import annotations

from pimsim.workload.trace_format import AUTO_COMPACT_MIN_OPS, ENCODINGS, HEADER_KEYS
from pimsim.workload.trace_read import read_trace, read_trace_header
from pimsim.workload.trace_write import write_trace

__all__ = [
    "AUTO_COMPACT_MIN_OPS",
    "ENCODINGS",
    "HEADER_KEYS",
    "read_trace",
    "read_trace_header",
    "write_trace",
]
