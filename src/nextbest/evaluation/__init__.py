"""Model evaluation: classification, threshold, regression and ranking metrics, bootstrap.

Everything takes numpy arrays, lists or pandas Series (and, for ranking, lists of
items per user) and returns JSON-ready dicts, small data frames or dataclasses. The
HTML/JSON reports live in :mod:`nextbest.evaluation.report` (imported on its own,
as it loads matplotlib).

>>> from nextbest.evaluation import classification_metrics, choose_threshold
>>> classification_metrics([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.4])["roc_auc"]
1.0
"""

from nextbest.evaluation.bootstrap import (
    BootstrapInterval,
    PairedComparison,
    bootstrap_ci,
    paired_auc_bootstrap,
    paired_bootstrap,
)
from nextbest.evaluation.classification import (
    brier_score,
    calibration_curve,
    classification_metrics,
    confusion_at,
    lift_table,
    log_loss,
    top_share_metrics,
)
from nextbest.evaluation.curves import (
    average_precision,
    pr_curve,
    roc_auc,
    roc_curve,
    threshold_counts,
)
from nextbest.evaluation.inputs import EvaluationInputError
from nextbest.evaluation.ranking import (
    RankingMetrics,
    average_precision_at_k,
    catalogue_coverage,
    hit_rate_at_k,
    intra_list_diversity,
    map_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)
from nextbest.evaluation.regression import decile_calibration, regression_metrics
from nextbest.evaluation.thresholds import ThresholdChoice, choose_threshold

__all__ = [
    "BootstrapInterval",
    "EvaluationInputError",
    "PairedComparison",
    "RankingMetrics",
    "ThresholdChoice",
    "average_precision",
    "average_precision_at_k",
    "bootstrap_ci",
    "brier_score",
    "calibration_curve",
    "catalogue_coverage",
    "choose_threshold",
    "classification_metrics",
    "confusion_at",
    "decile_calibration",
    "hit_rate_at_k",
    "intra_list_diversity",
    "lift_table",
    "log_loss",
    "map_at_k",
    "ndcg_at_k",
    "novelty",
    "paired_auc_bootstrap",
    "paired_bootstrap",
    "pr_curve",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
    "regression_metrics",
    "roc_auc",
    "roc_curve",
    "threshold_counts",
    "top_share_metrics",
]
