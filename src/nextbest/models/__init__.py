"""Models that learn what customers will do: lifetime value (:mod:`nextbest.models.clv`).

Models see numpy arrays and pandas frames; they never open the warehouse.

>>> from nextbest.models import BGNBD
>>> BGNBD().penalizer_coef
0.0
"""

from nextbest.models.clv import (
    BGNBD,
    GammaGamma,
    ParetoNBD,
    calibration_holdout_summary,
    rfm_summary,
)

__all__ = ["BGNBD", "GammaGamma", "ParetoNBD", "calibration_holdout_summary", "rfm_summary"]
