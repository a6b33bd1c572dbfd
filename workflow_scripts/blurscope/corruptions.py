"""Common corruptions (ImageNet-C style) on batches, severities 1–5, and the robustness test.

Every corruption maps float ``[B, 3, H, W]`` in [0, 1] to the same shape and
range, is deterministic given ``seed`` and gets stronger with severity.
Severity parameters follow ImageNet-C (Hendrycks & Dietterich 2019) and are
scaled to the image size where the quantity has a spatial unit:

=================  =============================================  ==========================
name               parameter per severity 1..5                    size scaling
=================  =============================================  ==========================
gaussian_noise     noise std 0.08, 0.12, 0.18, 0.26, 0.38         none (per pixel, white)
speckle_noise      multiplicative std 0.15, 0.20, 0.35, 0.45,0.60 none (per pixel, white)
highpass_noise     RMS 0.08 ... 0.38 (as gaussian_noise) of       band in normalised radius
                   noise keeping only normalised radius > 0.5     (relative to Nyquist)
gaussian_blur      σ 1, 2, 3, 4, 6 px **at 224 px**               σ_px = σ · W / 224
                   (via ``blurscope.blur.gaussian_blur``)         (``blur.sigma_to_px``)
contrast           factor 0.4, 0.3, 0.2, 0.1, 0.05 around the     none
                   per-image mean
jpeg               Pillow JPEG quality 25, 18, 15, 10, 7          none (JPEG's 8-px blocks
                                                                  are fixed in pixels)
pixelate           area-downsample to 0.6, 0.5, 0.4, 0.3, 0.25    relative to H, W
                   of H, W, area-upsample back
=================  =============================================  ==========================

``highpass_noise`` is the high-frequency corruption: the same RMS as
``gaussian_noise`` but with all power above half the Nyquist radius (on the
:mod:`blurscope.freq` grid), so a model that ignores high frequencies should be
robust to it. Noise is drawn from a CPU ``torch.Generator`` seeded from
``(seed, corruption, severity)``; the test passes a different seed per batch,
so results depend on ``batch_size`` but are identical for identical configs.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

from blurscope import blur, freq

SEVERITIES = (1, 2, 3, 4, 5)

PARAMS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),
    "speckle_noise": (0.15, 0.20, 0.35, 0.45, 0.60),
    "highpass_noise": (0.08, 0.12, 0.18, 0.26, 0.38),
    "gaussian_blur": (1.0, 2.0, 3.0, 4.0, 6.0),
    "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
    "jpeg": (25, 18, 15, 10, 7),
    "pixelate": (0.6, 0.5, 0.4, 0.3, 0.25),
}
"""Severity parameters (index = severity − 1); units in the module docstring."""

HIGHPASS_CUTOFF = 0.5
"""``highpass_noise`` keeps normalised radius > this (1 = Nyquist)."""


def _check(images: torch.Tensor) -> None:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"corruptions expect [B, 3, H, W], got shape {tuple(images.shape)}")
    if not torch.is_floating_point(images):
        raise TypeError(f"corruptions expect float images in [0, 1], got {images.dtype}")


def _randn(shape: torch.Size, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(device=like.device, dtype=like.dtype)


def gaussian_noise(x: torch.Tensor, c: float, g: torch.Generator) -> torch.Tensor:
    """Additive white Gaussian noise of std ``c``."""
    return x + c * _randn(x.shape, g, x)


def speckle_noise(x: torch.Tensor, c: float, g: torch.Generator) -> torch.Tensor:
    """Multiplicative noise ``x + x · N(0, c²)``."""
    return x + x * c * _randn(x.shape, g, x)


def highpass_noise(x: torch.Tensor, c: float, g: torch.Generator) -> torch.Tensor:
    """Gaussian noise with power only at normalised radius > 0.5, RMS ``c`` per image."""
    h, w = x.shape[-2:]
    n = _randn(x.shape, g, x)
    keep = freq.as_tensor(freq.normalized_radius(h, w)[:, : w // 2 + 1] > HIGHPASS_CUTOFF, n)
    n = torch.fft.irfft2(torch.fft.rfft2(n) * keep, s=(h, w))
    rms = n.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-12)
    return x + c * n / rms


def gaussian_blur(x: torch.Tensor, c: float, g: torch.Generator) -> torch.Tensor:  # noqa: ARG001
    """Gaussian blur, σ = ``c`` px at 224 px, scaled to the image width."""
    return blur.gaussian_blur(x, blur.sigma_to_px(c, x.shape[-1]))


def contrast(x: torch.Tensor, c: float, g: torch.Generator) -> torch.Tensor:  # noqa: ARG001
    """Scale deviations from the per-image mean (over pixels and channels) by ``c``."""
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * c + m


def jpeg(x: torch.Tensor, c: float, g: torch.Generator) -> torch.Tensor:  # noqa: ARG001
    """JPEG round trip with Pillow at quality ``c`` (per image; JPEG has no batch API)."""
    arr = (x.detach().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = np.empty_like(arr)
    for i, im in enumerate(arr):
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=int(c))
        buf.seek(0)
        out[i] = np.asarray(Image.open(buf).convert("RGB"))
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype) / 255.0


def box_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Area (box) resampling weights ``[n_out, n_in]``: overlap of output cell ``i``
    (``[i·n_in/n_out, (i+1)·n_in/n_out)`` in input pixels) with input pixel ``j``, rows sum to 1.
    Fractional cells are weighted exactly (unlike integer-window adaptive pooling)."""
    scale = n_in / n_out
    lo = np.arange(n_out, dtype=np.float64)[:, None] * scale
    j = np.arange(n_in, dtype=np.float64)[None, :]
    w = np.clip(np.minimum(lo + scale, j + 1) - np.maximum(lo, j), 0.0, None)
    return w / w.sum(1, keepdims=True)


