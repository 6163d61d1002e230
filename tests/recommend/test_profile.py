"""Decayed profiles, the top-K selection every generator shares, the capped final pick."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from nextbest.models.recommend import (
    Interactions,
    RecommendInputError,
    best_first,
    decayed_profile,
    recency_age,
    top_k,
)

DAY = 86_400.0


def history():
    rows = [
        ("u", "a", 0.0),
        ("u", "b", 2 * DAY),
        ("u", "c", 4 * DAY),
        ("u", "d", 4 * DAY),
        ("u", "a", 1 * DAY),  # a's last touch is day 1
        ("v", "a", 10 * DAY),
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "time"])
    return Interactions.from_frame(frame, "user", "item", "time")


def test_ages_in_days_and_in_later_items():
    x = history()
    days = pd.Series(recency_age(x, "days"), index=x.last_time.indices)
    # user u: a at day 1, b at 2, c and d at 4
    assert days.iloc[:4].tolist() == [3.0, 2.0, 0.0, 0.0]
    steps = recency_age(x, "interactions")
    assert steps[:4].tolist() == [3.0, 2.0, 0.0, 0.0]  # c, d tie: both newest
    assert steps[4] == 0.0  # user v's only item
    share = recency_age(x, "share")
    assert share[:4].tolist() == [0.75, 0.5, 0.0, 0.0]  # ages over the 4 items of u


def test_profile_weights_and_truncation():
    x = history()
    p = decayed_profile(x, half_life=2.0, decay_by="days").toarray()
    assert np.allclose(p[0], [2**-1.5, 0.5, 1.0, 1.0])
    w = decayed_profile(x, base="weight").toarray()
    assert w[0].tolist() == [2.0, 1.0, 1.0, 1.0]  # a was touched twice
    recent = decayed_profile(x, max_items=2).toarray()
    assert recent[0].tolist() == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(RecommendInputError):
        decayed_profile(x, max_items=0)
    with pytest.raises(RecommendInputError):
        decayed_profile(x, base="counts")


def test_top_k_orders_breaks_ties_by_item_and_skips_unscorable():
    scores = np.array([[1.0, 3.0, 3.0, -np.inf, 2.0], [-np.inf, -np.inf, 0.5, -np.inf, -np.inf]])
    items, values = top_k(scores, 3)
    assert items.tolist() == [[1, 2, 4], [2, -1, -1]]
    assert values[0].tolist() == [3.0, 3.0, 2.0]
    assert values[1, 0] == 0.5 and np.isneginf(values[1, 1:]).all()
    wide, _ = top_k(scores[:1], 10)
    assert wide[0].tolist() == [1, 2, 4, 0, -1, -1, -1, -1, -1, -1]


def test_top_k_agrees_with_a_full_sort():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(50, 40)).astype(float)  # many ties
    items, _ = top_k(scores, 7)
    for row, got in zip(scores, items, strict=True):
        want = sorted(range(40), key=lambda j: (-row[j], j))[:7]
        assert got.tolist() == want


def _capped(row, tie_rank, category, cap, k, exempt):
    order = sorted((j for j in range(len(row)) if row[j] > -np.inf),
                   key=lambda j: (-row[j], tie_rank[j]))  # fmt: skip
    out, taken = [], {}
    for j in order:
        c = category[j]
        if cap is not None and c >= 0 and c != exempt:
            if taken.get(c, 0) >= cap:
                continue
            taken[c] = taken.get(c, 0) + 1
        out.append(j)
    return (out + [-1] * k)[:k]


@pytest.mark.parametrize("cap", [None, 1, 2])
def test_best_first_agrees_with_a_full_sort_and_the_cap(cap):
    rng = np.random.default_rng(3)
    n = 120  # more than the 50 kept per row before the cap: rows the cap leaves short
    scores = rng.integers(0, 6, size=(60, n)).astype(float)  # many ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    category = np.where(rng.random(n) < 0.05, -1, rng.integers(0, 3, n))  # a few uncategorised
    tie_order = rng.permutation(n)
    tie_rank = np.argsort(tie_order)
    exempt = rng.integers(-1, 3, len(scores))
    got = best_first(scores, tie_order, category, cap, 10, exempt)
    for row, chosen, ex in zip(scores, got, exempt, strict=True):
        assert chosen.tolist() == _capped(row, tie_rank, category, cap, 10, ex)


def test_one_users_ages_are_those_of_a_batch() -> None:
    from nextbest.models.recommend.profile import entry_ages

    rng = np.random.default_rng(0)
    for _ in range(200):
        counts = rng.integers(0, 8, int(rng.integers(1, 5)))
        indptr = np.r_[0, np.cumsum(counts)]
        t = rng.integers(0, 5, indptr[-1]).astype(float) * 86_400
        for unit in ("days", "interactions", "share"):
            batch = entry_ages(indptr, t, unit)
            for a, b in itertools.pairwise(indptr):
                assert np.array_equal(entry_ages(np.array([0, b - a]), t[a:b], unit), batch[a:b])
