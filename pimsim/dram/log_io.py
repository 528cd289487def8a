"""Command logs as data: their fields, reading one into per-field columns, CSV files, and the
`Violation` record both checkers report against a log row.

A log is a pandas DataFrame or a numpy structured array with fields ``cycle, cmd, channel,
bank, row, column`` (``bankgroup`` optional); `cmd` holds `Cmd` codes or names. On disk it is a
CSV file with the header ``cycle,cmd,channel,bankgroup,bank,row,column`` and command names.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pimsim.config.schema import TimingRule
from pimsim.core.commands import COMMAND_NAMES, Cmd
from pimsim.core.errors import PimsimInputError
from pimsim.core.io import atomic_write_text, read_text

__all__ = [
    "LOG_FIELDS",
    "REQUIRED_FIELDS",
    "LogColumns",
    "Violation",
    "log_columns",
    "read_command_log",
    "violation_at",
    "write_command_log",
]

LOG_FIELDS = ("cycle", "cmd", "channel", "bankgroup", "bank", "row", "column")
REQUIRED_FIELDS = ("cycle", "cmd", "channel", "bank", "row", "column")


@dataclass(frozen=True)
class Violation:
    """One broken rule: where in the log, what, and (for timing) the earliest legal cycle."""

    index: int  # position in the log (0-based row)
    cycle: int
    cmd: str
    channel: int
    bank: int
    kind: str  # one of KINDS
    message: str
    required_cycle: int | None = None  # earliest cycle the rule allows, where that applies
    rule: TimingRule | None = None  # the timing rule broken (kind 'timing')
    prev_index: int | None = None  # log index of the earlier command the rule counts from

    def __str__(self) -> str:
        return (
            f"#{self.index} cycle {self.cycle} {self.cmd} ch {self.channel} bank {self.bank}: "
            f"{self.kind}: {self.message}"
        )


# ---------------------------------------------------------------------------------------------
# reading the log's columns


def _field_names(log: Any) -> tuple[str, ...]:
    if isinstance(log, pd.DataFrame):
        return tuple(str(c) for c in log.columns)
    names = getattr(getattr(log, "dtype", None), "names", None)
    if names:
        return tuple(names)
    raise PimsimInputError(
        f"command log is a {type(log).__name__}",
        expected="a pandas DataFrame or a numpy structured array",
    )


def _int_list(values: Any, field: str) -> list[int]:
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64).tolist()
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64).tolist()
    raise PimsimInputError(
        f"command log field {field!r} has dtype {arr.dtype}", expected="integers"
    )


def _cmd_codes(values: Any) -> list[int]:
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        codes = arr.astype(np.int64).tolist()
    else:
        codes = []
        for value in arr.tolist():
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                codes.append(int(value))
            elif isinstance(value, str) and value in Cmd.__members__:
                codes.append(int(Cmd[value]))
            else:
                raise PimsimInputError(
                    f"command log field 'cmd': unknown command {value!r}",
                    expected="one of " + ", ".join(COMMAND_NAMES) + " or its integer code",
                )
    bad = [c for c in codes if not 0 <= c < len(Cmd)]
    if bad:
        raise PimsimInputError(
            f"command log field 'cmd': unknown command code {bad[0]}",
            expected=f"an integer code 0..{len(Cmd) - 1}",
        )
    return codes


@dataclass
class LogColumns:
    cycle: list[int]
    cmd: list[int]
    channel: list[int]
    bank: list[int]
    row: list[int]
    column: list[int]
    bankgroup: list[int] | None

    def __len__(self) -> int:
        return len(self.cycle)


def violation_at(cols: LogColumns, i: int, kind: str, message: str, **extra: Any) -> Violation:
    """The `Violation` of log row i."""
    return Violation(
        index=i,
        cycle=cols.cycle[i],
        cmd=COMMAND_NAMES[cols.cmd[i]],
        channel=cols.channel[i],
        bank=cols.bank[i],
        kind=kind,
        message=message,
        **extra,
    )


def log_columns(log: Any) -> LogColumns:
    names = _field_names(log)
    missing = [f for f in REQUIRED_FIELDS if f not in names]
    if missing:
        raise PimsimInputError(
            "command log lacks field(s) " + ", ".join(missing),
            expected="fields " + ", ".join(REQUIRED_FIELDS) + " (bankgroup optional)",
        )
    return LogColumns(
        cycle=_int_list(log["cycle"], "cycle"),
        cmd=_cmd_codes(log["cmd"]),
        channel=_int_list(log["channel"], "channel"),
        bank=_int_list(log["bank"], "bank"),
        row=_int_list(log["row"], "row"),
        column=_int_list(log["column"], "column"),
        bankgroup=_int_list(log["bankgroup"], "bankgroup") if "bankgroup" in names else None,
    )


# ---------------------------------------------------------------------------------------------
# CSV files


def _parse_int(text: str, path: Path, line: int, field: str) -> int:
    where = f"line {line}, field '{field}'"
    try:
        value = int(text)
    except ValueError:
        raise PimsimInputError(
            f"got {text!r}", file=path, key=where, expected="an integer"
        ) from None
    low = 0 if field == "cycle" else -1  # (-1: no row / column / bank group)
    if not low <= value < 1 << 62:
        raise PimsimInputError(f"got {value}", file=path, key=where, expected=f">= {low}")
    return value


def _parse_cmd(text: str, path: Path, line: int) -> str:
    name = text.strip()
    if name in Cmd.__members__:
        return name
    if name.isdigit() and int(name) < len(Cmd):
        return COMMAND_NAMES[int(name)]
    raise PimsimInputError(
        f"unknown command {text!r}",
        file=path,
        key=f"line {line}, field 'cmd'",
        expected="one of " + ", ".join(COMMAND_NAMES),
    )


MAX_LOG_BYTES = 1 << 32  # 4 GiB: about 10^8 commands


def read_command_log(path: str | Path) -> pd.DataFrame:
    """Read a command-log CSV (header ``cycle,cmd,channel,bankgroup,bank,row,column``).

    ``bankgroup`` may be left out; blank lines and ``#`` comments are skipped. A malformed file
    raises `PimsimInputError` naming the line and the field. `cmd` comes back as names.
    """
    path = Path(path)
    handle = io.StringIO(read_text(path, "command log", max_bytes=MAX_LOG_BYTES), newline="")
    rows = [
        (n, fields)
        for n, fields in enumerate(csv.reader(handle), start=1)
        if fields
        and not (len(fields) == 1 and not fields[0].strip())
        and not fields[0].lstrip().startswith("#")
    ]
    if not rows:
        raise PimsimInputError(
            "empty command log", file=path, expected="a header line " + ",".join(LOG_FIELDS)
        )
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in LOG_FIELDS]
    missing = [f for f in REQUIRED_FIELDS if f not in header]
    if unknown or missing or len(set(header)) != len(header):
        problem = (
            f"unknown field {unknown[0]!r}"
            if unknown
            else f"missing field {missing[0]!r}"
            if missing
            else "repeated field"
        )
        raise PimsimInputError(
            f"bad header: {problem}",
            file=path,
            key=f"line {header_line}",
            expected=",".join(LOG_FIELDS) + " (bankgroup optional)",
        )
    data: dict[str, list] = {name: [] for name in header}
    lines: list[int] = []
    for line, fields in rows[1:]:
        if len(fields) != len(header):
            raise PimsimInputError(
                f"{len(fields)} fields",
                file=path,
                key=f"line {line}",
                expected=f"{len(header)} fields ({','.join(header)})",
            )
        for name, text in zip(header, fields, strict=True):
            value = (
                _parse_cmd(text, path, line)
                if name == "cmd"
                else _parse_int(text, path, line, name)
            )
            data[name].append(value)
        lines.append(line)
    frame = {}
    for name in LOG_FIELDS:
        if name in data:
            values = data[name]
            if name == "cmd":
                frame[name] = values if values else np.array([], dtype=object)
            else:
                frame[name] = np.asarray(values, dtype=np.int64)
    log = pd.DataFrame(frame)
    log.attrs["lines"] = lines  # each command's line in the file (for errors)
    log.attrs["file"] = str(path)
    return log


def check_log_fits(log: pd.DataFrame, hw) -> None:
    """Refuse a log whose commands name a channel, bank, bank group, row or column the hardware
    does not have (a log of another system), naming the first such line."""
    org = hw.dram.organization
    limits = {
        "channel": (0, hw.dram.channels),
        "bank": (0, org.banks),
        "bankgroup": (-1, org.bank_groups),
        "row": (-1, org.rows),
        "column": (-1, org.columns),
    }
    lines = log.attrs.get("lines") or list(range(2, len(log) + 2))
    for name, (low, high) in limits.items():
        if name not in log:
            continue
        values = log[name].to_numpy()
        bad = np.flatnonzero((values < low) | (values >= high))
        if len(bad):
            raise PimsimInputError(
                f"{name} {int(values[bad[0]])} is not in this hardware's {low}..{high - 1}",
                file=log.attrs.get("file"),
                key=f"line {lines[bad[0]]}, field '{name}'",
                expected=f"a log of {hw.name} ({hw.source})",
            )


def write_command_log(
    path: str | Path, log: pd.DataFrame | np.ndarray, *, banks_per_group: int | None = None
) -> None:
    """Write a command log as CSV (``cycle,cmd,channel,bankgroup,bank,row,column``, cmd names).

    A log without a ``bankgroup`` field needs `banks_per_group` to derive it. Written atomically.
    """
    cols = log_columns(log)
    bankgroup = cols.bankgroup
    if bankgroup is None:
        if banks_per_group is None:
            raise ValueError("the log has no 'bankgroup' field: pass banks_per_group")
        bankgroup = [b // banks_per_group for b in cols.bank]
    lines = [",".join(LOG_FIELDS)]
    names = COMMAND_NAMES
    lines += [
        f"{cy},{names[cm]},{ch},{bg},{bk},{rw},{cl}"
        for cy, cm, ch, bg, bk, rw, cl in zip(
            cols.cycle,
            cols.cmd,
            cols.channel,
            bankgroup,
            cols.bank,
            cols.row,
            cols.column,
            strict=True,
        )
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")
