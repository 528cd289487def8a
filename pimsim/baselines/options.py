"""Command-line baseline options: `--gpu NAME[:RUNTIME]`, `--set gpu.KEY=VALUE`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pimsim.core.errors import PimsimInputError

BASELINE_PREFIXES = ("gpu", "cpu", "interconnect")  # (the last: a multi-device system's links)


def split_set_options(items: Iterable[str]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Split `--set` items into hardware ones and baseline overrides (`gpu.KEY=VALUE`,
    `cpu.KEY=VALUE`, values parsed like hardware values; `interconnect.KEY=VALUE` for the
    links of a tensor-parallel system)."""
    from pimsim.config.loader import parse_set_options

    hardware: list[str] = []
    baselines: dict[str, dict[str, Any]] = {kind: {} for kind in BASELINE_PREFIXES}
    for item in items or ():
        head = item.split("=", 1)[0].strip().split(".", 1)[0]
        if head not in BASELINE_PREFIXES:
            hardware.append(item)
            continue
        ((key, value),) = parse_set_options([item])
        sub = key[len(head) + 1 :]
        if not sub or "." in sub:
            raise PimsimInputError(
                f"--set {item!r}",
                key=f"--set {key}",
                expected=f"{head}.KEY=VALUE with KEY a baseline preset key",
            )
        baselines[head][sub] = value
    return hardware, baselines
