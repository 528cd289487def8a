"""The in-order controller: refresh, row management and the request / raw command streams.

Refresh (the policy is in the package docstring): `refresh_if_due` issues a due refresh (with
its precharge), `catch_up_refresh` the ones that fell due while the channel idled,
`pull_in_refreshes` the ones that fit ahead of time into an idle gap. `serve_plain`,
`open_row` and `serve_column` serve one command of a program (precharge / activate first where
needed, closed-page precharge after the last access), `burst` fast-forwards a run of identical
commands, and `run_requests` / `run_raw` are the entry points for request lists and for
commands issued exactly as given.
"""

from __future__ import annotations

from numba import njit

from pimsim.core.commands import (
    NEED_CLOSED,
    NEED_OPEN_ROW,
    TARGET_UNIT,
)
from pimsim.dram.kernel.timing import (
    ACT,
    ACT16,
    BANK0,
    ERR_NEEDS_CLOSED,
    ERR_NEEDS_ROW,
    NONE,
    PRE,
    PREA,
    REFAB,
    REFPB,
    STEP1,
    _any_open,
    _holds_row,
    _issue_inline,
    _target_range,
    earliest,
    earliest_at,
    issue,
)
from pimsim.dram.tables import (
    CT_CONFLICTS,
    CT_HITS,
    CT_MISSES,
    H_BANKS,
    H_CLOSED,
    H_MODESW,
    H_O_CHALL,
    H_O_COMPL,
    H_O_CSR_DIST,
    H_O_CSR_NEXT,
    H_O_CSR_START,
    H_O_EFFECT,
    H_O_ISALL,
    H_O_MODE,
    H_O_NEEDS,
    H_O_SELF,
    H_O_TARGET,
    H_POSTPONE,
    H_PULLIN,
    H_REFINT,
    H_REFMODE,
    H_S_ROW,
    H_S_SC,
    MAX_REFRESH_SPINS,
    SC_END,
    SC_FLOOR,
    SC_MODE,
    SC_NEXT_DUE,
    SC_PENDING,
    SC_REFCOUNT,
    SC_STALLED,
)


@njit(inline="always")
def _due(tab, st, t):
    """True when a refresh falls due at or before cycle t (cheap; inlined everywhere)."""
    return tab[H_REFMODE] != 0 and t >= st[tab[H_S_SC] + SC_NEXT_DUE]


@njit(inline="always")
def _overdue(tab, st, t):
    """True when a due refresh can be postponed no longer at cycle t: the controller lets the
    open row's column stream finish first (the refresh goes in at the next row switch) but
    never beyond the postponement allowance."""
    return tab[H_REFMODE] != 0 and t >= st[tab[H_S_SC] + SC_NEXT_DUE] + tab[H_POSTPONE]


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def refresh_if_due(tab, st, ct, t, log, logn):
    """If a refresh is due at or before cycle t, precharge and refresh; True if one was issued."""
    mode = tab[H_REFMODE]
    if mode == 0:
        return False
    sc = tab[H_S_SC]
    due = st[sc + SC_NEXT_DUE]
    if t < due:
        return False
    if mode == 1:
        if _any_open(tab, st, BANK0, tab[H_BANKS], STEP1):
            t_pre = max(earliest_at(tab, st, PREA, BANK0), due)
            issue(tab, st, ct, PREA, BANK0, NONE, NONE, t_pre, log, logn)
        t_ref = max(earliest_at(tab, st, REFAB, BANK0), due)
        issue(tab, st, ct, REFAB, BANK0, NONE, NONE, t_ref, log, logn)
    else:
        b = st[sc + SC_REFCOUNT] % tab[H_BANKS]
        if st[tab[H_S_ROW] + b] >= 0:
            t_pre = max(earliest_at(tab, st, PRE, b), due)
            issue(tab, st, ct, PRE, b, NONE, NONE, t_pre, log, logn)
        t_ref = max(earliest_at(tab, st, REFPB, b), due)
        issue(tab, st, ct, REFPB, b, NONE, NONE, t_ref, log, logn)
    st[sc + SC_NEXT_DUE] = due + tab[H_REFINT]
    st[sc + SC_REFCOUNT] += 1
    return True


