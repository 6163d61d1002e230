"""The per-user temporal holdout, checked on a hand-made ratings frame with ties."""

from __future__ import annotations

import pandas as pd
import pytest

from nextbest.models.recommend.base import RecommendInputError
from nextbest.models.recommend.split import holdout_protocol, last_fraction_split


def ratings():
    rows = [
        # user 1: 11 ratings; the last three share time 9 -> ordered by movie id 85, 90, 95
        *[(1, m, t) for m, t in zip([50, 40, 30, 20, 10, 60, 70, 80], range(1, 9), strict=True)],
        (1, 95, 9),
        (1, 85, 9),
        (1, 90, 9),
        # user 2: 5 ratings -> exactly one held out: the later of the two at time 5
        (2, 10, 1),
        (2, 20, 2),
        (2, 30, 3),
        (2, 41, 5),
        (2, 40, 5),
        # user 3: 4 ratings -> too few, all training
        *[(3, m, t) for m, t in [(10, 1), (20, 2), (30, 3), (40, 4)]],
    ]
    return pd.DataFrame(rows, columns=["userId", "movieId", "timestamp"])


def test_last_fifth_by_time_is_held_out_ties_by_movie_id():
    train, test = last_fraction_split(ratings(), "userId", "movieId", "timestamp")
    held = test.groupby("userId")["movieId"].apply(list).to_dict()
    assert held == {1: [90, 95], 2: [41]}  # floor(0.2 * 11) = 2; floor(0.2 * 5) = 1
    assert len(train) + len(test) == len(ratings())
    assert sorted(train[train.userId == 3].movieId) == [10, 20, 30, 40]


def test_validation_is_cut_the_same_way_from_the_training_part():
    p = holdout_protocol(ratings(), "userId", "movieId", "timestamp")
    assert p.test_truth == {1: {90, 95}, 2: {41}}
    # user 1 keeps 9 training ratings: floor(1.8) = 1 -> 85, the last of the tie left
    # user 2 keeps 4: below the minimum, so no validation
    assert p.validation_truth == {1: {85}}
    assert len(p.fit) == len(p.train) - 1
    assert set(p.fit.itertuples(index=False)) < set(p.train.itertuples(index=False))


def test_items_never_seen_in_training_stay_in_the_truth():
    f = ratings()
    p = holdout_protocol(f, "userId", "movieId", "timestamp")
    assert 95 not in set(p.train.movieId)  # nobody rated 95 in training
    assert 95 in p.test_truth[1]


def test_truth_leaves_out_items_the_user_already_has():
    f = pd.DataFrame({"u": [1] * 5, "i": ["a", "b", "c", "d", "a"], "t": [1, 2, 3, 4, 5]})
    p = holdout_protocol(f, "u", "i", "t")
    assert p.test_truth == {}  # the held-out "a" is already in training


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"fraction": 1.0}, "fraction"), ({"min_interactions": 1}, "min_interactions")],
)
def test_bad_settings(kw, field):
    with pytest.raises(RecommendInputError) as err:
        last_fraction_split(ratings(), "userId", "movieId", "timestamp", **kw)
    assert err.value.field == field


def test_missing_column():
    with pytest.raises(RecommendInputError, match="'ts'"):
        last_fraction_split(ratings(), "userId", "movieId", "ts")
