"""`pimsim` command line: one sub-command per module of this package (`pimsim.cli.run`, ...).

Exit codes (DESIGN.md 4.1): 0 success, 2 bad input (one-paragraph message on stderr), 1 a bug.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pimsim.core.errors import PimsimInputError

# Each module defines `register(subparsers)` which adds its parser and sets `func`.
COMMAND_MODULES = (
    "pimsim.cli.run",
    "pimsim.cli.gemv",
    "pimsim.cli.compare",
    "pimsim.cli.sweep",
    "pimsim.cli.plot",
    "pimsim.cli.lower",
    "pimsim.cli.listing",
    "pimsim.cli.check_config",
    "pimsim.cli.check_log",
    "pimsim.cli.replay",
    "pimsim.cli.validate",
    "pimsim.cli.warmup",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors are bad input too: exit 2
        self.print_usage(sys.stderr)
        sys.stderr.write(f"pimsim: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pimsim", description=__doc__.splitlines()[0])
    from pimsim import __version__

    parser.add_argument("--version", action="version", version=f"pimsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command_line = command_line(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        _check_outputs(args)
        result = args.func(args)
    except PimsimInputError as exc:
        sys.stderr.write(f"pimsim: error: {exc}\n")
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (a sweep): what finished is kept
        sys.stderr.write("pimsim: interrupted\n")
        return 130
    return int(result or 0)


def command_line(argv: list[str]) -> str:
    """The command as typed, with absolute paths made relative to the working folder (a
    report records how it was made, never where on this machine)."""
    import os
    import shlex

    cwd = os.getcwd()
    words = []
    for word in argv:
        if os.path.isabs(word):
            word = os.path.relpath(word, cwd)
        words.append(word)
    return shlex.join(["pimsim", *words])


# output options and whether each names a folder (`--out` of run and sweep) or a file
_OUTPUTS = ("json", "csv", "output", "out", "timeline")


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path must be writable before the command does any work."""
    from pimsim.core.io import check_output_path

    figure = getattr(args.func, "__module__", "").endswith(".plot")
    for name in _OUTPUTS:
        value = getattr(args, name, None)
        if isinstance(value, str) and value != "-":
            check_output_path(value, folder=name == "out" and not figure)
    dump = getattr(args, "dump_commands", None)
    if isinstance(dump, (list, tuple)) and len(dump) == 2 and dump[1] != "-":
        check_output_path(dump[1])


if __name__ == "__main__":
    raise SystemExit(main())
