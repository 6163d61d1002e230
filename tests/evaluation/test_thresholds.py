"""Threshold choice: hand-computed cases and brute force over every candidate threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nextbest.evaluation import EvaluationInputError, choose_threshold, confusion_at

Y = [1, 1, 0, 1, 0, 0]
P = [0.9, 0.8, 0.7, 0.6, 0.3, 0.1]


def test_f1_by_hand() -> None:
    c = choose_threshold(Y, P, "f1")
    # at 0.6: tp 3, fp 1, fn 0 -> F1 = 6 / 7
    assert c.threshold == 0.6 and c.value == pytest.approx(6 / 7)
    assert (c.tp, c.fp, c.fn, c.tn, c.contacted) == (3, 1, 0, 2, 4)
    assert c.precision == 0.75 and c.recall == 1.0


def test_profit_by_hand_and_contacting_nobody() -> None:
    # values at thresholds 0.9, 0.8, 0.7, 0.6: 10, 20, 8, 18
    c = choose_threshold(Y, P, "profit", cost_matrix={"tp": 10, "fp": -12})
    assert c.threshold == 0.8 and c.value == 20 and c.contacted == 2
    # every contact loses one: contacting nobody is best
    nobody = choose_threshold(Y, P, "profit", cost_matrix={"tp": -1, "fp": -1, "fn": 0, "tn": 0})
    assert math.isinf(nobody.threshold) and nobody.contacted == 0 and nobody.value == 0
    assert nobody.to_dict()["threshold"] is None


def test_budget_by_hand_never_splits_ties() -> None:
    c = choose_threshold(Y, P, "budget", budget=0.5)
    assert c.threshold == 0.7 and c.contacted == 3 and c.value == pytest.approx(2 / 3)
    tied = choose_threshold([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.5], "budget", budget=0.5)
    assert tied.threshold == 0.9 and tied.contacted == 1
    none = choose_threshold([1, 0, 1, 0], [0.5] * 4, "budget", budget=0.5)
    assert none.contacted == 0 and none.value == 0


def test_bad_arguments() -> None:
    with pytest.raises(EvaluationInputError, match="cost_matrix"):
        choose_threshold(Y, P, "profit")
    with pytest.raises(EvaluationInputError, match="unknown cell"):
        choose_threshold(Y, P, "profit", cost_matrix={"tp": 1, "gain": 2})
    with pytest.raises(EvaluationInputError, match="objective"):
        choose_threshold(Y, P, "accuracy")  # type: ignore[arg-type]
    with pytest.raises(EvaluationInputError) as info:
        choose_threshold(Y, P, "budget", budget=0)
    assert info.value.field == "budget"


def _brute(y, p, score_of) -> tuple[float, float]:
    """Best value and the highest threshold reaching it, trying each candidate in turn."""
    best_t, best_v = math.inf, score_of(confusion_at(y, p, math.inf))
    for t in sorted(set(p), reverse=True):
        v = score_of(confusion_at(y, p, t))
        if v > best_v + 1e-12:
            best_t, best_v = t, v
    return best_t, best_v


@pytest.mark.parametrize("seed", range(12))
def test_objectives_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 40))
    y = (rng.random(n) < 0.4).astype(int)
    y[0], y[1] = 0, 1
    p = np.round(rng.random(n), 1).tolist()
    t, v = _brute(y, p, lambda c: c["f1"])
    f1 = choose_threshold(y, p, "f1")
    assert (f1.threshold, f1.value) == (t, pytest.approx(v))
    cells = {k: float(rng.normal()) for k in ("tp", "fp", "fn", "tn")}
    t, v = _brute(y, p, lambda c: sum(cells[k] * c[k] for k in cells))
    profit = choose_threshold(y, p, "profit", cost_matrix=cells)
    assert (profit.threshold, profit.value) == (t, pytest.approx(v))
    budget = float(rng.uniform(0.05, 1.0))
    limit = math.floor(budget * n + 1e-9)
    t, v = _brute(y, p, lambda c: c["tp"] + c["fp"] if c["tp"] + c["fp"] <= limit else -1)
    chosen = choose_threshold(y, p, "budget", budget=budget)
    assert (chosen.threshold, chosen.contacted) == (t, v)
    assert chosen.value == pytest.approx(confusion_at(y, p, t)["recall"])
