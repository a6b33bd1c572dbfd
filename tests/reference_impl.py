"""Reference implementations and measures that only tests and benchmarks use.

Each is the plain, slow definition that a fast library function is checked
against (an oracle), or a measure the tests apply to library output. None of
them runs in the pipeline, so they live here rather than in ``blurscope``.
Tests import this module directly (pytest puts ``tests/`` on the path);
benchmarks under ``tests/bench/`` add ``tests/`` to ``sys.path`` first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from blurscope.saliency.smoothgrad import image_noise

# --------------------------------------------------------------------------- top-k (blurscope.features.topk)


def brute_force_topk(fmaps: np.ndarray, neurons: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k from full feature maps with :func:`blurscope.features.topk.extract_topk`'s definition and tie rules.

    Args:
        fmaps: ``[N, C, h, w]`` all images' activations.
        neurons: channel indices ``[n]``.

    Returns:
        ``values [n, k]``, ``image_index [n, k]``, ``pos [n, k]`` (flat ``y·w + x``).
    """
    sel = fmaps[:, neurons].reshape(fmaps.shape[0], len(neurons), -1)
    values = sel.max(axis=2)  # [N, n]
    pos = sel.argmax(axis=2)  # first maximum
    idx = np.arange(fmaps.shape[0])
    out_v, out_i, out_p = [], [], []
    for j in range(len(neurons)):
        order = np.lexsort((idx, -values[:, j]))[:k]  # value desc, then index asc
        out_v.append(values[order, j])
        out_i.append(order)
        out_p.append(pos[order, j])
    return np.array(out_v), np.array(out_i, dtype=np.int64), np.array(out_p, dtype=np.int64)


# --------------------------------------------------------------------------- SmoothGrad (blurscope.saliency.smoothgrad)


def smoothgrad_loop(forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, targets: torch.Tensor,
                    n_samples: int, noise_level: float, seed: int = 0, *, input_range: float = 1.0) -> torch.Tensor:
    """Per-sample loop: one forward/backward per noisy copy, the noise of
    :func:`blurscope.saliency.smoothgrad.smoothgrad`.

    Returns float32 ``[B, C, H, W]``; the oracle of the batched version and the
    benchmark's batched/loop ratio.
    """
    b_all, c, h, w = images.shape
    std = float(noise_level) * float(input_range)
    out = torch.zeros(images.shape, dtype=torch.float32, device=images.device)
    for i in range(b_all):
        eps = image_noise(seed, i, n_samples, (c, h, w), std).to(images.device)
        for j in range(n_samples):
            xin = (images[i : i + 1].detach().float() + eps[j : j + 1]).requires_grad_(True)
            with torch.enable_grad():
                logit = forward(xin)[0, int(targets[i])]
                (grad,) = torch.autograd.grad(logit, xin)
            out[i] += grad[0] / n_samples
    return out


def smoothgrad_captum(forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, targets: torch.Tensor,
                      n_samples: int, noise_level: float, *, input_range: float = 1.0) -> torch.Tensor:
    """captum ``NoiseTunnel(Saliency)`` SmoothGrad with :mod:`blurscope.saliency.smoothgrad`'s convention.

    Signed gradients (``abs=False``) averaged over ``n_samples`` noisy copies of
    std ``noise_level × input_range``, ``[B, C, H, W]``. captum draws its noise
    from torch's *global* RNG (no generator argument), which is why the pipeline
    uses :func:`blurscope.saliency.smoothgrad.smoothgrad`; ``tests/bench/bench_saliency.py``
    times both.
    """
    from captum.attr import NoiseTunnel, Saliency

    tunnel = NoiseTunnel(Saliency(forward))
    return tunnel.attribute(
        images.detach().float(),
        nt_type="smoothgrad",
        nt_samples=int(n_samples),
        stdevs=float(noise_level) * float(input_range),
        target=targets.long(),
        abs=False,
    ).detach()


# ------------------------------------------------------------------------- spectra (blurscope.spectra.spectrum, bands)


def mean_spectrum(power: np.ndarray) -> np.ndarray:
    """Mean radial spectrum ``[n_bins]`` over all leading axes of ``power[..., n_bins]``."""
    power = np.asarray(power, dtype=np.float64)
    return power.reshape(-1, power.shape[-1]).mean(axis=0)


def loglog_slope(freqs: np.ndarray, power: np.ndarray, fmin: float = 0.0, fmax: float = np.inf) -> float:
    """Least-squares slope of ``log10(power)`` against ``log10(freqs)`` for ``fmin <= f <= fmax``.

    ``power`` is one spectrum ``[n_bins]`` (average first for many patches). A 1/f²
    power spectrum (natural-image statistics) has slope −2.
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    power = np.asarray(power, dtype=np.float64)
    keep = (freqs >= fmin) & (freqs <= fmax) & (power > 0)
    if keep.sum() < 2:
        raise ValueError(f"need >= 2 positive bins in [{fmin}, {fmax}] cycles/pixel for a slope")
    slope, _ = np.polyfit(np.log10(freqs[keep]), np.log10(power[keep]), 1)
    return float(slope)


def isolate_band(feature_map: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Keep only the frequencies in ``mask``: ``real(ifft2(fft2(x) * mask))``, like ``feature_map``.

    The definition that :func:`blurscope.bands.intervention.isolate_many` (``rfft2``, many masks)
    computes; ``mask``: bool ``[H, W]`` in unshifted FFT order.
    """
    if feature_map.shape[-2:] != mask.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match feature map {tuple(feature_map.shape)}")
    x = feature_map.float() if feature_map.dtype not in (torch.float32, torch.float64) else feature_map
    spec = torch.fft.fft2(x, dim=(-2, -1))
    out = torch.fft.ifft2(spec * mask.to(device=x.device, dtype=x.dtype), dim=(-2, -1)).real
    return out.to(feature_map.dtype)


# --------------------------------------------------------------------------- corruptions


def psnr(clean: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio in dB (peak 255) per image of uint8 ``[N, H, W, 3]``, ``[N]``."""
    d = clean.astype(np.float64) - other.astype(np.float64)
    mse = (d**2).reshape(len(d), -1).mean(1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0**2 / mse)
