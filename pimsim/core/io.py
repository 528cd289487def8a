"""File I/O every stage shares: atomic writes (results are never left half-written) and YAML
reading with errors that name the file, line and column."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from pimsim.core.errors import PimsimInputError


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write `path` through: a temporary file in the same folder, synced and
    renamed onto `path` when the block ends, removed if it raises (so `path` is either the old
    file or the whole new one). The file gets the usual permissions (0666 less the umask)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise PimsimInputError(f"cannot write: {exc.strerror}", file=path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; results are shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (`atomic_writer`)."""
    with atomic_writer(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically (`atomic_writer`)."""
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, data: Any) -> None:
    """JSON with sorted keys and a trailing newline: the same data gives the same bytes."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; malformed YAML names the file, line and column."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PimsimInputError(f"cannot read file: {exc.strerror}", file=path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PimsimInputError(f"malformed YAML: {problem}", file=path, key=where) from None
    if not isinstance(data, dict):
        raise PimsimInputError(
            f"top level is {type(data).__name__}",
            file=path,
            key="(document)",
            expected="a mapping with 'version: 1'",
        )
    return data
