"""The library's one Gaussian blur.

Separable, reflect padding, kernel radius ``ceil(3σ)`` (at least 1), σ = 0 is
the identity. :class:`GaussianBlur` wraps it as a fixed, non-trainable module
that is prepended to a network (Li et al.'s "blurring layer").

Units: σ here is always in **pixels of the tensor being blurred**. Config σ is
given in pixels at 224 px; convert with :func:`sigma_to_px`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

REFERENCE_SIZE = 224
"""Image size (px) at which config σ values are defined (the unit of the blur-training studies, docs/references.md)."""


def sigma_to_px(sigma: float, image_size: int, reference_size: int = REFERENCE_SIZE) -> float:
    """Scale a σ given in pixels at ``reference_size`` to pixels at ``image_size``."""
    if sigma < 0:
        raise ValueError(f"blur sigma must be >= 0, got {sigma}")
    return float(sigma) * image_size / reference_size


def gaussian_kernel1d(sigma_px: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised 1-D Gaussian taps ``[2r+1]`` with radius ``r = max(1, ceil(3σ))``."""
    if sigma_px <= 0:
        return torch.ones(1, dtype=dtype)
    radius = max(1, math.ceil(3.0 * sigma_px))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma_px) ** 2)
    return (k / k.sum()).to(dtype)


def _reflect_pad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """Reflect padding that also works when the pad exceeds the size (repeats reflection)."""
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    if left < w and right < w and top < h and bottom < h:
        return F.pad(x, pad, mode="reflect")
    # Index-based symmetric ("reflect", edge not repeated) padding for tiny maps.
    def idx(n: int, before: int, after: int) -> torch.Tensor:
        i = torch.arange(-before, n + after)
        if n == 1:
            return torch.zeros_like(i)
        period = 2 * (n - 1)
        i = torch.remainder(i, period)
        return torch.where(i >= n, period - i, i)

    x = x.index_select(-1, idx(w, left, right).to(x.device))
    return x.index_select(-2, idx(h, top, bottom).to(x.device))


MATMUL_MAX_SIZE = 256
"""Images up to this many pixels per side are blurred by matrix products (:func:`blur_matrix`)."""


@functools.lru_cache(maxsize=64)
def blur_matrix(
    n: int, sigma_px: float, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """``[n, n]`` matrix ``M`` with ``(M @ v)[i] = Σ_t k[t] · v[reflect(i + t)]``.

    One axis of :func:`gaussian_blur` (taps of :func:`gaussian_kernel1d`,
    reflect padding with the edge not repeated, reflection repeated for
    radii ≥ n) as a matrix; rows sum to 1. Built in float64, cast to ``dtype``.
    """
    with torch.inference_mode(False):  # cached: must stay usable where autograd records
        k = gaussian_kernel1d(sigma_px, torch.float64)
        r = (k.numel() - 1) // 2
        i = torch.arange(n)[:, None] + torch.arange(-r, r + 1)[None, :]
        if n == 1:
            i = torch.zeros_like(i)
        else:
            period = 2 * (n - 1)
            i = torch.remainder(i, period)
            i = torch.where(i >= n, period - i, i)
        m = torch.zeros(n, n, dtype=torch.float64).scatter_add_(1, i, k.expand(n, -1).contiguous())
        return m.to(dtype=dtype, device=device)


def gaussian_blur(images: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Blur a batch with an isotropic Gaussian of std ``sigma_px`` pixels.

    Args:
        images: float tensor ``[B, C, H, W]`` (any range).
        sigma_px: standard deviation in pixels of ``images``; 0 returns the input.

    Returns:
        Tensor ``[B, C, H, W]``, same dtype and device. Power transfer at radial
        frequency f (cycles/pixel) is ``exp(-4π²σ²f²)`` away from borders.
    """
    if images.ndim != 4:
        raise ValueError(f"gaussian_blur expects [B, C, H, W], got shape {tuple(images.shape)}")
    if sigma_px < 0:
        raise ValueError(f"sigma_px must be >= 0, got {sigma_px}")
    if sigma_px == 0:
        return images
    b, c, h, w = images.shape
    if max(h, w) <= MATMUL_MAX_SIZE and images.is_floating_point():
        # the same taps and reflection folded into [n, n] matrices: two small
        # matmuls, ~15x faster on CPU than depthwise conv2d at 64 px
        mh = blur_matrix(h, sigma_px, images.dtype, images.device)
        mw = mh if w == h else blur_matrix(w, sigma_px, images.dtype, images.device)
        return torch.matmul(mh, torch.matmul(images, mw.T))
    k = gaussian_kernel1d(sigma_px, images.dtype).to(images.device)
    r = (k.numel() - 1) // 2
    x = images.reshape(b * c, 1, h, w)
    x = _reflect_pad(x, (r, r, r, r))
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x.reshape(b, c, h, w)


def outside_autocast(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``fn(x)`` in float32 with autocast off when autocast is on (else plain ``fn(x)``).

    For fixed filters inside a mixed-precision training step (``training.precision``):
    the σ blur and BlurPool stay exact float32 filters, and the bfloat16 depthwise
    convolution a BlurPool would otherwise get is several times slower on CPU than float32.
    """
    dev = x.device.type
    if dev in ("cpu", "cuda") and torch.is_autocast_enabled(dev):
        with torch.autocast(dev, enabled=False):
            return fn(x.float())
    return fn(x)


class GaussianBlur(nn.Module):
    """Fixed (non-trainable) Gaussian blur layer, ``[B, C, H, W] -> [B, C, H, W]``."""

    def __init__(self, sigma_px: float) -> None:
        super().__init__()
        if sigma_px < 0:
            raise ValueError(f"sigma_px must be >= 0, got {sigma_px}")
        self.sigma_px = float(sigma_px)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return outside_autocast(lambda t: gaussian_blur(t, self.sigma_px), x)

    def extra_repr(self) -> str:  # noqa: D102
        return f"sigma_px={self.sigma_px:.4g}"
