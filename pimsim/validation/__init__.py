"""Agreement with independent references: reference points as data, and `pimsim validate`.

    from pimsim.validation import validate
    rows = validate("quick")        # one row per point: reference, pimsim, ratio, verdict

Points live in `pimsim/validation/points/*.yaml` (format: `pimsim.validation.points`), the
raw measurements and simulator outputs they come from in `pimsim/validation/data/`, and the
scripts that produced those in `analysis/validation/`.
"""

from pimsim.validation.points import Point, load_points
from pimsim.validation.runner import VERDICTS, Row, validate

__all__ = ["VERDICTS", "Point", "Row", "load_points", "validate"]
