"""The plain-DRAM request traces of the replay reference points, generated (deterministic).

    stream        N sequential LINE-byte reads from address 0, all arriving at cycle 0
    random        N reads at uniformly random LINE-aligned addresses in the first SPAN bytes,
                  all arriving at cycle 0 (numpy default_rng(SEED))
    random_paced  the random trace's addresses, one request every PACE cycles

`analysis/validation/make_traces.py` writes the same traces as files (``CYCLE R|W ADDRESS``)
for the reference simulators; `pimsim validate` builds them in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pimsim.core.errors import PimsimInputError
from pimsim.dram.replay import Trace

GENERATORS = ("stream", "random", "random_paced")
LINE_BYTES = 64
SPAN_BYTES = 8 << 30
SEED = 2024
PACE_CYCLES = 40
MAX_REQUESTS = 10_000_000


def trace_arrays(
    generator: str,
    requests: int,
    *,
    line_bytes: int = LINE_BYTES,
    span_bytes: int = SPAN_BYTES,
    pace_cycles: int = PACE_CYCLES,
    seed: int = SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """(arrival cycles, byte addresses) of a generated read trace."""
    if generator not in GENERATORS:
        raise PimsimInputError(
            f"got {generator!r}", key="trace.generator", expected=" | ".join(GENERATORS)
        )
    if not 1 <= requests <= MAX_REQUESTS:
        raise PimsimInputError(
            f"got {requests}", key="trace.requests", expected=f"1..{MAX_REQUESTS}"
        )
    if generator == "stream":
        return np.zeros(requests, np.int64), np.arange(requests, dtype=np.uint64) * np.uint64(
            line_bytes
        )
    rng = np.random.default_rng(seed)
    lines = rng.integers(0, span_bytes // line_bytes, size=requests, dtype=np.uint64)
    addresses = lines * np.uint64(line_bytes)
    if generator == "random":
        return np.zeros(requests, np.int64), addresses
    return np.arange(requests, dtype=np.int64) * pace_cycles, addresses


def generated_trace(spec: dict[str, Any]) -> Trace:
    """A `Trace` from a points-file spec `{generator, requests, line_bytes?, span_bytes?}`."""
    keys = {"generator", "requests", "line_bytes", "span_bytes", "pace_cycles", "seed"}
    unknown = set(spec) - keys
    if unknown:
        raise PimsimInputError(
            f"unknown key {sorted(unknown)[0]!r}",
            key="pimsim.trace",
            expected="one of " + ", ".join(sorted(keys)),
        )
    cycles, addresses = trace_arrays(
        str(spec.get("generator")),
        int(spec.get("requests", 0)),
        **{k: int(spec[k]) for k in keys - {"generator", "requests"} if k in spec},
    )
    n = len(addresses)
    return Trace(
        f"{spec['generator']}:{n}",
        cycles,
        np.zeros(n, dtype=bool),
        addresses,
        np.arange(1, n + 1, dtype=np.int64),
    )
