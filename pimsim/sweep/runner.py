"""Run a sweep's points (local processes or a Dask cluster); results are never lost.

Each finished point is merged into DIR/results.csv (`pimsim.sweep.store`: atomic, locked,
checked against the spec on resume), rows sorted by point and model so the table does not
depend on completion order. Running the same spec into the same DIR again skips the points
already there, so an interrupted sweep resumes without redoing or losing any. A point whose
model does not fit its hardware is recorded with its error in `status`. Worker processes die
with the sweep (SIGTERM, SIGKILL or Ctrl-C of the main process).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from pimsim.core.errors import PimsimInputError
from pimsim.sweep.spec import SweepSpec
from pimsim.sweep.store import ResultsStore


def run_point(spec_raw: dict, source: str, index: int, point: dict[str, Any]) -> list[dict]:
    """All models at one point (runs in a worker process): one row per model."""
    from pimsim.config import load_hw
    from pimsim.pipeline import result_row
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
            status = f"error: {exc.portable()}"  # (no absolute paths in results)
            row = {**head, "model": model, "hw_sha256": hw.sha256, "status": status}
        rows.append(row)
    return rows


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
    if executor not in ("local", "dask"):
        raise PimsimInputError(f"got {executor!r}", key="--executor", expected="local or dask")
    with _terminate_on_sigterm(), _executor(executor, jobs, scheduler) as submit:
        store = ResultsStore(Path(out), spec)  # (after the executor: a bad one leaves no DIR)
        todo = [(i, p) for i, p in enumerate(spec.points()) if i not in store.done]
        if stop_after is not None:
            todo = todo[:stop_after]
        bar = _bar(len(spec.points()), len(spec.points()) - len(todo), progress)
        for rows in submit([(spec.raw, spec.source, i, p) for i, p in todo]):
            store.add(rows)
            if bar is not None:
                bar.update(1)
            if on_point is not None:
                on_point(rows[0]["point"])
        if bar is not None:
            bar.close()
        store.finish()
        return store.frame()


@contextmanager
def _terminate_on_sigterm():
    """SIGTERM ends the sweep like Ctrl-C (workers stopped, finished points kept)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _executor(executor: str, jobs: int | None, scheduler: str | None):
    """`submit(args) -> iterator of each point's rows`, as they finish."""
    jobs = jobs or os.cpu_count() or 1
    if executor == "dask":
        with _dask_client(scheduler, jobs) as client:
            yield lambda args: _run_dask(client, args)
        return
    if jobs == 1:
        yield lambda args: (run_point(*a) for a in args)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pools: list[ProcessPoolExecutor] = []

    def submit(args):
        if len(args) <= 1:
            yield from (run_point(*a) for a in args)
            return
        pool = ProcessPoolExecutor(min(jobs, len(args)), initializer=_die_with_parent)
        pools.append(pool)
        futures = [pool.submit(run_point, *a) for a in args]
        for future in as_completed(futures):
            yield future.result()

    try:
        yield submit
    except BaseException:
        for pool in pools:
            _kill_workers(pool)
        raise
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)


def _kill_workers(pool) -> None:
    """Stop a pool's workers now (an interrupted sweep must not leave them running)."""
    for process in list(getattr(pool, "_processes", {}).values()):  # (no public API for it)
        if process.is_alive():
            process.kill()


def _die_with_parent() -> None:
    """In a worker: be killed when the sweep's process dies, even by SIGKILL (Linux)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the pool's own shutdown still applies
        pass
    if os.getppid() == 1:  # the parent died before the prctl took effect
        os._exit(1)


@contextmanager
def _dask_client(scheduler: str | None, jobs: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise PimsimInputError(
            "the Dask executor needs dask.distributed",
            key="--executor dask",
            expected="pip install 'pimsim[distributed]'",
        ) from None
    if not scheduler:  # a cluster of our own on the loopback, gone with the sweep
        with (
            LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=50,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout="5s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise PimsimInputError(
            f"cannot reach the scheduler {scheduler!r}: {str(exc).splitlines()[0][:200]}",
            key="--scheduler",
            expected="tcp://HOST:PORT of a running dask.distributed scheduler",
        ) from None
    with client:
        yield client


def _run_dask(client, args):
    from distributed import as_completed

    futures = [client.submit(run_point, *a, pure=False) for a in args]
    for future in as_completed(futures):
        yield future.result()


def _bar(total: int, initial: int, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="point", desc="sweep", file=sys.stderr)
