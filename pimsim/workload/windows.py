"""Which operators count per output token: the decode steps, never the prompt.

A run yields its first token at the end of the prompt (time to first token, TTFT) and each
further token with one decode step. Per-token figures (time per output token, energy per token,
the baselines' per-token cost) are taken over the decode steps, the steps after the one that
ran the first LM head; a run that generates a single token has no decode step, and its
per-token figures are those of the step that produced that token (the last prompt step, or the
whole prompt when it was processed as one batched step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LM_HEAD = "lm_head"


@dataclass(frozen=True)
class TokenWindow:
    """The operators whose time and energy count per output token."""

    mask: np.ndarray  # bool per operator
    tokens: int  # output tokens the window produces
    decode: bool  # True: decode steps (tokens 2..N); False: the step that produced token 1
    first_head_position: int  # position (table `token`) of the step that yields token 1


def output_token_window(table: pd.DataFrame) -> TokenWindow:
    """The per-token window of an operator table (see the module docstring)."""
    positions = table["token"].to_numpy()
    heads = np.sort(positions[(table["name"] == LM_HEAD).to_numpy(dtype=bool)])
    if len(heads) >= 2:
        return TokenWindow(positions > heads[0], len(heads) - 1, True, int(heads[0]))
    last = int(heads[0]) if len(heads) else int(positions.max(initial=0))
    return TokenWindow(positions == last, 1, False, last)
