"""`pimsim list [hw|models|gpus|cpus]`: what pimsim knows about."""

from __future__ import annotations

import argparse
import importlib

from pimsim.core.errors import PimsimInputError

# category -> (module, function returning rows of (name, description))
LISTERS = {
    "hw": ("pimsim.config.catalog", "hw_table"),
    "models": ("pimsim.workload.catalog", "model_table"),
    "gpus": ("pimsim.baselines.catalog", "gpu_table"),
    "cpus": ("pimsim.baselines.catalog", "cpu_table"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list hardware configs, models, GPUs or CPUs")
    p.add_argument("what", nargs="?", choices=sorted(LISTERS), help="category (default: all)")
    p.set_defaults(func=run)


def _rows(category: str) -> list[tuple[str, str]] | None:
    module_name, func_name = LISTERS[category]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    return list(getattr(module, func_name)())


def run(args: argparse.Namespace) -> int:
    categories = [args.what] if args.what else list(LISTERS)
    for category in categories:
        rows = _rows(category)
        if rows is None:
            if args.what:
                raise PimsimInputError(f"'{category}' is not available in this build of pimsim")
            continue
        print(f"{category}:")
        width = max((len(name) for name, _ in rows), default=0)
        for name, description in rows:
            print(f"  {name:<{width}}  {description}")
    return 0
