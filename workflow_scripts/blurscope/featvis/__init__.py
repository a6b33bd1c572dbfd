"""Feature-visualisation stage: the image each neuron wants to see, found by optimisation, and its spectrum.

Modules: ``optimise`` (the optimisation, :func:`render`), ``stats`` (the per-model file and statistics
over models; torch-free), ``plot`` (figures). Doc: docs/featvis.md.
"""

from blurscope._lazy import lazy_getattr

_EXPORTS = {
    "render": "optimise",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