@njit(cache=True)
def catch_up_refresh(tab, st, ct, start, log, logn):
    """Issue every refresh that falls due at or before `start` (the channel idled through it).

    Called at the start of each operator so a refresh due in the idle gap before it is issued at
    its due time (precharging first if rows are open), as the controller policy says, rather
    than being noticed by whichever command of the new program happens to check first."""
    issued = 0
    while _due(tab, st, start):
        refresh_if_due(tab, st, ct, start, log, logn)
        issued += 1
    return issued


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def serve_plain(tab, st, ct, cmd, bank, row, col, start, log, logn):
    """Issue a command that needs no row management (WRGB, RDMAC, explicit ACT/PRE/REF).
    A due refresh waits for the next row switch, unless this command opens or closes rows."""
    switch = tab[tab[H_O_EFFECT] + cmd] != 0
    while True:
        t = max(earliest(tab, st, cmd, bank), start)
        late = _due(tab, st, t) if switch else _overdue(tab, st, t)
        if not (late and refresh_if_due(tab, st, ct, t, log, logn)):
            return _issue_inline(tab, st, ct, cmd, bank, row, col, t, log, logn)


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def open_row(tab, st, ct, cmd, bank, row, start, log, logn):
    """Make the banks of column command `cmd` hold `row`: precharge if another row is open,
    then activate (all-bank variants for multi-bank commands), each at its earliest legal
    cycle, refreshing first when one falls due. An activation marks each bank it opens
    (SC_PENDING holds 2 bits per bank: 1 miss, 2 conflict) so the first access to that row is
    counted as such, even when the row is opened ahead of the access (`run_requests`
    prefetches activations)."""
    is_all = tab[tab[H_O_ISALL] + cmd] or tab[tab[H_O_TARGET] + cmd] == TARGET_UNIT
    act = ACT16 if is_all else ACT
    pre = PREA if is_all else PRE
    first, stop, step = _target_range(tab, cmd, bank)
    afirst, astop, astep = _target_range(tab, act, bank)
    conflicted = False
    spins = 0
    while True:
        hit = _holds_row(tab, st, first, stop, step, row)
        if hit:
            return
        c = pre if _any_open(tab, st, afirst, astop, astep) else act
        t = max(earliest_at(tab, st, c, bank), start)
        if _due(tab, st, t) and refresh_if_due(tab, st, ct, t, log, logn):
            spins += 1
            if spins > MAX_REFRESH_SPINS:  # refresh closes the row faster than it can be used
                st[tab[H_S_SC] + SC_STALLED] = 1
                return
            continue
        spins = 0
        issue(tab, st, ct, c, bank, row if c == act else NONE, NONE, t, log, logn)
        if c == pre:
            conflicted = True
        else:
            mark = 2 if conflicted else 1
            pending = st[tab[H_S_SC] + SC_PENDING]
            for b in range(afirst, astop, astep):
                if (pending >> (2 * b)) & 3 < mark:
                    pending = (pending & ~(3 << (2 * b))) | (mark << (2 * b))
            st[tab[H_S_SC] + SC_PENDING] = pending


