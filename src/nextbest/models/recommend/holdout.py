"""Temporal holdout: the products customers touch for the first time in the last days are the truth.

Given interactions and a moment ``as_of``, two periods of ``holdout_days`` end
at ``as_of``:

* **test**: ``[as_of - holdout_days, as_of)``. The truth of a customer is every
  product they touched in that period and had not touched before it. The models
  scored on test see everything before it (``train``).
* **validation**: the ``holdout_days`` before the test period, cut the same way;
  the models tuned on it see everything before it (``fit``).

Customers without history before a cutoff are left out of that period's truth
(a recommender cannot personalise for them; cold start is popularity's job), and
so is a customer who touched only products they already had. Interactions at or
after ``as_of`` are ignored.

:func:`temporal_holdout` cuts an :class:`~nextbest.models.recommend.interactions.Interactions`
in memory; :func:`warehouse_holdout` reads a project's warehouse through
:func:`~nextbest.models.recommend.source.warehouse_interactions` first.

>>> import pandas as pd
>>> from nextbest.models.recommend.interactions import Interactions
>>> day = 86_400
>>> frame = pd.DataFrame({"user": ["ann", "ann", "ann", "bob", "bob", "cy"],
...                       "item": ["a", "b", "c", "a", "c", "b"],
...                       "time": [0, 10 * day, 20 * day, 1 * day, 15 * day, 12 * day]})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> h = temporal_holdout(x, as_of=21 * day, holdout_days=7)
>>> str(h.validation_cut), str(h.test_cut)
('1970-01-08 00:00:00', '1970-01-15 00:00:00')
>>> h.validation_truth, h.test_truth
({'ann': {'b'}}, {'ann': {'c'}, 'bob': {'c'}})
>>> h.fit.users.tolist(), h.train.users.tolist()
(['ann', 'bob'], ['ann', 'bob', 'cy'])
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nextbest.models.recommend.base import RecommendInputError
from nextbest.models.recommend.interactions import Interactions, to_seconds
from nextbest.models.recommend.source import warehouse_interactions

if TYPE_CHECKING:
    from collections.abc import Mapping

    from nextbest.warehouse import Warehouse

__all__ = [
    "TemporalHoldout",
    "events_before",
    "new_pairs",
    "temporal_holdout",
    "warehouse_holdout",
]

_DAY = 86_400.0
_EPOCH = dt.datetime(1970, 1, 1)


@dataclass(frozen=True, eq=False)
class TemporalHoldout:
    """The parts of a validation + test temporal holdout (see the module docstring).

    Attributes
    ----------
    fit, train : Interactions
        Everything before ``validation_cut`` and before ``test_cut``: what the
        models see when scored on validation and on test.
    validation_truth, test_truth : dict of customer id to set of product ids
        New products per customer with history, ordered by customer id.
    as_of, test_cut, validation_cut : datetime
        The end of the test period and the starts of the two periods (naive UTC).
    holdout_days : float
        The length of each period.
    left_out : dict of str to int
        Per period, the customers who touched a product in it but had no history
        before it.
    """

    fit: Interactions
    train: Interactions
    validation_truth: dict[Any, set[Any]]
    test_truth: dict[Any, set[Any]]
    as_of: dt.datetime
    test_cut: dt.datetime
    validation_cut: dt.datetime
    holdout_days: float
    left_out: dict[str, int]

    def summary(self) -> dict[str, Any]:
        """The cutoffs and the size of every part, JSON-ready."""

        def part(x: Interactions) -> dict[str, int]:
            return {
                "customers": int(x.n_users),
                "products": int(x.n_items),
                "pairs": int(x.nnz),
                "events": len(x.log),
            }

        def truth(t: dict[Any, set[Any]], name: str) -> dict[str, int]:
            return {
                "customers": len(t),
                "pairs": sum(len(v) for v in t.values()),
                "products": len(set().union(*t.values())) if t else 0,
                "left_out_without_history": self.left_out.get(name, 0),
            }

        return {
            "as_of": self.as_of.isoformat(),
            "test_cut": self.test_cut.isoformat(),
            "validation_cut": self.validation_cut.isoformat(),
            "holdout_days": self.holdout_days,
            "fit": part(self.fit),
            "train": part(self.train),
            "validation": truth(self.validation_truth, "validation"),
            "test": truth(self.test_truth, "test"),
        }


def _as_datetime(seconds: float) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=float(seconds))


def events_before(x: Interactions, keep: np.ndarray) -> Interactions:
    """The events of ``x`` where ``keep``; only the users they name, every item."""
    log = x.log[keep]
    codes, rows = np.unique(log["user"].to_numpy(), return_inverse=True)
    return Interactions.from_codes(
        x.users[codes],
        x.items,
        rows,
        log["item"].to_numpy(),
        log["time"].to_numpy(),
        log["weight"].to_numpy(),
    )


def new_pairs(x: Interactions, start: float, end: float) -> tuple[dict[Any, set[Any]], int]:
    """Per user with history before ``start``: items first touched in ``[start, end)``.

    Also the number of users active in the period without history before it.
    """
    log = x.log
    t = log["time"].to_numpy()
    user = log["user"].to_numpy(np.int64)
    key = user * x.n_items + log["item"].to_numpy(np.int64)
    earlier = t < start
    during = (t >= start) & (t < end)
    known = np.zeros(x.n_users, dtype=bool)
    known[user[earlier]] = True
    new = np.unique(key[during & ~np.isin(key, key[earlier]) & known[user]])
    left_out = int(np.unique(user[during & ~known[user]]).size)
    pairs = pd.DataFrame({"user": new // x.n_items, "item": new % x.n_items})
    out: dict[Any, set[Any]] = {}
    for u, items in pairs.groupby("user", sort=True)["item"]:
        out[x.users[int(u)]] = set(x.items[items.to_numpy()].tolist())
    return out, left_out


def temporal_holdout(
    interactions: Interactions, as_of: Any = None, holdout_days: float = 28.0
) -> TemporalHoldout:
    """Cut ``interactions`` into fit, validation, train and test (see the module docstring).

    Parameters
    ----------
    interactions : Interactions
        Every event, undecayed (generators decay profiles themselves).
    as_of : datetime or Unix seconds, optional
        The end of the test period; default: midnight (UTC) after the latest event.
    holdout_days : float
        The length of the test and of the validation period.
    """
    if not isinstance(interactions, Interactions):
        raise RecommendInputError(
            f"expected Interactions; got {type(interactions).__name__}.", field="interactions"
        )
    if isinstance(holdout_days, bool) or not isinstance(holdout_days, int | float):
        raise RecommendInputError(
            f"must be a number of days; got {holdout_days!r}.", field="holdout_days"
        )
    if not holdout_days > 0:
        raise RecommendInputError(f"must be positive; got {holdout_days!r}.", field="holdout_days")
    x = interactions
    times = x.log["time"].to_numpy()
    if times.size == 0:
        raise RecommendInputError("there are no interactions to hold out.", field="interactions")
    if as_of is None:
        end = (np.floor(times.max() / _DAY) + 1.0) * _DAY
    else:
        end = float(to_seconds([as_of], field="as_of")[0])
    test_start = end - holdout_days * _DAY
    validation_start = test_start - holdout_days * _DAY
    span = f"two periods of {holdout_days:g} days before {_as_datetime(end):%Y-%m-%d %H:%M}"
    if not (times < validation_start).any():
        raise RecommendInputError(
            f"the interactions start on {_as_datetime(times.min()):%Y-%m-%d %H:%M}, so {span} "
            "leave nothing to fit the models on.",
            field="holdout_days",
            hint="Use fewer holdout days or a later as-of date.",
        )
    validation_truth, val_out = new_pairs(x, validation_start, test_start)
    test_truth, test_out = new_pairs(x, test_start, end)
    for name, truth, start, stop in (
        ("validation", validation_truth, validation_start, test_start),
        ("test", test_truth, test_start, end),
    ):
        if not truth:
            raise RecommendInputError(
                f"no customer with earlier history touched a new product in the {name} period "
                f"({_as_datetime(start):%Y-%m-%d} to {_as_datetime(stop):%Y-%m-%d}, {span}): "
                "nothing to score the recommendations against.",
                field="holdout_days",
                hint="Use a longer holdout, or an as-of date inside the data.",
            )
    return TemporalHoldout(
        fit=events_before(x, times < validation_start),
        train=events_before(x, times < test_start),
        validation_truth=validation_truth,
        test_truth=test_truth,
        as_of=_as_datetime(end),
        test_cut=_as_datetime(test_start),
        validation_cut=_as_datetime(validation_start),
        holdout_days=float(holdout_days),
        left_out={"validation": val_out, "test": test_out},
    )


def warehouse_holdout(
    wh: Warehouse,
    as_of: dt.datetime | None = None,
    holdout_days: float = 28.0,
    *,
    weights: Mapping[str, float] | None = None,
) -> TemporalHoldout:
    """:func:`temporal_holdout` of the warehouse's interactions before ``as_of``.

    ``weights`` per event type as in
    :func:`~nextbest.models.recommend.source.warehouse_interactions` (the
    ``recommend.weights`` setting); ``as_of`` defaults to midnight after the
    latest data.
    """
    from nextbest.features import default_as_of

    as_of = as_of or default_as_of(wh)
    x = warehouse_interactions(wh, weights, as_of=as_of)
    return temporal_holdout(x, as_of, holdout_days)
