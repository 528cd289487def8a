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
  refreshes due while the channel idles (between operators: `catch_up_refresh`) are issued at
  their due times, not bunched at the next command, and up to `refresh_pull_in` refreshes are
  issued ahead of time in an idle gap when they complete before the next operator starts
  (`pull_in_refreshes`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pimsim.core.commands import (
    EFFECT_CLOSE,
    EFFECT_OPEN,
    NEED_CLOSED,
    NEED_OPEN_ROW,
    TARGET_ALL,
    TARGET_BANK,
    TARGET_BANKGROUP,
    TARGET_UNIT,
    Cmd,
)
from pimsim.dram.tables import (
    CT_CONFLICTS,
    CT_HITS,
    CT_MISSES,
    H_ACT_FIRST,
    H_BANKS,
    H_BPG,
    H_CLOSED,
    H_MODESW,
    H_NCMD,
    H_NWIN,
    H_O_CHALL,
    H_O_COMPL,
    H_O_CSR_DIST,
    H_O_CSR_NEXT,
    H_O_CSR_SCOPE,
    H_O_CSR_START,
    H_O_EFFECT,
    H_O_ISALL,
    H_O_MODE,
    H_O_NEEDS,
    H_O_SELF,
    H_O_TARGET,
    H_O_WCOUNT,
    H_O_WD,
    H_O_WN,
    H_O_WNEXT,
    H_POSTPONE,
    H_PULLIN,
    H_REFINT,
    H_REFMODE,
    H_RESULT_BURSTS,
    H_S_AB,
    H_S_AG,
    H_S_EB,
    H_S_EC,
    H_S_EG,
    H_S_ROW,
    H_S_SC,
    H_S_WH,
    H_S_WP,
    H_STATE_SIZE,
    H_UNIT,
    H_WINMAX,
    MAX_REFRESH_SPINS,
    SC_END,
    SC_FLOOR,
    SC_LAST,
    SC_MODE,
    SC_NEXT_DUE,
    SC_PENDING,
    SC_REFCOUNT,
    SC_STALLED,
    SCOPE_BANK,
    SCOPE_CHANNEL,
)

ACT, ACT16, PRE, PREA = int(Cmd.ACT), int(Cmd.ACT16), int(Cmd.PRE), int(Cmd.PREA)
MAC16, WRGB, RDMAC = int(Cmd.MAC16), int(Cmd.WRGB), int(Cmd.RDMAC)
REFAB, REFPB, TMOD = int(Cmd.REFab), int(Cmd.REFpb), int(Cmd.TMOD)

# error codes returned (negative) by the raw kernel
ERR_NEEDS_CLOSED, ERR_NEEDS_ROW = 1, 2


@njit
def _target_range(tab, cmd, bank):
    """Banks a command acts on, as (first, stop, step); stop == first for channel-level ones."""
    kind = tab[tab[H_O_TARGET] + cmd]
    if kind == TARGET_BANK:
        return bank, bank + 1, 1
    if kind == TARGET_BANKGROUP:
        first = (bank // tab[H_BPG]) * tab[H_BPG]
        return first, first + tab[H_BPG], 1
    if kind == TARGET_ALL:
        return 0, tab[H_BANKS], 1
    if kind == TARGET_UNIT:
        unit = tab[H_UNIT]
        return bank % unit, tab[H_BANKS], unit
    return 0, 0, 1


@njit(inline="always")
def earliest(tab, st, cmd, bank):
    """Earliest cycle at which `cmd` may issue at `bank` under every timing rule."""
    n_cmd = tab[H_NCMD]
    sc = tab[H_S_SC]
    t = max(st[sc + SC_FLOOR], st[tab[H_S_EC] + cmd])
    if tab[tab[H_O_ISALL] + cmd]:
        t = max(t, st[tab[H_S_AB] + cmd], st[tab[H_S_AG] + cmd])
    else:
        first, stop, step = _target_range(tab, cmd, bank)
        eb, eg, bpg = tab[H_S_EB], tab[H_S_EG], tab[H_BPG]
        for b in range(first, stop, step):
            t = max(t, st[eb + b * n_cmd + cmd], st[eg + (b // bpg) * n_cmd + cmd])
    n_win = tab[H_NWIN]
    for w in range(n_win):
        if tab[tab[H_O_WNEXT] + w * n_cmd + cmd]:
            oldest = st[tab[H_S_WH] + w * tab[H_WINMAX] + st[tab[H_S_WP] + w]]
            t = max(t, oldest + tab[tab[H_O_WD] + w])
    return t


@njit(inline="always")
def _record(tab, st, ct, cmd, bank, row, col, t, log, logn):
    """Issue `cmd` at cycle t: raise the earliest cycles it imposes, apply its effect."""
    n_cmd = tab[H_NCMD]
    sc = tab[H_S_SC]
    ch_all = tab[tab[H_O_CHALL] + cmd]
    if ch_all >= 0 and st[sc + SC_FLOOR] < t + ch_all:
        st[sc + SC_FLOOR] = t + ch_all
    first, stop, step = _target_range(tab, cmd, bank)
    eb, eg, ec, bpg = tab[H_S_EB], tab[H_S_EG], tab[H_S_EC], tab[H_BPG]
    ab, ag = tab[H_S_AB], tab[H_S_AG]
    o_scope, o_next, o_dist = tab[H_O_CSR_SCOPE], tab[H_O_CSR_NEXT], tab[H_O_CSR_DIST]
    for k in range(tab[tab[H_O_CSR_START] + cmd], tab[tab[H_O_CSR_START] + cmd + 1]):
        x = tab[o_next + k]
        v = t + tab[o_dist + k]
        scope = tab[o_scope + k]
        if scope == SCOPE_CHANNEL:
            if st[ec + x] < v:
                st[ec + x] = v
        elif scope == SCOPE_BANK:
            for b in range(first, stop, step):
                if st[eb + b * n_cmd + x] < v:
                    st[eb + b * n_cmd + x] = v
            if st[ab + x] < v:
                st[ab + x] = v
        else:
            for b in range(first, stop, step):
                if st[eg + (b // bpg) * n_cmd + x] < v:
                    st[eg + (b // bpg) * n_cmd + x] = v
            if st[ag + x] < v:
                st[ag + x] = v
    n_win = tab[H_NWIN]
    for w in range(n_win):
        for _ in range(tab[tab[H_O_WCOUNT] + w * n_cmd + cmd]):  # entries this command fills
            pos = st[tab[H_S_WP] + w]
            st[tab[H_S_WH] + w * tab[H_WINMAX] + pos] = t
            st[tab[H_S_WP] + w] = (pos + 1) % tab[tab[H_O_WN] + w]
    effect = tab[tab[H_O_EFFECT] + cmd]
    if effect == EFFECT_OPEN:
        for b in range(first, stop, step):
            st[tab[H_S_ROW] + b] = row
    elif effect == EFFECT_CLOSE:
        for b in range(first, stop, step):
            st[tab[H_S_ROW] + b] = -1
    ct[cmd] += 1
    st[sc + SC_LAST] = t
    done = t + tab[tab[H_O_COMPL] + cmd]
    if st[sc + SC_END] < done:
        st[sc + SC_END] = done
    n = logn[0]
    if n < log.shape[0]:
        log[n, 0] = t
        log[n, 1] = cmd
        log[n, 2] = bank
        log[n, 3] = row
        log[n, 4] = col
        logn[0] = n + 1


def _issue(tab, st, ct, cmd, bank, row, col, t, log, logn):
    """Issue `cmd` at cycle t (its earliest legal cycle, or later); returns the cycle it
    issued at. With access modes (`pim.mode_switch`) a command of the other mode is preceded
    by a TMOD at t, the cycle the command itself could have issued (as the AiM simulator's
    controller checks the pending command first); the command then issues at its earliest
    cycle after the TMOD."""
    if tab[H_MODESW]:
        mode = tab[tab[H_O_MODE] + cmd]
        sc = tab[H_S_SC]
        if mode != 0 and mode != st[sc + SC_MODE]:
            _record(tab, st, ct, TMOD, 0, -1, -1, max(t, earliest(tab, st, TMOD, 0)), log, logn)
            st[sc + SC_MODE] = mode
            t = max(t, earliest(tab, st, cmd, bank))
    _record(tab, st, ct, cmd, bank, row, col, t, log, logn)
    return t


issue = njit(_issue)

_issue_inline = njit(inline="always")(_issue)  # the hot column path only


@njit
def _any_open(tab, st, first, stop, step):
    for b in range(first, stop, step):  # noqa: SIM110 (an explicit loop compiles to tight code)
        if st[tab[H_S_ROW] + b] >= 0:
            return True
    return False


@njit(inline="always")
def _holds_row(tab, st, first, stop, step, row):
    """True when every bank of the range has `row` open (inlined into the hot paths)."""
    for b in range(first, stop, step):  # noqa: SIM110 (numba: an explicit loop, no generator)
        if st[tab[H_S_ROW] + b] != row:
            return False
    return True


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


@njit
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
        if _any_open(tab, st, 0, tab[H_BANKS], 1):
            issue(tab, st, ct, PREA, 0, -1, -1, max(earliest(tab, st, PREA, 0), due), log, logn)
        issue(tab, st, ct, REFAB, 0, -1, -1, max(earliest(tab, st, REFAB, 0), due), log, logn)
    else:
        b = st[sc + SC_REFCOUNT] % tab[H_BANKS]
        if st[tab[H_S_ROW] + b] >= 0:
            issue(tab, st, ct, PRE, b, -1, -1, max(earliest(tab, st, PRE, b), due), log, logn)
        issue(tab, st, ct, REFPB, b, -1, -1, max(earliest(tab, st, REFPB, b), due), log, logn)
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


@njit
def serve_plain(tab, st, ct, cmd, bank, row, col, start, log, logn):
    """Issue a command that needs no row management (WRGB, RDMAC, explicit ACT/PRE/REF).
    A due refresh waits for the next row switch, unless this command opens or closes rows."""
    switch = tab[tab[H_O_EFFECT] + cmd] != 0
    while True:
        t = max(earliest(tab, st, cmd, bank), start)
        late = _due(tab, st, t) if switch else _overdue(tab, st, t)
        if not (late and refresh_if_due(tab, st, ct, t, log, logn)):
            return _issue_inline(tab, st, ct, cmd, bank, row, col, t, log, logn)


@njit
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
        t = max(earliest(tab, st, c, bank), start)
        if _due(tab, st, t) and refresh_if_due(tab, st, ct, t, log, logn):
            spins += 1
            if spins > MAX_REFRESH_SPINS:  # refresh closes the row faster than it can be used
                st[tab[H_S_SC] + SC_STALLED] = 1
                return
            continue
        spins = 0
        issue(tab, st, ct, c, bank, row if c == act else -1, -1, t, log, logn)
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


@njit
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
            tp = max(earliest(tab, st, pre, bank), start)
            if not (_due(tab, st, tp) and refresh_if_due(tab, st, ct, tp, log, logn)):
                issue(tab, st, ct, pre, bank, -1, -1, tp, log, logn)
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
    issue(tab, st, ct, cmd, bank, row, -1, t_last, log, logn)
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


@njit
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


@njit
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


@njit
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


@njit
def shift_state(tab, st, cycles, rows):
    """Move the whole channel state `cycles` later and its open rows `rows` further."""
    _moved_times(tab, st, st, cycles)
    for b in range(tab[H_BANKS]):
        if st[tab[H_S_ROW] + b] >= 0:
            st[tab[H_S_ROW] + b] += rows


@njit(inline="always")
def _same_shape(chunks, a, b):
    """Chunks a and b have the same width, slots per row and slot pitch."""
    return (
        chunks[a, 0] == chunks[b, 0]
        and chunks[a, 1] == chunks[b, 1]
        and chunks[a, 3] == chunks[b, 3]
    )


@njit(inline="always")
def _fill_buffer(tab, st, ct, width, fast, start, log, logn):
    """Write `width` columns of the input vector into the global buffer (WRGB each)."""
    c = 0
    while c < width:
        if fast and c > 0:
            done = burst(tab, st, ct, WRGB, 0, -1, width - c, start, log, logn)
            if done:
                c += done
                continue
        serve_plain(tab, st, ct, WRGB, 0, -1, c, start, log, logn)
        c += 1


@njit(inline="always")
def _mac_segment(tab, st, ct, parity, row, column0, width, close, fast, start, log, logn):
    """`width` MAC16 commands of one segment (columns column0..), the last one closing the
    row when `close` (closed page); returns False if refresh stalled the channel."""
    c = 0
    while c < width:
        if fast and 0 < c < width - 1:
            done = burst(tab, st, ct, MAC16, parity, row, width - 1 - c, start, log, logn)
            if done:
                c += done
                continue
        last = close and c == width - 1
        serve_column(tab, st, ct, MAC16, parity, row, column0 + c, last, start, log, logn)
        if st[tab[H_S_SC] + SC_STALLED]:
            return False
        c += 1
    return True


@njit(inline="always")
def _read_results(tab, st, ct, fast, start, log, logn):
    """Read one segment step's results: RDMAC bursts (one per lane group without an adder
    tree)."""
    r = 0
    while r < tab[H_RESULT_BURSTS]:
        if fast and r > 0:
            done = burst(tab, st, ct, RDMAC, 0, -1, tab[H_RESULT_BURSTS] - r, start, log, logn)
            if done:
                r += done
                continue
        serve_plain(tab, st, ct, RDMAC, 0, -1, r, start, log, logn)
        r += 1


@njit(cache=True)
def run_gemv(
    tab, st, ct, chunks, row_base, segments_per_unit, start, fast, tile_rows, tile_end, log, logn
):
    """All-bank PIM GEMV on one channel.

    chunks: rows (width_columns, slots_per_row, first_row, slot_pitch_columns), rows relative
    to `row_base`. For each chunk:
    open its first row, write the chunk into the global buffer (one WRGB per column), then for
    every segment (one matrix
    row's slice, `width` columns, in lock step in every MAC unit) issue `width` MAC16 commands
    and read the unit results (RDMAC). Segments fill DRAM rows slot by slot, and each slot holds
    one segment per bank served by a unit (MAC16 parity 0 .. banks_per_unit-1).
    With `fast`, runs of identical commands are fast-forwarded by `burst`, and when a DRAM row
    leaves the same canonical state (`snapshot`) as the row before it, with no refresh in
    between, the following full rows are skipped in one step up to the next refresh (exact:
    the timing recurrences are translation invariant, so each row repeats the last one
    `period` cycles later with the same command counts). Whole chunks are skipped the same
    way: when a chunk starts in the canonical state (relative to its first row) the previous
    chunk of the same shape started in, and the chunks to come keep that shape and row step.

    Output tiles: with `tile_rows` > 0, `tile_end[k * n_tiles + j]` receives the cycle by
    which every command of tile j of chunk k (its DRAM rows j * tile_rows .. (j + 1) *
    tile_rows - 1, result reads included) has completed, n_tiles = len(tile_end) // chunks;
    tiles past the channel's last row get the chunk's end. The ASIC can accumulate a tile's
    partial sums from then on. Skipped rows and chunks fill in their tiles exactly (each
    repeats its predecessor `period` cycles later).
    """
    unit = tab[H_UNIT]
    end_index = tab[H_S_SC] + SC_END
    n_tiles = tile_end.shape[0] // max(chunks.shape[0], 1) if tile_rows > 0 else 0
    closed = tab[H_CLOSED]
    snap_prev = np.zeros(tab[H_STATE_SIZE], dtype=np.int64)
    snap_now = np.zeros(tab[H_STATE_SIZE], dtype=np.int64)
    ct_prev = np.zeros(ct.shape[0], dtype=np.int64)
    floor_prev = 0
    refreshes_prev = 0
    chunk_prev = np.zeros(tab[H_STATE_SIZE], dtype=np.int64)
    chunk_now = np.zeros(tab[H_STATE_SIZE], dtype=np.int64)
    chunk_ct = np.zeros(ct.shape[0], dtype=np.int64)
    chunk_floor = 0
    chunk_refreshes = 0
    chunk_have = False
    n_chunks = chunks.shape[0]
    k = 0
    while k < n_chunks:
        width, slots, pitch = chunks[k, 0], chunks[k, 1], chunks[k, 3]
        first_row = chunks[k, 2] + row_base
        # (a canonical state is relative to the floor: it only predicts the future once no
        # command can be held back by `start` any more, i.e. once the floor has reached it)
        if (
            fast
            and segments_per_unit > 0
            and logn[0] >= log.shape[0]
            and st[tab[H_S_SC] + SC_FLOOR] >= start
        ):
            snapshot(tab, st, first_row, chunk_now)
            if (
                chunk_have
                and _same_shape(chunks, k - 1, k)
                and st[tab[H_S_SC] + SC_REFCOUNT] == chunk_refreshes
                and np.array_equal(chunk_now, chunk_prev)
            ):
                # chunk k - 1 took the channel from this very canonical state to here: every
                # further chunk of the same shape and row step repeats it `period` cycles later
                step = chunks[k, 2] - chunks[k - 1, 2]
                period = st[tab[H_S_SC] + SC_FLOOR] - chunk_floor
                alike = 0
                while (
                    k + alike < n_chunks
                    and _same_shape(chunks, k - 1, k + alike)
                    and chunks[k + alike, 2] - chunks[k + alike - 1, 2] == step
                ):
                    alike += 1
                skip = rows_before_refresh(tab, st, period, alike)
                if skip > 0:
                    shift_state(tab, st, skip * period, skip * step)
                    for i in range(ct.shape[0]):
                        ct[i] += skip * (ct[i] - chunk_ct[i])
                    for i in range(skip):  # each skipped chunk's tiles: its predecessor's, later
                        for j in range(n_tiles):
                            tile_end[(k + i) * n_tiles + j] = (
                                tile_end[(k - 1) * n_tiles + j] + (i + 1) * period
                            )
                    k += skip
                    chunk_have = False
                    continue
            chunk_prev[:] = chunk_now
            chunk_floor = st[tab[H_S_SC] + SC_FLOOR]
            chunk_refreshes = st[tab[H_S_SC] + SC_REFCOUNT]
            chunk_ct[:] = ct
            chunk_have = True
        chunk = k
        k += 1
        if segments_per_unit > 0 and tab[H_ACT_FIRST]:
            # activate the chunk's first row before filling the global buffer: the buffer
            # writes then overlap the activate-to-MAC delay (otherwise the first MAC16 opens
            # it, after the fill)
            open_row(tab, st, ct, MAC16, 0, first_row, start, log, logn)
            if st[tab[H_S_SC] + SC_STALLED]:
                return -1
        _fill_buffer(tab, st, ct, width, fast, start, log, logn)
        per_row = slots * unit
        seg = 0
        row = first_row
        have_prev = False
        while seg < segments_per_unit:
            if (
                fast
                and have_prev
                and seg + per_row <= segments_per_unit
                and logn[0] >= log.shape[0]
            ):
                # the row just finished left the same canonical state as the one before it:
                # every further full row repeats it exactly P cycles later, until refresh is due
                snapshot(tab, st, row - 1, snap_now)
                same_refreshes = st[tab[H_S_SC] + SC_REFCOUNT] == refreshes_prev
                if same_refreshes and np.array_equal(snap_now, snap_prev):
                    period = st[tab[H_S_SC] + SC_FLOOR] - floor_prev
                    full_rows = (segments_per_unit - seg) // per_row
                    skip = rows_before_refresh(tab, st, period, full_rows)
                    if skip > 0:
                        if n_tiles:  # tile boundaries inside the skipped rows
                            done_rows, end_before = row - first_row, st[end_index]
                            b = (done_rows // tile_rows + 1) * tile_rows
                            while b <= done_rows + skip and b // tile_rows <= n_tiles:
                                tile_end[chunk * n_tiles + b // tile_rows - 1] = (
                                    end_before + (b - done_rows) * period
                                )
                                b += tile_rows
                        shift_state(tab, st, skip * period, skip)
                        for i in range(ct.shape[0]):
                            ct[i] += skip * (ct[i] - ct_prev[i])
                        seg += skip * per_row
                        row += skip
                        have_prev = False
                        continue
            if fast and logn[0] >= log.shape[0]:
                snapshot(tab, st, row - 1, snap_prev)
                floor_prev = st[tab[H_S_SC] + SC_FLOOR]
                refreshes_prev = st[tab[H_S_SC] + SC_REFCOUNT]
                ct_prev[:] = ct
                have_prev = seg > 0
            last_seg_in_row = min(segments_per_unit, seg + per_row) - 1
            for s in range(slots):
                for parity in range(unit):
                    if seg >= segments_per_unit:
                        break
                    close = closed and seg == last_seg_in_row
                    if not _mac_segment(
                        tab, st, ct, parity, row, s * pitch, width, close, fast, start, log, logn
                    ):
                        return -1
                    _read_results(tab, st, ct, fast, start, log, logn)
                    seg += 1
            row += 1
            if n_tiles and (row - first_row) % tile_rows == 0:
                j = (row - first_row) // tile_rows - 1
                if j < n_tiles:
                    tile_end[chunk * n_tiles + j] = st[end_index]
        if n_tiles:  # the last, partial tile and tiles this channel has no rows for
            for j in range((row - first_row) // tile_rows, n_tiles):
                tile_end[chunk * n_tiles + j] = st[end_index]
    return st[tab[H_S_SC] + SC_END]


@njit(cache=True)
def run_gemv_grouped(
    tab, st, ct, chunks, row_base, segments_per_unit, group, start, fast, tile_end, log, logn
):
    """All-bank PIM GEMV with `group` accumulator registers per MAC unit (output-stationary,
    as Samsung's HBM-PIM kernel keeps 8 GRF_B registers): for each group of `group` segments,
    every input chunk in turn is written into the global buffer and MACed into the group's
    registers, and the group's results are read (RDMAC) once, after its last chunk.

    Chunks must all feed the same outputs (a weight matrix cut along its input). Segment s of
    a chunk lives where `run_gemv` puts it (row s // per_row of the chunk, slot and bank parity
    from the rest). The buffer is rewritten for every (group, chunk) visit, except that a
    single chunk stays in it. `tile_end[g]` (if sized) receives the cycle by which group g's
    results are out. With `fast`, runs of identical commands are fast-forwarded (`burst`).
    """
    unit = tab[H_UNIT]
    closed = tab[H_CLOSED]
    end_index = tab[H_S_SC] + SC_END
    n_chunks = chunks.shape[0]
    groups = (segments_per_unit + group - 1) // group
    for g in range(groups):
        seg0 = g * group
        seg1 = min(segments_per_unit, seg0 + group)
        for k in range(n_chunks):
            width, slots, pitch = chunks[k, 0], chunks[k, 1], chunks[k, 3]
            first_row = chunks[k, 2] + row_base
            per_row = slots * unit
            if tab[H_ACT_FIRST]:
                open_row(
                    tab, st, ct, MAC16, seg0 % unit, first_row + seg0 // per_row, start, log, logn
                )
                if st[tab[H_S_SC] + SC_STALLED]:
                    return -1
            if g == 0 or n_chunks > 1:  # (one chunk stays in the buffer for every group)
                _fill_buffer(tab, st, ct, width, fast, start, log, logn)
            for seg in range(seg0, seg1):
                row = first_row + seg // per_row
                rest = seg % per_row
                slot, parity = rest // unit, rest % unit
                last_in_row = seg == seg1 - 1 or (seg + 1) // per_row != seg // per_row
                close = closed and last_in_row
                if not _mac_segment(
                    tab, st, ct, parity, row, slot * pitch, width, close, fast, start, log, logn
                ):
                    return -1
        for _seg in range(seg0, seg1):  # the group's results, once all chunks are in
            _read_results(tab, st, ct, fast, start, log, logn)
        if g < tile_end.shape[0]:
            tile_end[g] = st[end_index]
    return st[tab[H_S_SC] + SC_END]


def gemv_program(
    tab, st, ct, chunks, row_base, segments, group, start, fast, tile_rows, tiles, log, logn
) -> tuple[int, np.ndarray | None]:
    """Run a GEMV program with the kernel its form needs (`group` > 0: output-stationary);
    returns (end cycle or a negative stall code, completion cycle of each output tile as a
    (chunks, tiles) array, or None without `tile_rows`). Tiles of an output-stationary GEMV
    are its segment groups (one row of the array)."""
    if group > 0:
        tile_end = np.zeros(tiles if tile_rows > 0 else 0, dtype=np.int64)
        end = run_gemv_grouped(
            tab, st, ct, chunks, row_base, segments, group, start, fast, tile_end, log, logn
        )
        shape = (1, -1)
    else:
        tile_end = np.zeros(len(chunks) * tiles if tile_rows > 0 else 0, dtype=np.int64)
        end = run_gemv(
            tab, st, ct, chunks, row_base, segments, start, fast, tile_rows, tile_end, log, logn
        )
        shape = (len(chunks), -1)
    return int(end), (tile_end.reshape(shape) if tile_rows > 0 else None)


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


@njit
def _distance(tab, prev, nxt):
    """The largest distance any rule puts from `prev` to `nxt` (any scope), or 0."""
    d = max(tab[tab[H_O_CHALL] + prev], 0)
    for k in range(tab[tab[H_O_CSR_START] + prev], tab[tab[H_O_CSR_START] + prev + 1]):
        if tab[tab[H_O_CSR_NEXT] + k] == nxt and tab[tab[H_O_CSR_DIST] + k] > d:
            d = tab[tab[H_O_CSR_DIST] + k]
    return d


@njit
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
        closing = _any_open(tab, st, 0, tab[H_BANKS], 1) if mode == 1 else st[tab[H_S_ROW] + b] >= 0
        t = earliest(tab, st, ref, b)
        if closing:
            t = max(t, earliest(tab, st, pre, b) + _distance(tab, pre, ref))
        if t + tab[tab[H_O_COMPL] + ref] > start or st[sc + SC_NEXT_DUE] - t > limit * interval:
            return issued
        if closing:
            issue(tab, st, ct, pre, b, -1, -1, earliest(tab, st, pre, b), log, logn)
        issue(tab, st, ct, ref, b, -1, -1, earliest(tab, st, ref, b), log, logn)
        st[sc + SC_NEXT_DUE] += interval
        st[sc + SC_REFCOUNT] += 1
        issued += 1


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
