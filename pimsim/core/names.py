""" "Did you mean" for every name a user types: hardware, model, GPU and CPU names, keys and
timing parameters."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(name: str, allowed: Iterable[str], limit: int = 3) -> list[str]:
    """The allowed names `name` most likely meant: the ones it is a prefix of (`nRCD` ->
    `nRCDRD`, `nRCDWR`; a prefix means more than a near spelling, so `nRC` is not offered),
    else an exact match but for case, else the closest spellings."""
    allowed = list(dict.fromkeys(str(a) for a in allowed))
    text = str(name)
    lower = text.lower()
    if text:
        prefixed = [a for a in allowed if a.lower().startswith(lower) and a.lower() != lower]
        if prefixed:
            return sorted(prefixed, key=len)[:limit]
    same = [a for a in allowed if a.lower() == lower and a != text]
    if same:
        return same[:1]
    by_lower = {a.lower(): a for a in allowed}
    close = difflib.get_close_matches(lower, list(by_lower), n=limit, cutoff=0.6)
    return [by_lower[c] for c in close]


def did_you_mean(name: str, allowed: Iterable[str]) -> str:
    """ "; did you mean 'a'?" (or "'a' or 'b'"), or "" when nothing is close."""
    close = close_names(name, allowed)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
