"""Small helpers shared by the plotting modules."""

from __future__ import annotations

import numpy as np


def ci_err(value, low, high) -> np.ndarray:  # noqa: ANN001 (scalars, arrays or pandas Series)
    """Asymmetric error bars ``[2, n]`` for matplotlib from a value and its interval.

    A percentile bootstrap interval need not contain the point estimate (a skewed or
    few-unit statistic); the bar on that side is drawn with length 0 rather than
    refused by matplotlib. NaN → 0.
    """
    v, lo, hi = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (value, low, high))
    return np.nan_to_num(np.vstack([v - lo, hi - v]), nan=0.0).clip(min=0.0)
