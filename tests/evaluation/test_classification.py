"""Classification metrics, curves, lift and calibration: hand-computed cases and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import calibration, metrics

from nextbest.errors import NextBestError
from nextbest.evaluation import (
    EvaluationInputError,
    average_precision,
    calibration_curve,
    classification_metrics,
    confusion_at,
    lift_table,
    pr_curve,
    roc_auc,
    roc_curve,
    threshold_counts,
    top_share_metrics,
)
from nextbest.evaluation.curves import thin_curve
from nextbest.evaluation.ordering import depth_sums


def test_hand_computed_metrics() -> None:
    y = [1, 0, 1, 0]
    p = [0.9, 0.6, 0.3, 0.1]
    m = classification_metrics(y, p, k_fracs=(0.25, 0.5))
    # positives 0.9 and 0.3 beat 2 and 1 of the two negatives: 3 of 4 pairs
    assert m["roc_auc"] == pytest.approx(0.75)
    # thresholds 0.9, 0.6, 0.3, 0.1: recall 1/2, 1/2, 1, 1 with precision 1, 1/2, 2/3, 1/2
    assert m["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m["log_loss"] == pytest.approx(
        -(math.log(0.9) + math.log(0.4) + math.log(0.3) + math.log(0.9)) / 4
    )
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.49 + 0.01) / 4)
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (1, 1, 1, 1)
    assert (m["f1"], m["precision"], m["recall"], m["accuracy"]) == (0.5, 0.5, 0.5, 0.5)
    assert (m["n"], m["positives"], m["base_rate"], m["threshold"]) == (4, 2, 0.5, 0.5)
    top = {t["share"]: t for t in m["top"]}
    assert top[0.25]["customers"] == 1 and top[0.25]["precision"] == 1.0
    assert top[0.25]["recall"] == 0.5 and top[0.25]["lift"] == 2.0
    assert top[0.5]["precision"] == 0.5 and top[0.5]["recall"] == 0.5


def test_threshold_is_inclusive_and_other_thresholds() -> None:
    c = confusion_at([1, 0, 1, 0], [0.9, 0.6, 0.3, 0.1], 0.3)
    assert (c["tn"], c["fp"], c["fn"], c["tp"]) == (1, 1, 0, 2)
    assert c["precision"] == pytest.approx(2 / 3) and c["recall"] == 1.0
    assert c["f1"] == pytest.approx(0.8)
    none = confusion_at([1, 0], [0.2, 0.1], 0.5)
    assert (none["precision"], none["recall"], none["f1"], none["accuracy"]) == (0, 0, 0, 0.5)


def test_raw_scores_need_a_threshold_and_skip_probability_metrics() -> None:
    y, s = [1, 0, 1, 0], [2.0, -1.0, 0.5, 0.7]
    with pytest.raises(EvaluationInputError, match="threshold"):
        classification_metrics(y, s)
    m = classification_metrics(y, s, threshold=0.6)
    assert m["log_loss"] is None and m["brier"] is None
    assert m["roc_auc"] == 0.75 and m["tp"] == 1 and m["fp"] == 1


@pytest.mark.parametrize(
    ("y", "score", "field"),
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "y_true"),
        ([1, 0, 2], [0.1, 0.2, 0.3], "y_true"),
        ([1, 0], [0.1, float("nan")], "score"),
        ([1, 0], [0.1, 0.2, 0.3], "score"),
        ([], [], "y_true"),
    ],
)
def test_bad_inputs_are_clear_errors(y, score, field) -> None:
    with pytest.raises(NextBestError) as info:
        classification_metrics(y, score)
    assert info.value.field == field


def test_threshold_counts_and_curves_by_hand() -> None:
    c = threshold_counts([1, 0, 1, 0, 1], [0.8, 0.8, 0.5, 0.2, 0.2])
    assert c.thresholds.tolist() == [0.8, 0.5, 0.2]
    assert c.tp.tolist() == [1, 2, 3] and c.fp.tolist() == [1, 1, 2]
    assert c.fn.tolist() == [2, 1, 0] and c.tn.tolist() == [1, 1, 0]
    fpr, tpr, thr = roc_curve([1, 0, 1, 0, 1], [0.8, 0.8, 0.5, 0.2, 0.2])
    assert fpr.tolist() == [0, 0.5, 0.5, 1] and tpr.tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert math.isinf(thr[0])
    # trapezoids: 0.5 * (0 + 1/3) / 2 + 0 + 0.5 * (2/3 + 1) / 2
    assert roc_auc([1, 0, 1, 0, 1], [0.8, 0.8, 0.5, 0.2, 0.2]) == pytest.approx(1 / 12 + 5 / 12)
    recall, precision, _ = pr_curve([1, 0, 1, 0, 1], [0.8, 0.8, 0.5, 0.2, 0.2])
    assert recall.tolist() == pytest.approx([1 / 3, 2 / 3, 1])
    assert precision.tolist() == pytest.approx([0.5, 2 / 3, 0.6])
    assert average_precision([1, 0, 1, 0, 1], [0.8, 0.8, 0.5, 0.2, 0.2]) == pytest.approx(
        (0.5 + 2 / 3 + 0.6) / 3
    )


@pytest.mark.parametrize("seed", range(5))
def test_matches_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    y = (rng.random(n) < 0.3).astype(int)
    p = np.clip(np.round(0.3 * y + 0.7 * rng.random(n), 2), 0.01, 0.99)  # many ties
    m = classification_metrics(y, p, threshold=0.45)
    assert m["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(metrics.average_precision_score(y, p), abs=1e-12)
    assert m["log_loss"] == pytest.approx(metrics.log_loss(y, p), abs=1e-12)
    assert m["brier"] == pytest.approx(metrics.brier_score_loss(y, p), abs=1e-12)
    pred = (p >= 0.45).astype(int)
    tn, fp, fn, tp = metrics.confusion_matrix(y, pred).ravel()
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
    assert m["f1"] == pytest.approx(metrics.f1_score(y, pred))
    assert m["precision"] == pytest.approx(metrics.precision_score(y, pred))
    assert m["recall"] == pytest.approx(metrics.recall_score(y, pred))
    assert m["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred))
    fpr, tpr, _ = roc_curve(y, p)
    sk_fpr, sk_tpr, _ = metrics.roc_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    recall, precision, _ = pr_curve(y, p)
    sk_precision, sk_recall, _ = metrics.precision_recall_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(precision[::-1], sk_precision[:-1])
    np.testing.assert_allclose(recall[::-1], sk_recall[:-1])


labels = st.lists(st.integers(0, 1), min_size=2, max_size=40).filter(lambda v: 0 < sum(v) < len(v))


@settings(max_examples=60, deadline=None)
@given(
    labels.flatmap(
        lambda y: st.tuples(
            st.just(y), st.lists(st.integers(0, 20), min_size=len(y), max_size=len(y))
        )
    )
)
def test_metrics_bounded_and_auc_invariant_to_monotone_transforms(data) -> None:
    y, raw = data
    s = np.array(raw, dtype=float)
    p = s / 20.0
    m = classification_metrics(y, p, k_fracs=(0.1, 0.5))
    for key in ("roc_auc", "pr_auc", "brier", "f1", "precision", "recall", "accuracy"):
        assert 0.0 <= m[key] <= 1.0, key
    assert all(0.0 <= t["precision"] <= 1.0 and 0.0 <= t["recall"] <= 1.0 for t in m["top"])
    transformed = np.exp(s / 3.0) + s**3 - 50.0
    assert roc_auc(y, transformed) == pytest.approx(m["roc_auc"], abs=1e-12)
    assert average_precision(y, transformed) == pytest.approx(m["pr_auc"], abs=1e-12)
    assert roc_auc(y, -s) == pytest.approx(1.0 - m["roc_auc"], abs=1e-12)


def test_lift_table_by_hand_with_a_tie_across_deciles() -> None:
    y = [1, 0, 1, 1, 0, 0, 1, 0, 0, 0]
    s = [0.95, 0.9, 0.8, 0.8, 0.8, 0.5, 0.4, 0.3, 0.2, 0.1]
    t = lift_table(y, s, bins=5)
    # the three rows at 0.8 hold 2 positives: 2/3 of a positive per row, split 2 + 1
    assert t["customers"].tolist() == [2, 2, 2, 2, 2]
    np.testing.assert_allclose(t["positives"], [1, 4 / 3, 2 / 3, 1, 0])
    np.testing.assert_allclose(t["rate"], [0.5, 2 / 3, 1 / 3, 0.5, 0])
    np.testing.assert_allclose(t["lift"], [1.25, 5 / 3, 5 / 6, 1.25, 0])
    np.testing.assert_allclose(t["cum_gain"], [0.25, 7 / 12, 0.75, 1, 1])
    np.testing.assert_allclose(t["cum_lift"], [1.25, (7 / 3) / 4 / 0.4, 1.25, 1.25, 1.0])
    assert t["max_score"].tolist() == [0.95, 0.8, 0.8, 0.4, 0.2]
    assert t["min_score"].tolist() == [0.9, 0.8, 0.5, 0.3, 0.1]
    order = np.random.default_rng(0).permutation(10)
    shuffled = lift_table(np.array(y)[order], np.array(s)[order], bins=5)
    pd.testing.assert_frame_equal(t, shuffled)


def test_lift_table_ten_rows_ten_deciles_and_constant_baseline() -> None:
    y = [0, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    s = np.arange(10, 0, -1) / 10
    t = lift_table(y, s)
    assert t["positives"].tolist() == y
    assert t["lift"].tolist() == [0, 5, 0, 0, 5, 0, 0, 0, 0, 0]
    assert t["cum_gain"].tolist() == [0, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 1]
    flat = lift_table(y, np.full(10, 0.3))
    np.testing.assert_allclose(flat["lift"], 1.0)
    np.testing.assert_allclose(flat["cum_gain"], np.arange(1, 11) / 10)
    with pytest.raises(EvaluationInputError, match="bins"):
        lift_table(y[:5], s[:5], bins=10)


def test_top_share_counts_ties_evenly() -> None:
    # top 3 of 6 take the 0.9 row and two of the four rows tied at 0.5 (one positive)
    r = top_share_metrics([1, 0, 1, 0, 0, 0], [0.9, 0.5, 0.5, 0.5, 0.5, 0.1], (0.5,))[0]
    assert r["customers"] == 3 and r["positives"] == pytest.approx(1.5)
    assert r["precision"] == pytest.approx(0.5) and r["recall"] == pytest.approx(0.75)
    assert top_share_metrics([1, 0] * 15, np.linspace(1, 0, 30), (0.1,))[0]["customers"] == 3


def test_depth_sums_match_average_over_tie_orders() -> None:
    rng = np.random.default_rng(4)
    s = rng.integers(0, 4, 12).astype(float)
    v = rng.random(12)
    depths = np.arange(13)
    sums = np.zeros(13)
    for _ in range(3000):
        order = np.lexsort((rng.random(12), -s))
        sums += np.r_[0, np.cumsum(v[order])]
    np.testing.assert_allclose(depth_sums(s, v, depths), sums / 3000, atol=0.03)


def test_calibration_by_hand() -> None:
    c = calibration_curve([0, 1, 0, 1], [0.1, 0.2, 0.7, 0.8], bins=2)
    np.testing.assert_allclose(c[["lower", "upper"]], [[0.1, 0.45], [0.45, 0.8]])
    np.testing.assert_allclose(c["mean_predicted"], [0.15, 0.75])
    assert c["observed_rate"].tolist() == [0.5, 0.5] and c["count"].tolist() == [2, 2]
    tied = calibration_curve([0, 1, 1, 1], [0.3] * 4, bins=4)
    assert tied["count"].tolist() == [4] and tied["observed_rate"].tolist() == [0.75]
    u = calibration_curve([1, 0, 1], [0.05, 0.5, 1.0], bins=2, strategy="uniform")
    assert u["count"].tolist() == [1, 2] and u["observed_rate"].tolist() == [1.0, 0.5]
    with pytest.raises(EvaluationInputError, match=r"\[0, 1\]"):
        calibration_curve([0, 1], [0.5, 1.5], bins=1)
    with pytest.raises(EvaluationInputError, match="strategy"):
        calibration_curve([0, 1], [0.5, 0.5], bins=1, strategy="kmeans")  # type: ignore[arg-type]


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_matches_scikit_learn(strategy: str) -> None:
    rng = np.random.default_rng(7)
    p = rng.random(400)
    y = (rng.random(400) < p).astype(int)
    c = calibration_curve(y, p, bins=8, strategy=strategy)  # type: ignore[arg-type]
    prob_true, prob_pred = calibration.calibration_curve(y, p, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(c["observed_rate"], prob_true)
    np.testing.assert_allclose(c["mean_predicted"], prob_pred)
    assert c["count"].sum() == 400


def test_thin_curve_keeps_the_shape() -> None:
    x = np.linspace(0, 1, 1001)
    y = np.sqrt(x)
    tx, ty = thin_curve(x, y, max_points=50)
    assert len(tx) <= 50 and tx[0] == 0.0 and tx[-1] == 1.0
    assert np.max(np.abs(np.interp(x, tx, ty) - y)) < 0.05
