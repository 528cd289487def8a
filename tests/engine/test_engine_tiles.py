"""Output tiles and output-stationary GEMVs: fast == exact, and tile ends from the log.

`kernel.run_gemv` reports, per chunk and output tile (a few DRAM rows of every MAC unit), the
cycle by which that tile's commands have completed; the fast paths (bursts, skipped rows,
skipped chunks) fill those in without issuing the commands. They must equal the command-by-
command values, and both must equal what the command log says: the latest completion of any
command issued up to the tile's last result read. `kernel.run_gemv_grouped` (several
accumulators per unit) reads each group's results once, after its last chunk.
"""

from __future__ import annotations

import numpy as np
import pytest

from pimsim.config import load_hw
from pimsim.dram import kernel
from pimsim.dram.channel import ChannelModel, log_frame
from pimsim.dram.checker import check_log
from pimsim.dram.protocol import check_protocol

VARIANTS = [
    ("gddr6_aim", []),
    ("gddr6_aim", ["dram.timing.nREFI=500"]),
    ("gddr6_aim", ["dram.page_policy=closed"]),
    ("hbm_pim", []),
    ("hbm_pim", ["dram.refresh=per_bank"]),
]


def _completion(hw) -> dict[str, int]:
    """Cycles from issue until a command's effect is complete (data out or refresh done)."""
    t = hw.dram.t
    return {
        "RD": t("nCL") + t("nBL"),
        "RDMAC": t("nCLREG") + t("nBL"),
        "WR": t("nCWL") + t("nBL"),
        "WRGB": t("nCWLGB") + t("nBL"),
        "REFab": t("nRFC"),
        "REFpb": t("nRFCpb"),
    }


def _chunks(rng, hw, n_chunks):
    cols = hw.dram.organization.columns
    rows, row = [], 0
    for _ in range(n_chunks):
        width = int(rng.choice([w for w in (4, 8, 16, 32, 64) if w <= cols]))
        slots = cols // width
        rows.append((width, slots, row, width))
        row += 30
    return np.array(rows, dtype=np.int64)


def _tile_ends_from_log(hw, log, chunks, segments, tile_rows, tiles):
    """Independent tile ends: walk the log, find each tile's last result read."""
    done = _completion(hw)
    unit = hw.pim.banks_per_mac_unit
    ends = np.zeros((len(chunks), tiles), dtype=np.int64)
    latest = 0
    # the log is in program order: the result reads of chunk k, row r follow its MACs
    reads = []  # (chunk, row-in-chunk) of every RDMAC step, in order
    for k, (_width, slots, _first, _pitch) in enumerate(chunks):
        per_row = int(slots) * unit
        for seg in range(segments):
            reads.append((k, seg // per_row))
    bursts = len(log[log["cmd"] == "RDMAC"]) // max(len(reads), 1)
    step = 0
    count = 0
    for cycle, cmd in zip(log["cycle"], log["cmd"], strict=True):
        latest = max(latest, int(cycle) + done.get(cmd, 1))
        if cmd != "RDMAC":
            continue
        count += 1
        if count % bursts:
            continue
        k, row = reads[step]
        step += 1
        ends[k, row // tile_rows] = latest
    for k in range(len(chunks)):  # tiles past the last row: the chunk's end
        last = max((r for kk, r in reads if kk == k), default=-1) // tile_rows
        ends[k, last + 1 :] = ends[k, last]
    return ends


@pytest.mark.parametrize(("config", "sets"), VARIANTS)
def test_tile_ends_fast_equal_exact_and_the_log(config, sets):
    hw = load_hw(config, sets)
    model = ChannelModel(hw)
    rng = np.random.default_rng(abs(hash((config, tuple(sets)))) % 2**32)
    for case in range(6):
        chunks = _chunks(rng, hw, int(rng.integers(1, 5)))
        segments = int(rng.integers(1, 90))
        tile_rows = int(rng.integers(1, 4))
        per_row_min = int(chunks[:, 1].min()) * hw.pim.banks_per_mac_unit
        rows = -(-segments // per_row_min)  # DRAM rows of the widest-packed chunk
        tiles = -(-rows // tile_rows)
        start = int(rng.integers(0, 3000))
        runs = {}
        for fast in (True, False):
            runs[fast] = model.run_gemv(
                chunks, segments, fast=fast, tile_rows=tile_rows, tiles=tiles, start=start
            )
        assert runs[True].end_cycle == runs[False].end_cycle, case
        assert np.array_equal(runs[True].counters, runs[False].counters), case
        assert np.array_equal(runs[True].tile_end, runs[False].tile_end), case
        assert runs[True].tile_end[-1].max() == runs[True].end_cycle
        assert (np.diff(runs[True].tile_end.ravel()) >= 0).all()  # produced in order
        logged = model.run_gemv(
            chunks,
            segments,
            fast=False,
            tile_rows=tile_rows,
            tiles=tiles,
            start=start,
            log_capacity=200_000,
        )
        assert np.array_equal(logged.tile_end, runs[False].tile_end)
        log = log_frame(logged.log)
        expected = _tile_ends_from_log(hw, log, chunks, segments, tile_rows, tiles)
        assert np.array_equal(logged.tile_end, expected), case


@pytest.mark.parametrize(("config", "sets"), VARIANTS)
def test_grouped_gemv_fast_equals_exact_and_is_legal(config, sets):
    hw = load_hw(config, sets)
    model = ChannelModel(hw)
    rng = np.random.default_rng(7)
    for _ in range(5):
        chunks = _chunks(rng, hw, int(rng.integers(1, 5)))
        segments = int(rng.integers(1, 40))
        group = int(rng.choice([2, 4, 8]))
        groups = -(-segments // group)
        fast = model.run_gemv(chunks, segments, group=group, tile_rows=1, tiles=groups)
        exact = model.run_gemv(
            chunks,
            segments,
            group=group,
            fast=False,
            tile_rows=1,
            tiles=groups,
            log_capacity=100_000,
        )
        assert fast.end_cycle == exact.end_cycle
        assert np.array_equal(fast.counters, exact.counters)
        assert np.array_equal(fast.tile_end, exact.tile_end)
        # every group's results are read once, after all its chunks
        bursts = int(model.table[kernel.__dict__["H_RESULT_BURSTS"]])
        assert exact.command_counts["RDMAC"] == segments * bursts
        log = log_frame(exact.log)
        assert check_log(log, hw, tight=True) == []
        assert check_protocol(log, hw) == []
        # a single chunk stays in the global buffer for every group
        one = model.run_gemv(chunks[:1], segments, group=group)
        assert one.command_counts["WRGB"] == int(chunks[0, 0])
