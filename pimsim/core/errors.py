"""User-facing error type: bad input exits with code 2 and a one-paragraph message."""

from __future__ import annotations

from pathlib import Path


class PimsimInputError(Exception):
    """Bad input from the user (file, key, value). The CLI prints it and exits with code 2.

    The message names the file, the key path (or line / field) and what was expected, so the
    user can fix the input without reading a traceback.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        key: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.key = key
        self.expected = expected
        self.detail = message
        parts = []
        if self.file:
            parts.append(self.file)
        if key:
            parts.append(key)
        prefix = ": ".join(parts)
        text = f"{prefix}: {message}" if prefix else message
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)

    def portable(self) -> str:
        """The message with its file named without the directories above it (for results that
        must not depend on where they were made: a sweep's rows)."""
        if not self.file:
            return str(self)
        name = Path(self.file.split(" (with ")[0]).name
        rest = self.file[len(self.file.split(" (with ")[0]) :]
        return str(
            PimsimInputError(self.detail, file=name + rest, key=self.key, expected=self.expected)
        )
