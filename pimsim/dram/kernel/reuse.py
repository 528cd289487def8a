"""Canonical and relative channel states: what makes repeated work reusable.

`canonicalize` clamps timers that can never bind again (equal futures, equal bytes), so channels
can be merged into classes; `snapshot` is the state relative to the floor and the current row
(repeated GEMV rows and chunks); `relative_state` / `result_state` / `apply_result` store an
operator's effect relative to its start cycle and first row and replay it (the operator memo);
`shift_state` moves a state later in time. `op_prologue` is the per-operator entry point
(refreshes of the idle gap, then canonicalize); `empty_log` makes a command-log buffer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pimsim.dram.kernel.controller import catch_up_refresh, pull_in_refreshes
from pimsim.dram.tables import (
    H_BANKS,
    H_NWIN,
    H_O_WD,
    H_O_WN,
    H_REFMODE,
    H_S_EB,
    H_S_ROW,
    H_S_SC,
    H_S_WH,
    H_S_WP,
    H_WINMAX,
    SC_END,
    SC_FLOOR,
    SC_LAST,
    SC_MODE,
    SC_NEXT_DUE,
    SC_PENDING,
    SC_REFCOUNT,
    SC_STALLED,
)


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def snapshot(tab, st, current_row, out):
    """Canonical state relative to the channel floor and the current row, into `out`.

    Timers below the floor are clamped (they can never bind), everything is expressed relative
    to the floor, open rows relative to `current_row`; the refresh schedule is left out (the
    caller only fast-forwards spans that end before the next refresh is due).
    """
    sc = tab[H_S_SC]
    floor = st[sc + SC_FLOOR]
    for i in range(tab[H_S_EB], tab[H_S_ROW]):
        out[i] = max(st[i], floor) - floor
    for b in range(tab[H_BANKS]):
        r = st[tab[H_S_ROW] + b]
        out[tab[H_S_ROW] + b] = r - current_row if r >= 0 else -(1 << 40)
    n_win = tab[H_NWIN]
    for w in range(max(n_win, 1)):
        low = floor - tab[tab[H_O_WD] + w] if n_win else floor
        base = tab[H_S_WH] + w * tab[H_WINMAX]
        for k in range(tab[H_WINMAX]):
            out[base + k] = max(st[base + k], low) - floor
        out[tab[H_S_WP] + w] = st[tab[H_S_WP] + w]
    out[sc + SC_FLOOR] = 0
    out[sc + SC_NEXT_DUE] = 0
    out[sc + SC_REFCOUNT] = 0
    out[sc + SC_LAST] = st[sc + SC_LAST] - floor
    out[sc + SC_END] = st[sc + SC_END] - floor
    out[sc + SC_STALLED] = st[sc + SC_STALLED]
    out[sc + SC_PENDING] = st[sc + SC_PENDING]
    out[sc + SC_MODE] = st[sc + SC_MODE]


FOREIGN_ROW = 1 << 40  # relative form of an open row a program never accesses


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def _moved_times(tab, src, out, delta):
    """Copy every cycle-valued field of `src` (timers, window entries, floor, last command,
    end of work) into `out` moved by `delta` cycles, with the window positions, the stalled
    and pending flags and the access mode; `src` and `out` may be the same array."""
    sc = tab[H_S_SC]
    for i in range(tab[H_S_EB], tab[H_S_ROW]):
        out[i] = src[i] + delta
    n_win = tab[H_NWIN]
    for w in range(max(n_win, 1)):  # (a table without windows keeps one unused slot as is)
        moved = delta if w < n_win else 0
        base = tab[H_S_WH] + w * tab[H_WINMAX]
        for k in range(tab[H_WINMAX]):
            out[base + k] = src[base + k] + moved
        out[tab[H_S_WP] + w] = src[tab[H_S_WP] + w]
    for slot in (SC_FLOOR, SC_LAST, SC_END):
        out[sc + slot] = src[sc + slot] + delta
    out[sc + SC_STALLED] = src[sc + SC_STALLED]
    out[sc + SC_PENDING] = src[sc + SC_PENDING]
    out[sc + SC_MODE] = src[sc + SC_MODE]


@njit(cache=True)
def relative_state(tab, st, start, first_row, out):
    """The state seen from an operator starting at cycle `start` whose first access (in every
    bank, as in an all-bank GEMV) is `first_row`, into `out`: times relative to `start`, open
    rows relative to `first_row`, and any other open row as FOREIGN_ROW (it only forces a
    precharge, which is all the program can do with it). Refresh bookkeeping keeps the due time
    (relative) and, for per-bank refresh, which bank is next.
    Returns False when the state holds a time before `start` that could still bind (only after
    `canonicalize(start)` with no refresh pending is every timer at or after `start`)."""
    sc = tab[H_S_SC]
    if st[sc + SC_FLOOR] < start:
        return False
    _moved_times(tab, st, out, -start)
    for b in range(tab[H_BANKS]):
        r = st[tab[H_S_ROW] + b]
        out[tab[H_S_ROW] + b] = -1 if r < 0 else (0 if r == first_row else FOREIGN_ROW)
    out[sc + SC_NEXT_DUE] = st[sc + SC_NEXT_DUE] - start if tab[H_REFMODE] else 0
    out[sc + SC_REFCOUNT] = st[sc + SC_REFCOUNT] % tab[H_BANKS] if tab[H_REFMODE] == 2 else 0
    return True


@njit(cache=True)
def result_state(tab, before, after, start, first_row, out):
    """The change an operator made, relative to its start cycle and first row, into `out`
    (rows as offsets from `first_row`, the refresh count as a difference), so that
    `apply_result` can replay it on another equal relative state. Returns False when a
    foreign open row survived the operator (the result would depend on which row it was)."""
    sc = tab[H_S_SC]
    for b in range(tab[H_BANKS]):
        r = after[tab[H_S_ROW] + b]
        if r >= 0 and r == before[tab[H_S_ROW] + b] and r != first_row:
            return False
        out[tab[H_S_ROW] + b] = r - first_row if r >= 0 else -1
    _moved_times(tab, after, out, -start)
    out[sc + SC_NEXT_DUE] = after[sc + SC_NEXT_DUE] - start if tab[H_REFMODE] else 0
    out[sc + SC_REFCOUNT] = after[sc + SC_REFCOUNT] - before[sc + SC_REFCOUNT]
    return True


@njit(cache=True)
def apply_result(tab, st, result, start, first_row):
    """Replay a stored `result_state` on `st` (whose relative state equals the one stored)."""
    sc = tab[H_S_SC]
    _moved_times(tab, result, st, start)
    for b in range(tab[H_BANKS]):
        r = result[tab[H_S_ROW] + b]
        st[tab[H_S_ROW] + b] = r + first_row if r >= 0 else -1
    if tab[H_REFMODE]:  # (without refresh the due time stays 'never')
        st[sc + SC_NEXT_DUE] = result[sc + SC_NEXT_DUE] + start
    st[sc + SC_REFCOUNT] += result[sc + SC_REFCOUNT]


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def rows_before_refresh(tab, st, period, full_rows):
    """How many further rows of `period` cycles end before the next refresh falls due."""
    if period <= 0:
        return 0
    if tab[H_REFMODE] == 0:
        return full_rows
    due = st[tab[H_S_SC] + SC_NEXT_DUE]
    last = st[tab[H_S_SC] + SC_LAST]
    # the latest command of the j-th further row issues at last + j * period; all must be < due
    return max(0, min(full_rows, (due - 1 - last) // period))


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def shift_state(tab, st, cycles, rows):
    """Move the whole channel state `cycles` later and its open rows `rows` further."""
    _moved_times(tab, st, st, cycles)
    for b in range(tab[H_BANKS]):
        if st[tab[H_S_ROW] + b] >= 0:
            st[tab[H_S_ROW] + b] += rows


def empty_log(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """A command log buffer (cycle, cmd, bank, row, col) of `capacity` rows and its fill count."""
    return np.zeros((max(capacity, 0), 5), dtype=np.int64), np.zeros(1, dtype=np.int64)


@njit(cache=True)
def canonicalize(tab, st, quiet_until):
    """Clamp every timer that can no longer bind to the channel floor (semantics preserved).

    Every future command issues at or after the floor, so an earliest-cycle value below it, or a
    window entry older than floor - window distance, can never matter again; clamping them makes
    two channels with the same future behaviour have byte-identical states. SC_LAST is only
    bookkeeping (never read by the timing) and is reset too.

    `quiet_until`: the caller guarantees no program command issues before this cycle. If no
    refresh falls due before it either, no command at all can issue earlier, so the floor
    (and the end-of-work mark) can be raised to it.
    """
    sc = tab[H_S_SC]
    if tab[H_REFMODE] == 0 or st[sc + SC_NEXT_DUE] >= quiet_until:
        if st[sc + SC_FLOOR] < quiet_until:
            st[sc + SC_FLOOR] = quiet_until
        if st[sc + SC_END] < quiet_until:
            st[sc + SC_END] = quiet_until
    floor = st[sc + SC_FLOOR]
    for i in range(tab[H_S_EB], tab[H_S_ROW]):  # EB, EG, EC, AB, AG are contiguous
        if st[i] < floor:
            st[i] = floor
    n_win = tab[H_NWIN]
    for w in range(n_win):
        low = floor - tab[tab[H_O_WD] + w]
        base = tab[H_S_WH] + w * tab[H_WINMAX]
        for k in range(tab[H_WINMAX]):
            if st[base + k] < low:
                st[base + k] = low
        # rotate the ring so its oldest entry comes first: only the order of the entries from
        # the write position on matters, not where the ring happens to start
        n = tab[tab[H_O_WN] + w]
        pos = st[tab[H_S_WP] + w]
        if pos:
            ring = st[base : base + n].copy()
            for k in range(n):
                st[base + k] = ring[(pos + k) % n]
            st[tab[H_S_WP] + w] = 0
    st[sc + SC_LAST] = floor - 1


@njit(cache=True)
def op_prologue(tab, st, ct, start, canonical, members, op_ct, log, logn):
    """Before an operator: `catch_up_refresh`, `pull_in_refreshes`, then commit the channel to
    issuing nothing before `start` (time does not run backwards: a later operator's pull-in
    cannot use this idle gap any more) and, if `canonical`, `canonicalize` at `start`.
    One call (this runs for every channel class of every operator): the commands it issues are
    counted in the scratch `ct`, then added `members` times (the channels of the class) to
    `op_ct`, and `ct` is cleared. Returns the number of refreshes issued."""
    issued = catch_up_refresh(tab, st, ct, start, log, logn)
    issued += pull_in_refreshes(tab, st, ct, start, log, logn)
    if issued:
        for i in range(ct.shape[0]):
            op_ct[i] += ct[i] * members
            ct[i] = 0
    sc = tab[H_S_SC]
    if st[sc + SC_FLOOR] < start:
        st[sc + SC_FLOOR] = start
    if canonical:
        canonicalize(tab, st, start)
    return issued
