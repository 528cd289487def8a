"""Compile a resolved DRAM config into the flat int64 table the numba kernel indexes.

The kernel never branches on a command's name: everything it knows about the command set (who
waits for whom, which banks a command touches, what it needs and does) is in this table.

Rules are kept in the "earliest next issue" form: when command P issues at cycle t, every rule
(scope, P, X, d) raises the earliest cycle of X in P's scope instances to t + d. Two exact
compressions keep the hot path short:

- a channel-scope distance that P imposes on *every* command becomes one scalar floor;
- a command that targets every bank of the channel (ACT16, PREA, REFab, MAC16 with one MAC unit
  per bank) imposes its bank- and bank-group-scope rules on every bank, so those rules are stored
  at channel scope (for the commands that target banks at all).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import (
    ACCESS_MODE,
    COMMANDS,
    MODE_BANK,
    N_CMDS,
    TARGET_ALL,
    TARGET_NONE,
    TARGET_UNIT,
    Cmd,
    completion_cycles,
)

NEVER = -(1 << 40)  # "no constraint yet": far enough in the past for every timing distance

SCOPE_BANK, SCOPE_BANKGROUP, SCOPE_CHANNEL = 0, 1, 2
_SCOPE_INDEX = {"bank": SCOPE_BANK, "bankgroup": SCOPE_BANKGROUP, "channel": SCOPE_CHANNEL}

# --- table header (indices into the int64 table) ---
H_NCMD, H_BANKS, H_GROUPS, H_BPG, H_UNIT, H_NWIN, H_WINMAX = 0, 1, 2, 3, 4, 5, 6
H_REFMODE, H_REFI, H_REFINT, H_CLOSED, H_STATE_SIZE = 7, 8, 9, 10, 11
H_O_CSR_START, H_O_CSR_SCOPE, H_O_CSR_NEXT, H_O_CSR_DIST = 12, 13, 14, 15
H_O_CHALL, H_O_TARGET, H_O_NEEDS, H_O_EFFECT, H_O_ISCOL, H_O_COMPL, H_O_ISALL = (
    16,
    17,
    18,
    19,
    20,
    21,
    22,
)
H_O_WCOUNT, H_O_WNEXT, H_O_WN, H_O_WD = 23, 24, 25, 26
# state layout offsets (stored in the table too)
H_S_EB, H_S_EG, H_S_EC, H_S_AB, H_S_AG, H_S_ROW, H_S_WH, H_S_WP, H_S_SC = (
    27,
    28,
    29,
    30,
    31,
    32,
    33,
    34,
    35,
)
H_ROWS, H_COLUMNS = 36, 37
H_O_SELF = 38
H_POSTPONE = 39  # cycles a due refresh may wait for the current row's stream to end
H_PULLIN = 40  # refreshes that may be issued ahead of their due times in idle gaps
H_RESULT_BURSTS = 41  # RDMAC bursts that read the results of one GEMV segment step
H_MODESW = 42  # 1: commands need their access mode (TMOD switches it; pim.mode_switch)
H_O_MODE = 43  # per command: MODE_ANY / MODE_BANK / MODE_REGISTER
H_ACT_FIRST = 44  # 1: a GEMV chunk's first row is opened before its buffer fill
HEADER_SIZE = 45

# scalar slots of the state (at offset H_S_SC)
SC_FLOOR, SC_NEXT_DUE, SC_REFCOUNT, SC_LAST, SC_END, SC_STALLED, SC_PENDING = 0, 1, 2, 3, 4, 5, 6
# SC_PENDING: 2 bits per bank, an activation (1 miss, 2 conflict) awaiting its first access
SC_MODE = 7  # the channel's access mode (MODE_BANK / MODE_REGISTER) with pim.mode_switch
N_SCALARS = 8
# a command that waits behind this many refreshes in a row can never issue (refresh livelock)
MAX_REFRESH_SPINS = 256

REFRESH_CODES = {"none": 0, "all_bank": 1, "per_bank": 2}

# counters layout: per-command counts, then row statistics
CT_HITS, CT_MISSES, CT_CONFLICTS = N_CMDS, N_CMDS + 1, N_CMDS + 2
N_COUNTERS = N_CMDS + 3


@dataclass(frozen=True)
class CompiledTiming:
    """The kernel's view of one channel type: a flat table plus the initial state."""

    table: np.ndarray
    initial_state: np.ndarray
    dist: np.ndarray  # [scope, prev, next] max distance, -1 = no rule (for tests and docs)

    def new_state(self) -> np.ndarray:
        return self.initial_state.copy()