def pixelate(x: torch.Tensor, c: float, g: torch.Generator) -> torch.Tensor:  # noqa: ARG001
    """Area-downsample to ``round(c·H) × round(c·W)`` (at least 1 px), area-upsample back.

    Both steps use exact fractional box weights (:func:`box_matrix`; like Pillow's
    ``BOX`` filter that ImageNet-C uses), applied as separable matrices to the batch.
    """
    h, w = x.shape[-2:]
    sh, sw = max(1, round(h * c)), max(1, round(w * c))

    def mat(a: int, b: int) -> torch.Tensor:
        return torch.as_tensor(box_matrix(a, b), dtype=x.dtype, device=x.device)

    rows = mat(sh, h) @ mat(h, sh)  # [H, H]
    cols = mat(sw, w) @ mat(w, sw)  # [W, W]
    return torch.einsum("ij,bcjk,lk->bcil", rows, x, cols)


CORRUPTIONS: dict[str, Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]] = {
    "gaussian_noise": gaussian_noise,
    "speckle_noise": speckle_noise,
    "highpass_noise": highpass_noise,
    "gaussian_blur": gaussian_blur,
    "contrast": contrast,
    "jpeg": jpeg,
    "pixelate": pixelate,
}
"""All corruptions by name."""


def _seed_for(seed: int, name: str, severity: int) -> int:
    key = list(CORRUPTIONS).index(name)
    return int(np.random.SeedSequence([int(seed), key, int(severity)]).generate_state(1)[0])


def check_names(names: list[str] | tuple[str, ...], severities: list[int] | tuple[int, ...]) -> None:
    """Raise ``ValueError`` naming the config key for unknown corruptions or severities."""
    bad = [n for n in names if n not in CORRUPTIONS]
    if bad:
        raise ValueError(f"frequency.corruptions: unknown corruption(s) {bad}; allowed: {sorted(CORRUPTIONS)}")
    bad_s = [s for s in severities if s not in SEVERITIES]
    if bad_s:
        raise ValueError(f"frequency.severities: severities must be in {list(SEVERITIES)}, got {bad_s}")


def corrupt(images: torch.Tensor, name: str, severity: int, seed: int = 0) -> torch.Tensor:
    """Apply corruption ``name`` at ``severity`` (1–5).

    Args:
        images: float ``[B, 3, H, W]`` in [0, 1].
        seed: seeds the noise (same seed, same images → same output).

    Returns:
        float ``[B, 3, H, W]`` in [0, 1], same dtype and device.
    """
    _check(images)
    check_names([name], [severity])
    g = torch.Generator().manual_seed(_seed_for(seed, name, severity))
    return CORRUPTIONS[name](images, PARAMS[name][severity - 1], g).clamp(0.0, 1.0)


def psnr(clean: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image (peak 1), ``[B]``; inf if identical."""
    mse = (clean - other).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse)


@torch.no_grad()
def corruption_hits(
    model: nn.Module,
    images: torch.Tensor,
    labels: np.ndarray,
    names: list[str],
    severities: list[int],
    seed: int = 0,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Correct / wrong per image for clean images and every corruption × severity.

    Args:
        model: classifier on float ``[B,3,H,W]`` in [0,1] → logits.
        images: ``[N,3,H,W]`` float in [0,1] (or uint8).
        labels: int ``[N]`` ground truth.
        seed: base seed; batch ``j`` of a condition uses ``seed + j``.

    Returns:
        ``(conditions, hits)``: ``conditions`` has one row per condition
        (``corruption``, ``severity``; the first row is ``clean``, severity 0),
        ``hits`` is bool ``[n_conditions, N]``.
    """
    check_names(names, severities)
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    n = images.shape[0]
    if labels_t.numel() != n:
        raise ValueError(f"{n} images but {labels_t.numel()} labels")
    conds = [("clean", 0)] + [(c, s) for c in names for s in severities]
    hits = np.zeros((len(conds), n), dtype=bool)
    for j, start in enumerate(range(0, n, batch_size)):
        x = images[start : start + batch_size].to(device)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x
        y = labels_t[start : start + batch_size].to(device)
        for k, (c, s) in enumerate(conds):
            xc = x if c == "clean" else corrupt(x, c, s, seed + j)
            hits[k, start : start + x.shape[0]] = (model(xc).argmax(1) == y).cpu().numpy()
            if progress is not None:
                progress(x.shape[0])
    return pd.DataFrame(conds, columns=["corruption", "severity"]), hits
