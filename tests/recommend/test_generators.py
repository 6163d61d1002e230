"""Every candidate generator: the estimator contract, and a planted pattern it must recover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from recommend.planted import planted_blocks

from nextbest.models.recommend import (
    ALS,
    BPR,
    EASE,
    ContentSimilarity,
    CoOccurrence,
    Interactions,
    ItemKNN,
    NotFittedError,
    Popularity,
    RecommendInputError,
    Transitions,
)


def block_attributes(x: Interactions) -> pd.DataFrame:
    items = pd.Series(x.items)
    return pd.DataFrame(
        {
            "product_id": items,
            "category": items.str[:2],
            "brand": "same",
            "price": np.arange(len(items), dtype=float),
            "name": "thing " + items.str[:2],
        }
    )


def fit(model, x):
    if isinstance(model, ContentSimilarity):
        return model.fit(x, block_attributes(x))
    return model.fit(x)


PERSONAL = {
    "ease": lambda: EASE(l2=10.0),
    "ease_decayed": lambda: EASE(l2=10.0, half_life=2.0),
    "itemknn": lambda: ItemKNN(neighbors=5, shrinkage=1.0),
    "cooccurrence": lambda: CoOccurrence(),
    "transitions": lambda: Transitions(window=3),
    "als": lambda: ALS(factors=4, iterations=15, regularization=0.1),
    "bpr": lambda: BPR(factors=8, iterations=200, learning_rate=0.05),
    "content": lambda: ContentSimilarity(),
}
ALL = {**PERSONAL, "popularity": lambda: Popularity(), "trending": lambda: Popularity(7.0)}


@pytest.mark.parametrize("name", list(ALL))
def test_estimator_contract(name, blocks):
    x, _ = blocks
    model = ALL[name]()
    params = model.get_params()
    assert params == type(model)(**params).get_params()
    assert not [a for a in vars(model) if a.endswith("_")]  # __init__ only stores arguments
    with pytest.raises(NotFittedError):
        model.recommend(k=3)
    assert fit(model, x) is model
    assert [a for a in vars(model) if a.endswith("_")]
    items, scores = model.recommend(k=4)
    assert items.shape == scores.shape == (x.n_users, 4)
    assert (np.diff(scores, axis=1) <= 1e-12).all()  # best first
    seen = x.matrix.toarray() > 0
    assert not seen[np.arange(x.n_users)[:, None], items].any()  # nothing already seen
    again_items, again_scores = fit(ALL[name](), x).recommend(k=4)
    assert (again_items == items).all() and np.allclose(again_scores, scores)  # deterministic
    frame = model.recommend_frame(x.users[:2], k=2)
    assert frame.columns.tolist() == ["user_id", "rank", "item_id", "score"]
    assert frame["rank"].tolist() == [1, 2, 1, 2]


@pytest.mark.parametrize("name", list(PERSONAL))
def test_recovers_the_taste_groups(name, blocks):
    """Users of each group get items of their own group, and find the held-out one."""
    x, held = blocks
    model = fit(PERSONAL[name](), x)
    items, _ = model.recommend(k=3)
    group_of_user = np.array([u[:2] for u in x.users])
    group_of_item = np.array([i[:2] for i in x.items])
    in_group = group_of_item[items] == group_of_user[:, None]
    assert in_group.mean() >= 0.95, in_group.mean()
    if name != "content":  # attributes cannot tell items of a group apart
        top5, _ = model.recommend(k=5)
        hits = [
            x.items[row[0]] in held[u] or bool(set(x.items[row]) & held[u])
            for u, row in zip(x.users, top5, strict=True)
        ]
        assert np.mean(hits) >= 0.6, np.mean(hits)  # 5 of 5 unseen items of the group


def test_popularity_ranks_by_users_and_trending_by_the_recent_window():
    day = 86_400
    rows = [(u, "old", 0) for u in range(5)] + [(u, "new", 30 * day) for u in range(3)]
    rows += [(9, "mid", 29 * day)]
    x = Interactions.from_frame(pd.DataFrame(rows, columns=["u", "i", "t"]), "u", "i", "t")
    assert Popularity().fit(x).recommend_frame([9], k=2)["item_id"].tolist() == ["old", "new"]
    trending = Popularity(window_days=7).fit(x)
    assert trending.recommend_frame([9], k=1)["item_id"].tolist() == ["new"]
    assert trending.item_scores_[x.item_index(["old"])[0]] == 0.0
    decayed = Popularity(half_life_days=1.0).fit(x)
    assert decayed.recommend_frame([9], k=1)["item_id"].tolist() == ["new"]


def test_transitions_predict_what_comes_next():
    # everyone goes a -> b -> c; the order matters, not just co-occurrence
    rows = []
    for u in range(10):
        rows += [(u, "a", 1), (u, "b", 2), (u, "c", 3)]
    rows += [(99, "c", 1), (99, "b", 2)]  # the last item is b: next is c
    rows += [(98, "b", 1), (98, "a", 2)]  # the last item is a: next is b
    x = Interactions.from_frame(pd.DataFrame(rows, columns=["u", "i", "t"]), "u", "i", "t")
    model = Transitions(window=1, half_life=1.0).fit(x)
    t = model.transitions_.toarray()
    a, b, c = x.item_index(["a", "b", "c"])
    assert t[a, b] > 0 and t[b, c] > 0 and t[b, a] < t[a, b]
    top = model.recommend_frame([98], k=3, exclude_seen=False)["item_id"].tolist()
    assert top[0] == "b"


def test_cooccurrence_lists_bought_together():
    rows = [(u, "tent", u) for u in range(6)] + [(u, "pegs", u) for u in range(5)]
    rows += [(u, "mug", u) for u in range(4, 8)]
    x = Interactions.from_frame(pd.DataFrame(rows, columns=["u", "i", "t"]), "u", "i", "t")
    related = CoOccurrence(normalize="count").fit(x).related("tent", k=2)
    assert related == [("pegs", 5.0), ("mug", 2.0)]


def test_content_serves_a_new_item_nobody_has_touched(blocks):
    x, _ = blocks
    attrs = block_attributes(x)
    attrs = pd.concat(
        [
            attrs,
            pd.DataFrame(
                [
                    {
                        "product_id": "g0new",
                        "category": "g0",
                        "brand": "same",
                        "price": 3.0,
                        "name": "thing g0",
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    x2 = Interactions.from_frame(
        pd.DataFrame({"u": x.users[x.log.user], "i": x.items[x.log.item], "t": x.log.time}),
        "u",
        "i",
        "t",
        items=attrs["product_id"],
    )
    model = ContentSimilarity().fit(x2, attrs)
    new = x2.item_index(["g0new"])[0]
    scores = model.score(x2.user_index(["g0u00", "g1u00"]))
    assert scores[0, new] > scores[1, new]
    similar = [i for i, _ in model.similar_items("g0new", k=3)]
    assert all(i.startswith("g0") for i in similar)


def test_content_needs_attributes(blocks):
    x, _ = blocks
    with pytest.raises(RecommendInputError, match="attributes"):
        ContentSimilarity().fit(x)
    with pytest.raises(RecommendInputError, match="'colour'"):
        ContentSimilarity(categorical=("colour",)).fit(x, block_attributes(x))


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: ItemKNN(neighbors=0), "neighbors"),
        (lambda: ItemKNN(shrinkage=-1), "shrinkage"),
        (lambda: CoOccurrence(normalize="lift"), "normalize"),
        (lambda: Transitions(window=0), "window"),
        (lambda: Transitions(alpha=2), "alpha"),
        (lambda: ALS(factors=0), "factors"),
        (lambda: BPR(learning_rate=-0.1), "learning_rate"),
        (lambda: Popularity(window_days=0), "window_days"),
    ],
)
def test_bad_hyper_parameters_are_named(make, field, blocks):
    x, _ = blocks
    with pytest.raises(RecommendInputError) as err:
        make().fit(x)
    assert err.value.field == field


def test_fit_wants_interactions():
    with pytest.raises(RecommendInputError, match="Interactions"):
        EASE().fit(pd.DataFrame({"a": [1]}))


def test_scoring_rows_out_of_range(blocks):
    x, _ = blocks
    model = Popularity().fit(x)
    with pytest.raises(RecommendInputError, match="row numbers"):
        model.score([x.n_users])


def test_planted_blocks_are_reproducible():
    a, ha = planted_blocks(seed=1)
    b, hb = planted_blocks(seed=1)
    assert (a.matrix != b.matrix).nnz == 0 and ha == hb


@pytest.mark.parametrize("make", [lambda: ALS(factors=4, binary=False), lambda: EASE(binary=False)])
def test_weighted_input_fits(make):
    frame = pd.DataFrame(
        {"u": [1, 1, 2, 2, 3], "i": list("ababa"), "t": range(5), "w": [1.0, 5.0, 3.0, 1.0, 2.0]}
    )
    x = Interactions.from_frame(frame, "u", "i", "t", "w")
    model = make().fit(x)
    assert model.recommend_frame([3], k=1)["item_id"].tolist() == ["b"]