def result_bursts(hw: HardwareConfig) -> int:
    """Column bursts (RDMAC) that read every MAC unit's result of one segment step: one value
    per unit with an adder tree (AiM), one per lane without one (HBM-PIM's lane-wise SIMD)."""
    pim, org = hw.pim, hw.dram.organization
    units = org.banks // pim.banks_per_mac_unit
    values = units * (1 if pim.adder_tree else pim.mac_lanes)
    return max(1, -(-values * pim.dtype_bytes // org.access_bytes))


def _distance_matrix(hw: HardwareConfig) -> tuple[np.ndarray, list]:
    dist = np.full((3, N_CMDS, N_CMDS), -1, dtype=np.int64)
    windows = []
    for rule in hw.dram.rules:
        prev = [int(Cmd[name]) for name in rule.prev]
        nxt = [int(Cmd[name]) for name in rule.next]
        if rule.window:
            weights = [rule.weight(name) for name in rule.prev]
            windows.append((prev, nxt, rule.window, rule.distance_cycles, weights))
            continue
        scope = _SCOPE_INDEX[rule.scope]
        for p in prev:
            for x in nxt:
                no_banks = (
                    COMMANDS[Cmd(p)].target == TARGET_NONE or COMMANDS[Cmd(x)].target == TARGET_NONE
                )
                if scope != SCOPE_CHANNEL and no_banks:
                    continue  # a channel-level command shares no bank: the rule never applies
                dist[scope, p, x] = max(dist[scope, p, x], rule.distance_cycles)
    return dist, windows


def _is_all(target: np.ndarray, unit: int) -> np.ndarray:
    """1 for the commands that target every bank of the channel (exact rule promotion)."""
    return np.array(
        [t == TARGET_ALL or (t == TARGET_UNIT and unit == 1) for t in target], dtype=np.int64
    )


def _row_entries(
    dist: np.ndarray, p: int, floor: int, target: np.ndarray, is_all: np.ndarray
) -> list[tuple[int, int, int]]:
    """(scope, next, distance) rules command `p` imposes above its channel floor."""
    row = dist[SCOPE_CHANNEL, p]
    entries = []
    for x in range(N_CMDS):
        d_ch = row[x]
        d_bank, d_bg = dist[SCOPE_BANK, p, x], dist[SCOPE_BANKGROUP, p, x]
        if is_all[p] and target[x] != TARGET_NONE:
            d_ch = max(d_ch, d_bank, d_bg)  # every bank is in scope: exact promotion
            d_bank = d_bg = -1
        if d_ch >= 0 and d_ch > floor:
            entries.append((SCOPE_CHANNEL, x, d_ch))
        if d_bank >= 0:
            entries.append((SCOPE_BANK, x, d_bank))
        if d_bg >= 0:
            entries.append((SCOPE_BANKGROUP, x, d_bg))
    return entries


def _rule_csr(dist: np.ndarray, target: np.ndarray, is_all: np.ndarray) -> tuple:
    """(ch_all, csr_start, csr_scope, csr_next, csr_dist): the channel floors and the
    remaining rules of every command in compressed-row form."""
    ch_all = np.full(N_CMDS, -1, dtype=np.int64)
    csr_start, csr_scope, csr_next, csr_dist = [0], [], [], []
    for p in range(N_CMDS):
        row = dist[SCOPE_CHANNEL, p]
        if (row >= 0).all():
            ch_all[p] = row.min()
        for scope, x, d in _row_entries(dist, p, ch_all[p], target, is_all):
            csr_scope.append(scope)
            csr_next.append(x)
            csr_dist.append(d)
        csr_start.append(len(csr_scope))
    return ch_all, csr_start, csr_scope, csr_next, csr_dist


def _self_distance(ch_all: np.ndarray, csr_start, csr_next, csr_dist, windows) -> np.ndarray:
    """Period of a burst of one command repeated on the same banks (fast-forward); -1 where a
    rolling window involves the command, so bursts of it are not fast-forwarded."""
    self_dist = np.maximum(ch_all, 0)
    for p in range(N_CMDS):
        for k in range(csr_start[p], csr_start[p + 1]):
            if csr_next[k] == p:
                self_dist[p] = max(self_dist[p], csr_dist[k])
    for prev, nxt, *_ in windows:
        for c in set(prev) | set(nxt):
            self_dist[c] = -1
    return self_dist


def _window_arrays(
    windows: list,
) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(n_win, win_max, wcount, wnext, wn, wd) for the rolling-window rules."""
    n_win = len(windows)
    win_max = max((w[2] for w in windows), default=1)
    wcount = np.zeros((max(n_win, 1), N_CMDS), dtype=np.int64)
    wnext = np.zeros((max(n_win, 1), N_CMDS), dtype=np.int64)
    wn = np.zeros(max(n_win, 1), dtype=np.int64)
    wd = np.zeros(max(n_win, 1), dtype=np.int64)
    for i, (prev, nxt, n, d, weights) in enumerate(windows):
        wcount[i, prev] = weights  # window entries each prev command fills
        wnext[i, nxt] = 1
        wn[i], wd[i] = n, d
    return n_win, win_max, wcount, wnext, wn, wd


def _refresh_timing(hw: HardwareConfig) -> tuple[int, int, int]:
    """(refresh mode code, nREFI, cycles between the refreshes the controller issues)."""
    n_banks = hw.dram.organization.banks
    refresh = REFRESH_CODES[hw.dram.refresh]
    n_refi = int(hw.dram.timing_cycles.get("nREFI", 0))
    ref_interval = n_refi if refresh == 1 else (n_refi // n_banks if refresh == 2 else 0)
    return refresh, n_refi, ref_interval


# header slot of each table section's offset, in table order
_OFFSET_SLOTS = (
    H_O_CSR_START,
    H_O_CSR_SCOPE,
    H_O_CSR_NEXT,
    H_O_CSR_DIST,
    H_O_CHALL,
    H_O_TARGET,
    H_O_NEEDS,
    H_O_EFFECT,
    H_O_ISCOL,
    H_O_COMPL,
    H_O_ISALL,
    H_O_WCOUNT,
    H_O_WNEXT,
    H_O_WN,
    H_O_WD,
    H_O_SELF,
    H_O_MODE,
)


def _command_sections(hw: HardwareConfig, dist: np.ndarray, windows: list) -> tuple[list, tuple]:
    """The table's per-command sections (in `_OFFSET_SLOTS` order) and the window sizes
    (n_win, win_max)."""
    unit = hw.pim.banks_per_mac_unit
    target = np.array([COMMANDS[c].target for c in Cmd], dtype=np.int64)
    is_all = _is_all(target, unit)
    ch_all, csr_start, csr_scope, csr_next, csr_dist = _rule_csr(dist, target, is_all)
    self_dist = _self_distance(ch_all, csr_start, csr_next, csr_dist, windows)
    n_win, win_max, wcount, wnext, wn, wd = _window_arrays(windows)
    timing = hw.dram.timing_cycles
    completion = np.array([completion_cycles(c, timing) for c in Cmd], dtype=np.int64)
    sections = [
        np.array(csr_start, dtype=np.int64),
        np.array(csr_scope, dtype=np.int64),
        np.array(csr_next, dtype=np.int64),
        np.array(csr_dist, dtype=np.int64),
        ch_all,
        target,
        np.array([COMMANDS[c].needs for c in Cmd], dtype=np.int64),
        np.array([COMMANDS[c].effect for c in Cmd], dtype=np.int64),
        np.array([COMMANDS[c].is_column for c in Cmd], dtype=np.int64),
        completion,
        is_all,
        wcount.ravel(),
        wnext.ravel(),
        wn,
        wd,
        self_dist,
        np.array([ACCESS_MODE[c] for c in Cmd], dtype=np.int64),
    ]
    return sections, (n_win, win_max)


def _place_sections(header: np.ndarray, sections: list[np.ndarray]) -> list[np.ndarray]:
    """Record each section's offset in the header; the table's parts, header first."""
    parts, pos = [header], HEADER_SIZE
    for slot, array in zip(_OFFSET_SLOTS, sections, strict=True):
        header[slot] = pos
        parts.append(array)
        pos += len(array)
    return parts


def _place_state(header: np.ndarray, n_banks: int, n_groups: int, n_win: int, win_max: int) -> int:
    """Record the state layout's offsets in the header; returns the state size."""
    state_sections = [
        (H_S_EB, n_banks * N_CMDS),
        (H_S_EG, n_groups * N_CMDS),
        (H_S_EC, N_CMDS),
        (H_S_AB, N_CMDS),
        (H_S_AG, N_CMDS),
        (H_S_ROW, n_banks),
        (H_S_WH, max(n_win, 1) * win_max),
        (H_S_WP, max(n_win, 1)),
        (H_S_SC, N_SCALARS),
    ]
    spos = 0
    for slot, size in state_sections:
        header[slot] = spos
        spos += size
    return spos


def _fill_header(header: np.ndarray, hw: HardwareConfig, n_win: int, win_max: int) -> None:
    """The scalar header slots: sizes, refresh and controller settings."""
    org = hw.dram.organization
    refresh, n_refi, ref_interval = _refresh_timing(hw)
    header[H_NCMD], header[H_BANKS], header[H_GROUPS], header[H_BPG] = (
        N_CMDS,
        org.banks,
        org.bank_groups,
        org.banks_per_group,
    )
    header[H_UNIT], header[H_NWIN], header[H_WINMAX] = hw.pim.banks_per_mac_unit, n_win, win_max
    header[H_REFMODE], header[H_REFI], header[H_REFINT] = refresh, n_refi, ref_interval
    header[H_CLOSED] = 1 if hw.dram.page_policy == "closed" else 0
    header[H_POSTPONE] = hw.dram.refresh_postpone * ref_interval
    header[H_PULLIN] = hw.dram.refresh_pull_in if refresh else 0
    header[H_RESULT_BURSTS] = result_bursts(hw)
    header[H_MODESW] = 1 if hw.pim.mode_switch else 0
    header[H_ACT_FIRST] = 1 if hw.pim.activate_before_buffer_fill else 0
    header[H_ROWS], header[H_COLUMNS] = org.rows, org.columns


def _initial_state(header: np.ndarray, hw: HardwareConfig) -> np.ndarray:
    """A channel's state before its first command (layout from the header)."""
    n_banks, n_win = int(header[H_BANKS]), int(header[H_NWIN])
    refresh, _, ref_interval = _refresh_timing(hw)
    state = np.full(header[H_STATE_SIZE], NEVER, dtype=np.int64)
    state[header[H_S_ROW] : header[H_S_ROW] + n_banks] = -1
    state[header[H_S_WP] : header[H_S_WP] + max(n_win, 1)] = 0
    sc = header[H_S_SC]
    state[sc + SC_FLOOR] = 0
    state[sc + SC_NEXT_DUE] = ref_interval if refresh else (1 << 62)
    state[sc + SC_REFCOUNT] = 0
    state[sc + SC_LAST] = -1
    state[sc + SC_END] = 0
    state[sc + SC_STALLED] = 0
    state[sc + SC_PENDING] = 0
    state[sc + SC_MODE] = MODE_BANK  # (the AiM simulator's channels start in bank mode)
    return state


def compile_timing(hw: HardwareConfig) -> CompiledTiming:
    """Build the kernel table and initial channel state for a hardware description."""
    org = hw.dram.organization
    dist, windows = _distance_matrix(hw)
    sections, (n_win, win_max) = _command_sections(hw, dist, windows)
    header = np.zeros(HEADER_SIZE, dtype=np.int64)
    parts = _place_sections(header, sections)
    header[H_STATE_SIZE] = _place_state(header, org.banks, org.bank_groups, n_win, win_max)
    _fill_header(header, hw, n_win, win_max)
    table = np.concatenate(parts)
    state = _initial_state(header, hw)
    return CompiledTiming(table=table, initial_state=state, dist=dist)
