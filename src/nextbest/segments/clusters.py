"""Behavioural clustering: scaled features, optional PCA, k-means with k chosen for you.

Every k in ``k_values`` is fitted and scored with the silhouette (higher is better),
Davies-Bouldin (lower), Calinski-Harabasz (higher) and Dunn (higher) indices; the k
with the best silhouette wins. Indices are computed on a fixed random sample so the
cost stays flat for large customer bases.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"a": np.r_[rng.normal(0, 1, 50), rng.normal(8, 1, 50)],
...                   "b": np.r_[rng.normal(0, 1, 50), rng.normal(8, 1, 50)]})
>>> model = BehaviourClusters(features=["a", "b"], k_values=range(2, 5)).fit(X)
>>> model.k_
2
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = ["DEFAULT_FEATURES", "BehaviourClusters", "dunn_index"]

DEFAULT_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "aov",
    "sessions_90d",
    "product_views_90d",
    "cart_abandonments_90d",
    "activity_score",
    "engagement_score",
    "discount_share",
    "price_index",
    "tenure_days",
)


def dunn_index(X: np.ndarray, labels: np.ndarray) -> float:
    """Smallest distance between clusters over the largest cluster diameter."""
    groups = [X[labels == c] for c in np.unique(labels)]
    if len(groups) < 2:
        return float("nan")
    diameter = max(cdist(g, g).max() if len(g) > 1 else 0.0 for g in groups)
    separation = min(cdist(a, b).min() for i, a in enumerate(groups) for b in groups[i + 1 :])
    return float(separation / diameter) if diameter > 0 else float("nan")


class BehaviourClusters(ClusterMixin, BaseEstimator):
    """k-means on scaled behaviour features with automatic k.

    Parameters
    ----------
    features
        Columns to cluster on (those missing from the data are skipped).
    k_values
        Candidate numbers of clusters.
    pca_components
        None for no PCA, an int for that many components, or a float in (0, 1) for
        the share of variance to keep.
    sample_size
        Rows used to score each k (all rows are used for the final fit).
    random_state
        Seed for sampling and k-means.
    """

    def __init__(
        self,
        features: Sequence[str] = DEFAULT_FEATURES,
        k_values: Iterable[int] = range(2, 9),
        pca_components: int | float | None = None,
        sample_size: int = 4000,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.k_values = k_values
        self.pca_components = pca_components
        self.sample_size = sample_size
        self.random_state = random_state

    def _matrix(self, X: pd.DataFrame, fit: bool) -> np.ndarray:
        values = X[self.columns_].astype(float)
        if fit:
            self.medians_ = values.median().fillna(0.0)
        values = values.fillna(self.medians_)
        # counts and money are heavy-tailed: compress them before scaling
        values = np.sign(values) * np.log1p(np.abs(values))
        if fit:
            self.scaler_ = StandardScaler().fit(values)
        Z = self.scaler_.transform(values)
        if self.pca_components is not None:
            if fit:
                self.pca_ = PCA(self.pca_components, random_state=self.random_state).fit(Z)
            Z = self.pca_.transform(Z)
        return np.asarray(Z)

    def fit(self, X: pd.DataFrame, y: object = None) -> BehaviourClusters:
        ks = sorted(set(self.k_values))
        if not ks or ks[0] < 2:
            raise ValueError("k_values must hold numbers of clusters >= 2")
        self.columns_ = [c for c in self.features if c in X.columns]
        if not self.columns_:
            raise ValueError("none of the clustering features is in the data")
        Z = self._matrix(X, fit=True)
        rng = np.random.default_rng(self.random_state)
        n = len(Z)
        ks = [k for k in ks if k < n]
        if not ks:
            raise ValueError(f"too few customers ({n}) to form clusters")
        sample = rng.choice(n, size=min(n, self.sample_size), replace=False)
        dunn_sample = sample[: min(len(sample), 1500)]
        rows = []
        for k in ks:
            model = KMeans(k, n_init=4, random_state=self.random_state).fit(Z[sample])
            labels = model.labels_
            if len(np.unique(labels)) < 2:
                continue
            rows.append(
                {
                    "k": k,
                    "silhouette": float(silhouette_score(Z[sample], labels)),
                    "davies_bouldin": float(davies_bouldin_score(Z[sample], labels)),
                    "calinski_harabasz": float(calinski_harabasz_score(Z[sample], labels)),
                    "dunn": dunn_index(Z[dunn_sample], model.predict(Z[dunn_sample])),
                    "inertia": float(model.inertia_),
                }
            )
        self.scores_ = pd.DataFrame(rows)
        self.k_ = int(self.scores_.loc[self.scores_.silhouette.idxmax(), "k"])
        self.model_ = KMeans(self.k_, n_init=4, random_state=self.random_state).fit(Z)
        self.labels_ = self.model_.labels_
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The scaled (and PCA-projected) matrix the clusters live in."""
        check_is_fitted(self, "model_")
        return self._matrix(X, fit=False)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.predict(self.transform(X)))
