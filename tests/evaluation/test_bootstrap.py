"""Bootstrap intervals: known cases, a loop reimplementation, scikit-learn AUC, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from nextbest.evaluation import (
    EvaluationInputError,
    bootstrap_ci,
    paired_auc_bootstrap,
    paired_bootstrap,
)
from nextbest.evaluation.bootstrap import weighted_auc


def test_constant_difference_has_a_point_interval() -> None:
    r = paired_bootstrap([1.0, 2.0, 3.0], [1.5, 2.5, 3.5], n_boot=100)
    assert (r.a, r.b, r.difference) == (2.0, 2.5, 0.5)
    assert r.low == pytest.approx(0.5) and r.high == pytest.approx(0.5)
    assert r.share_b_better == 1.0 and r.n_boot == 100 and r.ci == 0.95
    same = paired_bootstrap([1.0, 0.0], [1.0, 0.0], n_boot=50)
    assert same.difference == 0.0 and same.share_b_better == 0.0


def test_paired_bootstrap_equals_a_plain_loop() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.random(40), rng.random(40) + 0.05
    r = paired_bootstrap(a, b, n_boot=400, seed=11, ci=0.9)
    draws = np.random.default_rng(11).integers(0, 40, size=(400, 40))
    means = np.array([np.mean(b[i] - a[i]) for i in draws])
    assert r.low == pytest.approx(np.percentile(means, 5))
    assert r.high == pytest.approx(np.percentile(means, 95))
    assert r.share_b_better == np.mean(means > 0)
    assert paired_bootstrap(a, b, n_boot=400, seed=11, ci=0.9) == r


def test_bootstrap_ci_vectorised_and_looped_statistics_agree() -> None:
    values = np.random.default_rng(2).exponential(size=60)
    vec = bootstrap_ci(values, np.median, n_boot=300, seed=4)
    loop = bootstrap_ci(values, lambda x: float(np.median(x)), n_boot=300, seed=4)
    assert vec == loop
    assert vec.estimate == np.median(values) and vec.low < vec.estimate < vec.high


def test_large_inputs_run_in_blocks(monkeypatch) -> None:
    import nextbest.evaluation.bootstrap as bootstrap

    values = np.random.default_rng(3).random(500)
    whole = bootstrap_ci(values, n_boot=250, seed=1)
    monkeypatch.setattr(bootstrap, "_BLOCK_VALUES", 500 * 7)
    assert bootstrap_ci(values, n_boot=250, seed=1) == whole


def test_weighted_auc_matches_scikit_learn_sample_weights() -> None:
    rng = np.random.default_rng(8)
    y = (rng.random(80) < 0.4).astype(int)
    s = np.round(rng.random(80), 1)
    w = rng.integers(0, 4, size=(5, 80)).astype(float)
    expected = [roc_auc_score(y, s, sample_weight=row) for row in w]
    np.testing.assert_allclose(weighted_auc(y, s, w), expected)


def test_paired_auc_bootstrap_equals_a_stratified_loop() -> None:
    rng = np.random.default_rng(9)
    y = (rng.random(60) < 0.3).astype(int)
    a = rng.random(60) + 0.2 * y
    b = rng.random(60) + 0.6 * y
    r = paired_auc_bootstrap(y, a, b, n_boot=50, seed=3)
    assert r.a == pytest.approx(roc_auc_score(y, a)) and r.b == pytest.approx(roc_auc_score(y, b))
    assert r.difference == pytest.approx(r.b - r.a)
    draw = np.random.default_rng(3)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    p_idx = pos[draw.integers(0, pos.size, (50, pos.size))]
    n_idx = neg[draw.integers(0, neg.size, (50, neg.size))]
    diffs = []
    for rows in np.concatenate([p_idx, n_idx], axis=1):
        diffs.append(roc_auc_score(y[rows], b[rows]) - roc_auc_score(y[rows], a[rows]))
    assert r.low == pytest.approx(np.percentile(diffs, 2.5))
    assert r.high == pytest.approx(np.percentile(diffs, 97.5))
    assert r.share_b_better == np.mean(np.array(diffs) > 0)
    assert r.low > 0


def test_errors() -> None:
    with pytest.raises(EvaluationInputError) as info:
        paired_bootstrap([1.0], [1.0, 2.0])
    assert info.value.field == "b_per_unit"
    with pytest.raises(EvaluationInputError, match="n_boot"):
        bootstrap_ci([1.0], n_boot=0)
    with pytest.raises(EvaluationInputError) as info:
        bootstrap_ci([1.0], ci=1.0)
    assert info.value.field == "ci"
    with pytest.raises(EvaluationInputError, match="both positives"):
        paired_auc_bootstrap([1, 1], [0.1, 0.2], [0.3, 0.4])


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=30), seed=st.integers(0, 1000))
def test_interval_contains_the_point_estimate(values, seed) -> None:
    r = bootstrap_ci(values, n_boot=200, seed=seed)
    tol = 1e-9 * (1 + max(abs(v) for v in values))
    assert r.low - tol <= r.estimate <= r.high + tol


@settings(max_examples=40, deadline=None)
@given(
    pairs=st.lists(st.tuples(finite, finite), min_size=1, max_size=30), seed=st.integers(0, 1000)
)
def test_paired_interval_contains_the_observed_difference(pairs, seed) -> None:
    a, b = zip(*pairs, strict=True)
    r = paired_bootstrap(a, b, n_boot=200, seed=seed)
    tol = 1e-9 * (1 + max(abs(v) for p in pairs for v in p))
    assert r.low - tol <= r.difference <= r.high + tol
    assert 0.0 <= r.share_b_better <= 1.0