@njit(inline="always")
def _take_pending(tab, st, cmd, bank):
    """The activation mark (0 hit, 1 miss, 2 conflict) the access `cmd` at `bank` consumes:
    the worst over the banks its activation covers, which are cleared."""
    pending = st[tab[H_S_SC] + SC_PENDING]
    if pending == 0:
        return 0
    is_all = tab[tab[H_O_ISALL] + cmd] or tab[tab[H_O_TARGET] + cmd] == TARGET_UNIT
    afirst, astop, astep = _target_range(tab, ACT16 if is_all else ACT, bank)
    worst = 0
    for b in range(afirst, astop, astep):
        mark = (pending >> (2 * b)) & 3
        if mark > worst:
            worst = mark
        pending &= ~(3 << (2 * b))
    st[tab[H_S_SC] + SC_PENDING] = pending
    return worst


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def serve_column(tab, st, ct, cmd, bank, row, col, close_after, start, log, logn):
    """Issue a column command, opening its row first if needed; returns its issue cycle."""
    spins = 0
    first, stop, step = _target_range(tab, cmd, bank)
    while True:
        hit = _holds_row(tab, st, first, stop, step, row)
        if not hit:
            open_row(tab, st, ct, cmd, bank, row, start, log, logn)
            if st[tab[H_S_SC] + SC_STALLED]:
                return start
        t = max(earliest(tab, st, cmd, bank), start)
        if _overdue(tab, st, t) and refresh_if_due(
            tab, st, ct, t, log, logn
        ):  # it closed the row: open it again
            spins += 1
            if spins > MAX_REFRESH_SPINS:
                st[tab[H_S_SC] + SC_STALLED] = 1
                return t
            continue
        t = _issue_inline(tab, st, ct, cmd, bank, row, col, t, log, logn)
        break
    pending = _take_pending(tab, st, cmd, bank)
    if pending == 0:
        ct[CT_HITS] += 1
    elif pending == 1:
        ct[CT_MISSES] += 1
    else:
        ct[CT_CONFLICTS] += 1
    if close_after and tab[H_CLOSED]:
        is_all = tab[tab[H_O_ISALL] + cmd] or tab[tab[H_O_TARGET] + cmd] == TARGET_UNIT
        act = ACT16 if is_all else ACT
        pre = PREA if is_all else PRE
        afirst, astop, astep = _target_range(tab, act, bank)
        while _any_open(tab, st, afirst, astop, astep):
            tp = max(earliest_at(tab, st, pre, bank), start)
            if not (_due(tab, st, tp) and refresh_if_due(tab, st, ct, tp, log, logn)):
                issue(tab, st, ct, pre, bank, NONE, NONE, tp, log, logn)
    return t


