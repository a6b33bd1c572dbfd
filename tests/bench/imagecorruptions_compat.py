"""The test-only ``imagecorruptions`` package (pinned in requirements.lock), importable on today's stack.

Shared by ``tests/test_corruptions.py`` (pixel cross-checks) and ``tests/bench/bench_frequency.py``
(speed per corruption type against it).
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def imagecorruptions_module() -> Iterator[types.ModuleType]:
    """Yield ``imagecorruptions`` with its import and call sites patched, undone on exit.

    Its ``pkg_resources`` import (gone from setuptools >= 81) gets a stand-in that resolves its
    bundled files, ``np.float_`` (removed in NumPy 2) is aliased for its fog, and its scikit-image
    ``gaussian(..., multichannel=True)`` calls (removed in 0.19) are translated to
    ``channel_axis=-1``. Its randomness comes from ``np.random``: seeding that makes it deterministic.
    """
    import pytest

    mp = pytest.MonkeyPatch()
    try:
        stand_in = types.ModuleType("pkg_resources")
        stand_in.resource_filename = lambda pkg, name: os.path.join(os.path.dirname(sys.modules[pkg].__file__), name)
        mp.setitem(sys.modules, "pkg_resources", stand_in)
        mp.setattr(np, "float_", np.float64, raising=False)
        import imagecorruptions as ic
        import imagecorruptions.corruptions as icc

        original = icc.gaussian

        def gaussian(image, sigma=1, multichannel=None, **kw):
            return original(image, sigma=sigma, **({"channel_axis": -1} if multichannel else {}), **kw)

        mp.setattr(icc, "gaussian", gaussian)
        yield ic
    finally:
        mp.undo()
