"""NextBest: self-hosted predictive personalization.

>>> import nextbest
>>> nextbest.__version__
'0.1.0'
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
