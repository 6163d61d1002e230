"""Models that learn what customers will do: lifetime value (:mod:`nextbest.models.clv`).

Fitted models are saved without pickle (:mod:`nextbest.models.persist`) and kept as
numbered versions with a champion per name (:mod:`nextbest.models.registry`), each
with a model card (:mod:`nextbest.models.card`).

Models see numpy arrays and pandas frames; they never open the warehouse.

>>> from nextbest.models import BGNBD
>>> BGNBD().penalizer_coef
0.0
"""

from nextbest.models.card import model_card
from nextbest.models.clv import (
    BGNBD,
    GammaGamma,
    ParetoNBD,
    calibration_holdout_summary,
    rfm_summary,
)
from nextbest.models.persist import load_model, save_model
from nextbest.models.registry import ModelRegistry, ModelVersion

__all__ = [
    "BGNBD",
    "GammaGamma",
    "ModelRegistry",
    "ModelVersion",
    "ParetoNBD",
    "calibration_holdout_summary",
    "load_model",
    "model_card",
    "rfm_summary",
    "save_model",
]
