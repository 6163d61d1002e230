"""The served re-ranker: the same candidates and scores as the ranker, from plain arrays."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from nextbest.config import RecommendRules, RecommendSettings
from nextbest.models.recommend import (
    ALS,
    EASE,
    CandidateRanker,
    ContentSimilarity,
    CoOccurrence,
    Interactions,
    ItemKNN,
    Popularity,
    RecommendEngine,
    RecommendInputError,
    Transitions,
)
from nextbest.models.recommend.candidate_features import UserRows
from nextbest.models.recommend.serving import ServingRanker

N_ITEMS = 60


def _store(seed: int = 1):
    rng = np.random.default_rng(seed)
    n = 3000
    frame = pd.DataFrame(
        {
            "u": [f"u{v:03d}" for v in rng.integers(0, 200, n)],
            "i": [f"p{v:02d}" for v in rng.integers(0, N_ITEMS, n)],
            "t": rng.integers(0, 10**7, n),
            "w": rng.choice([1.0, 3.0], n),
        }
    )
    items = [f"p{v:02d}" for v in range(N_ITEMS)]
    x = Interactions.from_frame(frame, "u", "i", "t", "w", items=items)
    early = frame[frame.t <= 9 * 10**6]
    fit = Interactions.from_frame(early, "u", "i", "t", "w", items=items)
    late = frame[frame.t > 9 * 10**6]
    truth = {u: set(g.i) for u, g in late.groupby("u")}
    products = pd.DataFrame(
        {
            "product_id": items,
            "name": [f"thing {v % 9}" for v in range(N_ITEMS)],
            "category": [f"c{v % 5}" for v in range(N_ITEMS)],
            "price": [float(1 + v % 13) if v % 9 else np.nan for v in range(N_ITEMS)],
        }
    )
    users = pd.DataFrame({"p": rng.random(200)}, index=[f"u{v:03d}" for v in range(200)])
    return x, fit, truth, products, users.iloc[3:]


def _ranker(fit, truth, products, users) -> CandidateRanker:
    generators = {
        "ease": EASE(l2=5.0, half_life=0.2, decay_by="share"),
        "co": CoOccurrence(half_life=5.0),
        "knn": ItemKNN(),
        "seq": Transitions(),
        "content": ContentSimilarity(categorical=["category"]),
        "pop": Popularity(),
    }
    return CandidateRanker(
        generators,
        n_candidates=8,
        cv_folds=0,
        n_estimators=30,
        params={"min_child_samples": 5},
        item_groups=products.set_index("product_id")["category"],
        item_features=products.set_index("product_id")[["price"]],
        price_column="price",
        user_features=users,
        fit_kwargs={"content": {"item_attributes": products}},
    ).fit(fit, truth)


@pytest.fixture(scope="module")
def fitted():
    x, fit, truth, products, users = _store()
    ranker = _ranker(fit, truth, products, users).refit_candidates(x)
    return x, ranker, products


def _round_trip(served: ServingRanker) -> ServingRanker:
    buf = io.BytesIO()
    np.savez(buf, **served.arrays())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as data:
        return ServingRanker.from_arrays(data)


def test_served_scores_are_the_rankers(fitted) -> None:
    x, ranker, _ = fitted
    expected = ranker.features_frame()
    served = _round_trip(ServingRanker.from_ranker(ranker))
    row, item, score = served.score(UserRows.of(x))
    assert np.array_equal(x.users[row], expected["user_id"].to_numpy())
    assert np.array_equal(x.items[item], expected["item_id"].to_numpy())
    assert np.allclose(score, expected["score"].to_numpy(), rtol=0, atol=1e-6)


def test_one_customer_is_scored_as_in_a_batch(fitted) -> None:
    x, ranker, _ = fitted
    served = ServingRanker.from_ranker(ranker)
    rows = UserRows.of(x)
    row, item, score = served.score(rows)
    for u in range(x.n_users):
        a, b = rows.indptr[u], rows.indptr[u + 1]
        one = UserRows(np.array([0, b - a]), rows.indices[a:b], rows.weights[a:b], rows.times[a:b])
        r1, i1, s1 = served.score(one, np.array([u]))
        assert (r1 == 0).all()
        assert np.array_equal(i1, item[row == u])
        assert np.array_equal(s1, score[row == u])


def test_dense_and_sparse_item_models_give_the_same_scores(fitted) -> None:
    x, ranker, _ = fitted
    rows = UserRows.of(x)
    served = ServingRanker.from_ranker(ranker)
    kinds = [type(m) for m in served.models]
    assert np.ndarray in kinds[1:]  # this small catalogue's item x item models are dense
    expected = served.score(rows)
    linear = [j for j, f in enumerate(served.forms) if f["kind"] == "linear" and j > 0]
    served.models = [sp.csr_matrix(m) if j in linear else m for j, m in enumerate(served.models)]
    assert sp.issparse(served.models[linear[0]])
    for got, want in zip(served.score(rows), expected, strict=True):
        assert np.array_equal(got, want)
    u = int(np.argmax(np.diff(rows.indptr)))
    a, b = rows.indptr[u], rows.indptr[u + 1]
    one = UserRows(np.array([0, b - a]), rows.indices[a:b], rows.weights[a:b], rows.times[a:b])
    assert np.array_equal(served.score(one, np.array([u]))[2], expected[2][expected[0] == u])


def test_a_generator_with_a_state_per_user_cannot_be_served() -> None:
    _, fit, truth, *_ = _store()
    ranker = CandidateRanker(
        {"als": ALS(factors=4, iterations=2), "pop": Popularity()},
        n_candidates=5,
        cv_folds=0,
        n_estimators=5,
        params={"min_child_samples": 5},
    ).fit(fit, truth)
    with pytest.raises(RecommendInputError, match="cannot be served"):
        ServingRanker.from_ranker(ranker)


def _engine(x, ranker, products, **rules) -> RecommendEngine:
    settings = RecommendSettings(rules=RecommendRules(**rules))
    return RecommendEngine(settings).fit(x, products, ranker=ranker)


def test_the_engine_serves_the_ranker_alike_in_batch_online_and_after_loading(
    fitted, tmp_path
) -> None:
    x, ranker, products = fitted
    engine = _engine(x, ranker, products)
    users = x.users[:40].tolist()
    batch = engine.recommend_many(users, 5)
    assert set(batch["generator"]) == {"ranker"}
    loaded = RecommendEngine.load(engine.save(tmp_path / "engine.npz"))
    assert loaded.ranker_info_["served"] and loaded.ranker_info_["generators"][0] == "ease"
    for user in users[:10]:
        mine = batch[batch.customer_id == user]
        for e in (engine, loaded):
            one = pd.DataFrame(e.recommend(user, 5))
            assert one["product_id"].tolist() == mine["product_id"].tolist()
            assert np.allclose(one["score"], mine["score"])
    # the ranker orders the list: its best candidate comes first
    served = ServingRanker.from_ranker(ranker)
    row, item, score = served.score(UserRows.of(x))
    first = x.users[0]
    best = item[row == 0][np.argmax(score[row == 0])]
    assert batch[batch.customer_id == first]["product_id"].iloc[0] == x.items[best]


def test_a_session_with_the_ranker_leaves_out_what_is_looked_at_and_blocks_hold(fitted) -> None:
    x, ranker, products = fitted
    engine = _engine(x, ranker, products, blocked_products=["p03", "p04"])
    session = ["p10", "p11"]
    new = engine.recommend("nobody", 8, context={"products": session})
    assert {r["path"] for r in new} == {"session"}
    assert {r["generator"] for r in new} == {"ranker"}
    picked = {r["product_id"] for r in new}
    assert not picked & {*session, "p03", "p04"}
    warm = engine.recommend(x.users[5], 8, context={"products": session})
    assert not {r["product_id"] for r in warm} & {*session, "p03", "p04"}
    assert warm != engine.recommend(x.users[5], 8)  # the session changes the answer


def test_the_engine_rejects_a_ranker_fitted_on_other_interactions(fitted) -> None:
    x, _, products = fitted
    _, fit, truth, _, users = _store()
    half = Interactions.from_frame(
        x.log[x.log.user < 100].assign(
            user=lambda f: x.users[f.user], item=lambda f: x.items[f.item]
        ),
        "user",
        "item",
        "time",
        "weight",
        items=x.items,
    )
    other = _ranker(fit, truth, products, users).refit_candidates(half)  # half the customers
    with pytest.raises(RecommendInputError, match="other interactions"):
        RecommendEngine().fit(x, products, ranker=other)
