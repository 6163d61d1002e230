"""The serving engine on a small hand-made shop: rules, cold-start paths, context, storage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nextbest.config import RecommendSettings
from nextbest.errors import NotFoundError
from nextbest.models.recommend import Interactions, RecommendInputError
from nextbest.models.recommend.engine import Context, RecommendEngine, parse_context

DAY = 86_400.0
NOW = 100 * DAY

PRODUCTS = pd.DataFrame(
    {
        "product_id": [f"p{i}" for i in range(1, 9)],
        "name": ["Tea", "Coffee", "Mug", "Pot", "Lamp", "Ball", "Kite", "Doll"],
        "category": ["food", "food", "home", "home", "home", "toys", "toys", "toys"],
        "price": [5.0, 6.0, 12.0, 30.0, 80.0, 10.0, 15.0, 200.0],
        "in_stock": [True, True, True, True, True, True, False, True],
    }
)
N = len(PRODUCTS)


def _shop() -> tuple[Interactions, pd.DataFrame]:
    """Twelve customers: views of many products, Tea bought every ten days by u1-u4."""
    rng = np.random.default_rng(3)
    rows = []
    for u in range(1, 13):
        picks = rng.choice(N, size=4, replace=False)
        for j, p in enumerate(picks):
            rows.append((f"u{u:02d}", f"p{p + 1}", NOW - (20 - j) * DAY, "view"))
    buys = []
    for u in range(1, 5):  # Tea every 10 days; the last purchase 15 (u01) or 5 days ago
        last = 15 if u == 1 else 5
        for t in (last + 30, last + 20, last + 10, last):
            buys.append((f"u{u:02d}", "p1", NOW - t * DAY, 5.0))
    buys.append(("u05", "p3", NOW - 3 * DAY, 12.0))
    buys.append(("u05", "p6", NOW - 3 * DAY, 8.0))
    for user, product, t, _ in buys:
        rows.append((user, product, t, "buy"))
    log = pd.DataFrame(rows, columns=["user", "item", "time", "kind"])
    log["weight"] = np.where(log.kind == "buy", 5.0, 1.0)
    x = Interactions.from_frame(log, "user", "item", "time", "weight", items=PRODUCTS.product_id)
    purchases = pd.DataFrame(buys, columns=["customer_id", "product_id", "time", "unit_price"])
    return x, purchases


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [f"u{u:02d}" for u in range(1, 13)] + ["new_de", "new_fr", "browser"],
        "country": ["DE"] * 3 + ["FR"] * 9 + ["DE", "FR", None],
    }
)


def _engine(**rules) -> RecommendEngine:
    x, purchases = _shop()
    settings = RecommendSettings(l2=1.0, rules=rules)
    return RecommendEngine(settings).fit(
        x,
        PRODUCTS,
        purchases=purchases,
        customers=CUSTOMERS,
        favourite={"browser": "toys"},
        single_session=["u12"],
        as_of=NOW,
    )


def _ids(rows: list[dict]) -> list[str]:
    return [r["product_id"] for r in rows]


@pytest.fixture(scope="module")
def engine() -> RecommendEngine:
    return _engine()


def test_purchased_products_stay_out_viewed_ones_may_come_back(engine) -> None:
    x, _ = _shop()
    viewed = set(x.items[x.matrix[x.user_index(["u05"])].indices])
    mine = _ids(engine.recommend("u05", N))
    assert "p3" not in mine and "p6" not in mine  # bought
    assert viewed - {"p3", "p6"} & set(mine)  # viewed only: allowed
    none = _ids(_engine(exclude="none").recommend("u05", N))
    assert "p3" in none or "p6" in none
    touched = _ids(_engine(exclude="interacted").recommend("u05", N))
    assert not set(touched) & viewed


def test_rules_keep_out_of_stock_and_blocked_products(engine) -> None:
    everyone = [p for u in engine.users_ for p in _ids(engine.recommend(u, N))]
    assert "p7" not in everyone  # out of stock
    assert "p7" in [
        p for u in engine.users_ for p in _ids(_engine(in_stock_only=False).recommend(u, N))
    ]
    blocked = _engine(blocked_products=["p2"], blocked_categories=["home"])
    lists = [p for u in blocked.users_ for p in _ids(blocked.recommend(u, N))]
    assert lists and not {"p2", "p3", "p4", "p5"} & set(lists)
    cold = _ids(blocked.recommend("nobody", N))
    assert cold and not {"p2", "p3", "p4", "p5", "p7"} & set(cold)


def test_a_due_consumable_leads_the_list_with_a_restock_reason() -> None:
    plain = _engine()
    assert "p1" not in _ids(plain.recommend("u01", N))  # purchased, not a consumable
    food = _engine(consumable_categories=["food"])
    assert food.interval_days_[list(food.items_).index("p1")] == 10.0
    due = food.recommend("u01", 3)
    assert due[0]["product_id"] == "p1" and due[0]["generator"] == "restock"
    assert due[0]["reason"] == "time to restock: last bought 15 days ago, usually every 10 days"
    assert "p1" not in _ids(food.recommend("u02", N))  # bought 5 days ago: not yet due
    assert "p1" not in _ids(
        _engine(consumable_categories=["food"], replenish_max=0).recommend("u01", N)
    )


def test_a_due_consumable_comes_back_whatever_is_excluded_but_not_while_viewed() -> None:
    touched = _engine(consumable_categories=["food"], exclude="interacted")
    due = touched.recommend("u01", 3)
    assert due[0]["product_id"] == "p1" and np.isfinite(due[0]["score"])
    viewing = touched.recommend("u01", N, context={"products": ["p1"]})
    assert "p1" not in _ids(viewing)


def test_replenish_days_serves_consumables_without_a_history() -> None:
    x, purchases = _shop()
    once = purchases[purchases.customer_id == "u05"]
    settings = RecommendSettings(
        l2=1.0, rules={"consumable_products": ["p3"], "replenish_days": 2.0}
    )
    engine = RecommendEngine(settings).fit(x, PRODUCTS, purchases=once, as_of=NOW)
    assert engine.recommend("u05", 1)[0]["product_id"] == "p3"
    without = RecommendEngine(RecommendSettings(l2=1.0, rules={"consumable_products": ["p3"]}))
    assert "p3" not in _ids(without.fit(x, PRODUCTS, purchases=once, as_of=NOW).recommend("u05", N))


def test_at_most_n_per_category_except_the_one_browsed() -> None:
    capped = _engine(max_per_category=1)
    for user in capped.users_:
        cats = PRODUCTS.set_index("product_id").category[_ids(capped.recommend(user, N))]
        assert cats.is_unique
    assert len(_ids(_engine().recommend("u06", N))) > len(_ids(capped.recommend("u06", N)))
    browsing = capped.recommend("u06", N, context={"category": "home"})
    cats = PRODUCTS.set_index("product_id").category[_ids(browsing)].tolist()
    assert cats.count("home") >= 2 and cats[: cats.count("home")] == ["home"] * cats.count("home")


def test_the_price_band_follows_what_the_customer_pays() -> None:
    banded = _engine(price_band=(0.5, 2.0))  # u05 paid 12 and 8: median 10 -> [5, 20]
    price = PRODUCTS.set_index("product_id").price
    mine = _ids(banded.recommend("u05", N))
    assert mine and price[mine].between(5.0, 20.0).all()
    assert not price[_ids(_engine().recommend("u05", N))].between(5.0, 20.0).all()
    # a customer who bought nothing has no band
    assert _ids(banded.recommend("u06", N)) == _ids(_engine().recommend("u06", N))


def test_a_campaign_boost_lifts_its_products_and_says_so() -> None:
    base = _engine().recommend("u06", N)
    positive = [r for r in base if r["score"] > 0]
    assert 2 <= len(positive) < len(base)
    last = positive[-1]["product_id"]
    boosted = _engine(boosts=[{"campaign": "summer", "products": [last], "factor": 1000.0}])
    top = boosted.recommend("u06", N)
    assert _ids(top)[0] == last and top[0]["score"] == pytest.approx(1000 * positive[-1]["score"])
    assert top[_ids(top).index(last)]["reason"].endswith("; featured: summer")
    assert all("featured" not in r["reason"] for r in top if r["product_id"] != last)


def test_cold_start_paths(engine) -> None:
    de = engine.recommend("new_de", 3)
    assert {r["path"] for r in de} == {"segment"}
    assert {r["reason"] for r in de} == {"popular with customers in DE"}
    fr = engine.recommend("new_fr", 3)
    assert {r["reason"] for r in fr} == {"popular with customers in FR"}
    browser = engine.recommend("browser", 2)
    assert {r["path"] for r in browser} == {"category"}
    assert {r["reason"] for r in browser} == {"popular in your favourite category toys"}
    assert set(_ids(browser)) <= {"p6", "p8"}
    nobody = engine.recommend("nobody", 3)
    assert {r["path"] for r in nobody} == {"popular"}
    assert [r["score"] for r in nobody] == sorted(
        engine.popularity_[engine.allowed_], reverse=True
    )[:3]
    assert engine.recommend("u12", 1)[0]["path"] == "session"
    assert engine.recommend("u11", 1)[0]["path"] == "personal"


def test_segment_popularity_is_what_the_segment_touches_shrunk_to_overall(engine) -> None:
    x, _ = _shop()
    de_users = ["u01", "u02", "u03"]
    touched = (x.binary()[x.user_index(de_users)].toarray() > 0).sum(axis=0)
    seg = list(engine.segments_).index("DE")
    expected = (touched + 20.0 * engine.popularity_) / (3 + 20.0)
    assert engine.segment_popularity_[seg] == pytest.approx(expected)


def test_session_context_drives_the_answer() -> None:
    engine = _engine()
    session = engine.recommend("stranger", 3, context={"products": ["p4"]})
    assert {r["path"] for r in session} == {"session"} and "p4" not in _ids(session)
    assert any(r["reason"].endswith("together with Pot") for r in session)
    again = engine.recommend("u06", N, context=["product=p4"])
    assert "p4" not in _ids(again) and _ids(again) != _ids(engine.recommend("u06", N))
    with pytest.raises(NotFoundError, match="'nope'"):
        engine.recommend("u06", 3, context={"products": ["nope"]})
    with pytest.raises(NotFoundError, match="category 'cars'"):
        engine.recommend("u06", 3, context={"category": "cars"})


def test_parse_context() -> None:
    assert parse_context(None) == Context()
    assert parse_context({"products": "p1", "category": "toys"}) == Context(("p1",), "toys")
    assert parse_context(["product=p1,p2", "category=home"]) == Context(("p1", "p2"), "home")
    with pytest.raises(RecommendInputError, match="cannot read context 'p1'"):
        parse_context(["p1"])
    with pytest.raises(RecommendInputError, match="unknown context"):
        parse_context({"page": "x"})


def test_batch_equals_one_at_a_time_and_is_deterministic(engine) -> None:
    customers = [*engine.users_.tolist(), "new_de", "new_fr", "browser", "nobody"]
    batch = engine.recommend_many(customers, 4, batch_size=5)
    assert set(batch.customer_id) == set(customers)
    for customer, group in batch.groupby("customer_id"):
        one = engine.recommend(customer, 4)
        assert group.sort_values("rank").product_id.tolist() == _ids(one)
        assert group.sort_values("rank").reason.tolist() == [r["reason"] for r in one]
    again = _engine().recommend_many(customers, 4)
    pd.testing.assert_frame_equal(
        batch.sort_values(["customer_id", "rank"]).reset_index(drop=True),
        again.sort_values(["customer_id", "rank"]).reset_index(drop=True),
    )


def test_save_and_load_give_the_same_answers(engine, tmp_path) -> None:
    path = engine.save(tmp_path / "engine.npz")
    loaded = RecommendEngine.load(path)
    assert loaded.settings == engine.settings
    for customer in ["u01", "u12", "new_de", "browser", "nobody"]:
        assert loaded.recommend(customer, 5) == engine.recommend(customer, 5)
    ctx = {"products": ["p2"], "category": "home"}
    assert loaded.recommend("u03", 5, context=ctx) == engine.recommend("u03", 5, context=ctx)
    with np.load(path, allow_pickle=False) as data:  # nothing in it needs pickle
        assert all(data[name].dtype != object for name in data.files)
    with pytest.raises(NotFoundError, match="no recommender state"):
        RecommendEngine.load(tmp_path / "missing.npz")


def test_bad_input() -> None:
    x, _ = _shop()
    with pytest.raises(RecommendInputError, match="k must be"):
        _engine().recommend("u01", 0)
    with pytest.raises(RecommendInputError, match="segment_by names 'region'"):
        RecommendEngine(RecommendSettings(segment_by="region")).fit(
            x, PRODUCTS, customers=CUSTOMERS
        )
    with pytest.raises(RecommendInputError, match="product_id"):
        RecommendEngine().fit(x, PRODUCTS.rename(columns={"product_id": "sku"}))


def test_a_bare_catalogue_and_no_known_cold_customers() -> None:
    log = pd.DataFrame(
        {"user": ["u1", "u1", "u2", "u2", "u3"], "item": list("ababa"), "time": range(5)}
    )
    x = Interactions.from_frame(log, "user", "item", "time", items=["a", "b", "c"])
    bare = pd.DataFrame({"product_id": ["a", "b", "c"]})
    rules = {"max_per_category": 1, "price_band": (0.5, 2.0)}
    engine = RecommendEngine(RecommendSettings(l2=1.0, rules=rules)).fit(x, bare)
    mine = engine.recommend("u3", 10)
    assert _ids(mine)[0] == "b" and mine[0]["reason"] == "viewed together with a"
    assert len(mine) == 3  # no categories: nothing to cap; no prices: no band
    nobody = engine.recommend("nobody", 10)
    assert _ids(nobody) == ["a", "b", "c"] and {r["path"] for r in nobody} == {"popular"}
    blocked = RecommendEngine(
        RecommendSettings(l2=1.0, rules={"blocked_products": ["a", "b", "c"]})
    )
    blocked.fit(x, bare)
    assert blocked.recommend("u3", 5) == [] and blocked.recommend("new", 5) == []
    assert blocked.recommend_many(["u3", "new"], 5).empty
