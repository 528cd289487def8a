"""Time to move bytes over the PIM <-> ASIC link.

Used for the embedding-row fetch, for sending input vectors to the PIM global buffers, and for
reading results back when the DRAM model does not already issue them as commands. Each transfer
pays `link_latency_ns` once plus its bytes at `link_bandwidth_GBps` per channel (1 GB/s is one
byte per ns); `channels` transfers proceed in parallel, each carrying nbytes / channels.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from pimsim.config.schema import AsicConfig


def _exact(value: float) -> Fraction:
    """A config float as the decimal it was written as (12.8 -> 64/5), not its binary value."""
    return Fraction(repr(float(value)))


def _check(channels: int) -> None:
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")


def link_transfer_ps(nbytes: int, asic: AsicConfig, channels: int = 1) -> int:
    """Integer picoseconds (ceil) for `nbytes` over `channels` link channels:
    link_latency_ns + nbytes / (link_bandwidth_GBps * channels); 0 for an empty transfer."""
    _check(channels)
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0, got {nbytes}")
    if nbytes == 0:
        return 0
    ps = _exact(asic.link_latency_ns) * 1000 + Fraction(int(nbytes) * 1000) / (
        _exact(asic.link_bandwidth_GBps) * channels
    )
    return -(-ps.numerator // ps.denominator)


def link_transfer_ps_array(nbytes: np.ndarray, asic: AsicConfig, channels: int = 1) -> np.ndarray:
    """`link_transfer_ps` for an int64 array of byte counts (vectorised, same integer result)."""
    _check(channels)
    nbytes = np.asarray(nbytes, dtype=np.int64)
    if (nbytes < 0).any():
        raise ValueError("nbytes must be >= 0")
    lat = _exact(asic.link_latency_ns) * 1000
    bw = _exact(asic.link_bandwidth_GBps) * channels  # bytes per ns
    # ps = lat + nbytes * 1000 / bw, over the common denominator D of lat and bw's inverse.
    den = lat.denominator * bw.numerator
    num = nbytes * (1000 * bw.denominator * lat.denominator) + lat.numerator * bw.numerator
    ps = -(-num // den)
    return np.where(nbytes > 0, ps, 0).astype(np.int64)
