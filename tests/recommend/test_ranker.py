"""The LightGBM re-ranker: learns which generator to trust, refits candidates, bad input;
its customer features (groups, prices, user features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from recommend.planted import planted_blocks

from nextbest.models.recommend import (
    EASE,
    CandidateRanker,
    Interactions,
    NotFittedError,
    Popularity,
    RecommendInputError,
    evaluate,
)

SMALL = {"min_child_samples": 5, "num_leaves": 4}


def ranker(**kw):
    gens = {"popularity": Popularity(), "ease": EASE(l2=10.0)}
    return CandidateRanker(gens, n_candidates=8, params=SMALL, n_estimators=30, **kw)


def test_learns_to_follow_the_generator_that_finds_the_truth():
    x, truth = planted_blocks(seed=5, users_per_group=40)
    model = ranker(cv_folds=0).fit(x, truth)
    assert set(model.feature_names_) >= {"score:ease", "rank:popularity", "n_generators"}
    # candidates and the ranker come from the same period here: a fit check
    got = evaluate(model, truth, k=3)["ndcg"]
    pop = evaluate(Popularity().fit(x), truth, k=3)["ndcg"]
    ease = evaluate(EASE(l2=10.0).fit(x), truth, k=3)["ndcg"]
    assert got > pop + 0.1
    assert got >= ease - 0.05


def test_refit_keeps_the_ranker_and_is_deterministic():
    x, truth = planted_blocks(seed=6, users_per_group=30)
    later, _ = planted_blocks(seed=7, users_per_group=30)
    a = ranker(cv_folds=2).fit(x, truth)
    booster = a.ranker_
    a.refit_candidates(later)
    assert a.ranker_ is booster and a.interactions_ is later
    assert 1 <= a.n_estimators_ <= 30
    b = ranker(cv_folds=2).fit(x, truth).refit_candidates(later)
    items_a, scores_a = a.recommend(k=3)
    items_b, scores_b = b.recommend(k=3)
    assert (items_a == items_b).all() and np.allclose(scores_a, scores_b)
    seen = later.matrix.toarray() > 0
    assert not seen[np.arange(later.n_users)[:, None], items_a].any()


def test_rounds_are_cross_validated_on_small_data_else_chosen_on_a_held_out_share():
    x, truth = planted_blocks(seed=6, users_per_group=30)
    users = sum(1 for u in truth if truth[u])
    cross = ranker(cv_folds=3).fit(x, truth)
    assert cross.training_queries_ == users and np.isfinite(cross.cv_ndcg_)
    held = ranker(cv_folds=3, cv_max_rows=10, validation_share=0.25).fit(x, truth)
    assert held.training_queries_ == users - round(0.25 * users)
    assert np.isfinite(held.cv_ndcg_) and 1 <= held.n_estimators_ <= 30
    assert held.ranker_.best_iteration_ == held.n_estimators_
    again = ranker(cv_folds=3, cv_max_rows=10, validation_share=0.25).fit(x, truth)
    assert np.array_equal(again.recommend(k=3)[0], held.recommend(k=3)[0])
    every = ranker(cv_folds=0, validation_share=None).fit(x, truth)
    assert every.n_estimators_ == 30 and np.isnan(every.cv_ndcg_)
    with pytest.raises(RecommendInputError, match="validation_share"):
        ranker(cv_folds=0, validation_share=1.5).fit(x, truth)


def test_bad_input():
    x, truth = planted_blocks(seed=1)
    with pytest.raises(RecommendInputError, match="truth"):
        ranker().fit(x)
    with pytest.raises(RecommendInputError, match="generators"):
        CandidateRanker({}).fit(x, truth)
    with pytest.raises(RecommendInputError) as err:
        ranker().fit(x, {"nobody": {"g0i01"}})
    assert err.value.field == "truth"
    with pytest.raises(NotFittedError):
        ranker().refit_candidates(x)


# -- customer features ------------------------------------------------------------------

BASE_FEATURES = [
    "score:popularity",
    "rank:popularity",
    "score:ease",
    "rank:ease",
    "n_generators",
    "item_users",
    "item_recent_users",
    "item_days_since_last",
    "item_days_since_first",
    "user_items",
    "user_days_since_last",
    "user_mean_log_pop",
    "item_log_pop_vs_user",
    "item_events_at_user_time",
    "item_age_at_user_time",
]
CUSTOMER = [
    "group_share",
    "group_is_favourite",
    "group_recent_items",
    "price_log_ratio",
    "user_price_spread",
]


def hand_made():
    """Four users over items a-f; groups x (a, b, e) and y (c, d); f has no group or price.

    u1 touched a (weight 1), b (1), c (3) in that order; u4 touched only f.
    """
    rows = [
        ("u1", "a", 0, 1.0),
        ("u1", "b", 1, 1.0),
        ("u1", "c", 2, 3.0),
        ("u2", "a", 0, 1.0),
        ("u2", "d", 1, 1.0),
        ("u3", "e", 0, 1.0),
        ("u3", "b", 1, 1.0),
        ("u4", "f", 0, 1.0),
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "time", "w"])
    x = Interactions.from_frame(frame, "user", "item", "time", "w")
    groups = pd.Series({"a": "x", "b": "x", "c": "y", "d": "y", "e": "x"})
    prices = pd.DataFrame({"price": [10.0, 20.0, 40.0, 20.0, 80.0]}, index=list("abcde"))
    users = pd.DataFrame({"propensity": [0.9, 0.2, 0.5]}, index=["u1", "u2", "u4"])
    truth = {"u1": {"d"}, "u2": {"b"}, "u3": {"c"}, "u4": {"a"}}
    return x, truth, groups, prices, users


def hand_ranker(**kw):
    x, truth, groups, prices, users = hand_made()
    params = {
        "item_groups": groups,
        "item_features": prices,
        "price_column": "price",
        "user_features": users,
        "affinity_half_life": None,
        "recent_items": 2,
        **kw,
    }
    model = CandidateRanker(
        {"popularity": Popularity()},
        n_candidates=10,
        cv_folds=0,
        n_estimators=3,
        params={"min_child_samples": 1},
        **params,
    )
    return model.fit(x, truth)


def test_customer_features_are_named_after_the_old_ones():
    x, truth = planted_blocks(seed=5, users_per_group=20)
    groups = pd.Series({i: i[:2] for i in x.items})
    prices = pd.DataFrame({"price": np.arange(1.0, x.n_items + 1)}, index=x.items)
    users = pd.DataFrame({"churn": np.linspace(0, 1, x.n_users)}, index=x.users)
    model = ranker(
        cv_folds=0,
        item_groups=groups,
        item_features=prices,
        price_column="price",
        user_features=users,
    ).fit(x, truth)
    assert model.feature_names_ == [*BASE_FEATURES, "item:price", *CUSTOMER, "user:churn"]


def test_without_the_new_parameters_the_features_are_the_old_ones():
    x, truth = planted_blocks(seed=5, users_per_group=20)
    assert ranker(cv_folds=0).fit(x, truth).feature_names_ == BASE_FEATURES
    prices = pd.DataFrame({"price": np.arange(1.0, x.n_items + 1)}, index=x.items)
    with_items = ranker(cv_folds=0, item_features=prices).fit(x, truth)
    assert with_items.feature_names_ == [*BASE_FEATURES, "item:price"]
    assert with_items.user_features_ is None


def test_customer_feature_values_on_a_hand_made_case():
    got = hand_ranker().features_frame().set_index(["user_id", "item_id"])
    # u1: weight 2 of 5 in x, 3 of 5 in y (favourite); latest two items: c (y), b (x)
    assert got.loc[("u1", "d"), "group_share"] == pytest.approx(0.6)
    assert got.loc[("u1", "e"), "group_share"] == pytest.approx(0.4)
    assert got.loc[("u1", "d"), "group_is_favourite"] == 1.0
    assert got.loc[("u1", "e"), "group_is_favourite"] == 0.0
    assert got.loc[("u1", "d"), "group_recent_items"] == 1.0
    assert got.loc[("u1", "e"), "group_recent_items"] == 1.0
    # u1's prices 10, 20, 40: median 20
    assert got.loc[("u1", "d"), "price_log_ratio"] == pytest.approx(0.0)
    assert got.loc[("u1", "e"), "price_log_ratio"] == pytest.approx(np.log(4.0))
    spread = np.std(np.log([10.0, 20.0, 40.0]))
    assert got.loc[("u1", "d"), "user_price_spread"] == pytest.approx(spread)
    assert got.loc[("u1", "d"), "user:propensity"] == 0.9
    # u2 (a, d): a candidate of group x has share 1/2; u3 has no user features
    assert got.loc[("u2", "b"), "group_share"] == pytest.approx(0.5)
    assert np.isnan(got.loc[("u3", "a"), "user:propensity"])
    # f has neither group nor price
    assert (
        got.loc[("u1", "f"), ["group_share", "group_is_favourite", "price_log_ratio"]].isna().all()
    )
    # u4 touched only f: no share, no price history, but a propensity
    u4 = got.loc["u4"]
    assert u4["group_share"].isna().all() and (u4["group_is_favourite"] == 0).all()
    assert u4[["price_log_ratio", "user_price_spread"]].isna().all().all()
    assert (u4["user:propensity"] == 0.5).all()


def test_group_share_is_decayed_by_age():
    model = hand_ranker(affinity_half_life=1.0, affinity_decay_by="interactions")
    got = model.features_frame(["u1"]).set_index("item_id")
    # ages: c 0, b 1, a 2 -> weights 3, 0.5, 0.25: x holds 0.75 of 3.75
    assert got.loc["e", "group_share"] == pytest.approx(0.2)
    assert got.loc["d", "group_share"] == pytest.approx(0.8)


def test_customer_features_are_deterministic_and_refit_takes_new_user_features():
    a, b = hand_ranker(), hand_ranker()
    pd.testing.assert_frame_equal(a.features_frame(), b.features_frame())
    x, _, _, _, users = hand_made()
    later = users.assign(propensity=[0.1, 0.3, 0.7], other=1.0)
    a.refit_candidates(x, user_features=later)
    got = a.features_frame(["u1"])
    assert (got["user:propensity"] == 0.1).all()
    assert "user:other" not in got.columns
    b.refit_candidates(x)  # without new ones the fit period's frame stays
    assert (b.features_frame(["u1"])["user:propensity"] == 0.9).all()


def test_customer_feature_bad_input():
    x, *_, users = hand_made()
    with pytest.raises(RecommendInputError) as err:
        hand_ranker(item_features=None)
    assert err.value.field == "price_column"
    with pytest.raises(RecommendInputError) as err:
        hand_ranker(item_groups={"a": "x"})
    assert err.value.field == "item_groups"
    with pytest.raises(RecommendInputError, match="no item"):
        hand_ranker(item_groups=pd.Series({"zz": "x"}))
    with pytest.raises(RecommendInputError, match="numeric"):
        hand_ranker(user_features=users.assign(tier="gold"))
    with pytest.raises(RecommendInputError, match="no user"):
        hand_ranker(user_features=users.set_axis([1, 2, 3]))
    with pytest.raises(RecommendInputError) as err:
        hand_ranker(affinity_decay_by="weeks")
    assert err.value.field == "affinity_decay_by"
    with pytest.raises(RecommendInputError, match="columns"):
        hand_ranker().refit_candidates(x, user_features=users.rename(columns={"propensity": "p"}))
    plain = hand_ranker(user_features=None)
    with pytest.raises(RecommendInputError, match="without user features"):
        plain.refit_candidates(x, user_features=users)


def planted_user_signal(seed: int = 0, n_users: int = 400):
    """Users whose next item's kind (a or b) only a user feature tells.

    Every user touched two random items of ten (five of kind a, five of kind b);
    the held-out item is an unseen one of kind a when the user's ``taste`` is above
    0.5, else of kind b. Histories say nothing about it.
    """
    rng = np.random.default_rng(seed)
    kind_a = [f"a{i}" for i in range(5)]
    kind_b = [f"b{i}" for i in range(5)]
    items = kind_a + kind_b
    rows, truth, taste = [], {}, {}
    for u in range(n_users):
        user = f"u{u:03d}"
        likes_a = bool(rng.random() < 0.5)
        taste[user] = rng.uniform(0.55, 1.0) if likes_a else rng.uniform(0.0, 0.45)
        seen = rng.choice(items, size=2, replace=False)
        rows += [(user, item, t) for t, item in enumerate(seen)]
        pool = [i for i in (kind_a if likes_a else kind_b) if i not in seen]
        truth[user] = {str(rng.choice(pool))}
    x = Interactions.from_frame(pd.DataFrame(rows, columns=["u", "i", "t"]), "u", "i", "t")
    kind = pd.DataFrame({"is_a": [float(i in kind_a) for i in items]}, index=items)
    users = pd.DataFrame({"taste": pd.Series(taste)})
    return x, truth, kind, users


def test_a_user_feature_carrying_the_signal_beats_the_ranker_without_it():
    x, truth, kind, users = planted_user_signal()
    names = sorted(truth)
    learn = {u: truth[u] for u in names[::2]}
    held_out = {u: truth[u] for u in names[1::2]}

    def held_out_ndcg(user_features):
        model = CandidateRanker(
            {"popularity": Popularity()},
            n_candidates=10,
            params=SMALL,
            n_estimators=50,
            cv_folds=0,
            item_features=kind,
            user_features=user_features,
        ).fit(x, learn)
        return evaluate(model, held_out, k=3)["ndcg"]

    without = held_out_ndcg(None)
    with_taste = held_out_ndcg(users)
    shuffled = users.assign(taste=np.random.default_rng(1).permutation(users["taste"].to_numpy()))
    control = held_out_ndcg(shuffled)
    assert with_taste > without + 0.15
    assert with_taste > control + 0.15  # the gain is the feature's, not the extra column's
