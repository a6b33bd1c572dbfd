"""Shared private pieces of :mod:`blurscope.stats`: the seed type, stream tags, argument checks, replicate lists.

The stream tags name the independent ``default_rng([seed, tag, ...])`` streams
(:func:`_derived`); every submodule that draws random numbers takes them from here,
so one tag means one stream everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Seed = int | Sequence[int]
"""A seed for ``numpy.random.default_rng``: an int, or a list of ints (a derived stream)."""

Replicates = np.ndarray | Sequence[np.ndarray]
"""One condition's per-unit values: ``[n_units, ...]``, or a list of them (one per replicate model)."""

_MODELS = 1  # stream tag: which replicate model each slot draws
_UNITS = 2  # stream tag: unit resample of slot j > 0
_REFERENCE = 3  # stream tag: an unpaired reference condition


# --------------------------------------------------------------------------- checks


def _check_iterations(iterations: int) -> int:
    if int(iterations) < 2:
        raise ValueError(f"bootstrap iterations must be >= 2, got {iterations}")
    return int(iterations)


def _check_ci(ci: float) -> float:
    if not 0 < float(ci) < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    return float(ci)


def _derived(seed: Seed, *tags: int) -> list[int]:
    """A seed list for an independent stream derived from ``seed``."""
    base = [int(seed)] if np.ndim(seed) == 0 else [int(s) for s in seed]  # type: ignore[union-attr]
    if min(base) < 0:
        raise ValueError(f"seeds must be >= 0, got {seed}")
    return [*base, *tags]


def _slot_seed(seed: Seed, slot: int) -> Seed:
    """Unit-resample seed of replicate slot ``slot``: slot 0 uses ``seed`` itself."""
    return seed if slot == 0 else _derived(seed, _UNITS, slot)


# --------------------------------------------------------------------------- replicate lists


def _same_groups(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    """True when two conditions are the same models (the same arrays, or equal ones)."""
    return len(a) == len(b) and all(
        x is y or (np.shape(x) == np.shape(y) and np.array_equal(x, y, equal_nan=True)) for x, y in zip(a, b)
    )


def _as_replicates(values: Replicates) -> list[np.ndarray]:
    """One array → one replicate; a list/tuple of arrays → the replicates."""
    if isinstance(values, (list, tuple)):
        return [np.asarray(v, dtype=np.float64) for v in values]
    return [np.asarray(values, dtype=np.float64)]


def rankdata(*args, **kwargs) -> np.ndarray:  # noqa: ANN002, ANN003 (scipy's signature)
    """``scipy.stats.rankdata``, imported on first use: ``scipy.stats`` costs ~1 s to import,
    and most jobs that import :mod:`blurscope.stats` (every torch analysis job) never rank."""
    from scipy.stats import rankdata as scipy_rankdata

    return scipy_rankdata(*args, **kwargs)
