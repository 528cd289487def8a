"""Where a mixture's experts live: spread over every channel (each expert a matrix like any
other, the default), or dealt over channel groups (expert e on group e mod G, each group's
experts stacked in the same rows), so that experts on different groups run at the same time
and a skewed routing loads some groups more than others (expert parallelism inside one
module). On all-bank PIM the spread layout is never slower for one batch of rows (every
expert gets every channel); grouping trades that for parallel experts and studies imbalance.
"""

from __future__ import annotations

import dataclasses
import math
import re

from pimsim.core.errors import PimsimInputError
from pimsim.dram.programs import EMPTY, ChannelProgram
from pimsim.mapping.programs import Geometry

_EXPERT = re.compile(r"^L\d+\.experts\.(\d+)\.")


def expert_of(weight: str) -> int:
    """The expert a weight name belongs to (`L3.experts.5.down` -> 5), -1 for other weights."""
    found = _EXPERT.match(weight)
    return int(found.group(1)) if found else -1


def group_of(expert, groups: int):
    """The channel group holding expert `expert` (an int or an int array): e mod G, the one
    placement rule the mapping and the report share."""
    return expert % groups


def check_expert_groups(spec, channels: int, groups: object) -> int:
    """`groups` as an int, or `PimsimInputError` (key --expert-groups) naming the range."""
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise PimsimInputError(f"got {groups!r}", key="--expert-groups", expected="an integer")
    if groups == 1:
        return 1
    if not spec.experts:
        raise PimsimInputError(
            f"model {spec.name} has no experts to group",
            key="--expert-groups",
            expected="1 (or a mixture-of-experts model)",
        )
    high = min(spec.experts, channels)
    if not 1 <= groups <= high:
        raise PimsimInputError(
            f"got {groups}", key="--expert-groups", expected=f"1..{high} (experts, channels)"
        )
    return groups


def group_geometry(geo: Geometry, groups: int) -> Geometry:
    """The geometry of one channel group (leftover channels hold no experts)."""
    return dataclasses.replace(geo, channels=geo.channels // groups)


def on_group(
    programs: list[ChannelProgram], geo: Geometry, group: int, width: int
) -> list[ChannelProgram]:
    """A group's programs (over its `width` channels) in the whole system's channel list."""
    before = [EMPTY] * (group * width)
    return before + list(programs) + [EMPTY] * (geo.channels - len(before) - len(programs))


def block_rows(spec, groups: int, rows: int) -> int:
    """Rows of one weight of all experts of a layer: the experts a group stacks."""
    return math.ceil(spec.experts / groups) * rows
