"""Run reference points and judge them: one row per point, and the table's text forms."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from pimsim.core.errors import PimsimInputError
from pimsim.validation.evaluate import Evaluator
from pimsim.validation.points import POINTS_DIR, Point, load_points

VERDICTS = ("ok", "known", "claim", "outside")


@dataclass(frozen=True)
class Row:
    id: str
    quantity: str
    source: str
    kind: str
    reference: float
    high: float | None
    pimsim: float
    ratio: float
    compare: str
    tolerance: float
    verdict: str
    reason: str
    known_difference: str
    unit: str

    def to_json(self) -> dict:
        return asdict(self)


def judge(point: Point, value: float) -> tuple[float, bool]:
    """(pimsim / reference, whether the point's tolerance holds)."""
    ratio = value / point.value if point.value else math.inf
    tol = point.tolerance + 1e-12  # (a ratio written as 1.03 is 1.0300000000000002)
    if point.compare == "at_most":
        inside = value <= point.value * (1 + tol)
    elif point.compare == "at_least":
        inside = value >= point.value * (1 - tol)
    elif point.compare == "range":
        inside = point.value * (1 - tol) <= value <= point.high * (1 + tol)
    else:
        inside = abs(ratio - 1.0) <= tol
    return ratio, inside


def verdict(point: Point, inside: bool) -> str:
    if inside:
        return "ok"
    if point.claim:
        return "claim"
    return "known" if point.known_difference else "outside"


def validate(subset: str = "quick", progress=None, folder: Path = POINTS_DIR) -> list[Row]:
    """Evaluate every point of `subset` (quick: the CI set; full: all) in `folder`."""
    evaluator = Evaluator()
    rows = []
    points = load_points(folder, subset=subset)
    if not points:
        raise PimsimInputError(
            f"no {subset} points", file=str(folder), expected="points files (*.yaml)"
        )
    for n, point in enumerate(points):
        if progress:
            progress(n, len(points), point.id)
        try:
            value = evaluator.value(point.pimsim)
        except PimsimInputError as exc:  # name the point whose spec is wrong
            raise PimsimInputError(
                exc.detail,
                file=point.file,
                key=f"{point.id}: {exc.key or 'pimsim'}",
                expected=exc.expected,
            ) from None
        ratio, inside = judge(point, value)
        rows.append(
            Row(
                id=point.id,
                quantity=point.quantity,
                source=point.source,
                kind=point.kind,
                reference=point.value,
                high=point.high,
                pimsim=value,
                ratio=ratio,
                compare=point.compare,
                tolerance=point.tolerance,
                verdict=verdict(point, inside),
                reason=point.reason,
                known_difference=point.known_difference,
                unit=point.unit,
            )
        )
    return rows


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 1e10:
        return f"{int(value)}"
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4g}"
    return f"{value:.3e}"


def _reference_text(row: Row) -> str:
    if row.compare == "range":
        return f"{_number(row.reference)}..{_number(row.high)}"
    prefix = {"at_most": "<= ", "at_least": ">= "}.get(row.compare, "")
    return prefix + _number(row.reference)


def _percent(fraction: float) -> str:
    value = fraction * 100
    return f"{value:.0f}%" if value >= 1 or value == 0 else f"{value:.2g}%"


def text_table(rows: list[Row]) -> str:
    """The terminal table: point, reference, pimsim, ratio, tolerance, verdict."""
    lines = [
        f"{'point':<56} {'unit':<7} {'reference':>14} {'pimsim':>12} {'ratio':>7} "
        f"{'tol':>6}  verdict"
    ]
    for r in rows:
        lines.append(
            f"{r.id:<56} {r.unit:<7} {_reference_text(r):>14} {_number(r.pimsim):>12} "
            f"{r.ratio:>7.4f} {_percent(r.tolerance):>6}  {r.verdict}"
        )
    counts = {v: sum(1 for r in rows if r.verdict == v) for v in VERDICTS}
    lines.append(
        f"{len(rows)} points: "
        + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        + " (known: outside its tolerance for a difference the point names; claim: a paper's "
        "claim shown with its distance)"
    )
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    """The README's table: every point with its source, distance, verdict and why."""
    lines = [
        "| point | quantity | reference | source | pimsim | ratio | tolerance | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        note = r.known_difference if r.verdict == "known" else ""
        lines.append(
            f"| `{r.id}` | {r.quantity} | {_reference_text(r)} {r.unit} | {r.source} | "
            f"{_number(r.pimsim)} | {r.ratio:.4f} | {_percent(r.tolerance)} ({r.reason}) | "
            f"{r.verdict}{': ' + note if note else ''} |"
        )
    return "\n".join(lines)
