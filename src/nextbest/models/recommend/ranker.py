"""Gradient-boosted re-ranking of the union of candidates (LightGBM lambdarank).

Each generator proposes its top ``n_candidates`` per user; the union is scored
by a LightGBM ranker from features of the pair:

* per generator: its score and its rank (missing when it did not propose the item);
* how many generators proposed the item;
* the item: users who touched it, and in the last ``recent_days``; days since its
  latest and its first interaction;
* the item at the user's time: its interactions in the ``recent_days`` before
  the user's own latest interaction, and its age (days since its first
  interaction) then; useful when users' histories end at different times;
* the user: how many items they touched, days since their latest interaction,
  the mean log popularity of their items, and the candidate's log popularity
  against that mean;
* optional numeric item attributes (``item_features``: price, freshness, ...);
* customer features, each optional (off by default, so the features above stay
  exactly as they were):

  - ``item_groups`` (item id -> category or any group label): the user's share of
    interaction weight in the candidate's group (``group_share``; each item's summed
    weight decayed by ``2 ** (-age / affinity_half_life)``, age in
    ``affinity_decay_by`` units as in :mod:`~nextbest.models.recommend.profile`),
    whether that group is the user's favourite (``group_is_favourite``, the largest
    share, ties to the group seen first in item order) and how many of the user's
    ``recent_items`` latest items are in it (``group_recent_items``). Missing for an
    item without a group; the share is missing for a user without grouped items;
  - ``price_column`` (a column of ``item_features``): the log of the candidate's
    price over the median price of the items the user touched
    (``price_log_ratio``), and the spread of those prices (``user_price_spread``,
    the standard deviation of their logs). Missing for a user with no priced item
    or an unpriced candidate; prices that are not positive count as unknown;
  - ``user_features`` (numeric columns indexed by user id: propensity scores,
    recency, price sensitivity, ...): joined per candidate as ``user:<column>``;
    users without a row get missing values. LightGBM handles missing values.

User features must describe the users as of the *start* of the truth period (from
data strictly before it, e.g. a feature snapshot at that moment): features computed
later leak the truth into training. When :meth:`CandidateRanker.refit_candidates`
moves to a later period, pass it that period's ``user_features`` (same columns);
without them the fit period's frame stays in use.
:func:`~nextbest.models.recommend.customer_context.customer_features` reads such a
frame from the warehouse.

:meth:`CandidateRanker.fit` takes the interactions *before* a truth period and
that period's truth (e.g. a validation split): the generators are fitted on the
interactions, and the ranker learns which candidates turned out relevant (one
query per user; users with no relevant candidate teach nothing and are left
out). The number of boosting rounds is chosen on a held-out share of those users
(or by cross-validation over them). :meth:`CandidateRanker.refit_candidates`
then refits the generators on later data (the whole training part) and keeps
the learnt ranker, the way it is used to score the test period.

>>> import pandas as pd
>>> from nextbest.models.recommend import EASE, Interactions, Popularity
>>> rows = [(u, i, t) for u in range(30) for t, i in enumerate(["a", "b", "c"][: 1 + u % 3])]
>>> x = Interactions.from_frame(pd.DataFrame(rows, columns=["u", "i", "t"]), "u", "i", "t")
>>> truth = {u: {"c"} for u in range(0, 30, 3)}
>>> ranker = CandidateRanker({"pop": Popularity(), "ease": EASE(l2=1.0)}, n_candidates=2,
...                          cv_folds=0, n_estimators=5, params={"min_child_samples": 1}
...                          ).fit(x, truth)
>>> ranker.recommend_frame([0], k=2)["item_id"].tolist()
['c', 'b']

With groups and a user feature (user 0 has no row: its feature is missing):

>>> groups = pd.Series({"a": "x", "b": "x", "c": "y"})
>>> extra = pd.DataFrame({"propensity": [0.1 * u for u in range(1, 30)]}, index=range(1, 30))
>>> ranker = CandidateRanker({"pop": Popularity()}, n_candidates=2, cv_folds=0,
...                          n_estimators=5, params={"min_child_samples": 1},
...                          item_groups=groups, user_features=extra).fit(x, truth)
>>> ranker.feature_names_[-4:]
['group_share', 'group_is_favourite', 'group_recent_items', 'user:propensity']
>>> ranker.features_frame([0, 1])[["user_id", "item_id", "group_share", "user:propensity"]]
   user_id item_id  group_share  user:propensity
0        0       b          1.0              NaN
1        0       c          0.0              NaN
2        1       c          0.0              0.1
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.candidate_features import CandidateFeatures, UserRows
from nextbest.models.recommend.interactions import Interactions
from nextbest.models.recommend.profile import DECAY_BY

__all__ = ["RANKER_PARAMS", "CandidateRanker"]

_DAY = 86_400.0
_KEY = 10**11  # item number x _KEY + Unix seconds: one sorted key per (item, time)

RANKER_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 50,
    "reg_lambda": 5.0,
    "colsample_bytree": 0.8,
    "subsample": 0.8,
    "subsample_freq": 1,
}
"""LightGBM settings of the ranker: small, regularised trees."""


def _numeric_frame(frame: Any, field: str) -> pd.DataFrame:
    """``frame`` as float columns indexed by unique ids (a clear error otherwise)."""
    if not isinstance(frame, pd.DataFrame):
        raise RecommendInputError(
            f"expected a pandas DataFrame indexed by user id; got {type(frame).__name__}.",
            field=field,
        )
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise RecommendInputError(f"user {dup!r} has more than one row.", field=field)
    bad = [
        str(c)
        for c, dtype in frame.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
    ]
    if bad:
        raise RecommendInputError(
            f"user features must be numeric; not so: {', '.join(bad[:5])}.",
            field=field,
            hint="Encode categorical columns as numbers first, or leave them out.",
        )
    return frame.astype(np.float64)


class CandidateRanker(Recommender):
    """LightGBM re-ranker over several generators' candidates; see the module docstring.

    Parameters
    ----------
    generators : dict of name to Recommender
        Unfitted generators (they are copied, not changed).
    n_candidates : int
        Candidates taken from each generator per user.
    params : dict, optional
        LightGBM settings replacing :data:`RANKER_PARAMS`.
    n_estimators : int
        Most boosting rounds (all of them without ``validation_share`` or ``cv_folds``).
    cv_folds : int
        With 2 or more, the number of rounds is chosen by cross-validation over the
        truth users in this many folds (one query per user), stopping ``patience``
        rounds after the mean NDCG@``k`` of the held-out folds stops improving;
        the model is then learnt on every truth user (``cv_folds + 1`` trainings).
    cv_max_rows : int, optional
        Cross-validate only when the candidates to learn from are at most this
        many rows (small data, where every user counts and training is cheap);
        beyond it the rounds are chosen on ``validation_share`` instead.
        ``None``: always cross-validate.
    validation_share : float, optional
        The share of the truth users (a seeded draw) that chooses the rounds when
        there is no cross-validation, with the same early stopping; the model
        learnt on the other users is kept: one training.
    patience : int
        See ``validation_share``.
    k : int
        The NDCG cut the early stopping watches.
    recent_days : float
        Window of the item's recent popularity.
    item_features : DataFrame, optional
        Numeric item attributes indexed by item id.
    fit_kwargs : dict of name to dict, optional
        Extra ``fit`` arguments per generator (e.g. content attributes).
    seed, threads
        LightGBM's seed and threads.
    item_groups : Series, optional
        Item id -> group label (e.g. the product category): adds the group features
        of the module docstring. Items without a label have no group.
    affinity_half_life : float or None
        Half-life of the interaction weights in ``group_share`` (None: no decay).
    affinity_decay_by : str
        Its unit: ``"share"`` of the user's history, ``"interactions"`` or ``"days"``.
    recent_items : int
        How many of the user's latest items ``group_recent_items`` looks at.
    price_column : str, optional
        The column of ``item_features`` holding the price: adds the price features.
    user_features : DataFrame, optional
        Numeric user features indexed by user id, computed from data before the
        truth period; each column becomes the feature ``user:<column>``.

    Attributes
    ----------
    ranker_ : lightgbm.LGBMRanker
        The learnt ranker.
    n_estimators_ : int
        The boosting rounds it uses.
    cv_ndcg_ : float
        The best NDCG@``k`` of the held-out users (the validation share, or the
        mean over the cross-validation folds); ``nan`` when the rounds were not chosen.
    training_queries_ : int
        The users (queries) the kept model learnt from.
    generators_ : dict of name to Recommender
        The fitted generators in use.
    feature_names_ : list of str
        The ranker's inputs.
    user_features_ : DataFrame or None
        The user features in use (those of ``refit_candidates`` once given).
    spec_ : CandidateFeatures
        Which features the ranker computes (plain data).
    item_context_ : dict of name to ndarray
        The items' part of the features, from the interactions in use.
    """

    def __init__(
        self,
        generators: Mapping[str, Recommender],
        n_candidates: int = 50,
        params: Mapping[str, Any] | None = None,
        n_estimators: int = 1000,
        cv_folds: int = 5,
        cv_max_rows: int | None = 300_000,
        validation_share: float | None = 0.2,
        patience: int = 50,
        k: int = 10,
        recent_days: float = 30.0,
        item_features: pd.DataFrame | None = None,
        fit_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        seed: int = 0,
        threads: int = 1,
        item_groups: pd.Series | None = None,
        affinity_half_life: float | None = 0.5,
        affinity_decay_by: str = "share",
        recent_items: int = 5,
        price_column: str | None = None,
        user_features: pd.DataFrame | None = None,
    ) -> None:
        self.generators = generators
        self.n_candidates = n_candidates
        self.params = params
        self.n_estimators = n_estimators
        self.cv_folds = cv_folds
        self.cv_max_rows = cv_max_rows
        self.validation_share = validation_share
        self.patience = patience
        self.k = k
        self.recent_days = recent_days
        self.item_features = item_features
        self.fit_kwargs = fit_kwargs
        self.seed = seed
        self.threads = threads
        self.item_groups = item_groups
        self.affinity_half_life = affinity_half_life
        self.affinity_decay_by = affinity_decay_by
        self.recent_items = recent_items
        self.price_column = price_column
        self.user_features = user_features

    # -- candidates and features -------------------------------------------------------
    def _fit_generators(self, x: Interactions) -> dict[str, Recommender]:
        kwargs = self.fit_kwargs or {}
        return {
            name: copy.deepcopy(g).fit(x, **dict(kwargs.get(name, {})))
            for name, g in self.generators.items()
        }

    def _check_customer_params(self) -> None:
        """Errors for bad customer-feature parameters, before anything is fitted."""
        if self.item_groups is not None:
            if not isinstance(self.item_groups, pd.Series):
                raise RecommendInputError(
                    f"expected a pandas Series (item id -> group); "
                    f"got {type(self.item_groups).__name__}.",
                    field="item_groups",
                )
            if self.item_groups.index.has_duplicates:
                dup = self.item_groups.index[self.item_groups.index.duplicated()][0]
                raise RecommendInputError(
                    f"item {dup!r} has more than one group.", field="item_groups"
                )
            half = self.affinity_half_life
            if half is not None and not (
                isinstance(half, int | float) and not isinstance(half, bool) and half > 0
            ):
                raise RecommendInputError(
                    f"must be a positive number or None; got {half!r}.",
                    field="affinity_half_life",
                )
            if self.affinity_decay_by not in DECAY_BY:
                raise RecommendInputError(
                    f"must be one of {DECAY_BY}; got {self.affinity_decay_by!r}.",
                    field="affinity_decay_by",
                )
            if int(self.recent_items) != self.recent_items or self.recent_items < 1:
                raise RecommendInputError(
                    f"must be a positive integer; got {self.recent_items!r}.",
                    field="recent_items",
                )
        features = self.item_features
        if self.price_column is not None and (
            features is None or self.price_column not in features
        ):
            have = [] if features is None else list(features.columns)
            raise RecommendInputError(
                f"price column {self.price_column!r} is not among the item features "
                f"({', '.join(map(str, have)) or 'none given'}).",
                field="price_column",
                hint="Pass item_features with a price column.",
            )
        if self.user_features is not None:
            _numeric_frame(self.user_features, "user_features")

    def _item_context(self, x: Interactions) -> dict[str, np.ndarray]:
        """What the features need of the items (and the time ``now``), from ``x``."""
        last = x.last_time
        now = float(last.data.max())
        log = x.log
        recent = log[log["time"] > now - self.recent_days * _DAY]
        item_last = np.full(x.n_items, np.nan)
        item_first = np.full(x.n_items, np.nan)
        g = log.groupby("item")["time"]
        idx = g.max().index.to_numpy()
        item_last[idx] = (now - g.max().to_numpy()) / _DAY
        item_first[idx] = (now - g.min().to_numpy()) / _DAY
        extra = np.zeros((x.n_items, 0))
        if self.item_features is not None:
            extra = self.item_features.reindex(pd.Index(x.items)).to_numpy(dtype=np.float64)
        by_item = log.sort_values(["item", "time"], kind="stable")
        out = {
            "now": np.array([now]),
            "item_users": x.item_counts(),
            "item_log_pop": np.log1p(x.item_counts()),
            "item_time_keys": by_item["item"].to_numpy(np.int64) * _KEY
            + by_item["time"].to_numpy().astype(np.int64),
            "item_recent_users": np.bincount(
                recent.drop_duplicates(["user", "item"])["item"], minlength=x.n_items
            ).astype(float),
            "item_days_since_last": item_last,
            "item_days_since_first": item_first,
            "extra": extra,
        }
        if self.item_groups is not None:
            labels = self.item_groups.reindex(pd.Index(x.items))
            if labels.isna().all():
                raise RecommendInputError(
                    "no item of the interactions has a group.",
                    field="item_groups",
                    hint="Index item_groups by the same item ids as the interactions.",
                )
            codes, uniques = pd.factorize(labels, sort=False)  # first seen in item order: 0
            out["item_group"] = codes.astype(np.int64)
            out["n_groups"] = np.array([max(len(uniques), 1)])
        if self.price_column is not None:
            assert self.item_features is not None
            price = pd.to_numeric(self.item_features[self.price_column], errors="coerce")
            values = price.reindex(pd.Index(x.items)).to_numpy(dtype=np.float64)
            out["item_price"] = np.where(values > 0, values, np.nan)
            out["item_log_price"] = np.log(out["item_price"])
        return out

    def _context(
        self, x: Interactions, items: dict[str, np.ndarray], user_features: pd.DataFrame | None
    ) -> dict[str, np.ndarray]:
        out = {**items, **self.spec_.user_context(UserRows.of(x), items)}
        if user_features is not None:
            users = pd.Index(x.users)
            if not users.isin(user_features.index).any():
                raise RecommendInputError(
                    "no user of the interactions has a row in the user features.",
                    field="user_features",
                    hint="Index user_features by the same user ids (and type) as the interactions.",
                )
            out["user_extra"] = user_features.reindex(users).to_numpy(dtype=np.float64)
        return out

    def _candidates(self, rows: np.ndarray) -> pd.DataFrame:
        """One row per (user row, item) candidate with every feature."""
        lists = [g.recommend(rows, int(self.n_candidates)) for g in self.generators_.values()]
        row, item, features = self.spec_.features(rows, lists, self.context_)
        frame = pd.DataFrame(features, columns=self.spec_.names())
        frame.insert(0, "item", item)
        frame.insert(0, "row", row)
        return frame

    def _features(self, frame: pd.DataFrame) -> np.ndarray:
        return frame[self.feature_names_].to_numpy(dtype=np.float64)

    # -- fitting ------------------------------------------------------------------------
    def fit(
        self, interactions: Interactions, truth: Mapping[Any, Collection[Any]] | None = None
    ) -> CandidateRanker:
        import lightgbm as lgb

        x = self._check_interactions(interactions)
        if not self.generators:
            raise RecommendInputError("no candidate generators given.", field="generators")
        if not truth:
            raise RecommendInputError(
                "the ranker learns from a truth period: pass fit(interactions, truth).",
                field="truth",
            )
        if int(self.n_candidates) != self.n_candidates or self.n_candidates < 1:
            raise RecommendInputError(
                f"must be a positive integer; got {self.n_candidates!r}.", field="n_candidates"
            )
        if int(self.cv_folds) != self.cv_folds or self.cv_folds < 0:
            raise RecommendInputError(
                f"must be an integer >= 0; got {self.cv_folds!r}.", field="cv_folds"
            )
        self._check_customer_params()
        user_frame = (
            None
            if self.user_features is None
            else _numeric_frame(self.user_features, "user_features")
        )
        self.user_features_ = user_frame
        self.user_feature_columns_ = [] if user_frame is None else [str(c) for c in user_frame]
        self.generators_ = self._fit_generators(x)
        self.spec_ = CandidateFeatures(
            generators=tuple(self.generators_),
            item_columns=()
            if self.item_features is None
            else tuple(str(c) for c in self.item_features.columns),
            groups=self.item_groups is not None,
            price=self.price_column is not None,
            user_columns=tuple(self.user_feature_columns_),
            recent_days=float(self.recent_days),
            affinity_half_life=self.affinity_half_life,
            affinity_decay_by=self.affinity_decay_by,
            recent_items=int(self.recent_items),
        )
        self.interactions_ = x
        self.item_context_ = self._item_context(x)
        self.context_ = self._context(x, self.item_context_, user_frame)
        users = [u for u in truth if len(truth[u])]
        pos = np.searchsorted(x.users, users)
        known = (pos < x.n_users) & (
            x.users[np.minimum(pos, x.n_users - 1)] == np.array(users, dtype=x.users.dtype)
        )
        rows = np.sort(pos[known]).astype(np.int64)
        if rows.size == 0:
            raise RecommendInputError(
                "no truth user has interactions to rank candidates for.", field="truth"
            )
        frame = self._candidates(rows)
        item_ids = x.items[frame["item"].to_numpy()]
        user_ids = x.users[frame["row"].to_numpy()]
        frame["label"] = [
            int(i in truth[u]) for u, i in zip(user_ids.tolist(), item_ids.tolist(), strict=True)
        ]
        useful = frame.groupby("row")["label"].transform("max") > 0
        frame = frame[useful].reset_index(drop=True)
        if frame.empty:
            raise RecommendInputError(
                "no candidate of any user is in the truth: nothing to learn from.",
                field="truth",
            )
        self.feature_names_ = [c for c in frame.columns if c not in ("row", "item", "label")]
        groups = frame.groupby("row", sort=False).size().to_numpy()
        features, labels = self._features(frame), frame["label"].to_numpy()
        params = {**RANKER_PARAMS, **dict(self.params or {})}
        common = {
            "seed": int(self.seed),
            "num_threads": int(self.threads),
            "verbose": -1,
            "deterministic": True,
            "force_row_wise": True,
        }
        rounds = int(self.n_estimators)
        self.cv_ndcg_ = float("nan")
        share = self.validation_share
        if share is not None and not 0 < share < 1:
            raise RecommendInputError(
                f"must lie strictly between 0 and 1 or be None; got {share!r}.",
                field="validation_share",
            )
        held = round(len(groups) * share) if share is not None else 0
        small = self.cv_max_rows is None or len(labels) <= self.cv_max_rows
        cross = self.cv_folds > 1 and len(groups) >= self.cv_folds and small
        if not cross and 1 <= held < len(groups):
            return self._fit_holdout(features, labels, groups, held, params)
        if cross:
            data = lgb.Dataset(features, labels, group=groups, free_raw_data=False)
            cv = lgb.cv(
                {**params, **common, "metric": "ndcg", "eval_at": [int(self.k)]},
                data,
                num_boost_round=rounds,
                nfold=int(self.cv_folds),
                stratified=False,
                shuffle=True,
                seed=int(self.seed),
                callbacks=[lgb.early_stopping(self.patience, verbose=False)],
            )
            key = next(k for k in cv if k.endswith("-mean"))
            curve = np.asarray(cv[key], dtype=np.float64)  # type: ignore[arg-type]
            rounds = int(np.argmax(curve)) + 1
            self.cv_ndcg_ = float(curve.max())
        ranker = lgb.LGBMRanker(
            n_estimators=rounds,
            random_state=int(self.seed),
            n_jobs=int(self.threads),
            verbose=-1,
            deterministic=True,
            force_row_wise=True,
            **params,
        )
        ranker.fit(features, labels, group=groups)
        self.ranker_ = ranker
        self.n_estimators_ = rounds
        self.training_queries_ = len(groups)
        return self

    def _fit_holdout(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        groups: np.ndarray,
        held: int,
        params: Mapping[str, Any],
    ) -> CandidateRanker:
        """Learn on all queries but ``held`` seeded ones, which choose the rounds."""
        import lightgbm as lgb

        rng = np.random.default_rng(int(self.seed))
        out = np.zeros(len(groups), dtype=bool)
        out[rng.choice(len(groups), size=held, replace=False)] = True
        row_out = np.repeat(out, groups)
        ranker = lgb.LGBMRanker(
            n_estimators=int(self.n_estimators),
            random_state=int(self.seed),
            n_jobs=int(self.threads),
            verbose=-1,
            deterministic=True,
            force_row_wise=True,
            **params,
        )
        ranker.fit(
            features[~row_out],
            labels[~row_out],
            group=groups[~out],
            eval_set=[(features[row_out], labels[row_out])],
            eval_group=[groups[out]],
            eval_at=[int(self.k)],
            callbacks=[lgb.early_stopping(self.patience, verbose=False)],
        )
        best = int(ranker.best_iteration_ or ranker.n_estimators)
        scores = ranker.best_score_["valid_0"]
        self.cv_ndcg_ = float(next(v for key, v in scores.items() if key.startswith("ndcg")))
        self.ranker_ = ranker
        self.n_estimators_ = best
        self.training_queries_ = int((~out).sum())
        return self

    def refit_candidates(
        self, interactions: Interactions, user_features: pd.DataFrame | None = None
    ) -> CandidateRanker:
        """Refit the generators (and the item/user context) on ``interactions``; keep the ranker.

        ``user_features`` replaces the user features for the new period (computed
        from data before the period scored next; it needs the columns the ranker was
        fitted with). Without it the frame in use stays.
        """
        self._check_fitted()
        x = self._check_interactions(interactions)
        frame = getattr(self, "user_features_", None)
        if user_features is not None:
            if frame is None:
                raise RecommendInputError(
                    "the ranker was fitted without user features.",
                    field="user_features",
                    hint="Pass user_features to the constructor and fit again.",
                )
            new = _numeric_frame(user_features, "user_features")
            missing = [c for c in frame.columns if c not in new.columns]
            if missing:
                raise RecommendInputError(
                    f"the user features lack columns the ranker was fitted with: "
                    f"{', '.join(map(str, missing[:5]))}.",
                    field="user_features",
                )
            frame = new[list(frame.columns)]
        generators = self._fit_generators(x)
        items = self._item_context(x)
        context = self._context(x, items, frame)
        self.generators_, self.interactions_, self.context_ = generators, x, context
        self.item_context_ = items
        self.user_features_ = frame
        return self

    def features_frame(self, users: Collection[Any] | None = None) -> pd.DataFrame:
        """Every candidate of ``users`` (default: all) with the ranker's inputs and score.

        Columns ``user_id``, ``item_id``, then :attr:`feature_names_`, then ``score``;
        rows by user (in the interactions' order), then item.
        """
        self._check_fitted()
        x = self.interactions_
        rows = np.arange(x.n_users) if users is None else np.unique(x.user_index(users))
        if rows.size == 0:
            return pd.DataFrame(columns=["user_id", "item_id", *self.feature_names_, "score"])
        frame = self._candidates(rows.astype(np.int64))
        out = pd.DataFrame(
            {
                "user_id": x.users[frame["row"].to_numpy()],
                "item_id": x.items[frame["item"].to_numpy()],
            }
        )
        out = pd.concat([out, frame[self.feature_names_].reset_index(drop=True)], axis=1)
        out["score"] = self.ranker_.predict(self._features(frame), num_threads=int(self.threads))
        return out

    def _score(self, rows: np.ndarray) -> np.ndarray:
        out = np.full((len(rows), self.interactions_.n_items), -np.inf)
        if len(rows) == 0:
            return out
        frame = self._candidates(np.asarray(rows, dtype=np.int64))
        score = self.ranker_.predict(self._features(frame), num_threads=int(self.threads))
        where = (
            np.searchsorted(rows, frame["row"].to_numpy())
            if np.all(np.diff(rows) > 0)
            else pd.Index(rows).get_indexer(frame["row"].to_numpy())
        )
        out[where, frame["item"].to_numpy()] = score
        return out
