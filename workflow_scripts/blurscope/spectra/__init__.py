"""Spectra stage: radial power spectra and complexity of each neuron's preferred patches.

Modules: ``spectrum`` (radial power spectra of patches), ``plot`` (spectrum and complexity figures).
Doc: docs/spectra.md.
"""

from blurscope._lazy import lazy_getattr

_EXPORTS = {
    "radial_power_spectrum": "spectrum",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
