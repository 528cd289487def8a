"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse


def add_hw_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hw",
        required=True,
        help="hardware config: a YAML path or a name in hw_configs/ (gddr6_aim, hbm_pim)",
    )
    add_set_option(p)


def add_set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a hardware key, e.g. dram.channels=16 (repeatable)",
    )


def add_exactness_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--exact",
        dest="exact",
        action="store_true",
        help="every command through the kernel, every channel (slow; the oracle)",
    )
    group.add_argument(
        "--fast",
        dest="exact",
        action="store_false",
        help="exact reuse: fast-forward and symmetric channels (default)",
    )


MAX_DUMP_COMMANDS = 50_000_000  # in all channels: 2 GB


def dump_capacity(dump_commands: list[str] | None, channels: int = 1) -> int:
    """The N of `--dump-commands N FILE` (0 without the option); N < 1, or N commands on each
    of `channels` channels too many to hold in memory, is an input error."""
    if not dump_commands:
        return 0
    from pimsim.core.errors import PimsimInputError

    try:
        capacity = int(dump_commands[0])
    except ValueError:
        capacity = -1
    if capacity < 1:
        raise PimsimInputError(
            f"got {dump_commands[0]!r}", key="--dump-commands N", expected="an integer >= 1"
        )
    if capacity * channels > MAX_DUMP_COMMANDS:  # 40 bytes a command, held in memory
        raise PimsimInputError(
            f"got {capacity}: {capacity * channels:,} commands on {channels} channels are too "
            "many to hold in memory",
            key="--dump-commands N",
            expected=f"at most {MAX_DUMP_COMMANDS // channels:,} per channel",
        )
    return capacity
