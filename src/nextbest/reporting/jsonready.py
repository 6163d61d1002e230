"""Report data made JSON-ready: numpy scalars to Python, NaN and infinities to ``None``.

>>> import numpy as np
>>> json_ready({"a": np.float64(1.5), "b": [float("nan"), np.int64(2)]})
{'a': 1.5, 'b': [None, 2]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_ready"]


def json_ready(value: Any) -> Any:
    """``value`` with mappings, lists and frames converted recursively (see the module)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return json_ready(value.to_dict("records"))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
