"""All-bank PIM GEMV programs: buffer fills, MAC segments, result reads, with fast-forwards.

`run_gemv` (one accumulator register per MAC unit) and `run_gemv_grouped` (output-stationary,
several registers) run a GEMV program on one channel; `gemv_program` picks the one a program
needs and shapes the output-tile completion cycles.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pimsim.dram.kernel.controller import burst, open_row, serve_column, serve_plain
from pimsim.dram.kernel.reuse import rows_before_refresh, shift_state, snapshot
from pimsim.dram.kernel.timing import BANK0, MAC16, NONE, RDMAC, WRGB
from pimsim.dram.tables import (
    H_ACT_FIRST,
    H_CLOSED,
    H_RESULT_BURSTS,
    H_S_SC,
    H_STATE_SIZE,
    H_UNIT,
    SC_END,
    SC_FLOOR,
    SC_REFCOUNT,
    SC_STALLED,
)


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
            done = burst(tab, st, ct, WRGB, BANK0, NONE, width - c, start, log, logn)
            if done:
                c += done
                continue
        serve_plain(tab, st, ct, WRGB, BANK0, NONE, c, start, log, logn)
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
            left = tab[H_RESULT_BURSTS] - r
            done = burst(tab, st, ct, RDMAC, BANK0, NONE, left, start, log, logn)
            if done:
                r += done
                continue
        serve_plain(tab, st, ct, RDMAC, BANK0, NONE, r, start, log, logn)
        r += 1


@njit(inline="always")
def _remember(tab, st, ct, current_row, seen, seen_at, seen_ct):
    """Keep what `_fast_forward` compares against at the start of a span (a DRAM row or a
    chunk of `run_gemv`): the canonical state relative to `current_row` (`snapshot`) into
    `seen`, the floor and the refresh count into `seen_at`, the counters into `seen_ct`."""
    snapshot(tab, st, current_row, seen)
    seen_at[0] = st[tab[H_S_SC] + SC_FLOOR]
    seen_at[1] = st[tab[H_S_SC] + SC_REFCOUNT]
    seen_ct[:] = ct


@njit(inline="always")
def _fast_forward(tab, st, ct, current_row, now, seen, seen_at, seen_ct, available, rows):
    """Skip repeats of the span since `_remember` (a DRAM row or a chunk); returns (spans
    skipped, period in cycles).

    If the channel is back in the remembered canonical state (relative to `current_row` now;
    the snapshot goes into `now`) with no refresh in between, each further span repeats the
    last one `period` cycles later with the same command counts (the timing recurrences are
    translation invariant): up to `available` of them, as many as end before the next refresh
    falls due, are done in one step, each moving the open rows `rows` rows further."""
    snapshot(tab, st, current_row, now)
    sc = tab[H_S_SC]
    if st[sc + SC_REFCOUNT] != seen_at[1] or not np.array_equal(now, seen):
        return 0, 0
    period = st[sc + SC_FLOOR] - seen_at[0]
    skip = rows_before_refresh(tab, st, period, available)
    if skip > 0:
        shift_state(tab, st, skip * period, skip * rows)
        for i in range(ct.shape[0]):
            ct[i] += skip * (ct[i] - seen_ct[i])
    return skip, period


@njit(cache=True)
def run_gemv(
    tab,
    st,
    ct,
    chunks,
    row_base,
    segments_per_unit,
    start,
    fast,
    tile_rows,
    tile_end,
    log,
    logn,
    vectors=1,
):
    """All-bank PIM GEMV on one channel, over `vectors` input vectors at once.

    Batched (`vectors` > 1): the global buffer holds every vector's chunk (`vectors` x width
    columns written), and each segment is MACed once per vector (its results read after each,
    one accumulator per unit), so an opened row serves every vector before it closes: MAC and
    RDMAC commands scale with `vectors`, activations do not.

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
    # what the row and the chunk fast-forwards compare against (`_remember`)
    snap_prev = np.zeros(tab[H_STATE_SIZE], dtype=np.int64)
    snap_now = np.zeros(tab[H_STATE_SIZE], dtype=np.int64)
    snap_at = np.zeros(2, dtype=np.int64)
    ct_prev = np.zeros(ct.shape[0], dtype=np.int64)
    chunk_prev = np.zeros(tab[H_STATE_SIZE], dtype=np.int64)
    chunk_now = np.zeros(tab[H_STATE_SIZE], dtype=np.int64)
    chunk_at = np.zeros(2, dtype=np.int64)
    chunk_ct = np.zeros(ct.shape[0], dtype=np.int64)
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
            if chunk_have and _same_shape(chunks, k - 1, k):
                # if chunk k - 1 took the channel from this very canonical state to here, every
                # further chunk of the same shape and row step repeats it `period` cycles later
                step = chunks[k, 2] - chunks[k - 1, 2]
                alike = 0
                while (
                    k + alike < n_chunks
                    and _same_shape(chunks, k - 1, k + alike)
                    and chunks[k + alike, 2] - chunks[k + alike - 1, 2] == step
                ):
                    alike += 1
                skip, period = _fast_forward(
                    tab, st, ct, first_row, chunk_now, chunk_prev, chunk_at, chunk_ct, alike, step
                )
                if skip > 0:
                    for i in range(skip):  # each skipped chunk's tiles: its predecessor's, later
                        for j in range(n_tiles):
                            tile_end[(k + i) * n_tiles + j] = (
                                tile_end[(k - 1) * n_tiles + j] + (i + 1) * period
                            )
                    k += skip
                    chunk_have = False
                    continue
            _remember(tab, st, ct, first_row, chunk_prev, chunk_at, chunk_ct)
            chunk_have = True
        chunk = k
        k += 1
        if segments_per_unit > 0 and tab[H_ACT_FIRST]:
            # activate the chunk's first row before filling the global buffer: the buffer
            # writes then overlap the activate-to-MAC delay (otherwise the first MAC16 opens
            # it, after the fill)
            open_row(tab, st, ct, MAC16, BANK0, first_row, start, log, logn)
            if st[tab[H_S_SC] + SC_STALLED]:
                return -1
        _fill_buffer(tab, st, ct, width * vectors, fast, start, log, logn)
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
                # if the row just finished left the same canonical state as the one before it,
                # every further full row repeats it exactly P cycles later, until refresh is due
                end_before = st[end_index]
                full_rows = (segments_per_unit - seg) // per_row
                skip, period = _fast_forward(
                    tab, st, ct, row - 1, snap_now, snap_prev, snap_at, ct_prev, full_rows, 1
                )
                if skip > 0:
                    if n_tiles:  # tile boundaries inside the skipped rows
                        done_rows = row - first_row
                        b = (done_rows // tile_rows + 1) * tile_rows
                        while b <= done_rows + skip and b // tile_rows <= n_tiles:
                            tile_end[chunk * n_tiles + b // tile_rows - 1] = (
                                end_before + (b - done_rows) * period
                            )
                            b += tile_rows
                    seg += skip * per_row
                    row += skip
                    have_prev = False
                    continue
            if fast and logn[0] >= log.shape[0]:
                _remember(tab, st, ct, row - 1, snap_prev, snap_at, ct_prev)
                have_prev = seg > 0
            last_seg_in_row = min(segments_per_unit, seg + per_row) - 1
            for s in range(slots):
                for parity in range(unit):
                    if seg >= segments_per_unit:
                        break
                    for v in range(vectors):  # (each vector's pass of the open row)
                        close = closed and seg == last_seg_in_row and v == vectors - 1
                        column = s * pitch
                        if not _mac_segment(
                            tab, st, ct, parity, row, column, width, close, fast, start, log, logn
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
    tab,
    st,
    ct,
    chunks,
    row_base,
    segments,
    group,
    start,
    fast,
    tile_rows,
    tiles,
    log,
    logn,
    vectors=1,
) -> tuple[int, np.ndarray | None]:
    """Run a GEMV program over `vectors` input vectors with the kernel its form needs
    (`group` > 0: output-stationary); returns (end cycle or a negative stall code, completion
    cycle of each output tile as a (chunks, tiles) array, or None without `tile_rows`). Tiles
    of an output-stationary GEMV are its segment groups (one row of the array).

    An output-stationary GEMV keeps its registers for one vector's outputs, so it serves a
    batch one vector after another (no row is shared between vectors)."""
    if group > 0:
        tile_end = np.zeros(tiles if tile_rows > 0 else 0, dtype=np.int64)
        end = 0
        for _ in range(vectors):
            end = run_gemv_grouped(
                tab, st, ct, chunks, row_base, segments, group, start, fast, tile_end, log, logn
            )
            if end < 0:
                break
        shape = (1, -1)
    else:
        tile_end = np.zeros(len(chunks) * tiles if tile_rows > 0 else 0, dtype=np.int64)
        end = run_gemv(
            tab,
            st,
            ct,
            chunks,
            row_base,
            segments,
            start,
            fast,
            tile_rows,
            tile_end,
            log,
            logn,
            vectors,
        )
        shape = (len(chunks), -1)
    return int(end), (tile_end.reshape(shape) if tile_rows > 0 else None)
