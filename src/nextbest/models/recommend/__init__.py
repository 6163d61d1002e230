"""Next-best product recommendations: interactions, candidate generators, evaluation.

Every generator follows the same shape: hyper-parameters in the constructor,
``fit(interactions)`` returns the generator, learnt state ends in ``_``, and
``recommend(rows, k)`` / ``recommend_frame(users, k)`` give the top ``k`` with a
score, leaving out what each user already has.

>>> import pandas as pd
>>> from nextbest.models.recommend import EASE, Interactions, Popularity
>>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"],
...                       "time": range(5)})
>>> x = Interactions.from_frame(frame, "user", "item", "time")
>>> EASE(l2=1.0).fit(x).recommend_frame([3], k=1)["item_id"].tolist()
['b']
"""

from nextbest.models.recommend.als import ALS
from nextbest.models.recommend.base import (
    NotFittedError,
    Recommender,
    RecommendInputError,
    top_k,
)
from nextbest.models.recommend.bpr import BPR
from nextbest.models.recommend.content import ContentSimilarity, item_vectors
from nextbest.models.recommend.cooccurrence import CoOccurrence
from nextbest.models.recommend.customer_context import (
    CUSTOMER_FEATURES,
    customer_features,
    product_context,
)
from nextbest.models.recommend.ease import EASE
from nextbest.models.recommend.engine import Context, RecommendEngine, parse_context
from nextbest.models.recommend.evaluate import (
    Comparison,
    GridResult,
    compare,
    evaluate,
    grid_search,
    recommend_lists,
)
from nextbest.models.recommend.holdout import (
    TemporalHoldout,
    temporal_holdout,
    warehouse_holdout,
)
from nextbest.models.recommend.interactions import Interactions, to_seconds
from nextbest.models.recommend.itemknn import ItemKNN, top_neighbors
from nextbest.models.recommend.offline import (
    OfflineEvaluation,
    compare_with_ranker,
    evaluate_warehouse,
    generator_grids,
    shortlist_size,
)
from nextbest.models.recommend.popularity import Popularity
from nextbest.models.recommend.profile import decayed_profile, recency_age
from nextbest.models.recommend.ranker import RANKER_PARAMS, CandidateRanker
from nextbest.models.recommend.rules import CompiledRules, best_first, compile_rules
from nextbest.models.recommend.sequential import Transitions
from nextbest.models.recommend.source import (
    DEFAULT_WEIGHTS,
    interaction_events,
    warehouse_interactions,
)
from nextbest.models.recommend.split import (
    HoldoutProtocol,
    holdout_protocol,
    last_fraction_split,
    truth_sets,
)

__all__ = [
    "ALS",
    "BPR",
    "CUSTOMER_FEATURES",
    "DEFAULT_WEIGHTS",
    "EASE",
    "RANKER_PARAMS",
    "CandidateRanker",
    "CoOccurrence",
    "Comparison",
    "CompiledRules",
    "ContentSimilarity",
    "Context",
    "GridResult",
    "HoldoutProtocol",
    "Interactions",
    "ItemKNN",
    "NotFittedError",
    "OfflineEvaluation",
    "Popularity",
    "RecommendEngine",
    "RecommendInputError",
    "Recommender",
    "TemporalHoldout",
    "Transitions",
    "best_first",
    "compare",
    "compare_with_ranker",
    "compile_rules",
    "customer_features",
    "decayed_profile",
    "evaluate",
    "evaluate_warehouse",
    "generator_grids",
    "grid_search",
    "holdout_protocol",
    "interaction_events",
    "item_vectors",
    "last_fraction_split",
    "parse_context",
    "product_context",
    "recency_age",
    "recommend_lists",
    "shortlist_size",
    "temporal_holdout",
    "to_seconds",
    "top_k",
    "top_neighbors",
    "truth_sets",
    "warehouse_holdout",
    "warehouse_interactions",
]