@njit(cache=True)
def burst(tab, st, ct, cmd, bank, row, count, start, log, logn):
    """Fast-forward up to `count` repetitions of `cmd` on the same banks (exact).

    Precondition: the previous program command was `cmd` on the same banks and, for column
    commands, every target bank holds `row`. The first repetition issues at the full earliest
    cycle t1 >= every other constraint, which stays fixed while only `cmd` issues; each further
    one therefore issues exactly `self_dist` later. Issuing the last one updates every timer to
    the value the whole run would leave (updates are maxima of t + d, the last t dominates).
    Stops before a refresh falls due; returns how many were issued (0: use the plain path).
    """
    period = tab[tab[H_O_SELF] + cmd]
    if period < 0 or count <= 0 or logn[0] < log.shape[0] or st[tab[H_S_SC] + SC_PENDING]:
        return 0
    if tab[H_MODESW]:  # a mode switch in front of the first repetition: the plain path
        mode = tab[tab[H_O_MODE] + cmd]
        if mode != 0 and mode != st[tab[H_S_SC] + SC_MODE]:
            return 0
    is_column = tab[tab[H_O_NEEDS] + cmd] == NEED_OPEN_ROW
    if is_column:
        first, stop, step = _target_range(tab, cmd, bank)
        for b in range(first, stop, step):
            if st[tab[H_S_ROW] + b] != row:
                return 0
    t1 = max(earliest(tab, st, cmd, bank), start)
    n = count
    if tab[H_REFMODE] != 0:
        # the plain path refreshes before a repetition at or after this cycle
        deadline = st[tab[H_S_SC] + SC_NEXT_DUE]
        if tab[tab[H_O_EFFECT] + cmd] == 0:
            deadline += tab[H_POSTPONE]
        if t1 >= deadline:
            return 0
        if period > 0:
            n = min(n, (deadline - 1 - t1) // period + 1)
    t_last = t1 + (n - 1) * period
    issue(tab, st, ct, cmd, bank, row, NONE, t_last, log, logn)
    ct[cmd] += n - 1
    if is_column:
        ct[CT_HITS] += n
    return n


@njit(cache=True)
def run_requests(tab, st, ct, reqs, row_base, start, log, logn):
    """Serve a request list (rows: cmd, bank, row, col, close_after) with the controller;
    `row_base` is added to every row (programs can be stored relative to a region). A column
    request with col < 0 only opens its row (an activation issued ahead of its accesses).

    An optional sixth column is each request's arrival cycle: none of its commands issues
    before max(start, arrival), and refreshes falling due while the channel waits for it are
    issued at their due times (`catch_up_refresh`)."""
    timed = reqs.shape[1] > 5
    for i in range(reqs.shape[0]):
        cmd, bank, row, col, close_after = (
            reqs[i, 0],
            reqs[i, 1],
            reqs[i, 2],
            reqs[i, 3],
            reqs[i, 4],
        )
        not_before = start
        if timed and reqs[i, 5] > start:
            not_before = reqs[i, 5]
            if not_before > st[tab[H_S_SC] + SC_FLOOR]:  # the channel idles until it arrives
                catch_up_refresh(tab, st, ct, not_before, log, logn)
        if row >= 0:
            row += row_base
        if tab[tab[H_O_NEEDS] + cmd] == NEED_OPEN_ROW:
            if col < 0:
                open_row(tab, st, ct, cmd, bank, row, not_before, log, logn)
            else:
                serve_column(tab, st, ct, cmd, bank, row, col, close_after, not_before, log, logn)
            if st[tab[H_S_SC] + SC_STALLED]:
                return -1
        else:
            serve_plain(tab, st, ct, cmd, bank, row, col, not_before, log, logn)
    return st[tab[H_S_SC] + SC_END]


@njit(cache=True)
def run_raw(tab, st, ct, cmds, out_cycles, log, logn):
    """Issue exactly the given commands (cmd, bank, row, col, not_before), no controller.

    Returns 0, or -(index + 1) * 4 - error for the first command whose bank state forbids it.
    """
    for i in range(cmds.shape[0]):
        cmd, bank, row, col, not_before = cmds[i, 0], cmds[i, 1], cmds[i, 2], cmds[i, 3], cmds[i, 4]
        first, stop, step = _target_range(tab, cmd, bank)
        needs = tab[tab[H_O_NEEDS] + cmd]
        for b in range(first, stop, step):
            open_row = st[tab[H_S_ROW] + b]
            if needs == NEED_CLOSED and open_row >= 0:
                return -(i + 1) * 4 - ERR_NEEDS_CLOSED
            if needs == NEED_OPEN_ROW and open_row != row:
                return -(i + 1) * 4 - ERR_NEEDS_ROW
        t = max(earliest(tab, st, cmd, bank), not_before)
        out_cycles[i] = issue(tab, st, ct, cmd, bank, row, col, t, log, logn)
    return 0


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def _distance(tab, prev, nxt):
    """The largest distance any rule puts from `prev` to `nxt` (any scope), or 0."""
    d = max(tab[tab[H_O_CHALL] + prev], 0)
    for k in range(tab[tab[H_O_CSR_START] + prev], tab[tab[H_O_CSR_START] + prev + 1]):
        if tab[tab[H_O_CSR_NEXT] + k] == nxt and tab[tab[H_O_CSR_DIST] + k] > d:
            d = tab[tab[H_O_CSR_DIST] + k]
    return d


@njit(_nrt=False)  # (no allocation: no reference counting per call)
def pull_in_refreshes(tab, st, ct, start, log, logn):
    """In the idle gap before an operator starting at `start`, issue refreshes ahead of their
    due times (JEDEC pull-in, at most `refresh_pull_in` ahead), each only if it (with the
    precharge it needs) completes by `start`, so the operator is never delayed by it."""
    mode = tab[H_REFMODE]
    limit = tab[H_PULLIN]
    if mode == 0 or limit <= 0:
        return 0
    sc = tab[H_S_SC]
    interval = tab[H_REFINT]
    ref = REFAB if mode == 1 else REFPB
    pre = PREA if mode == 1 else PRE
    issued = 0
    while True:
        b = 0 if mode == 1 else st[sc + SC_REFCOUNT] % tab[H_BANKS]
        if mode == 1:
            closing = _any_open(tab, st, BANK0, tab[H_BANKS], STEP1)
        else:
            closing = st[tab[H_S_ROW] + b] >= 0
        t = earliest_at(tab, st, ref, b)
        if closing:
            t = max(t, earliest_at(tab, st, pre, b) + _distance(tab, pre, ref))
        if t + tab[tab[H_O_COMPL] + ref] > start or st[sc + SC_NEXT_DUE] - t > limit * interval:
            return issued
        if closing:
            issue(tab, st, ct, pre, b, NONE, NONE, earliest_at(tab, st, pre, b), log, logn)
        issue(tab, st, ct, ref, b, NONE, NONE, earliest_at(tab, st, ref, b), log, logn)
        st[sc + SC_NEXT_DUE] += interval
        st[sc + SC_REFCOUNT] += 1
        issued += 1
