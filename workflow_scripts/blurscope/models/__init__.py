"""The networks: construction, the blur-prepended wrapper, checkpoints and kernel diagnostics.

Modules: ``network`` (build/load a model, safetensors files), ``narrow`` (the embedded default's
narrow ResNet), ``checkpoints`` (models trained elsewhere), ``archinfo`` (architecture facts
without torch), ``kernels`` (spectra of convolution kernels). Doc: docs/training.md.
"""

from blurscope._lazy import lazy_getattr

_EXPORTS = {
    "load_model": "network",
    "build_model": "network",
    "BlurscopeNet": "network",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
