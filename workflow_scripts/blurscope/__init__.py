"""blurscope: how blur during training changes what a CNN's neurons prefer.

The library behind the Snakemake workflow. Modules (one concept each):
``blur`` (the one Gaussian blur), ``freq`` (the one FFT frequency grid),
``hooks`` (the one forward-hook helper), ``models``, ``data``, ``dataset``,
``train``, ``io``, ``runlog``, ``device`` and the analysis modules.
The contract functions are re-exported here lazily, so ``import blurscope``
stays cheap in environments without every dependency.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.6.0"
"""The package version, its one source: ``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``)."""

_EXPORTS = {
    "gaussian_blur": "blur",
    "sigma_to_px": "blur",
    "GaussianBlur": "blur",
    "load_model": "models",
    "build_model": "models",
    "BlurscopeNet": "models",
    "capture": "hooks",
    "get_module": "hooks",
    "radial_power_spectrum": "spectra",
    "complexity_metrics": "complexity",
    "neuron_bootstrap": "stats",
    "avr": "aliasing",
    "sis": "aliasing",
    "band_mask": "bands",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'blurscope' has no attribute {name!r}")
