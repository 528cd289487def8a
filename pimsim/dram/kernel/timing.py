"""Issuing one command: the banks it targets, its earliest legal cycle, and its effects.

`earliest` is a handful of maxima over the per-command earliest cycles the state keeps (per
bank, bank group and channel, plus the tFAW-style rolling windows); `issue` raises those
earliest cycles by the rule table's distances, applies the command's effect on open rows,
counts it and appends it to the command log. With access modes (`pim.mode_switch`) a command
of the other mode is preceded by a TMOD.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pimsim.core.commands import (
    EFFECT_CLOSE,
    EFFECT_OPEN,
    TARGET_ALL,
    TARGET_BANK,
    TARGET_BANKGROUP,
    TARGET_UNIT,
    Cmd,
)
from pimsim.dram.tables import (
    H_BANKS,
    H_BPG,
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
    H_O_TARGET,
    H_O_WCOUNT,
    H_O_WD,
    H_O_WN,
    H_O_WNEXT,
    H_S_AB,
    H_S_AG,
    H_S_EB,
    H_S_EC,
    H_S_EG,
    H_S_ROW,
    H_S_SC,
    H_S_WH,
    H_S_WP,
    H_UNIT,
    H_WINMAX,
    SC_END,
    SC_FLOOR,
    SC_LAST,
    SC_MODE,
    SCOPE_BANK,
    SCOPE_CHANNEL,
)

# Constants handed to the non-inlined helpers are numpy int64, not Python ints: numba types a
# Python int constant as a literal and compiles the callee once per value and combination (94
# compiles in a cold run); an int64 global is one type, so each helper compiles once.
ACT, ACT16, PRE, PREA = (np.int64(c) for c in (Cmd.ACT, Cmd.ACT16, Cmd.PRE, Cmd.PREA))
MAC16, WRGB, RDMAC = (np.int64(c) for c in (Cmd.MAC16, Cmd.WRGB, Cmd.RDMAC))
REFAB, REFPB, TMOD = (np.int64(c) for c in (Cmd.REFab, Cmd.REFpb, Cmd.TMOD))
NONE = np.int64(-1)  # no row / no column
BANK0 = np.int64(0)  # bank 0 (channel-level commands), the first bank of a range
STEP1 = np.int64(1)  # a range of consecutive banks

# error codes returned (negative) by the raw kernel
ERR_NEEDS_CLOSED, ERR_NEEDS_ROW = 1, 2


@njit(_nrt=False)  # (no allocation: no reference counting per call)
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


def _earliest(tab, st, cmd, bank):
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


earliest = njit(inline="always")(_earliest)
# the same, called rather than inlined: for the cold paths (refresh, row opening), whose many
# inlined copies of it were a large part of the first compilation
earliest_at = njit(_nrt=False)(_earliest)


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
            t_mod = max(t, earliest(tab, st, TMOD, BANK0))
            _record(tab, st, ct, TMOD, BANK0, NONE, NONE, t_mod, log, logn)
            st[sc + SC_MODE] = mode
            t = max(t, earliest(tab, st, cmd, bank))
    _record(tab, st, ct, cmd, bank, row, col, t, log, logn)
    return t


issue = njit(_nrt=False)(_issue)

_issue_inline = njit(inline="always")(_issue)  # the hot column path only


@njit(_nrt=False)  # (no allocation: no reference counting per call)
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
