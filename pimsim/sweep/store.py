"""A sweep directory: DIR/sweep.json (the spec, its hash, the pimsim version) and
DIR/results.csv (+ .parquet when pyarrow is installed), kept whole through interruptions,
concurrent sweeps and hand edits.

- A finished point's rows are appended (one write, synced) under an exclusive lock on
  DIR/.lock, after merging the rows another sweep into the same DIR wrote meanwhile; the table
  is rewritten (atomically: temporary file + rename) sorted by point and model at the end of a
  sweep, on resume, and when a row brings a new column. Two sweeps into one DIR end with every
  point; a row cut short by a kill mid-append is dropped on resume and its point run again.
- On resume the table is checked against the spec: a point missing a model's row is run again;
  a row that is truncated, duplicated, of another point or model, or unreadable is refused with
  its line and how to recover (the intact rows are never dropped silently).
- A directory made by another spec or another pimsim version is refused, never mixed.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pandas as pd

from pimsim import __version__
from pimsim.core.errors import PimsimInputError
from pimsim.core.io import atomic_write_json, atomic_write_text, atomic_writer, read_text
from pimsim.sweep import table
from pimsim.sweep.spec import SweepSpec

RECOVER = "delete that line (its point is run again) or the whole file to start over"


GENERATION = ".generation"  # counts the writes to results.csv (see ResultsStore._remember)


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on `folder` (its `.lock` file) for the block's duration."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".lock", "a+")  # noqa: SIM115 (held for the block)
    except OSError as exc:
        raise PimsimInputError(
            f"cannot use as a results directory: {exc.strerror}", file=folder
        ) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ResultsStore:
    """The rows of one sweep directory, merged and written atomically under its lock."""

    def __init__(self, out: Path, spec: SweepSpec) -> None:
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise PimsimInputError("is not a directory", file=self.out, expected="a results DIR")
        self.spec = spec
        self.csv = self.out / "results.csv"
        self.meta = self.out / "sweep.json"
        self.models = list(spec.run["models"])
        self.points = spec.points()
        self.rows: dict[tuple[int, str], dict] = {}
        self.header: list[str] = []
        # the table's generation after our last write (DIR/.generation, bumped by every write
        # under the lock: a file's size and coarse mtime can repeat after another's write)
        self._written: tuple[int, int, int] | None = None
        with locked(self.out):
            self._check_or_write_meta()
            remove_stale_temporaries(self.out)
            self._merge_disk()
            if self.rows:  # resumed: sorted, cut-short rows dropped, before appending
                self._rewrite()

    # -- the spec and version the directory belongs to ---------------------------------------

    def _check_or_write_meta(self) -> None:
        if not self.meta.exists():
            atomic_write_json(
                self.meta,
                {
                    "name": self.spec.name,
                    "spec": self.spec.raw,
                    "spec_sha256": self.spec.sha256,
                    "axes": self.spec.axis_keys,
                    "points": self.points,
                    "pimsim_version": __version__,
                },
            )
            return
        try:
            recorded = json.loads(read_text(self.meta, "sweep.json file"))
        except (ValueError, RecursionError):
            raise PimsimInputError(
                "is not the JSON pimsim wrote (truncated or edited)",
                file=self.meta,
                expected="delete it to take the directory over with this spec "
                "(results.csv is then checked row by row against the spec)",
            ) from None
        if not isinstance(recorded, dict) or recorded.get("spec_sha256") != self.spec.sha256:
            raise PimsimInputError(
                "holds the results of a different sweep spec",
                file=str(self.out),
                expected="the same spec to resume, or a new --out directory",
            )
        version = recorded.get("pimsim_version")
        if version != __version__:
            made_by = f"pimsim {version}" if version else "an earlier pimsim (no version recorded)"
            raise PimsimInputError(
                f"was made by {made_by}; this is pimsim {__version__} (results of two "
                "versions are not mixed)",
                file=str(self.out),
                expected="a new --out directory, or delete this one to run the sweep again",
            )

    # -- rows ---------------------------------------------------------------------------------

    @property
    def done(self) -> set[int]:
        """Points every model of the spec has a row for."""
        count: dict[int, int] = {}
        for point, _ in self.rows:
            count[point] = count.get(point, 0) + 1
        return {p for p, n in count.items() if n == len(self.models)}

    def _merge_disk(self) -> None:
        """Merge the rows on disk (ours or another sweep's) into ours; rows read back keep
        their text."""
        if not self.csv.exists():
            return
        if self._written is not None and self._written == self._stamp():
            return
        header, rows = read_results(self.csv, self.spec)
        for row in rows:
            self.rows.setdefault((int(row["point"]), str(row["model"])), row)
        self.header = self._merged_header(header)
        self._written = None  # the file is not (only) ours: rewrite before appending

    def _merged_header(self, first: list[str]) -> list[str]:
        return list(dict.fromkeys([*first, *table.columns_of(self.rows.values())]))

    def add(self, rows: list[dict]) -> None:
        """Record a finished point's rows: appended to the table when its columns are the
        table's, else the table is rewritten."""
        with locked(self.out):
            self._merge_disk()
            # a point another sweep into the same DIR finished first keeps its rows (the
            # same results): appending ours would leave it twice in the table
            rows = [r for r in rows if (int(r["point"]), str(r["model"])) not in self.rows]
            if not rows:
                return
            for row in rows:
                self.rows[(int(row["point"]), str(row["model"]))] = row
            header = list(dict.fromkeys([*self.header, *table.columns_of(rows)]))
            if self._written is not None and header == self.header:
                self._append(rows)
            else:
                self.header = header
                self._rewrite()

    def finish(self) -> None:
        """Rewrite the table sorted by point and model (and the Parquet copy)."""
        with locked(self.out):
            self._merge_disk()
            self.header = self._merged_header(self.header)
            if self.rows:
                self._rewrite(parquet=True)

    def _sorted(self) -> list[dict]:
        order = {m: i for i, m in enumerate(self.models)}
        keys = sorted(self.rows, key=lambda k: (k[0], order.get(k[1], len(order))))
        return [self.rows[k] for k in keys]

    def _rewrite(self, parquet: bool = False) -> None:
        text = table.table(self._sorted(), self.header)
        atomic_write_text(self.csv, text)
        self._remember()
        if parquet:
            self._parquet(text)

    def _append(self, rows: list[dict]) -> None:
        try:
            with open(self.csv, "a", encoding="utf-8") as handle:
                handle.write(table.lines(rows, self.header))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise PimsimInputError(f"cannot write: {exc.strerror}", file=self.csv) from None
        self._remember()

    def _generation(self) -> int:
        """The table's write count (DIR/.generation); -1 when unreadable."""
        try:
            return int((self.out / GENERATION).read_text() or 0)
        except (OSError, ValueError):
            return -1

    def _stamp(self, generation: int | None = None) -> tuple[int, int, int]:
        """(generation, size, inode) of the table as it is now."""
        stat = self.csv.stat()
        generation = self._generation() if generation is None else generation
        return generation, stat.st_size, stat.st_ino

    def _remember(self) -> None:
        """After our write (under the lock): bump the generation and keep the stamp."""
        generation = max(self._generation(), 0) + 1
        atomic_write_text(self.out / GENERATION, f"{generation}\n")
        self._written = self._stamp(generation)

    def _parquet(self, text: str) -> None:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return
        with atomic_writer(self.out / "results.parquet") as handle:
            pd.read_csv(io.StringIO(text)).to_parquet(handle, index=False)

    def frame(self) -> pd.DataFrame:
        """Every row, sorted by point and by the spec's model order, typed as a reader of
        results.csv gets them."""
        if not self.rows:
            return pd.DataFrame()
        return pd.read_csv(io.StringIO(table.table(self._sorted(), self.header)))


def read_results(path: Path, spec: SweepSpec) -> tuple[list[str], list[dict]]:
    """The header and rows of a results.csv (each row's values as the text on disk), each row
    checked against the spec (file, line and recovery named on the first that is not one
    pimsim wrote for it). A last line without its newline is a row a kill cut short while it
    was appended: it is dropped (its point runs again)."""
    text = read_text(path, "results table", max_bytes=1 << 31)
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        return [], []
    header = lines[0]
    for column in ("point", "model", "status", *spec.axis_keys):
        if column not in header:
            raise PimsimInputError(
                f"has no column {column!r}", file=path, key="line 1", expected=RECOVER
            )
    rows = []
    for number, fields in enumerate(lines[1:], start=2):
        if len(fields) != len(header):
            raise _corrupt(path, number, f"{len(fields)} fields, the header has {len(header)}")
        rows.append({k: v for k, v in zip(header, fields, strict=True) if v != ""})
    _check_rows(rows, path, spec)
    return header, rows


def _check_rows(rows: list[dict], path: Path, spec: SweepSpec) -> None:
    points, models, seen = spec.points(), set(spec.run["models"]), set()
    for number, row in enumerate(rows, start=2):
        text = row.get("point", "")
        point = int(text) if text.isdigit() else -1
        if not 0 <= point < len(points):
            raise _corrupt(path, number, f"point {text!r} is not one of 0..{len(points) - 1}")
        model = row.get("model")
        if model not in models:
            raise _corrupt(path, number, f"model {model!r} is not in the spec")
        for key, value in points[point].items():
            if not _same(row.get(key, ""), value):
                raise _corrupt(
                    path, number, f"{key} = {row.get(key)!r}, point {point} has {value!r}"
                )
        if (point, model) in seen:
            raise _corrupt(path, number, f"a second row for point {point}, {model}")
        seen.add((point, model))
        if not row.get("status"):
            raise _corrupt(path, number, "no status")


def _same(recorded: str, value) -> bool:
    """Whether the text on disk is the spec's axis value."""
    if isinstance(value, bool):
        return recorded.lower() == str(value).lower()
    if isinstance(value, (int, float)):
        try:
            return float(recorded) == float(value)
        except ValueError:
            return False
    return recorded == str(value)


def _corrupt(path: Path, line: int, why: str) -> PimsimInputError:
    where = f"line {line}" if line else "(table)"
    return PimsimInputError(
        f"{why}: not a row pimsim wrote", file=path, key=where, expected=RECOVER
    )


def remove_stale_temporaries(folder: Path) -> None:
    """Remove temporaries a killed writer left in `folder` (`.results.csv.*.tmp`); called
    under the lock, so no live writer owns them."""
    for tmp in folder.glob(".*.tmp"):
        if tmp.name.startswith((".results.", ".sweep.json.")):
            with suppress(FileNotFoundError):
                os.unlink(tmp)
