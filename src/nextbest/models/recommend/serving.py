"""A fitted re-ranker as plain arrays: candidates, features and trees for any block of users.

:class:`ServingRanker` takes a :class:`~nextbest.models.recommend.ranker.CandidateRanker`
whose candidates are fitted and keeps only what scoring needs: each generator
as an item-side model (EASE's weights, co-occurrence, item-kNN, transitions,
content vectors, popularity), the item context of the features, the users'
extra features and the LightGBM trees as text (walked by
:class:`~nextbest.models.recommend.forest.Forest`). It then scores any block of
users from their interactions alone, the batch and one customer with the
live session added alike, and is stored with :meth:`ServingRanker.arrays` as
numbers and text (no pickle).

A generator is served through its *profile* (the user's decayed interactions,
:func:`~nextbest.models.recommend.profile.decayed_profile`) times its item x item
model, so only generators built that way can be served; ALS and BPR keep a
factor per user that a new session does not have.

>>> import pandas as pd
>>> from nextbest.models.recommend import CandidateRanker, EASE, Interactions, Popularity
>>> rows = [(u, i, t) for u in range(30) for t, i in enumerate(["a", "b", "c"][: 1 + u % 3])]
>>> x = Interactions.from_frame(pd.DataFrame(rows, columns=["u", "i", "t"]), "u", "i", "t")
>>> truth = {u: {"c"} for u in range(0, 30, 3)}
>>> ranker = CandidateRanker({"pop": Popularity(), "ease": EASE(l2=1.0)}, n_candidates=2,
...                          cv_folds=0, n_estimators=5, params={"min_child_samples": 1}
...                          ).fit(x, truth)
>>> served = ServingRanker.from_ranker(ranker)
>>> user, item, score = served.score(UserRows.of(x), np.arange(x.n_users))
>>> user[:2].tolist()
[0, 0]
>>> x.items[item[:2]].tolist()
['b', 'c']
>>> bool(np.allclose(score[:2], ranker.features_frame([0])["score"]))
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from nextbest.models.recommend.base import RecommendInputError, top_k
from nextbest.models.recommend.candidate_features import CandidateFeatures, UserRows, coarse_keys
from nextbest.models.recommend.content import ContentSimilarity, content_scores
from nextbest.models.recommend.cooccurrence import CoOccurrence
from nextbest.models.recommend.ease import EASE
from nextbest.models.recommend.forest import Forest
from nextbest.models.recommend.itemknn import ItemKNN
from nextbest.models.recommend.popularity import Popularity
from nextbest.models.recommend.ranker import CandidateRanker
from nextbest.models.recommend.sequential import Transitions

__all__ = ["SERVABLE", "ServingRanker"]

SERVABLE = (EASE, CoOccurrence, ItemKNN, Transitions, ContentSimilarity, Popularity)
"""The generators a :class:`ServingRanker` can serve."""


def _item_model(m: Any) -> Any:
    """An item x item matrix as CSR, or as a dense array where that takes at most twice
    the memory (a third of it or more filled): one customer's rows then sum in a step."""
    m = sp.csr_matrix(m)
    n_rows, n_cols = m.shape
    return m.toarray() if 3 * m.nnz >= n_rows * n_cols else m


def _form(name: str, g: Any) -> tuple[dict[str, Any], Any]:
    """A generator as (how its users are scored, its item-side model)."""
    profile = {
        "half_life": getattr(g, "half_life", None),
        "decay_by": getattr(g, "decay_by", "days"),
        "max_items": None,
    }
    if isinstance(g, Popularity):
        return {"kind": "constant"}, np.asarray(g.item_scores_, dtype=np.float64)
    if isinstance(g, EASE):
        return {"kind": "linear", **profile}, np.asarray(g.coefficients(), dtype=np.float32)
    if isinstance(g, CoOccurrence):
        return {"kind": "linear", **profile}, _item_model(g.cooccurrence_)
    if isinstance(g, ItemKNN):
        return {"kind": "linear", **profile}, _item_model(g.similarity_)
    if isinstance(g, Transitions):
        return {"kind": "linear", **profile, "max_items": g.recent}, _item_model(g.transitions_)
    if isinstance(g, ContentSimilarity):
        return {"kind": "content", **profile}, sp.csr_matrix(g.vectors_)
    raise RecommendInputError(
        f"generator {name!r} ({type(g).__name__}) cannot be served: it keeps a state per "
        "user that a new session does not have.",
        field="generators",
        hint="Serve EASE, co-occurrence, item-kNN, transitions, content and popularity.",
    )


