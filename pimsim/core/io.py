"""File I/O every stage shares: atomic writes (results are never left half-written) and YAML
reading with errors that name the file, line and column."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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
    if path.is_dir():
        raise PimsimInputError("is a directory", file=path, expected="a file path to write")
    for folder in path.parents:  # the nearest folder that exists must be one
        if folder.exists():
            if not folder.is_dir():
                raise PimsimInputError(
                    "is a file, not a folder to write into", file=folder, expected="a directory"
                )
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise PimsimInputError(f"cannot write: {_reason(exc)}", file=path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; results are shared
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, a quota, a vanished folder: the old file stays
        _remove(tmp)
        raise PimsimInputError(f"cannot write: {_reason(exc)}", file=path) from None
    except BaseException:
        _remove(tmp)
        raise


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _remove(tmp: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(tmp)


def check_output_path(path: str | Path, folder: bool = False) -> None:
    """Refuse, before any work, an output path that cannot be written: a directory where a file
    goes (or a file where a folder goes), a file on the way, a folder without write access."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise PimsimInputError("is a file", file=path, expected="a directory for the results")
    if not folder and path.is_dir():
        raise PimsimInputError("is a directory", file=path, expected="a file path to write")
    for parent in (path if folder else path.parent, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise PimsimInputError(
                    "is a file, not a folder to write into", file=parent, expected="a directory"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise PimsimInputError("is not writable", file=parent, expected="a folder you own")
            return


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


MAX_INPUT_BYTES = 16 << 20  # a hardware, model or spec file larger than this is not one
MAX_NESTING = 32  # mappings and lists inside each other; the deepest real file has 5


def read_text(path: str | Path, what: str = "file", max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of an input file, refused (with the file named) if it is missing, too
    large, a directory or not text."""
    path = Path(path)
    try:
        if path.is_dir():
            raise PimsimInputError("is a directory", file=path, expected=f"a {what}")
        size = path.stat().st_size
        if size > max_bytes:
            raise PimsimInputError(
                f"{size} bytes is too large for a {what}", file=path, expected=f"<= {max_bytes}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise PimsimInputError(f"cannot read file: {_reason(exc)}", file=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PimsimInputError(
            f"not UTF-8 text (byte {exc.start})", file=path, expected=f"a {what} in UTF-8"
        ) from None


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """How deeply mappings and lists nest in `value` (stops counting past `limit`)."""
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def check_nesting(data: Any, path: str | Path, limit: int = MAX_NESTING) -> None:
    """Refuse a document nested deeper than `limit` (no input format of pimsim needs it)."""
    if nesting_depth(data, limit) > limit:
        raise PimsimInputError(f"nested more than {limit} levels deep", file=path, key="(document)")


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; malformed YAML names the file, line and column."""
    path = Path(path)
    text = read_text(path, "YAML file")
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise PimsimInputError("nested too deeply to read", file=path, key="(document)") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise PimsimInputError(f"unreadable value: {exc}", file=path, key="(document)") from None
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
    check_nesting(data, path)
    return data
