"""The warehouse boundary: the only package that knows which SQL engine runs.

>>> from nextbest.warehouse import Warehouse
"""

from nextbest.warehouse.connection import SYSTEM_TABLES, Warehouse
from nextbest.warehouse.sources import FORMATS, guess_format

__all__ = ["FORMATS", "SYSTEM_TABLES", "Warehouse", "guess_format"]
