"""Reference points: what pimsim is compared with, each as data with its provenance.

A points file (`pimsim/validation/points/*.yaml`) holds one source's points:

```yaml
version: 1
source: SK hynix AiM simulator (arkhadem/aim_simulator @ 0f28a07)
points:
  - id: aim-pimsim-order-1ch-4096x4096
    subset: quick                    # quick (CI) | full
    quantity: GEMV cycles, 4096 x 4096, 1 channel
    pimsim: {kind: gemv, hw: gddr6_aim, set: [dram.channels=1], rows: 4096, cols: 4096}
    reference: {value: 290308, unit: cycles, kind: simulator,
                source: "aim_simulator_gemv.json: ...", date: 2026-12-01}
    compare: ratio                   # ratio (default) | at_most | at_least | range
    tolerance: 0.03                  # |pimsim / reference - 1| <= tolerance
    reason: why this tolerance
    known_difference: what pimsim models differently (optional)
```

Verdicts: `ok` inside the tolerance; `outside` (a failure) when not; `known` when outside but
the point names a modelled difference; `claim` for a paper's claim whose parameters are partly
unknown (the distance is shown, never a failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pimsim.core.errors import PimsimInputError
from pimsim.core.io import read_yaml

POINTS_DIR = Path(__file__).resolve().parent / "points"
SUBSETS = ("quick", "full")
COMPARES = ("ratio", "at_most", "at_least", "range")
KINDS = ("simulator", "measurement", "paper")
SPEC_KINDS = ("gemv", "replay", "baseline", "run", "compare")  # pimsim.validation.evaluate
POINT_KEYS = (
    "id",
    "subset",
    "quantity",
    "pimsim",
    "reference",
    "compare",
    "tolerance",
    "reason",
    "known_difference",
    "claim",
)
REFERENCE_KEYS = ("value", "unit", "kind", "source", "date", "low", "high", "spread")


@dataclass(frozen=True)
class Point:
    id: str
    subset: str
    quantity: str
    pimsim: dict[str, Any]
    value: float  # the reference value (for `range`: the low end)
    unit: str
    kind: str
    source: str
    file: str
    compare: str = "ratio"
    tolerance: float = 0.0
    reason: str = ""
    known_difference: str = ""
    claim: bool = False
    high: float | None = None  # `range`: the high end
    extra: dict[str, Any] = field(default_factory=dict)


def _number(value: Any, file: str, key: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PimsimInputError(f"got {value!r}", file=file, key=key, expected="a number")
    if minimum is not None and value < minimum:
        raise PimsimInputError(f"got {value!r}", file=file, key=key, expected=f">= {minimum}")
    return float(value)


def _require(raw: dict, key: str, file: str, where: str) -> Any:
    if key not in raw:
        raise PimsimInputError("missing", file=file, key=f"{where}.{key}")
    return raw[key]


def _point(raw: Any, file: str, where: str) -> Point:
    if not isinstance(raw, dict):
        raise PimsimInputError("expected a mapping", file=file, key=where)
    for key in raw:
        if key not in POINT_KEYS:
            raise PimsimInputError(
                f"unknown key {key!r}",
                file=file,
                key=f"{where}.{key}",
                expected="one of " + ", ".join(POINT_KEYS),
            )
    ref = _require(raw, "reference", file, where)
    if not isinstance(ref, dict) or not set(ref) <= set(REFERENCE_KEYS):
        raise PimsimInputError(
            "expected a mapping of " + ", ".join(REFERENCE_KEYS),
            file=file,
            key=f"{where}.reference",
        )
    compare = raw.get("compare", "ratio")
    if compare not in COMPARES:
        raise PimsimInputError(
            f"got {compare!r}",
            file=file,
            key=f"{where}.compare",
            expected="one of " + ", ".join(COMPARES),
        )
    subset = raw.get("subset", "full")
    if subset not in SUBSETS:
        raise PimsimInputError(
            f"got {subset!r}", file=file, key=f"{where}.subset", expected="quick or full"
        )
    kind = ref.get("kind", "simulator")
    if kind not in KINDS:
        raise PimsimInputError(
            f"got {kind!r}",
            file=file,
            key=f"{where}.reference.kind",
            expected="one of " + ", ".join(KINDS),
        )
    spec = _require(raw, "pimsim", file, where)
    if not isinstance(spec, dict) or "kind" not in spec:
        raise PimsimInputError("expected a mapping with a kind", file=file, key=f"{where}.pimsim")
    if spec["kind"] not in SPEC_KINDS:
        raise PimsimInputError(
            f"got {spec['kind']!r}",
            file=file,
            key=f"{where}.pimsim.kind",
            expected="one of " + ", ".join(SPEC_KINDS),
        )
    if compare == "range":
        value = _number(
            _require(ref, "low", file, f"{where}.reference"), file, f"{where}.reference.low"
        )
        high = _number(
            _require(ref, "high", file, f"{where}.reference"), file, f"{where}.reference.high"
        )
    else:
        value = _number(_require(ref, "value", file, where), file, f"{where}.reference.value")
        high = None
    tolerance = _number(raw.get("tolerance", 0.0), file, f"{where}.tolerance", 0.0)
    return Point(
        id=str(_require(raw, "id", file, where)),
        subset=subset,
        quantity=str(_require(raw, "quantity", file, where)),
        pimsim=dict(spec),
        value=value,
        unit=str(ref.get("unit", "")),
        kind=kind,
        source=str(ref.get("source", "")),
        file=Path(file).name,
        compare=compare,
        tolerance=tolerance,
        reason=str(raw.get("reason", "")),
        known_difference=str(raw.get("known_difference", "")),
        claim=bool(raw.get("claim", False)),
        high=high,
        extra={k: ref[k] for k in ("date", "spread") if k in ref},
    )


def load_points(folder: Path = POINTS_DIR, subset: str = "full") -> list[Point]:
    """Every point of every file in `folder` (the quick subset, or all of them)."""
    points: list[Point] = []
    seen: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        data = read_yaml(path)
        raw_points = data.get("points") if isinstance(data, dict) else None
        if not isinstance(raw_points, list):
            raise PimsimInputError("expected a list", file=path, key="points")
        for i, raw in enumerate(raw_points):
            point = _point(raw, str(path), f"points[{i}]")
            if point.id in seen:
                raise PimsimInputError(
                    f"duplicate id {point.id!r}", file=path, key=f"points[{i}].id"
                )
            seen.add(point.id)
            if subset == "full" or point.subset == "quick":
                points.append(point)
    return points
