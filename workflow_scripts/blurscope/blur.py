"""The library's one Gaussian blur.

Separable, reflect padding, kernel radius ``ceil(3σ)`` (at least 1), σ = 0 is
the identity. :class:`GaussianBlur` wraps it as a fixed, non-trainable module
that is prepended to a network (seed 003's "blurring layer").

Units: σ here is always in **pixels of the tensor being blurred**. Config σ is
given in pixels at 224 px; convert with :func:`sigma_to_px`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

REFERENCE_SIZE = 224
"""Image size (px) at which config σ values are defined (the seeds' unit)."""


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
    k = gaussian_kernel1d(sigma_px, images.dtype).to(images.device)
    r = (k.numel() - 1) // 2
    b, c, h, w = images.shape
    x = images.reshape(b * c, 1, h, w)
    x = _reflect_pad(x, (r, r, r, r))
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x.reshape(b, c, h, w)


class GaussianBlur(nn.Module):
    """Fixed (non-trainable) Gaussian blur layer, ``[B, C, H, W] -> [B, C, H, W]``."""

    def __init__(self, sigma_px: float) -> None:
        super().__init__()
        if sigma_px < 0:
            raise ValueError(f"sigma_px must be >= 0, got {sigma_px}")
        self.sigma_px = float(sigma_px)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return gaussian_blur(x, self.sigma_px)

    def extra_repr(self) -> str:  # noqa: D102
        return f"sigma_px={self.sigma_px:.4g}"
