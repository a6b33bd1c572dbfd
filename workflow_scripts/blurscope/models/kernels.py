"""Spectral diagnostics of convolution kernels: what training changed in the filters.

A network trained on images blurred at σ never sees frequencies the blur
removed: the components of its first-layer (stem) kernels at those
frequencies receive no gradient from the data, and only weight decay shrinks
them. Probed with clear images, such a network still responds to fine detail
through whatever is left of its initialisation. The diagnostic here makes that
visible: the fraction of each stem kernel's spectral energy above a cutoff, for
the trained kernels and for the untrained initialisation they started from.

Definition: each kernel ``w[c_out, c_in, k, k]`` is zero-padded to ``pad × pad``
(default 64, so the spectrum is sampled finely), transformed with a 2-D FFT, and
its power ``|W(f)|²`` summed over input channels. The **HF energy fraction** of
output channel ``c_out`` is its power at radius ``> cutoff`` cycles/pixel (the
library's one radius grid, :func:`blurscope.freq.radius_cpp`; corners included)
over all its power, DC included (a kernel's mean is part of what it does: a
blob detector is mostly DC). White-noise kernels (an untrained Kaiming
initialisation) have a flat spectrum and give the area fraction above the cutoff,
``1 − π·cutoff²`` = 0.804 at 0.25 c/px; a smooth (Gaussian) kernel gives ≈ 0; a
cosine kernel above the cutoff gives ≈ 1.
"""

from __future__ import annotations

import numpy as np

from blurscope.freq import radius_cpp


def kernel_power(weight: np.ndarray, pad: int = 64) -> np.ndarray:
    """Spectral power of conv kernels summed over input channels.

    Args:
        weight: ``[C_out, C_in, kh, kw]`` kernels (any float dtype; torch tensors via ``.numpy()``).
        pad: FFT size (each kernel is zero-padded to ``pad × pad``, ``pad >= max(kh, kw)``).

    Returns:
        float64 ``[C_out, pad, pad]``, unshifted FFT order (DC at ``[0, 0]``).
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"conv kernels must be [C_out, C_in, kh, kw], got shape {w.shape}")
    if pad < max(w.shape[-2:]):
        raise ValueError(f"pad={pad} is smaller than the {w.shape[-2]}x{w.shape[-1]} kernels")
    f = np.fft.fft2(w, s=(pad, pad), axes=(-2, -1))
    return (f.real**2 + f.imag**2).sum(axis=1)


def hf_energy_fraction(weight: np.ndarray, cutoff: float = 0.25, pad: int = 64) -> np.ndarray:
    """Fraction ``[C_out]`` of each output channel's kernel energy above ``cutoff`` cycles/pixel.

    ``cutoff`` is in cycles per *input* pixel, in ``(0, 0.5·√2)``. A channel whose
    kernels are all zero gets NaN (it has no spectrum to divide).
    """
    if not 0 < cutoff < np.sqrt(2) / 2:
        raise ValueError(f"cutoff must lie in (0, {np.sqrt(2) / 2:.3f}) cycles/pixel, got {cutoff}")
    p = kernel_power(weight, pad).reshape(np.asarray(weight).shape[0], -1)
    high = (radius_cpp(pad, pad).ravel() > cutoff).astype(np.float64)
    total = p.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (p @ high) / np.where(total > 0, total, 1.0), np.nan)


def stem_weight(backbone) -> np.ndarray:  # noqa: ANN001 (a torch module; torch is imported lazily)
    """The first convolution that reads the image (``in_channels == 3``): float64 ``[C_out, 3, k, k]``.

    ResNets: ``conv1``. Raises ValueError when the backbone has no such convolution.
    """
    from torch import nn

    for _, module in backbone.named_modules():
        if isinstance(module, nn.Conv2d) and module.in_channels == 3:
            return module.weight.detach().cpu().double().numpy()
    raise ValueError(f"{type(backbone).__name__} has no Conv2d with 3 input channels (no stem to diagnose)")
