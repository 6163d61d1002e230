"""The temporal holdout on a hand-made log; the offline runner and its report on a small store."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import synth_project

from nextbest.config import load_settings
from nextbest.models.recommend import (
    Interactions,
    RecommendInputError,
    evaluate_warehouse,
    generator_grids,
    interaction_events,
    shortlist_size,
    temporal_holdout,
    warehouse_holdout,
)
from nextbest.models.recommend.evaluate import _combinations
from nextbest.models.recommend.offline import BASELINE, METRICS, RANKER
from nextbest.models.recommend.report import (
    REPORT_NAME,
    evaluation_report,
    write_evaluation_report,
)
from nextbest.warehouse import Warehouse

DAY = 86_400
EPOCH = dt.datetime(1970, 1, 1)
ITEMS = ["a", "b", "c", "d", "e", "x"]
# (customer, product, day); as_of day 30 and 10 holdout days: validation [10, 20), test [20, 30)
ROWS = [
    ("ann", "a", 0),
    ("ann", "b", 12),  # new in validation
    ("ann", "b", 22),  # already had it: not test truth
    ("ann", "c", 25),  # new in test
    ("bob", "a", 5),
    ("bob", "a", 15),  # a repeat: bob has no validation truth
    ("bob", "d", 29.9),
    ("cy", "c", 14),  # no history before validation: left out of it
    ("cy", "c", 21),
    ("cy", "e", 23),  # history before test (day 14), new product: test truth
    ("dan", "e", 24),  # no history before test: left out of it
    ("eve", "a", 31),  # after as_of: ignored
    ("fay", "x", 3),  # history, then nothing
]


def log(rows=ROWS) -> Interactions:
    frame = pd.DataFrame(rows, columns=["u", "i", "day"])
    frame["t"] = frame["day"] * DAY
    frame["w"] = np.where(frame["i"] == "a", 2.0, 1.0)
    return Interactions.from_frame(frame, "u", "i", "t", "w", items=ITEMS)


def test_holdout_truth_and_parts_on_a_hand_made_log():
    h = temporal_holdout(log(), as_of=30 * DAY, holdout_days=10)
    assert (h.validation_cut, h.test_cut, h.as_of) == (
        EPOCH + dt.timedelta(days=10),
        EPOCH + dt.timedelta(days=20),
        EPOCH + dt.timedelta(days=30),
    )
    assert h.validation_truth == {"ann": {"b"}}
    assert h.test_truth == {"ann": {"c"}, "bob": {"d"}, "cy": {"e"}}
    assert list(h.test_truth) == ["ann", "bob", "cy"]
    assert h.left_out == {"validation": 1, "test": 1}  # cy, then dan
    assert h.fit.users.tolist() == ["ann", "bob", "fay"]
    assert h.train.users.tolist() == ["ann", "bob", "cy", "fay"]
    assert h.train.items.tolist() == ITEMS
    s = h.summary()
    assert s["fit"] == {"customers": 3, "products": 6, "pairs": 3, "events": 3}
    assert s["train"] == {"customers": 4, "products": 6, "pairs": 5, "events": 6}
    assert s["test"] == {"customers": 3, "pairs": 3, "products": 3, "left_out_without_history": 1}
    assert s["validation_cut"] == "1970-01-11T00:00:00"


def test_parts_are_the_log_before_each_cut():
    h = temporal_holdout(log(), as_of=30 * DAY, holdout_days=10)
    for part, cut in ((h.fit, 10), (h.train, 20)):
        direct = log([r for r in ROWS if r[2] < cut])
        assert part.users.tolist() == direct.users.tolist()
        assert (part.matrix != direct.matrix).nnz == 0  # weights summed the same
        assert (part.last_time != direct.last_time).nnz == 0
    assert h.train.matrix[h.train.user_index(["bob"])[0], 0] == 4.0  # two weighted touches


def test_as_of_as_a_datetime_is_the_same_moment():
    when = temporal_holdout(log(), as_of=dt.datetime(1970, 1, 31), holdout_days=10)
    assert when.test_cut == EPOCH + dt.timedelta(days=20)
    assert when.test_truth == {"ann": {"c"}, "bob": {"d"}, "cy": {"e"}}


def test_default_as_of_moves_the_periods():
    h = temporal_holdout(log(), holdout_days=10)  # as_of day 32: test [22, 32)
    assert h.as_of == EPOCH + dt.timedelta(days=32)  # midnight after the day-31 event
    assert h.test_cut == EPOCH + dt.timedelta(days=22)
    # ann's c (25), bob's d (29.9), cy's e (23), eve has no history before day 22
    assert h.test_truth == {"ann": {"c"}, "bob": {"d"}, "cy": {"e"}}
    assert h.left_out["test"] == 2  # dan and eve


def test_a_holdout_longer_than_the_data_is_a_clear_error():
    with pytest.raises(RecommendInputError, match="leave nothing to fit") as err:
        temporal_holdout(log(), as_of=30 * DAY, holdout_days=20)
    assert err.value.field == "holdout_days" and "fewer holdout days" in str(err.value)
    with pytest.raises(RecommendInputError, match="validation period") as err:
        temporal_holdout(log(), as_of=10 * DAY, holdout_days=2)  # nothing new in [6, 8)
    assert err.value.field == "holdout_days"
    for bad in (0, -1.0, "7", True):
        with pytest.raises(RecommendInputError) as err:
            temporal_holdout(log(), as_of=30 * DAY, holdout_days=bad)  # type: ignore[arg-type]
        assert err.value.field == "holdout_days"


def test_small_grids_are_part_of_the_full_ones():
    full, small = generator_grids(), generator_grids(size="small")
    assert list(small) == list(full)
    assert list(full) == [
        "popularity",
        "trending",
        "ease",
        "ease, decayed profile",
        "transitions",
        "co-occurrence",
        "item-kNN",
        "ALS",
        "BPR",
        "content",
    ]
    sizes = {n: len(_combinations(g)) for n, (_, g) in full.items()}
    assert sizes["ease, decayed profile"] == 56 and sizes["ALS"] == 36
    assert sum(sizes.values()) == 199
    n_small = sum(len(_combinations(g)) for _, g in small.values())
    assert n_small < sum(sizes.values()) / 3
    for name, (_, grid) in small.items():
        assert all(c in _combinations(full[name][1]) for c in _combinations(grid)), name
    unweighted = generator_grids(weighted=False, content=None)
    assert "content" not in unweighted
    assert all("binary" not in c for _, g in unweighted.values() for c in _combinations(g))
    with pytest.raises(RecommendInputError):
        generator_grids(size="huge")


def test_shortlist_grows_with_the_catalogue_within_bounds():
    assert [shortlist_size(n, 10) for n in (10, 200, 350, 500, 10_000)] == [20, 20, 35, 50, 50]
    assert shortlist_size(40, k=3) == 6


# ------------------------------------------------------------------ a small synthetic store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> SimpleNamespace:
    root = synth_project(tmp_path_factory.mktemp("offline"), 200, 90)
    steps: list[tuple[str, int, int]] = []
    with Warehouse.open(load_settings(root), root, read_only=True) as wh:
        result = evaluate_warehouse(
            wh, k=5, n_boot=200, progress=lambda s, d, t: steps.append((s, d, t))
        )
        holdout = warehouse_holdout(wh)
        events = wh.to_pandas(interaction_events(wh))
    return SimpleNamespace(root=root, result=result, holdout=holdout, events=events, steps=steps)


def rows_by_name(store) -> dict:
    return {r["generator"]: r for r in store.result.rows}


def test_every_generator_and_the_ranker_are_scored(store):
    names = [r["generator"] for r in store.result.rows]
    assert names == [*generator_grids(), RANKER]
    assert store.result.ranker is not None and store.result.ranker_skipped is None
    seen = store.result.ranker.feature_names_
    assert {"group_share", "price_log_ratio", "user:recency_days", "user:price_index"} <= set(seen)
    for r in store.result.rows:
        for m in ("precision", "recall", "ndcg", "map", "hit_rate", "coverage", "diversity"):
            assert 0.0 <= r[m] <= 1.0, (r["generator"], m)
        assert r["novelty"] > 0
        assert r["ndcg"] <= r["hit_rate"] and r["precision"] <= r["hit_rate"]


def test_personal_generators_beat_popularity_with_intervals(store):
    rows = rows_by_name(store)
    pop = rows[BASELINE]
    assert pop["ndcg_vs_popularity"] == [0.0, 0.0, 0.0]
    for name in ("ease", "co-occurrence", RANKER):
        diff, low, high = rows[name]["ndcg_vs_popularity"]
        assert diff == pytest.approx(rows[name]["ndcg"] - pop["ndcg"])  # same customers
        assert 0.0 < low < diff < high, name
    assert rows["ease"]["coverage"] > pop["coverage"]


def test_choices_come_from_the_grids_and_validation(store):
    rows = rows_by_name(store)
    grids = generator_grids(size="small")
    for name, (_, grid) in grids.items():
        assert rows[name]["params"] in _combinations(grid), name
        assert rows[name]["grid_size"] == len(_combinations(grid))
    tuned = {n: r["validation_ndcg"] for n, r in rows.items() if n != RANKER}
    ranker = rows[RANKER]
    assert ranker["best_single"] == max(tuned, key=lambda n: tuned[n])
    assert ranker["params"]["candidates"] == shortlist_size(store.holdout.train.n_items, 5)
    assert ranker["ndcg_vs_best"][0] == pytest.approx(
        ranker["ndcg"] - rows[ranker["best_single"]]["ndcg"]
    )


def test_the_store_truth_matches_the_events(store):
    e = store.events.assign(
        customer_id=store.events["customer_id"].astype(str),
        product_id=store.events["product_id"].astype(str),
    )
    h = store.holdout
    for cut, end, truth in (
        (h.validation_cut, h.test_cut, h.validation_truth),
        (h.test_cut, h.as_of, h.test_truth),
    ):
        before = e[e["occurred_at"] < cut]
        during = e[(e["occurred_at"] >= cut) & (e["occurred_at"] < end)]
        seen = set(zip(before["customer_id"], before["product_id"], strict=True))
        known = set(before["customer_id"])
        expected: dict = {}
        for c, p in zip(during["customer_id"], during["product_id"], strict=True):
            if c in known and (c, p) not in seen:
                expected.setdefault(c, set()).add(p)
        assert truth == expected
    assert store.result.protocol["test"]["customers"] == len(h.test_truth)
    assert store.result.protocol["as_of"] == h.as_of.isoformat()
    assert h.as_of.time() == dt.time(0) and e["occurred_at"].max() < h.as_of


def test_progress_and_json(store):
    steps = store.steps
    assert steps[0][0] == "reading interactions"
    assert [d for _, d, _ in steps] == list(range(len(steps)))
    assert {t for _, _, t in steps} == {len(generator_grids()) + 3}
    payload = store.result.as_dict()
    text = json.dumps(payload, allow_nan=False)  # missing values are null, not NaN
    back = json.loads(text)
    assert back["models"][-1]["validation_ndcg"] is None
    assert back["metrics"] == list(METRICS)
    rows = rows_by_name(store)
    assert back["best"]["ndcg"] == [max(rows, key=lambda n: rows[n]["ndcg"])]


def test_report_files_hold_the_table(store, tmp_path: Path):
    report = evaluation_report(store.result)
    html, js = write_evaluation_report(report, tmp_path)
    assert (html.name, js.name) == (f"{REPORT_NAME}.html", f"{REPORT_NAME}.json")
    text = html.read_text(encoding="utf-8")
    table = text[text.index('<table id="metrics">') : text.index("</table>")]
    body = re.findall(r"<tr[^>]*><td>([^<]+)</td>", table)
    assert body == [r["generator"] for r in store.result.rows]
    best = max(store.result.rows, key=lambda r: r["ndcg"])
    row = next(r for r in table.split("</tr>") if f"<td>{best['generator']}</td>" in r)
    assert f'<td class="best">{best["ndcg"]:.4f}</td>' in row
    assert text.count("data:image/png;base64,") == 3
    p = store.result.protocol
    assert p["test_cut"][:10] in text and p["validation_cut"][:10] in text
    assert f"{p['test']['pairs']:,} new (customer, product) pairs" in text
    saved = json.loads(js.read_text(encoding="utf-8"))
    assert [m["generator"] for m in saved["models"]] == body
    assert saved["protocol"]["holdout_days"] == 28.0


def test_a_protocol_described_in_words_replaces_the_holdout_text(store, tmp_path: Path):
    report = evaluation_report(store.result)
    report["protocol"] = {
        "description": "Leave the last 20% of each user out.",
        "as_of": "2025-01-01T00:00:00",
    }
    html, _ = write_evaluation_report(report, tmp_path, "described")
    text = html.read_text(encoding="utf-8")
    assert "Leave the last 20% of each user out." in text and "<b>Test</b>" not in text
    assert html.name == "described.html"
