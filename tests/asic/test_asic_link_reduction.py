"""PIM <-> ASIC link transfer time and the partial-sum reduction cost."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pimsim.asic import (
    link_transfer_ps,
    link_transfer_ps_array,
    reduction_cycles,
    reduction_ops,
)
from pimsim.config import AsicConfig

ASIC = AsicConfig(vector_lanes=64, pipeline_latency_cycles=8)


def test_reduction_hand_computed():
    # 4 partials per output, 100 outputs: 3 * 100 = 300 adds; 8 + ceil(300 / 64) = 8 + 5 = 13.
    assert reduction_ops(4, 100) == 300
    assert reduction_cycles(4, 100, ASIC) == 13
    # 2 partials of a 6400-wide FFN output: 6400 adds, 8 + 100 = 108.
    assert reduction_cycles(2, 6400, ASIC) == 108


@pytest.mark.parametrize("partials", [0, 1])
def test_nothing_to_reduce_costs_nothing(partials):
    assert reduction_cycles(partials, 1000, ASIC) == 0


def test_reduction_rejects_negative_shapes():
    with pytest.raises(ValueError):
        reduction_cycles(-1, 10, ASIC)


@given(
    partials=st.integers(2, 64),
    outputs=st.integers(1, 100_000),
    lanes=st.integers(1, 1024),
    latency=st.integers(0, 32),
)
def test_reduction_formula(partials, outputs, lanes, latency):
    asic = AsicConfig(vector_lanes=lanes, pipeline_latency_cycles=latency)
    expected = latency + math.ceil((partials - 1) * outputs / lanes)
    assert reduction_cycles(partials, outputs, asic) == expected


def test_link_hand_computed():
    asic = AsicConfig(link_bandwidth_GBps=32.0, link_latency_ns=10.0)
    # 1 GB/s = 1 byte/ns. 64 B at 32 B/ns = 2 ns: 10 000 + 2 000 ps.
    assert link_transfer_ps(64, asic) == 12_000
    # Over 4 channels: 64 / 128 B/ns = 0.5 ns.
    assert link_transfer_ps(64, asic, channels=4) == 10_500
    # 1 B at 32 B/ns = 31.25 ps, rounded up.
    assert link_transfer_ps(1, asic) == 10_032
    # A GPT2-XL activation vector (1600 x 2 B) = 3200 B / 32 = 100 ns.
    assert link_transfer_ps(3200, asic) == 110_000
    assert link_transfer_ps(0, asic) == 0


def test_link_uses_the_decimal_config_values():
    # 128 B at 12.8 GB/s is exactly 10 ns; a binary float would round 12.8 and ceil to 10 001.
    asic = AsicConfig(link_bandwidth_GBps=12.8, link_latency_ns=0.3)
    assert link_transfer_ps(128, asic) == 300 + 10_000


def test_link_rejects_bad_arguments():
    with pytest.raises(ValueError):
        link_transfer_ps(-1, ASIC)
    with pytest.raises(ValueError):
        link_transfer_ps(8, ASIC, channels=0)


@given(
    nbytes=st.lists(st.integers(0, 1 << 30), min_size=1, max_size=20),
    bandwidth=st.sampled_from([1.0, 12.8, 16.0, 32.0, 64.5, 256.0]),
    latency=st.sampled_from([0.0, 0.3, 10.0, 25.5]),
    channels=st.integers(1, 16),
)
def test_link_array_equals_scalar_and_exact_formula(nbytes, bandwidth, latency, channels):
    asic = AsicConfig(link_bandwidth_GBps=bandwidth, link_latency_ns=latency)
    scalar = [link_transfer_ps(n, asic, channels) for n in nbytes]
    assert link_transfer_ps_array(np.array(nbytes), asic, channels).tolist() == scalar
    for n, ps in zip(nbytes, scalar, strict=True):
        exact = Fraction(str(latency)) * 1000 + Fraction(n * 1000) / (
            Fraction(str(bandwidth)) * channels
        )
        assert ps == (math.ceil(exact) if n else 0)
