"""Python face of the channel kernels: one `ChannelModel` per hardware description."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pimsim.config.schema import HardwareConfig
from pimsim.core.commands import COMMANDS, NEED_OPEN_ROW, Cmd, target_banks
from pimsim.core.errors import PimsimInputError
from pimsim.dram import kernel
from pimsim.dram.tables import (
    CT_CONFLICTS,
    CT_HITS,
    CT_MISSES,
    H_S_SC,
    N_CMDS,
    N_COUNTERS,
    SC_END,
    CompiledTiming,
    compile_timing,
)

LOG_COLUMNS = ["cycle", "cmd", "channel", "bank", "row", "column"]


@dataclass
class ChannelRun:
    """What one channel program did: end cycle, per-command counts, row statistics, log."""

    end_cycle: int
    counters: np.ndarray
    log: np.ndarray = field(repr=False)
    tile_end: np.ndarray | None = field(default=None, repr=False)  # (chunks, tiles) cycles

    @property
    def command_counts(self) -> dict[str, int]:
        return {c.name: int(self.counters[c]) for c in Cmd}

    @property
    def column_accesses(self) -> int:
        return int(self.counters[CT_HITS] + self.counters[CT_MISSES] + self.counters[CT_CONFLICTS])

    @property
    def row_hits(self) -> int:
        return int(self.counters[CT_HITS])


def log_frame(log: np.ndarray, channel: int = 0) -> pd.DataFrame:
    """A command log (cycle, cmd, bank, row, col rows) as a table with named commands."""
    frame = pd.DataFrame(
        {
            "cycle": log[:, 0],
            "cmd": [Cmd(int(c)).name for c in log[:, 1]],
            "channel": np.full(len(log), channel, dtype=np.int64),
            "bank": log[:, 2],
            "row": log[:, 3],
            "column": log[:, 4],
        }
    )
    return frame


class ChannelModel:
    """Runs command programs on one channel type with exact timing."""

    def __init__(self, hw: HardwareConfig) -> None:
        self.hw = hw
        self.compiled: CompiledTiming = compile_timing(hw)
        kernel.announce_compile()

    @property
    def table(self) -> np.ndarray:
        return self.compiled.table

    def new_state(self) -> np.ndarray:
        return self.compiled.new_state()

    @staticmethod
    def new_counters() -> np.ndarray:
        return np.zeros(N_COUNTERS, dtype=np.int64)

    def end_cycle(self, state: np.ndarray) -> int:
        return int(state[self.table[H_S_SC] + SC_END])

    # ------------------------------------------------------------------ explicit command lists
    def run_raw(self, commands: list[tuple], state: np.ndarray | None = None) -> np.ndarray:
        """Issue exactly these commands, each `(cmd, bank, row, col[, not_before])`, at their
        earliest legal cycles (no controller, no refresh). Returns the issue cycles."""
        state = self.new_state() if state is None else state
        arr = np.zeros((len(commands), 5), dtype=np.int64)
        for i, command in enumerate(commands):
            cmd, bank, row, col, *rest = command
            arr[i] = (int(cmd), bank, row, col, rest[0] if rest else 0)
        cycles = np.zeros(len(commands), dtype=np.int64)
        log, logn = kernel.empty_log(0)
        code = kernel.run_raw(self.table, state, self.new_counters(), arr, cycles, log, logn)
        if code < 0:
            index, err = divmod(-code, 4)
            cmd, bank, row = arr[index - 1, :3]
            why = "closed banks" if err == kernel.ERR_NEEDS_CLOSED else f"row {row} open"
            raise ValueError(f"command {index - 1} ({Cmd(int(cmd)).name} bank {bank}) needs {why}")
        return cycles

    def requests_array(self, requests: list[tuple]) -> np.ndarray:
        """Rows (cmd, bank, row, col, close_after); close_after from one-request lookahead.
        Requests `(cmd, bank, row, col, arrival)` add a sixth column, the arrival cycle."""
        org = self.hw.dram.organization
        unit = self.hw.pim.banks_per_mac_unit
        timed = any(len(r) > 4 for r in requests)
        arr = np.zeros((len(requests), 6 if timed else 5), dtype=np.int64)
        next_row_of_bank: dict[int, int] = {}
        for i in range(len(requests) - 1, -1, -1):
            cmd, bank, row, col = requests[i][:4]
            arr[i, :4] = (int(cmd), bank, row, col)
            if timed and len(requests[i]) > 4:
                arr[i, 5] = requests[i][4]
            if COMMANDS[Cmd(int(cmd))].needs != NEED_OPEN_ROW:
                continue
            banks = target_banks(int(cmd), bank, org.banks_per_group, org.banks, unit)
            later = {next_row_of_bank.get(b) for b in banks}
            arr[i, 4] = 0 if later == {row} else 1
            for b in banks:
                next_row_of_bank[b] = row
        return arr

    def run_requests(
        self,
        requests: list[tuple] | np.ndarray,
        *,
        state: np.ndarray | None = None,
        start: int = 0,
        log_capacity: int = 0,
        log: tuple[np.ndarray, np.ndarray] | None = None,
        row_base: int = 0,
    ) -> ChannelRun:
        """Serve requests `(cmd, bank, row, col[, arrival])` with the controller (row commands,
        refresh), in order, none before its arrival cycle (`kernel.run_requests`).

        `log`: an existing (buffer, fill count) pair to append the issued commands to;
        `row_base` is added to every request row."""
        state = self.new_state() if state is None else state
        arr = requests if isinstance(requests, np.ndarray) else self.requests_array(requests)
        counters = self.new_counters()
        log, logn = log if log is not None else kernel.empty_log(log_capacity)
        end = kernel.run_requests(self.table, state, counters, arr, int(row_base), start, log, logn)
        self.check_progress(end)
        return ChannelRun(int(end), counters, log[: logn[0]])

    # ------------------------------------------------------------------ loop-bound programs
    def run_gemv(
        self,
        chunks: np.ndarray,
        segments_per_unit: int,
        *,
        state: np.ndarray | None = None,
        start: int = 0,
        log_capacity: int = 0,
        fast: bool = True,
        log: tuple[np.ndarray, np.ndarray] | None = None,
        row_base: int = 0,
        tile_rows: int = 0,
        tiles: int = 0,
        group: int = 0,
        vectors: int = 1,
    ) -> ChannelRun:
        """All-bank GEMV program (see `kernel.run_gemv`); `fast=False` is command by command.
        The fast paths switch themselves off while the command log still has room. With
        `tile_rows` > 0, `ChannelRun.tile_end` holds (chunks, tiles) completion cycles.
        `group` > 0: output-stationary (`kernel.run_gemv_grouped`), tiles are the groups.
        `vectors` > 1: a batch of input vectors served per opened row."""
        state = self.new_state() if state is None else state
        counters = self.new_counters()
        log, logn = log if log is not None else kernel.empty_log(log_capacity)
        end, tile_end = kernel.gemv_program(
            self.table,
            state,
            counters,
            chunks,
            int(row_base),
            int(segments_per_unit),
            int(group),
            start,
            int(fast),
            int(tile_rows),
            int(tiles),
            log,
            logn,
            int(vectors),
        )
        self.check_progress(end)
        return ChannelRun(end, counters, log[: logn[0]], tile_end)

    def check_progress(self, end: int) -> None:
        if end < 0:
            dram = self.hw.dram
            raise PimsimInputError(
                f"refresh ({dram.refresh}, nREFI {dram.t('nREFI')} cycles) closes rows faster "
                "than a command can use them: the channel can never make progress",
                file=self.hw.source,
                key="dram.timing.nREFI",
                expected="a longer refresh interval or all-bank refresh",
            )


def require_pim(hw: HardwareConfig, what: str) -> None:
    if not hw.pim.enabled:
        raise PimsimInputError(
            f"{what} needs in-bank MAC units but pim.enabled is false",
            file=hw.source,
            key="pim.enabled",
            expected="true",
        )


__all__ = ["ChannelModel", "ChannelRun", "LOG_COLUMNS", "N_CMDS", "log_frame", "require_pim"]
