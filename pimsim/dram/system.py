"""All PIM channels of a system, each carrying its exact state from operator to operator.

Before each operator every channel issues the refreshes its idle gap calls for (due ones, and
ones pulled in ahead of time that complete before the operator starts). Channels whose states
are then byte-identical (after `canonicalize`, which only drops timers that can never bind
again) and that receive the same program stay identical, so each such class is simulated once
and its command counts are multiplied by its size; and a program's result is memoised on the
channel state relative to its start cycle and first row (exact reuse, see `_run_program`). In
exact mode every channel is its own class and every command goes through the kernel one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pimsim.config.schema import HardwareConfig
from pimsim.dram import kernel
from pimsim.dram.channel import ChannelModel
from pimsim.dram.tables import (
    CT_CONFLICTS,
    CT_HITS,
    CT_MISSES,
    H_S_SC,
    N_COUNTERS,
    SC_END,
    SC_LAST,
    SC_NEXT_DUE,
    SC_REFCOUNT,
)

if TYPE_CHECKING:  # (annotations only: the DRAM package does not import the mapping at run time)
    from pimsim.dram.programs import ChannelProgram


@dataclass
class ChannelClass:
    channels: list[int]
    state: np.ndarray = field(repr=False)


@dataclass
class OpRun:
    """One operator on the PIM channels: when it ended and what it issued (all channels)."""

    end_cycle: int
    counters: np.ndarray = field(repr=False)
    busiest_channel_cycles: int
    # (chunks, tiles) cycles by which every channel finished each output tile of each chunk
    # (weight GEMVs run with tile_rows > 0; None otherwise)
    tile_end: np.ndarray | None = field(default=None, repr=False)


class PimSystem:
    def __init__(
        self,
        hw: HardwareConfig,
        *,
        exact: bool = False,
        log_capacity: int = 0,
        memo_capacity: int = 100_000,
        transient_capacity: int = 20_000,
    ) -> None:
        self.hw = hw
        self.exact = exact
        self.model = ChannelModel(hw)
        channels = list(range(hw.dram.channels))
        # a command log per channel (its first `log_capacity` commands) needs a class each
        self.per_channel = exact or log_capacity > 0
        self.logs = [kernel.empty_log(log_capacity) for _ in channels] if log_capacity else None
        if self.per_channel:
            self.classes = [ChannelClass([c], self.model.new_state()) for c in channels]
        else:
            self.classes = [ChannelClass(channels, self.model.new_state())]
        self.counters = self.model.new_counters()  # totals over all channels
        self._scratch = self.model.new_counters()
        self._no_log = kernel.empty_log(0)
        self._relative = self.model.new_state()
        # exact memo of program results (off in exact mode and while logging commands): weight
        # programs run again every token; attention and KV-write programs only within a token
        # (their context changes), so their memo is emptied when it fills up
        self.memo: dict[bytes, tuple] | None = None if self.per_channel else {}
        self.transient_memo: dict[bytes, tuple] = {}
        self.memo_capacity = memo_capacity
        self.transient_capacity = transient_capacity
        self.memo_hits = 0
        self.idle_refreshes = 0  # refreshes issued in idle gaps (all channels)
        self.phase_free_hits = 0  # hits of results that met no refresh
        self.kernel_calls = 0
        sc = int(self.model.table[H_S_SC])
        self._end_index = sc + SC_END
        self._due_index = sc + SC_NEXT_DUE
        self._refcount_index = sc + SC_REFCOUNT
        self._last_index = sc + SC_LAST
        self._refresh = hw.dram.refresh != "none"
        self._tile_rows, self._tiles = 0, 0  # output tiles asked for by the running operator
        self._vectors = 1  # input vectors per GEMV of the running operator (a batch)
        self._no_tiles = np.zeros(0, dtype=np.int64)
        self._tile_end = self._no_tiles  # of the last GEMV program run

    def run(
        self,
        programs: list[ChannelProgram],
        start_cycle: int,
        row_base: int = 0,
        tile_rows: int = 0,
        tiles: int = 0,
        vectors: int = 1,
        later_pass: bool = False,
    ) -> OpRun:
        """Run one operator (a program per channel, rows relative to `row_base`) starting no
        earlier than `start_cycle` (channels still busy with earlier operators finish those
        first: each channel serves its programs in order). GEMV programs with `tile_rows` > 0
        also report when each of `tiles` output tiles of each chunk was done (`OpRun`); with
        `vectors` > 1 they serve that many input vectors per opened row (a batch).

        Calls come in order of `start_cycle`, except a `later_pass` of an operator (its next
        pass over the same channels, from when the previous one ended): channels it leaves
        idle are not moved on to that start, so a later operator on them may start earlier."""
        op_counters = np.zeros(N_COUNTERS, dtype=np.int64)
        self._catch_up(start_cycle, op_counters, programs if later_pass else None)
        end = start_cycle
        end_index = self._end_index
        self._tile_rows, self._tiles = tile_rows, tiles
        self._vectors = vectors
        op_tiles = None
        new_classes: list[ChannelClass] = []
        for cls in self.classes:
            channels = cls.channels
            first = programs[channels[0]]
            if len(channels) == 1 or all(programs[ch] is first for ch in channels):
                groups = [(first, channels)]
            else:
                by_key: dict[tuple, list[int]] = {}
                for ch in channels:
                    by_key.setdefault(programs[ch].key, []).append(ch)
                groups = [(programs[chs[0]], chs) for chs in by_key.values()]
            last = len(groups) - 1
            for index, (program, members) in enumerate(groups):
                if index == last:
                    state = cls.state
                    new_classes.append(cls if members is channels else ChannelClass(members, state))
                else:
                    state = cls.state.copy()
                    new_classes.append(ChannelClass(members, state))
                if program.is_empty:
                    continue
                counters = self._run_program(program, state, start_cycle, members[0], row_base)
                finish = int(state[end_index])
                if finish > end:
                    end = finish
                op_counters += counters if len(members) == 1 else counters * len(members)
                if tile_rows > 0 and program.requests is None:
                    tiles_done = self._tile_end
                    op_tiles = (
                        tiles_done.copy() if op_tiles is None else np.maximum(op_tiles, tiles_done)
                    )
        self.classes = new_classes  # equal ones merge before the next operator
        self.counters += op_counters
        if op_tiles is not None:
            op_tiles = op_tiles.reshape(-1, tiles)
        return OpRun(end, op_counters, end - start_cycle, op_tiles)

    def _catch_up(self, start: int, op_counters: np.ndarray, only_for: list | None = None) -> None:
        """Issue the refreshes that fell due while the channels idled before `start`; then (fast
        mode) drop the timers that can no longer bind and merge channels that became equal.
        With `only_for` (an operator's programs), only on classes with work in it."""
        table = self.model.table
        canonical = not self.exact
        for cls in self.classes:
            if only_for is not None and all(only_for[ch].is_empty for ch in cls.channels):
                continue
            log, logn = self.logs[cls.channels[0]] if self.logs else self._no_log
            members = len(cls.channels)
            issued = kernel.op_prologue(
                table, cls.state, self._scratch, start, canonical, members, op_counters, log, logn
            )
            self.idle_refreshes += issued * members
        if canonical and len(self.classes) > 1:
            self.classes = self._merge(self.classes)

    def _run_program(
        self, program: ChannelProgram, state: np.ndarray, start: int, channel: int, row_base: int
    ) -> np.ndarray:
        """Run one program on one channel state, memoised (exact: a program's result is a
        function of the state relative to its start cycle and rows):
        - reusable GEMVs (weights) on the whole relative state, refresh phase included;
        - other programs (attention, KV writes) that did not meet a refresh, on the relative
          state without the refresh phase: the result holds for any later due time.
        A GEMV folds open rows other than its first into one "foreign" value (it can only
        precharge them); a request program must start with a PREA to fold them."""
        if self.memo is None:
            return self._kernel(program, state, start, channel, row_base)
        if program.requests is None:
            fold_row = base_row = row_base + program.first_row
            identity = (
                program.relative_key
                + self._tile_rows.to_bytes(4, "little")
                + self._vectors.to_bytes(4, "little")
            )
        elif program.closes_all_first:
            fold_row, base_row = -2, row_base  # every open row is foreign
            identity = program.key[1]
        else:
            return self._kernel(program, state, start, channel, row_base)
        table = self.model.table
        relative = self._relative
        if not kernel.relative_state(table, state, start, fold_row, relative):
            return self._kernel(program, state, start, channel, row_base)
        due_index = self._due_index
        due = int(state[due_index])
        # first the result of a run that met no refresh (it holds for any due time after its
        # last command), then, for weights, the result for this exact refresh phase
        relative[due_index] = 0
        free_key = b"F" + identity + relative.tobytes()
        memo = self.memo if program.reusable else self.transient_memo
        stored = memo.get(free_key)
        if stored is not None and (not self._refresh or due - start > stored[2]):
            result, counters, _, tiles = stored
            kernel.apply_result(table, state, result, start, base_row)
            state[due_index] = due
            self.phase_free_hits += 1
            self.memo_hits += 1
            self._tile_end = tiles + start
            return counters
        phase_key = None
        if program.reusable:
            relative[due_index] = due - start
            phase_key = b"P" + identity + relative.tobytes()
            stored = memo.get(phase_key)
            if stored is not None:
                result, counters, _, tiles = stored
                kernel.apply_result(table, state, result, start, base_row)
                self.memo_hits += 1
                self._tile_end = tiles + start
                return counters
        before = state.copy()
        refreshes = int(state[self._refcount_index])
        counters = self._kernel(program, state, start, channel, row_base)
        met_refresh = state[self._refcount_index] != refreshes
        if met_refresh and phase_key is None:
            return counters  # its result depends on the refresh phase: not kept
        if not program.reusable and len(memo) >= self.transient_capacity:
            memo.clear()
        result = np.empty_like(state)
        if len(memo) < self.memo_capacity and kernel.result_state(
            table, before, state, start, base_row, result
        ):
            key = phase_key if met_refresh else free_key
            tiles = self._tile_end - start
            memo[key] = (result, counters, int(state[self._last_index]) - start, tiles)
        return counters

    def _kernel(
        self, program: ChannelProgram, state: np.ndarray, start: int, channel: int, row_base: int
    ) -> np.ndarray:
        self.kernel_calls += 1
        log, logn = self.logs[channel] if self.logs else self._no_log
        counters = np.zeros(N_COUNTERS, dtype=np.int64)
        table = self.model.table
        if program.requests is not None:
            end = kernel.run_requests(
                table, state, counters, program.requests, row_base, start, log, logn
            )
        else:
            end, tiles = kernel.gemv_program(
                table,
                state,
                counters,
                program.chunks,
                row_base,
                program.segments,
                program.group_segments,
                start,
                0 if self.exact else 1,
                self._tile_rows,
                self._tiles,
                log,
                logn,
                self._vectors,
            )
            self._tile_end = tiles.ravel() if tiles is not None else self._no_tiles
        if end < 0:
            self.model.check_progress(end)
        return counters

    def command_logs(self):
        """Each channel's recorded commands as one table (for the protocol checker)."""
        import pandas as pd

        from pimsim.dram.channel import log_frame

        frames = [log_frame(buf[: n[0]], ch) for ch, (buf, n) in enumerate(self.logs or [])]
        return pd.concat(frames, ignore_index=True) if frames else None

    def _merge(self, classes: list[ChannelClass]) -> list[ChannelClass]:
        if self.per_channel or len(classes) == 1:
            return classes
        merged: dict[bytes, ChannelClass] = {}
        for cls in classes:
            key = cls.state.tobytes()
            if key in merged:
                merged[key].channels.extend(cls.channels)
            else:
                merged[key] = cls
        out = list(merged.values())
        for cls in out:
            cls.channels.sort()
        return out

    @property
    def row_hit_rate(self) -> float:
        accesses = self.counters[CT_HITS] + self.counters[CT_MISSES] + self.counters[CT_CONFLICTS]
        return float(self.counters[CT_HITS] / accesses) if accesses else 0.0
