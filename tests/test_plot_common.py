"""Shared plotting helpers."""

from __future__ import annotations

import numpy as np

from blurscope.plot_common import ci_err


def test_ci_err_draws_an_interval_that_misses_its_point_estimate() -> None:
    """A percentile interval need not contain the point: the bar on that side has length 0, NaN → 0."""
    err = ci_err([0.5, 0.5, 0.5], [0.6, 0.4, float("nan")], [0.9, 0.45, 0.7])
    np.testing.assert_allclose(err, [[0.0, 0.1, 0.0], [0.4, 0.0, 0.2]])
    assert ci_err(1.0, 0.5, 2.0).shape == (2, 1)
