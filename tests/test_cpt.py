"""Tests of :mod:`distancing_bn.cpt`: noisy-OR, noisy-MAX and binary tables."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distancing_bn.cpt import binary_table, noisy_max, noisy_or
from strategies import probabilities, sub_distributions


@st.composite
def noisy_max_params(draw: st.DrawFn, max_levels: int = 4, max_parents: int = 4):
    """(leak, strengths) for a child with 2..max_levels answers and 0..max_parents parents."""
    levels = draw(st.integers(2, max_levels))
    n = draw(st.integers(0, max_parents))
    leak = draw(sub_distributions(levels - 1))
    strengths = [draw(sub_distributions(levels - 1)) for _ in range(n)]
    return leak, strengths


def _cdf(row: np.ndarray) -> np.ndarray:
    return np.cumsum(row, axis=-1)


# ----------------------------------------------------------------------------- known answers
def test_noisy_or_two_parents_known_answer() -> None:
    table = noisy_or(0.1, [0.5, 0.8])
    # P(no | parents) = 0.9 * prod(1 - s_i) over the present parents
    expected = np.array(
        [
            [[0.9, 0.1], [0.18, 0.82]],  # parent 1 absent: parent 2 absent / present
            [[0.45, 0.55], [0.09, 0.91]],  # parent 1 present
        ]
    )
    assert table.shape == (2, 2, 2)
    np.testing.assert_allclose(table, expected, atol=1e-15)


def test_noisy_or_no_parents_is_the_leak() -> None:
    np.testing.assert_allclose(noisy_or(0.25, []), [0.75, 0.25], atol=1e-15)


def test_noisy_max_two_parents_three_levels_known_answer() -> None:
    # the example's 'less_talk': leak {a_little: .15, a_lot: .05}, stress, drifting
    table = noisy_max([0.15, 0.05], [[0.4, 0.1], [0.3, 0.5]])
    # CDFs: leak (.8, .95, 1), stress (.5, .9, 1), drifting (.2, .5, 1); P(<= k) is their product
    expected = np.array(
        [
            [[0.8, 0.15, 0.05], [0.16, 0.315, 0.525]],
            [[0.4, 0.455, 0.145], [0.08, 0.3475, 0.5725]],
        ]
    )
    assert table.shape == (2, 2, 3)
    np.testing.assert_allclose(table, expected, atol=1e-15)


def test_noisy_max_docstring_example() -> None:
    np.testing.assert_allclose(noisy_max([0.1], [[0.8]]), [[0.9, 0.1], [0.18, 0.82]], atol=1e-15)


def test_noisy_max_strength_one_forces_the_top_answer() -> None:
    table = noisy_max([0.2, 0.1], [[0.0, 1.0]])
    np.testing.assert_allclose(table[1], [0.0, 0.0, 1.0], atol=1e-15)


def test_binary_table_rows() -> None:
    np.testing.assert_allclose(binary_table(0.0, 0.6), [[1.0, 0.0], [0.4, 0.6]])
    np.testing.assert_allclose(binary_table(0.1, 0.7), [[0.9, 0.1], [0.3, 0.7]])


def test_noisy_max_raises_on_level_mismatch() -> None:
    with pytest.raises(ValueError, match=r"parent 1 has 2 levels, the leak has 3"):
        noisy_max([0.1, 0.1], [[0.2, 0.2], [0.3]])


# ----------------------------------------------------------------------------- properties
@given(noisy_max_params())
def test_noisy_max_rows_are_distributions(params) -> None:
    leak, strengths = params
    table = noisy_max(leak, strengths)
    levels = len(leak) + 1
    assert table.shape == (2,) * len(strengths) + (levels,)
    assert np.all(table >= 0) and np.all(table <= 1)
    np.testing.assert_allclose(table.sum(axis=-1), 1.0, atol=1e-12)


@given(noisy_max_params())
def test_noisy_max_all_absent_row_is_the_leak(params) -> None:
    leak, strengths = params
    table = noisy_max(leak, strengths)
    row = table[(0,) * len(strengths)]
    np.testing.assert_allclose(row, [max(0.0, 1 - sum(leak)), *leak], atol=1e-12)


@given(noisy_max_params(max_levels=2))
def test_noisy_max_with_two_answers_equals_noisy_or(params) -> None:
    leak, strengths = params
    np.testing.assert_allclose(noisy_max(leak, strengths), noisy_or(leak[0], [s[0] for s in strengths]), atol=1e-15)


@given(probabilities(), st.lists(probabilities(), max_size=4))
def test_noisy_or_matches_formula(leak: float, strengths: list[float]) -> None:
    table = noisy_or(leak, strengths)
    for config in np.ndindex(*(2,) * len(strengths)):
        p_no = (1 - leak) * np.prod([1 - s for s, on in zip(strengths, config, strict=True) if on])
        np.testing.assert_allclose(table[config], [p_no, 1 - p_no], atol=1e-12)


@given(noisy_max_params(max_parents=4).filter(lambda p: len(p[1]) >= 1), st.data())
def test_noisy_max_adding_a_present_parent_never_lowers_upper_tail(params, data) -> None:
    leak, strengths = params
    table = noisy_max(leak, strengths)
    i = data.draw(st.integers(0, len(strengths) - 1), label="parent")
    absent = np.take(table, 0, axis=i)
    present = np.take(table, 1, axis=i)
    # P(answer >= k) = 1 - P(answer <= k - 1): compare the CDFs (present is never above absent)
    assert np.all(_cdf(present) <= _cdf(absent) + 1e-12)


@given(noisy_max_params(max_parents=3))
def test_noisy_max_zero_strength_parent_has_no_effect(params) -> None:
    leak, strengths = params
    table = noisy_max(leak, [*strengths, [0.0] * len(leak)])
    np.testing.assert_allclose(table[..., 0, :], table[..., 1, :], atol=1e-15)


@given(noisy_max_params(max_parents=3))
def test_noisy_max_parent_order_only_permutes_axes(params) -> None:
    leak, strengths = params
    table = noisy_max(leak, strengths)
    reversed_table = noisy_max(leak, strengths[::-1])
    n = len(strengths)
    np.testing.assert_allclose(np.transpose(reversed_table, [*[*range(n)][::-1], n]), table, atol=1e-14)
