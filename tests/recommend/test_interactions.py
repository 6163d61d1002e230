"""Interactions: summed weights, last times, decay, id universes and bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from nextbest.models.recommend.base import RecommendInputError
from nextbest.models.recommend.interactions import Interactions


def frame():
    return pd.DataFrame(
        {
            "u": ["b", "a", "a", "a"],
            "i": [2, 10, 2, 10],
            "t": [100.0, 10.0, 50.0, 30.0],
            "w": [1.0, 2.0, 3.0, 4.0],
        }
    )


def test_weights_are_summed_and_the_last_time_kept():
    x = Interactions.from_frame(frame(), "u", "i", "t", "w")
    assert x.users.tolist() == ["a", "b"]
    assert x.items.tolist() == [2, 10]  # integer ids sort as numbers
    assert x.matrix.toarray().tolist() == [[3.0, 6.0], [1.0, 0.0]]
    assert x.last_time.toarray().tolist() == [[50.0, 30.0], [100.0, 0.0]]
    # the log is ordered by user, then time
    assert x.log["time"].tolist() == [10.0, 30.0, 50.0, 100.0]
    assert x.log["user"].tolist() == [0, 0, 0, 1]


def test_age_decay_halves_at_the_half_life():
    day = 86_400.0
    f = pd.DataFrame({"u": [1, 1], "i": ["x", "y"], "t": [0.0, 2 * day]})
    x = Interactions.from_frame(f, "u", "i", "t", half_life_days=2.0)
    assert np.allclose(x.matrix.toarray(), [[0.5, 1.0]])
    x = Interactions.from_frame(f, "u", "i", "t", half_life_days=1.0, as_of=4 * day)
    assert np.allclose(x.matrix.toarray(), [[1 / 16, 1 / 4]])


def test_datetimes_with_and_without_zone_give_the_same_seconds():
    naive = pd.DataFrame({"u": [1], "i": [1], "t": [dt.datetime(2025, 1, 1)]})
    aware = naive.assign(t=pd.to_datetime(naive["t"]).dt.tz_localize("UTC"))
    a = Interactions.from_frame(naive, "u", "i", "t")
    b = Interactions.from_frame(aware, "u", "i", "t")
    assert a.last_time.data.tolist() == b.last_time.data.tolist() == [1735689600.0]


def test_fixed_universes_keep_untouched_items():
    x = Interactions.from_frame(frame(), "u", "i", "t", items=[2, 10, 99], users=["a", "b", "c"])
    assert x.shape == (3, 3)
    assert x.item_counts().tolist() == [2.0, 1.0, 0.0]
    assert x.item_index([99, 2]).tolist() == [2, 0]


@pytest.mark.parametrize(
    ("change", "kwargs", "field"),
    [
        (lambda f: f.drop(columns="t"), {}, "t"),
        (lambda f: f.assign(w=[1.0, -1.0, 1.0, 1.0]), {"weight": "w"}, "w"),
        (lambda f: f.assign(t=["x", "y", "z", "w"]), {}, "t"),
        (lambda f: f.assign(u=[None, "a", "a", "a"]), {}, "u"),
        (lambda f: f, {"items": [2]}, "item"),
        (lambda f: f, {"half_life_days": 0}, "half_life_days"),
    ],
)
def test_bad_input_names_the_field(change, kwargs, field):
    with pytest.raises(RecommendInputError) as err:
        Interactions.from_frame(change(frame()), "u", "i", "t", **kwargs)
    assert err.value.field == field


def test_unknown_ids_are_named():
    x = Interactions.from_frame(frame(), "u", "i", "t")
    with pytest.raises(RecommendInputError, match="'zz'"):
        x.user_index(["a", "zz"])
