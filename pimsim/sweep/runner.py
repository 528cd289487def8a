"""Run a sweep's points (local processes or a Dask cluster); results are never lost.

Each finished point is merged into DIR/results.csv by an atomic rewrite (temporary file +
rename), rows sorted by point and model so the table does not depend on completion order.
DIR/sweep.json records the spec (and its hash); running the same spec into the same DIR again
skips the points already there, so an interrupted sweep resumes without redoing or losing any.
A point whose model does not fit its hardware is recorded with its error in `status`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from pimsim.core.errors import PimsimInputError
from pimsim.core.io import atomic_write_json, atomic_write_text, atomic_writer
from pimsim.sweep.spec import SweepSpec


def run_point(spec_raw: dict, source: str, index: int, point: dict[str, Any]) -> list[dict]:
    """All models at one point (runs in a worker process): one row per model."""
    from pimsim.config import load_hw
    from pimsim.study import result_row
    from pimsim.sweep.spec import load_spec_from_mapping

    spec = load_spec_from_mapping(spec_raw, source)
    hw = load_hw(spec.hw, spec.overrides(point))
    options = spec.run_options(point)
    rows = []
    for model in spec.run["models"]:
        head = {"point": index, **{k: point[k] for k in spec.axis_keys}}
        try:
            row = result_row(hw, model, **options)
            row = {**head, **row, "status": "ok"}
        except PimsimInputError as exc:  # e.g. the model does not fit this point's hardware
            row = {**head, "model": model, "hw_sha256": hw.sha256, "status": f"error: {exc}"}
        rows.append(row)
    return rows


class ResultsStore:
    """DIR/results.csv (+ .parquet when pyarrow is installed) and DIR/sweep.json."""

    def __init__(self, out: Path, spec: SweepSpec) -> None:
        self.out = Path(out)
        self.spec = spec
        self.csv = self.out / "results.csv"
        self.rows: list[dict] = []
        meta = self.out / "sweep.json"
        if meta.exists():
            recorded = json.loads(meta.read_text())
            if recorded.get("spec_sha256") != spec.sha256:
                raise PimsimInputError(
                    "holds the results of a different sweep spec",
                    file=str(self.out),
                    expected="the same spec to resume, or a new --out directory",
                )
            if self.csv.exists():
                self.rows = pd.read_csv(self.csv).to_dict("records")
        else:
            atomic_write_json(
                meta,
                {
                    "name": spec.name,
                    "spec": spec.raw,
                    "spec_sha256": spec.sha256,
                    "axes": spec.axis_keys,
                    "points": spec.points(),
                },
            )

    @property
    def done(self) -> set[int]:
        return {int(r["point"]) for r in self.rows}

    def add(self, rows: list[dict]) -> None:
        self.rows.extend(rows)
        order = {m: i for i, m in enumerate(self.spec.run["models"])}
        self.rows.sort(key=lambda r: (int(r["point"]), order.get(r["model"], 0)))
        frame = pd.DataFrame(self.rows)
        atomic_write_text(self.csv, frame.to_csv(index=False))
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return
        with atomic_writer(self.out / "results.parquet") as handle:
            frame.to_parquet(handle, index=False)


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    jobs: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    progress: bool | None = None,
    stop_after: int | None = None,
    on_point: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Run every point not yet in DIR; returns the whole results table.

    `stop_after`: finish at most this many new points, then return (an interruption).
    """
    store = ResultsStore(Path(out), spec)
    todo = [(i, p) for i, p in enumerate(spec.points()) if i not in store.done]
    if stop_after is not None:
        todo = todo[:stop_after]
    bar = _bar(len(spec.points()), len(store.done), progress)
    args = [(spec.raw, spec.source, i, p) for i, p in todo]
    for rows in _execute(args, jobs=jobs, executor=executor, scheduler=scheduler):
        store.add(rows)
        if bar is not None:
            bar.update(1)
        if on_point is not None:
            on_point(rows[0]["point"])
    if bar is not None:
        bar.close()
    return pd.DataFrame(store.rows)


def _execute(args: list[tuple], *, jobs: int | None, executor: str, scheduler: str | None):
    if not args:
        return
    if executor == "dask":
        yield from _execute_dask(args, scheduler)
        return
    if executor != "local":
        raise PimsimInputError(f"got {executor!r}", key="--executor", expected="local or dask")
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(args) == 1:
        for a in args:
            yield run_point(*a)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=min(jobs, len(args))) as pool:
        futures = [pool.submit(run_point, *a) for a in args]
        for future in as_completed(futures):
            yield future.result()


def _execute_dask(args: list[tuple], scheduler: str | None):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise PimsimInputError(
            "the Dask executor needs dask.distributed",
            key="--executor dask",
            expected="pip install 'pimsim[distributed]'",
        ) from None
    if not scheduler:
        raise PimsimInputError(
            "missing scheduler address",
            key="--scheduler",
            expected="tcp://HOST:PORT of a dask.distributed scheduler",
        )
    with Client(scheduler) as client:
        futures = [client.submit(run_point, *a, pure=False) for a in args]
        for future in as_completed(futures):
            yield future.result()


def _bar(total: int, initial: int, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="point", desc="sweep", file=sys.stderr)
