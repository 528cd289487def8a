"""Atomic file writes: results are never left half-written."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from pimsim.errors import PimsimInputError


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