class ServingRanker:
    """A fitted :class:`CandidateRanker` as arrays; see the module docstring.

    Build it with :meth:`from_ranker` or :meth:`from_arrays`.

    Attributes
    ----------
    spec : CandidateFeatures
        The ranker's features.
    n_candidates : int
        Candidates per generator.
    n_items, n_users : int
        The catalogue and the users the stored extra features belong to.
    threads : int
        Threads for a batch's trees (0: every core); one customer uses one.
    """

    def __init__(
        self,
        spec: CandidateFeatures,
        n_candidates: int,
        forms: list[dict[str, Any]],
        models: list[Any],
        items: dict[str, np.ndarray],
        user_extra: np.ndarray,
        trees: str,
    ) -> None:
        self.spec = spec
        self.n_candidates = int(n_candidates)
        self.forms = forms
        self.models = models
        self.items = items
        self.user_extra = user_extra
        self.trees = trees
        self.forest = Forest.from_model(trees)
        self.n_items = len(items["item_users"])
        self.threads = 0
        self.n_users = len(user_extra)
        self._coarse = {"item_time_coarse": coarse_keys(items["item_time_keys"])}

    @classmethod
    def from_ranker(cls, ranker: CandidateRanker) -> ServingRanker:
        """The serving form of a ranker whose candidates are fitted."""
        ranker._check_fitted()
        forms, models = [], []
        for name, g in ranker.generators_.items():
            form, model = _form(name, g)
            forms.append(form)
            models.append(model)
        x = ranker.interactions_
        extra = ranker.context_.get("user_extra", np.zeros((x.n_users, 0)))
        trees = ranker.ranker_.booster_.model_to_string(num_iteration=int(ranker.n_estimators_))
        return cls(
            ranker.spec_,
            int(ranker.n_candidates),
            forms,
            models,
            dict(ranker.item_context_),
            np.asarray(extra, dtype=np.float64),
            trees,
        )

    # -- scoring -------------------------------------------------------------------------------
    def _scores(self, j: int, u: UserRows, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """Generator ``j``'s scores ``(n_users, n_items)`` for the users ``u`` (whose row
        pointers and items, as int64, are ``indptr`` and ``indices``)."""
        form, model = self.forms[j], self.models[j]
        n, b = self.n_items, u.n_users
        if form["kind"] == "constant":
            return np.broadcast_to(model, (b, n)).copy()
        values = u.profile(form["half_life"], form["decay_by"], max_items=form["max_items"])
        if form["kind"] == "content":
            return content_scores(model, indptr, indices, values)
        # Each user's sums run over their entries in stored order, alike for one user and
        # for a batch, so one customer online gets exactly the batch's scores.
        out = np.zeros((b, n))
        if isinstance(model, np.ndarray):
            _dense_sums(indptr, indices, values.astype(model.dtype), model, out)
        else:
            _sparse_sums(indptr, indices, values, model.indptr, model.indices, model.data, out)
        return out

    def score(
        self, u: UserRows, user_rows: np.ndarray | None = None, *, fallback: bool = False
    ) -> Any:
        """The candidates of the users ``u`` and their scores.

        ``user_rows`` are the users' rows among the stored ones (for their extra
        features; -1 for none; default ``0 .. n - 1``). Returns each candidate's
        position in ``u``, its item number and its score, by user then item.
        Items the user touched are no candidates. With ``fallback`` a fourth array
        follows: the first generator's scores of every item ``(n_users, n_items)``,
        touched ones included, to order what the ranker did not propose.
        """
        b = u.n_users
        stored = np.arange(b) if user_rows is None else np.asarray(user_rows, dtype=np.int64)
        seen_rows = np.repeat(np.arange(b), np.diff(u.indptr))
        lists = []
        first = None
        indptr = np.asarray(u.indptr, dtype=np.int64)
        indices = np.asarray(u.indices, dtype=np.int64)
        for j in range(len(self.forms)):
            s = self._scores(j, u, indptr, indices)
            if j == 0 and fallback:
                first = s.copy()
            s[seen_rows, u.indices] = -np.inf
            lists.append(top_k(s, self.n_candidates))
        ctx = {**self.items, **self.spec.user_context(u, self.items), **self._coarse}
        extra = np.full((b, self.user_extra.shape[1]), np.nan)
        known = (stored >= 0) & (stored < self.n_users)
        extra[known] = self.user_extra[stored[known]]
        ctx["user_extra"] = extra
        row, item, features = self.spec.features(np.arange(b), lists, ctx)
        score = (
            self.forest.predict(features, threads=1 if b == 1 else self.threads)
            if len(row)
            else np.zeros(0)
        )
        return (row, item, score, first) if fallback else (row, item, score)

    # -- storage ---------------------------------------------------------------------------------
    def arrays(self, prefix: str = "ranker.") -> dict[str, np.ndarray]:
        """Everything as named arrays (numbers and text) for an ``.npz`` file."""
        out = {f"{prefix}item.{k}": v for k, v in self.items.items()}
        out[f"{prefix}user_extra"] = self.user_extra
        kinds = []
        for j, model in enumerate(self.models):
            if sp.issparse(model):
                kinds.append("sparse")
                out[f"{prefix}model{j}.data"] = model.data
                out[f"{prefix}model{j}.indices"] = model.indices
                out[f"{prefix}model{j}.indptr"] = model.indptr
                out[f"{prefix}model{j}.shape"] = np.asarray(model.shape)
            else:
                kinds.append("dense")
                out[f"{prefix}model{j}"] = model
        meta = {
            "spec": self.spec.as_dict(),
            "n_candidates": self.n_candidates,
            "forms": self.forms,
            "models": kinds,
        }
        out[f"{prefix}meta"] = np.asarray(json.dumps(meta))
        out[f"{prefix}trees"] = np.frombuffer(self.trees.encode(), dtype=np.uint8)
        return out

    @classmethod
    def from_arrays(cls, data: Mapping[str, Any], prefix: str = "ranker.") -> ServingRanker:
        """The ranker stored by :meth:`arrays` (``data``: a loaded ``.npz`` or a dict)."""
        meta = json.loads(str(data[f"{prefix}meta"]))
        head = f"{prefix}item."
        items = {k[len(head) :]: np.asarray(data[k]) for k in data if k.startswith(head)}
        models: list[Any] = []
        for j, kind in enumerate(meta["models"]):
            key = f"{prefix}model{j}"
            if kind == "sparse":
                shape = tuple(int(v) for v in data[f"{key}.shape"])
                models.append(
                    sp.csr_matrix(
                        (data[f"{key}.data"], data[f"{key}.indices"], data[f"{key}.indptr"]),
                        shape=shape,
                    )
                )
            else:
                models.append(np.asarray(data[key]))
        return cls(
            CandidateFeatures.from_dict(meta["spec"]),
            int(meta["n_candidates"]),
            list(meta["forms"]),
            models,
            items,
            np.asarray(data[f"{prefix}user_extra"]),
            bytes(np.asarray(data[f"{prefix}trees"], dtype=np.uint8)).decode(),
        )


@numba.njit(cache=True, nogil=True)
def _dense_sums(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, model: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover (compiled)
    """``out[u] = sum of values[e] * model[indices[e]]`` over user ``u``'s nonzero entries
    in turn, summed in the model's precision."""
    acc = np.zeros(model.shape[1], dtype=model.dtype)
    for u in range(len(indptr) - 1):
        acc[:] = 0
        for e in range(indptr[u], indptr[u + 1]):
            w = values[e]
            if w != 0:
                row = model[indices[e]]
                for c in range(acc.shape[0]):
                    acc[c] += w * row[c]
        out[u, :] = acc


@numba.njit(cache=True, nogil=True)
def _sparse_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    m_indptr: np.ndarray,
    m_indices: np.ndarray,
    m_data: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover (compiled)
    """:func:`_dense_sums` for a CSR model."""
    for u in range(len(indptr) - 1):
        for e in range(indptr[u], indptr[u + 1]):
            w = values[e]
            if w != 0:
                i = indices[e]
                for q in range(m_indptr[i], m_indptr[i + 1]):
                    out[u, m_indices[q]] += w * m_data[q]
