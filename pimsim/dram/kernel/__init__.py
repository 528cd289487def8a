"""Numba kernels: issue every command of a channel program at its earliest legal cycle.

State is one flat int64 array (layout in `pimsim.dram.tables`), holding, per command type, the
earliest cycle each bank / bank group / the channel allows it, plus open rows, the tFAW-style
rolling windows and the refresh bookkeeping. Issuing a command raises those earliest cycles by
the table's distances; finding a command's issue cycle is a handful of maxima. Time jumps from
command to command; nothing ticks cycle by cycle, and no command array is built for programs.

Controller policy (in-order, one program stream per channel):
- a column command whose banks do not hold its row first gets a precharge (if another row is
  open) and an activate; multi-bank column commands use the all-bank variants;
- closed-page: the row is precharged right after the last column access of a run to it;
- refresh: a due refresh is issued at the next row switch (before the precharge / activate the
  program needs next: the open row's column stream is not cut), or as soon as the next command
  could issue `refresh_postpone` refresh intervals after the due time, whichever comes first;
  with `refresh_postpone: 0` it is issued before the first command at or after the due time.
  The controller precharges (if needed) and refreshes, each no earlier than the due time;
  refreshes due while the channel idles (between operators) are issued at their due times, not
  bunched at the next command, and up to `refresh_pull_in` refreshes are issued ahead of time in
  an idle gap when they complete before the next operator starts.

Modules: `timing` (one command: target banks, earliest cycle, issue), `controller` (refresh,
row management, request and raw command streams), `gemv` (all-bank GEMV programs), `reuse`
(canonical and relative states: class merging, the operator memo, fast-forwards).

The helpers a kernel calls without inlining allocate nothing and are compiled without numba's
reference counting (`_nrt=False`): with it, every call increfs and decrefs each array argument,
which was three quarters of the command-by-command path's time (`pytest
tests/dram/test_bench_engine.py --benchmark-only`: exact 1.1 M commands 221 ms -> 52 ms, fast
path 69 ms -> 42 ms on the 2-core development machine; the golden outputs are unchanged).

First compilation (`pimsim warmup` on an empty cache, 2-core development machine): 292 s before
the helpers' constant arguments were typed as int64 and the refresh paths called `earliest_at`
instead of inlining `earliest` (94 compilations, numba's own overloads included), 73 s after
(65, of which 28 are these modules' functions).

Numba's cache (`cache=True`) keys a compiled function on its own file only: after editing one
of these modules, clear the numba cache (NUMBA_CACHE_DIR) so callers in the others recompile.
"""

from pimsim.dram.kernel.controller import (
    burst,
    catch_up_refresh,
    open_row,
    pull_in_refreshes,
    refresh_if_due,
    run_raw,
    run_requests,
    serve_column,
    serve_plain,
)
from pimsim.dram.kernel.gemv import gemv_program, run_gemv, run_gemv_grouped
from pimsim.dram.kernel.reuse import (
    FOREIGN_ROW,
    apply_result,
    canonicalize,
    empty_log,
    op_prologue,
    relative_state,
    result_state,
    rows_before_refresh,
    shift_state,
    snapshot,
)
from pimsim.dram.kernel.timing import ERR_NEEDS_CLOSED, ERR_NEEDS_ROW, earliest, issue
from pimsim.dram.tables import H_RESULT_BURSTS  # (read by tests through this namespace)

_FIRST_COMPILED = run_gemv  # every simulation path calls it first
_announced = []


def announce_compile() -> None:
    """Say once, on stderr, that the kernels are being compiled when numba has no usable cache
    of them yet (a fresh install or a new version): the first run otherwise sits silent for a
    minute. `pimsim warmup` compiles them ahead of time."""
    if _announced:
        return
    _announced.append(True)
    import os
    import sys

    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return
    try:
        cold = not _FIRST_COMPILED._cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 (numba internals moved: say nothing rather than fail)
        return
    if cold:
        sys.stderr.write(
            "pimsim: compiling simulator kernels (once per install, one to two minutes)...\n"
        )
        sys.stderr.flush()


__all__ = [
    "ERR_NEEDS_CLOSED",
    "ERR_NEEDS_ROW",
    "FOREIGN_ROW",
    "H_RESULT_BURSTS",
    "announce_compile",
    "apply_result",
    "burst",
    "canonicalize",
    "catch_up_refresh",
    "earliest",
    "empty_log",
    "gemv_program",
    "issue",
    "op_prologue",
    "open_row",
    "pull_in_refreshes",
    "refresh_if_due",
    "relative_state",
    "result_state",
    "rows_before_refresh",
    "run_gemv",
    "run_gemv_grouped",
    "run_raw",
    "run_requests",
    "serve_column",
    "serve_plain",
    "shift_state",
    "snapshot",
]
