"""Band stage: keep or remove one frequency band inside feature maps and measure the accuracy change.

Modules: ``intervention`` (band masks and the intervention), ``stats`` (per-layer summaries and model
comparisons; torch-free), ``plot`` (figures). Doc: docs/bands.md.
"""

from blurscope._lazy import lazy_getattr

_EXPORTS = {
    "band_mask": "intervention",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
