"""Aliasing stage: aliasing (AVR) and shift instability (SIS) at every stride > 1 operation.

Modules: ``measure`` (AVR, SIS), ``stride_points`` (stride > 1 operations from the module graph),
``stats`` (intervals, tests, σ trend; torch-free), ``plot`` (figures). Doc: docs/aliasing.md.
"""

from blurscope._lazy import lazy_getattr

_EXPORTS = {
    "avr": "measure",
    "sis": "measure",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
