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
* optional numeric item attributes (``item_features``: price, freshness, ...).

:meth:`CandidateRanker.fit` takes the interactions *before* a truth period and
that period's truth (e.g. a validation split): the generators are fitted on the
interactions, and the ranker learns which candidates turned out relevant (one
query per user; users with no relevant candidate teach nothing and are left
out). The number of boosting rounds is chosen by cross-validation over those
users. :meth:`CandidateRanker.refit_candidates`
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
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from nextbest.models.recommend.base import Recommender, RecommendInputError
from nextbest.models.recommend.interactions import Interactions

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
        Most boosting rounds (all of them when ``cv_folds`` < 2).
    cv_folds : int
        The number of rounds is chosen by cross-validation over the truth users in
        this many folds (one query per user), stopping ``patience`` rounds after
        the mean NDCG@``k`` of the held-out folds stops improving.
    patience : int
        See ``cv_folds``.
    k : int
        The NDCG cut the cross-validation watches.
    recent_days : float
        Window of the item's recent popularity.
    item_features : DataFrame, optional
        Numeric item attributes indexed by item id.
    fit_kwargs : dict of name to dict, optional
        Extra ``fit`` arguments per generator (e.g. content attributes).
    seed, threads
        LightGBM's seed and threads.

    Attributes
    ----------
    ranker_ : lightgbm.LGBMRanker
        The learnt ranker.
    n_estimators_ : int
        The boosting rounds it was trained with.
    cv_ndcg_ : float
        The best cross-validated NDCG@``k`` among the candidates (``nan`` without CV).
    generators_ : dict of name to Recommender
        The fitted generators in use.
    feature_names_ : list of str
        The ranker's inputs.
    """

    def __init__(
        self,
        generators: Mapping[str, Recommender],
        n_candidates: int = 50,
        params: Mapping[str, Any] | None = None,
        n_estimators: int = 1000,
        cv_folds: int = 5,
        patience: int = 50,
        k: int = 10,
        recent_days: float = 30.0,
        item_features: pd.DataFrame | None = None,
        fit_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        self.generators = generators
        self.n_candidates = n_candidates
        self.params = params
        self.n_estimators = n_estimators
        self.cv_folds = cv_folds
        self.patience = patience
        self.k = k
        self.recent_days = recent_days
        self.item_features = item_features
        self.fit_kwargs = fit_kwargs
        self.seed = seed
        self.threads = threads

    # -- candidates and features -------------------------------------------------------
    def _fit_generators(self, x: Interactions) -> dict[str, Recommender]:
        kwargs = self.fit_kwargs or {}
        return {
            name: copy.deepcopy(g).fit(x, **dict(kwargs.get(name, {})))
            for name, g in self.generators.items()
        }

    def _context(self, x: Interactions) -> dict[str, np.ndarray]:
        last = x.last_time.tocoo()
        now = float(last.data.max())
        log = x.log
        recent = log[log["time"] > now - self.recent_days * _DAY]
        item_last = np.full(x.n_items, np.nan)
        item_first = np.full(x.n_items, np.nan)
        g = log.groupby("item")["time"]
        idx = g.max().index.to_numpy()
        item_last[idx] = (now - g.max().to_numpy()) / _DAY
        item_first[idx] = (now - g.min().to_numpy()) / _DAY
        user_last = np.full(x.n_users, np.nan)
        gu = log.groupby("user")["time"].max()
        user_last[gu.index.to_numpy()] = (now - gu.to_numpy()) / _DAY
        extra = np.zeros((x.n_items, 0))
        if self.item_features is not None:
            extra = self.item_features.reindex(pd.Index(x.items)).to_numpy(dtype=np.float64)
        user_pop = np.log1p(x.item_counts())
        X = x.binary()
        n_user = np.diff(X.indptr).astype(float)
        mean_pop = np.divide(X @ user_pop, n_user, out=np.zeros(x.n_users), where=n_user > 0)
        by_item = log.sort_values(["item", "time"], kind="stable")
        return {
            "item_users": x.item_counts(),
            "user_mean_log_pop": mean_pop,
            "user_last_time": now - user_last * _DAY,
            "item_time_keys": by_item["item"].to_numpy(np.int64) * _KEY
            + by_item["time"].to_numpy().astype(np.int64),
            "item_recent_users": np.bincount(
                recent.drop_duplicates(["user", "item"])["item"], minlength=x.n_items
            ).astype(float),
            "item_days_since_last": item_last,
            "item_days_since_first": item_first,
            "user_items": np.diff(x.matrix.indptr).astype(float),
            "user_days_since_last": user_last,
            "extra": extra,
        }

    def _candidates(self, rows: np.ndarray) -> pd.DataFrame:
        """One row per (user row, item) candidate with every feature."""
        parts = []
        for name, model in self.generators_.items():
            items, scores = model.recommend(rows, int(self.n_candidates))
            keep = items >= 0
            rank = np.broadcast_to(np.arange(1, items.shape[1] + 1), items.shape)
            parts.append(
                pd.DataFrame(
                    {
                        "row": np.broadcast_to(rows[:, None], items.shape)[keep],
                        "item": items[keep],
                        f"score:{name}": scores[keep],
                        f"rank:{name}": rank[keep].astype(float),
                    }
                ).set_index(["row", "item"])
            )
        frame = pd.concat(parts, axis=1, join="outer").reset_index()
        names = list(self.generators_)
        frame["n_generators"] = frame[[f"rank:{n}" for n in names]].notna().sum(axis=1)
        ctx = self.context_
        item = frame["item"].to_numpy()
        row = frame["row"].to_numpy()
        for key in (
            "item_users",
            "item_recent_users",
            "item_days_since_last",
            "item_days_since_first",
        ):
            frame[key] = ctx[key][item]
        for key in ("user_items", "user_days_since_last", "user_mean_log_pop"):
            frame[key] = ctx[key][row]
        frame["item_log_pop_vs_user"] = np.log1p(frame["item_users"]) - frame["user_mean_log_pop"]
        t_user = ctx["user_last_time"][row].astype(np.int64)
        keys = ctx["item_time_keys"]
        hi = np.searchsorted(keys, item * _KEY + t_user, side="right")
        lo = np.searchsorted(keys, item * _KEY + t_user - int(self.recent_days * _DAY), "right")
        frame["item_events_at_user_time"] = (hi - lo).astype(float)
        frame["item_age_at_user_time"] = (
            frame["item_days_since_first"] - frame["user_days_since_last"]
        )
        if ctx["extra"].shape[1] and self.item_features is not None:
            for j, col in enumerate(self.item_features.columns):
                frame[f"item:{col}"] = ctx["extra"][item, j]
        return frame.sort_values(["row", "item"], kind="stable", ignore_index=True)

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
        self.generators_ = self._fit_generators(x)
        self.interactions_ = x
        self.context_ = self._context(x)
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
        if self.cv_folds > 1 and len(groups) >= self.cv_folds:
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

    def refit_candidates(self, interactions: Interactions) -> CandidateRanker:
        """Refit the generators (and the item/user context) on ``interactions``; keep the ranker."""
        self._check_fitted()
        x = self._check_interactions(interactions)
        self.generators_ = self._fit_generators(x)
        self.interactions_ = x
        self.context_ = self._context(x)
        return self

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
