"""Customer lifetime value: purchase-count models, spend model, RFM summaries.

* :class:`BGNBD` and :class:`ParetoNBD` forecast how many purchases a customer
  makes and whether they are still active, from frequency, recency and T.
* :class:`GammaGamma` forecasts the value of a customer's purchases and combines
  with either count model into a discounted :meth:`GammaGamma.customer_lifetime_value`.
* :class:`BGNBDGammaGamma` joins BG/NBD and Gamma-Gamma into one model that
  forecasts P(alive), purchases, spend and discounted value over a horizon in days.
* :func:`rfm_summary` and :func:`calibration_holdout_summary` turn a transactions
  frame into the inputs these models take.

>>> from nextbest.models.clv import BGNBD
>>> BGNBD.from_params(dict(r=0.243, alpha=4.414, a=0.793, b=2.426)).params_["r"]
0.243
"""

from nextbest.models.clv.base import ModelInputError, NotFittedError
from nextbest.models.clv.bgnbd import BGNBD, bgnbd_log_likelihood, bgnbd_log_likelihood_grad
from nextbest.models.clv.gamma_gamma import (
    DAYS_PER_MONTH,
    WEEKS_PER_MONTH,
    GammaGamma,
    PurchaseModel,
    gamma_gamma_log_likelihood,
    gamma_gamma_log_likelihood_grad,
)
from nextbest.models.clv.lifetime import BGNBDGammaGamma
from nextbest.models.clv.pareto_nbd import ParetoNBD, pareto_nbd_log_likelihood
from nextbest.models.clv.simulate import simulate_bgnbd, simulate_gamma_gamma, simulate_pareto_nbd
from nextbest.models.clv.summary import UNITS, calibration_holdout_summary, rfm_summary

__all__ = [
    "BGNBD",
    "DAYS_PER_MONTH",
    "UNITS",
    "WEEKS_PER_MONTH",
    "BGNBDGammaGamma",
    "GammaGamma",
    "ModelInputError",
    "NotFittedError",
    "ParetoNBD",
    "PurchaseModel",
    "bgnbd_log_likelihood",
    "bgnbd_log_likelihood_grad",
    "calibration_holdout_summary",
    "gamma_gamma_log_likelihood",
    "gamma_gamma_log_likelihood_grad",
    "pareto_nbd_log_likelihood",
    "rfm_summary",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
    "simulate_pareto_nbd",
]
