"""blurscope: how blur during training changes what a CNN's neurons prefer.

The library behind the Snakemake workflow, grouped by concept (CONTRIBUTING.md has the map).
Foundations at the top level: ``blur`` (the one Gaussian blur), ``freq`` (the one FFT frequency
grid), ``hooks`` (the one forward-hook helper), ``model_id``, ``io``, ``config``, ``device``,
``runlog``, ``provenance``, ``complexity``, ``deployed``, ``plot_common``. Packages: ``data``,
``models``, ``training``, one per analysis stage (``features``, ``spectra``, ``aliasing``,
``bands``, ``frequency``, ``featvis``, ``saliency``) with its statistics and plots beside it,
``stats`` (the one statistics core) and ``report``.
The contract functions are re-exported here lazily, so ``import blurscope``
stays cheap in environments without every dependency.
"""

from __future__ import annotations

from ._lazy import lazy_getattr

__version__ = "0.6.0"
"""The package version, its one source: ``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``)."""

_EXPORTS = {
    "gaussian_blur": "blur",
    "sigma_to_px": "blur",
    "GaussianBlur": "blur",
    "load_model": "models.network",
    "build_model": "models.network",
    "BlurscopeNet": "models.network",
    "capture": "hooks",
    "get_module": "hooks",
    "radial_power_spectrum": "spectra.spectrum",
    "complexity_metrics": "complexity",
    "neuron_bootstrap": "stats",
    "avr": "aliasing.measure",
    "sis": "aliasing.measure",
    "band_mask": "bands.intervention",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
