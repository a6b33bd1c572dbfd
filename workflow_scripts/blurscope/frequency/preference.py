"""Frequency preference of a classifier: hybrid images, f_rev, f_0.5, shape bias.

Definitions (Li et al. 2023, docs/references.md; decisions in docs/frequency.md):

* **Hybrid image** of a pair (A, B) of images of different classes at mixing
  frequency ``f_mix``: the Fourier components of A with normalised radius
  ``<= f_mix`` plus the components of B with radius ``> f_mix``, back in pixel
  space, clipped to ``[0, 1]``. Radii come from :mod:`blurscope.freq`
  (normalised: 1 = per-axis Nyquist, spectrum corners at √2), so
  ``f_mix >= √2`` gives A and ``f_mix -> 0`` gives B with A's mean (DC).
  Computed as ``B + lowpass_{f_mix}(A - B)``, which is exactly the definition
  (the FFT is linear) and makes a hybrid of A with itself exactly A.
* **Preference curves**: over a sweep of ``f_mix`` in ``(0, √2]``,
  ``p_low(f) = P(pred = class of A)`` and ``p_high(f) = P(pred = class of B)``.
* **Reversal frequency f_rev**: the first ``f_mix`` at which
  ``d(f) = p_low(f) - p_high(f)`` crosses 0 upwards (from ``< 0`` to ``>= 0``),
  linearly interpolated between the two bracketing sweep points. Only the
  bracketing pair is used, so non-monotone curves are fine (no ``np.interp`` on
  a non-monotone curve). Special cases (``status``):
  ``"crossed"`` – a crossing was found;
  ``"low_from_start"`` – ``d >= 0`` already at the first sweep point: f_rev is
  censored at (reported as) the first sweep frequency, an upper bound;
  ``"never"`` – ``d < 0`` at every sweep point: f_rev is NaN (the model prefers
  B's high frequencies even when the hybrid is A: a model near chance or broken).
* **Half-power frequency f_0.5**: the median radial frequency of the power of
  small PGD adversarial perturbations: per image, the perturbation's per-channel
  mean (DC) is removed, its power ``|FFT|²`` summed over channels and normalised
  to 1 (each image weighs the same); the pooled (mean) power is accumulated over
  increasing radius and f_0.5 is the smallest radius at which the cumulative
  power reaches one half (lower weighted median; exact for a single sinusoid).

All frequencies returned by the ``*_cpp`` helpers are in **cycles/pixel**
(``= normalised / 2``); Nyquist is 0.5 cycles/pixel, corners 0.707.
Bootstrap CIs resample the unit named in each function (image pairs for f_rev,
images for f_0.5 and shape bias), percentile intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from blurscope import freq, model_id, stats

F_MAX = math.sqrt(2.0)
"""Largest normalised radius on the grid (spectrum corners)."""

_RADIUS_TOL = 1e-9
"""Tolerance so that ``f_mix = √2`` includes the corners despite rounding."""

STATUS_CROSSED = "crossed"
STATUS_LOW_FROM_START = "low_from_start"
STATUS_NEVER = "never"


# --------------------------------------------------------------------------- grids


def f_mix_grid(n: int) -> np.ndarray:
    """``n`` evenly spaced mixing frequencies in ``(0, √2]`` (normalised), ``[n]``.

    ``f_k = √2 · k / n`` for ``k = 1..n``; the last point is exactly √2 (hybrid = A).
    """
    if int(n) != n or n < 2:
        raise ValueError(f"frequency.n_f_mix must be an integer >= 2, got {n!r}")
    return F_MAX * np.arange(1, int(n) + 1, dtype=np.float64) / int(n)


def to_cpp(f_normalised: np.ndarray) -> np.ndarray:
    """Normalised radius (1 = Nyquist) -> cycles/pixel (``x · 0.5``)."""
    return np.asarray(f_normalised, dtype=np.float64) * freq.NYQUIST_CPP


def lowpass_masks(h: int, w: int, f_mix: Sequence[float] | np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """Ideal low-pass masks on the ``rfft2`` half grid, float ``[F, H, W//2+1]``.

    ``mask[k] = 1`` where the normalised radius (``blurscope.freq``) is ``<= f_mix[k]``.
    The radius is symmetric under ``f -> -f``, so the half grid describes the full
    (Hermitian) mask and the inverse transform is real.
    """
    f = np.atleast_1d(np.asarray(f_mix, dtype=np.float64))
    if f.ndim != 1:
        raise ValueError(f"f_mix must be a scalar or 1-D, got shape {f.shape}")
    if np.any(~np.isfinite(f)) or np.any(f < 0):
        raise ValueError(f"f_mix values must be finite and >= 0, got {f}")
    r = freq.normalized_radius(h, w)[:, : w // 2 + 1]
    mask = r[None] <= (f[:, None, None] + _RADIUS_TOL)
    return freq.as_tensor(mask.astype(np.float64), like)


# --------------------------------------------------------------------------- hybrids


def _as_float01(x: torch.Tensor) -> torch.Tensor:
    """uint8 ``[..,3,H,W]`` -> float32 in [0,1]; float tensors are returned as they are."""
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    if not torch.is_floating_point(x):
        raise TypeError(f"images must be uint8 or float, got {x.dtype}")
    return x


def hybrid_images(
    low_src: torch.Tensor, high_src: torch.Tensor, f_mix: float | Sequence[float] | np.ndarray
) -> torch.Tensor:
    """Hybrid images: frequencies ``<= f_mix`` of ``low_src`` + the rest of ``high_src``.

    Args:
        low_src: image A, float ``[B, C, H, W]`` in [0, 1] (or uint8).
        high_src: image B, same shape.
        f_mix: normalised mixing radius (1 = Nyquist, √2 = corners): a scalar or
            a 1-D sequence of ``F`` values.

    Returns:
        ``[B, C, H, W]`` for a scalar ``f_mix``, else ``[F, B, C, H, W]``;
        clipped to [0, 1], dtype of the (float) inputs.
    """
    a, b = _as_float01(low_src), _as_float01(high_src)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(
            f"hybrid_images needs two [B,C,H,W] tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    scalar = np.ndim(f_mix) == 0
    h, w = a.shape[-2:]
    masks = lowpass_masks(h, w, f_mix, a)  # [F, H, W//2+1]
    d = torch.fft.rfft2(a - b)  # [B, C, H, W//2+1]
    low = torch.fft.irfft2(d[None] * masks[:, None, None], s=(h, w))  # [F, B, C, H, W]
    out = (b[None] + low.to(b.dtype)).clamp_(0.0, 1.0)
    return out[0] if scalar else out


def make_pairs(labels: np.ndarray, n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (A, B) pairs of images of different classes.

    A is drawn without replacement while ``n_pairs <= N`` (then cycles through
    fresh permutations), B uniformly among the images whose class differs from A's.

    Returns:
        ``(idx_low, idx_high)``, int64 ``[n_pairs]`` each: indices into ``labels``
        of the low-frequency (A) and high-frequency (B) source.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    if n_pairs < 1:
        raise ValueError(f"frequency.n_pairs must be >= 1, got {n_pairs}")
    classes = np.unique(labels)
    if classes.size < 2:
        raise ValueError(f"hybrid pairs need images of at least 2 classes, got only class {classes.tolist()}")
    rng = np.random.default_rng(seed)
    n = labels.size
    reps = -(-n_pairs // n)
    idx_low = np.concatenate([rng.permutation(n) for _ in range(reps)])[:n_pairs]
    # B: uniform among images of another class, vectorised per class of A.
    idx_high = np.empty(n_pairs, dtype=np.int64)
    u = rng.random(n_pairs)
    for c in classes:  # loop over classes (few), not over pairs
        sel = labels[idx_low] == c
        others = np.flatnonzero(labels != c)
        idx_high[sel] = others[np.minimum((u[sel] * others.size).astype(np.int64), others.size - 1)]
    return idx_low.astype(np.int64), idx_high


@torch.no_grad()
def hybrid_predictions(
    model: nn.Module,
    images: torch.Tensor,
    idx_low: np.ndarray,
    idx_high: np.ndarray,
    f_mix: np.ndarray,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Predicted class of every hybrid of the sweep, int64 ``[F, P]``.

    The ``F × P`` (frequency, pair) grid is flattened and run in batches of
    ``batch_size`` hybrids (each batch mixes pairs and frequencies).

    Args:
        model: classifier taking float ``[B,3,H,W]`` in [0,1], returning logits.
        images: ``[N, 3, H, W]`` uint8 or float in [0,1] (kept on its device;
            batches are moved to ``device``).
        idx_low, idx_high: ``[P]`` pair indices from :func:`make_pairs`.
        f_mix: ``[F]`` normalised mixing frequencies.
        progress: called with the number of hybrids done after each batch.
    """
    f_mix = np.asarray(f_mix, dtype=np.float64)
    idx_low, idx_high = np.asarray(idx_low), np.asarray(idx_high)
    n_f, n_p = f_mix.size, idx_low.size
    if idx_high.size != n_p:
        raise ValueError(f"idx_low and idx_high differ in length: {n_p} vs {idx_high.size}")
    if batch_size < 1:
        raise ValueError(f"frequency.batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    h, w = images.shape[-2:]
    masks = lowpass_masks(h, w, f_mix, torch.empty(0, device=device))  # [F, H, W//2+1]
    preds = np.empty(n_f * n_p, dtype=np.int64)
    flat_f = np.repeat(np.arange(n_f), n_p)
    flat_p = np.tile(np.arange(n_p), n_f)
    for start in range(0, n_f * n_p, batch_size):
        sl = slice(start, min(start + batch_size, n_f * n_p))
        fi, pi = flat_f[sl], flat_p[sl]
        a = _as_float01(images[torch.as_tensor(idx_low[pi])].to(device))
        b = _as_float01(images[torch.as_tensor(idx_high[pi])].to(device))
        d = torch.fft.rfft2(a - b) * masks[torch.as_tensor(fi, device=device)][:, None]
        x = (b + torch.fft.irfft2(d, s=(h, w)).to(b.dtype)).clamp_(0.0, 1.0)
        preds[sl] = model(x).argmax(dim=1).cpu().numpy()
        if progress is not None:
            progress(sl.stop - sl.start)
    return preds.reshape(n_f, n_p)


# --------------------------------------------------------------------------- f_rev


def reversal_frequency(f: np.ndarray, diff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First upward zero crossing of ``diff`` along its last axis, interpolated.

    Args:
        f: ``[F]`` strictly increasing sweep frequencies (any unit; the result has it).
        diff: ``[..., F]`` curves, e.g. ``p_low - p_high``.

    Returns:
        ``(f_rev [...], status [...])``: for the first ``k >= 1`` with
        ``diff[k-1] < 0 <= diff[k]``, ``f_rev = f[k-1] + (f[k]-f[k-1]) · (-diff[k-1]) /
        (diff[k] - diff[k-1])`` (``"crossed"``); ``f[0]`` if ``diff[0] >= 0``
        (``"low_from_start"``, censored); NaN if ``diff < 0`` everywhere
        (``"never"``). NaN entries of ``diff`` are not allowed.
    """
    f = np.asarray(f, dtype=np.float64)
    d = np.asarray(diff, dtype=np.float64)
    if f.ndim != 1 or d.shape[-1:] != f.shape:
        raise ValueError(f"diff's last axis must match f: f {f.shape}, diff {d.shape}")
    if f.size < 2 or np.any(np.diff(f) <= 0):
        raise ValueError("sweep frequencies must be >= 2 strictly increasing values")
    if np.isnan(d).any():
        raise ValueError("diff contains NaN")
    nonneg = d >= 0
    up = (~nonneg[..., :-1]) & nonneg[..., 1:]  # [..., F-1]: crossing between k-1 and k
    has = up.any(axis=-1)
    k = np.argmax(up, axis=-1) + 1  # index of the first non-negative point after a negative one
    d0 = np.take_along_axis(d, (k - 1)[..., None], -1)[..., 0]
    d1 = np.take_along_axis(d, k[..., None], -1)[..., 0]
    f0, f1 = f[k - 1], f[k]
    with np.errstate(invalid="ignore", divide="ignore"):
        frev = f0 + (f1 - f0) * (-d0) / (d1 - d0)
    start = nonneg[..., 0]
    out = np.where(start, f[0], np.where(has, frev, np.nan))
    status = np.where(start, STATUS_LOW_FROM_START, np.where(has, STATUS_CROSSED, STATUS_NEVER))
    return out, status


# --------------------------------------------------------------------------- bootstrap


def bootstrap_counts(n: int, iterations: int, seed: int) -> np.ndarray:
    """:func:`blurscope.stats.bootstrap_counts` as float ``[iterations, n]`` (same draws).

    Row ``i`` says how often each of the ``n`` units (image pairs, images) is drawn
    in resample ``i``, so ``counts @ x / n`` is the resampled mean of per-unit ``x``.
    Kept for the rule scripts that resample per-image hits themselves.
    """
    if int(iterations) < 2:
        raise ValueError(f"frequency.bootstrap must be >= 2, got {iterations}")
    return stats.bootstrap_counts(n, int(iterations), seed).astype(np.float64)


def preference_curves(
    preds: np.ndarray, labels_low: np.ndarray, labels_high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Hits of the low (A) and high (B) class, bool ``[F, P]`` each."""
    preds = np.asarray(preds)
    return preds == np.asarray(labels_low)[None], preds == np.asarray(labels_high)[None]


def reversal_summary(
    f_mix: np.ndarray,
    hits_low: np.ndarray,
    hits_high: np.ndarray,
    iterations: int,
    seed: int,
    level: float = 0.95,
) -> dict:
    """f_rev with a bootstrap CI over image pairs.

    Args:
        f_mix: ``[F]`` normalised sweep frequencies.
        hits_low, hits_high: bool ``[F, P]`` from :func:`preference_curves`.

    Returns:
        dict with ``f_rev_cpp``, ``f_rev_ci_low_cpp``, ``f_rev_ci_high_cpp`` (cycles/pixel),
        ``f_rev_status``, ``f_rev_boot_censored`` (fraction of bootstrap samples that
        were ``low_from_start``) and ``f_rev_boot_never`` (fraction ``never``; those
        are left out of the percentile CI), ``n_pairs``.
    """
    hl = np.asarray(hits_low, dtype=np.float64)
    hh = np.asarray(hits_high, dtype=np.float64)
    f_cpp = to_cpp(np.asarray(f_mix, dtype=np.float64))
    status = reversal_frequency(f_cpp, hl.mean(1) - hh.mean(1))[1]
    res = stats.bootstrap_statistic(lambda d: reversal_frequency(f_cpp, d)[0], (hl - hh).T, iterations, seed,
                                    ci=level, return_samples=True)
    boot = res["samples"]  # "low_from_start" returns f[0] itself; a crossing lies strictly above it
    return {
        "f_rev_cpp": float(res["value"]),
        "f_rev_ci_low_cpp": float(res["ci_low"]),
        "f_rev_ci_high_cpp": float(res["ci_high"]),
        "f_rev_status": str(status),
        "f_rev_boot_censored": float(np.mean(boot == f_cpp[0])),
        "f_rev_boot_never": float(np.mean(np.isnan(boot))),
        "n_pairs": int(res["n"]),
    }


def reversal_difference(
    f_mix: np.ndarray,
    hits: Sequence[tuple[np.ndarray, np.ndarray]],
    reference_hits: Sequence[tuple[np.ndarray, np.ndarray]],
    iterations: int,
    seed: int,
    level: float = 0.95,
) -> dict:
    """f_rev of a trained condition minus f_rev of its reference, paired over the same image pairs.

    Args:
        f_mix: ``[F]`` normalised sweep frequencies.
        hits, reference_hits: ``(hits_low, hits_high)`` bool ``[F, P]`` of each replicate
            model of the two conditions, all on the same ``P`` pairs (:func:`make_pairs`
            with one seed). Replicates are resampled too (:func:`blurscope.stats.paired_difference`).

    Returns:
        dict in cycles/pixel: ``f_rev_cpp``, ``reference_f_rev_cpp``, ``diff``,
        ``diff_ci_low``, ``diff_ci_high`` (percentile, over resamples where both cross or
        are censored), ``boot_defined``, ``n_pairs``, ``n_replicates``,
        ``n_replicates_reference``.
    """
    f_cpp = to_cpp(np.asarray(f_mix, dtype=np.float64))

    def per_pair(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        return [(np.asarray(lo, dtype=np.float64) - np.asarray(hi, dtype=np.float64)).T for lo, hi in pairs]

    res = stats.paired_difference(lambda d: reversal_frequency(f_cpp, d)[0], per_pair(hits), per_pair(reference_hits),
                                  iterations, seed, ci=level)
    return {"f_rev_cpp": float(res["value"]), "reference_f_rev_cpp": float(res["reference_value"]),
            "diff": float(res["diff"]), "diff_ci_low": float(res["diff_ci_low"]),
            "diff_ci_high": float(res["diff_ci_high"]), "boot_defined": float(res["boot_defined"]),
            "n_pairs": int(res["n"]), "n_replicates": int(res["n_replicates"]),
            "n_replicates_reference": int(res["n_replicates_reference"])}


# --------------------------------------------------------------------------- PGD / f_0.5


def pgd_perturbations(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    steps: int,
    step_size: float,
    norm: str = "l2",
    random_start: bool = False,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Untargeted PGD (maximise cross-entropy of the true label), one batch.

    Units: images in [0, 1]. For ``norm="linf"``, ``eps``/``step_size`` bound
    each pixel value. For ``norm="l2"`` they are **RMS per element**: the
    L2 ball has radius ``eps · sqrt(3·H·W)`` and a step moves
    ``step_size · sqrt(3·H·W)`` along the normalised gradient, so one value means
    the same per-pixel strength at any image size. ``x + δ`` is kept in [0, 1].

    Args:
        images: float ``[B, 3, H, W]`` in [0, 1]; labels: int64 ``[B]``.
        random_start: start from a uniform (linf) / Gaussian-direction (l2) point
            in the ball drawn with ``seed``; default off, because the start's
            white noise adds flat power that biases f_0.5 upwards.

    Returns:
        ``(delta [B,3,H,W], fooled bool [B])``: the final perturbation and
        whether the prediction on ``x + δ`` differs from ``labels``.
    """
    if norm not in ("l2", "linf"):
        raise ValueError(f"frequency.pgd_norm must be 'l2' or 'linf', got {norm!r}")
    if not (eps > 0 and step_size > 0 and steps >= 1):
        raise ValueError(f"PGD needs eps > 0, step_size > 0, steps >= 1; got {eps}, {step_size}, {steps}")
    x = _as_float01(images).detach()
    y = labels.to(x.device)
    b = x.shape[0]
    n_el = x[0].numel()
    scale = math.sqrt(n_el) if norm == "l2" else 1.0
    radius, step = eps * scale, step_size * scale

    def project(delta: torch.Tensor) -> torch.Tensor:
        if norm == "linf":
            delta = delta.clamp(-radius, radius)
        else:
            nrm = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
            delta = delta * (radius / nrm).clamp(max=1.0).view(b, 1, 1, 1)
        return (x + delta).clamp(0.0, 1.0) - x

    delta = torch.zeros_like(x)
    if random_start:
        g = torch.Generator().manual_seed(int(seed))
        if norm == "linf":
            delta = (torch.rand(x.shape, generator=g) * 2 - 1).to(x) * radius
        else:
            r = torch.randn(x.shape, generator=g).to(x)
            delta = (
                r
                / r.flatten(1).norm(dim=1).view(b, 1, 1, 1)
                * radius
                * torch.rand(b, generator=g).to(x).view(b, 1, 1, 1)
            )
        delta = project(delta)
    for _ in range(int(steps)):
        delta.requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(model(x + delta), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            if norm == "linf":
                upd = grad.sign()
            else:
                upd = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(b, 1, 1, 1)
            delta = project(delta.detach() + step * upd)
    with torch.no_grad():
        fooled = model(x + delta).argmax(1) != y
    return delta.detach(), fooled


def radial_power_profile(delta: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised power of perturbations by exact radial frequency.

    Per image: remove each channel's mean (DC), ``|FFT2|²`` summed over channels,
    divided by its total (each image sums to 1; an all-zero perturbation gives a
    row of NaN), then summed over all grid points with the same radius.

    Args:
        delta: ``[N, C, H, W]`` (or ``[N, H, W]``) perturbations.

    Returns:
        ``(radii_cpp [R], power [N, R])``: the distinct radii of the
        :mod:`blurscope.freq` grid in cycles/pixel (increasing, DC excluded;
        :func:`blurscope.freq.distinct_radii`) and each image's power fraction at each radius.
    """
    x = torch.as_tensor(delta).detach()
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(f"perturbations must be [N,C,H,W] or [N,H,W], got {tuple(x.shape)}")
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    radii, bins = freq.distinct_radii(h, w)  # DC (zero after mean removal) is in no bin
    prof = np.empty((n, radii.size))
    for i in range(0, n, 64):  # chunks keep the float64 [chunk, H*W] power array small at 224 px
        xc = x[i : i + 64].to("cpu", torch.float64)
        xc = xc - xc.mean(dim=(-2, -1), keepdim=True)
        p = (torch.fft.fft2(xc).abs() ** 2).sum(1).reshape(xc.shape[0], -1).numpy()  # [chunk, H*W]
        prof[i : i + 64] = bins.sums(p)  # summed per distinct radius
    tot = prof.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = np.where(tot > 0, prof / tot, np.nan)
    return radii, prof


def half_power_frequency(radii: np.ndarray, power: np.ndarray) -> np.ndarray:
    """Smallest radius at which the cumulative power reaches half, ``[...]``.

    Args:
        radii: ``[R]`` increasing radii.
        power: ``[..., R]`` non-negative power per radius (need not be normalised).
    """
    p = np.asarray(power, dtype=np.float64)
    c = np.cumsum(p, axis=-1)
    tot = c[..., -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = c / tot
    # 1e-12 slack: a power split exactly in half stays at the lower radius.
    k = np.argmax(frac >= 0.5 - 1e-12, axis=-1)
    out = np.asarray(radii, dtype=np.float64)[k]
    return np.where(np.isfinite(tot[..., 0]) & (tot[..., 0] > 0), out, np.nan)


def half_power_summary(
    radii_cpp: np.ndarray, power: np.ndarray, iterations: int, seed: int, level: float = 0.95
) -> dict:
    """f_0.5 of the pooled perturbation power with a bootstrap CI over images.

    Args:
        radii_cpp, power: from :func:`radial_power_profile`; rows with NaN
            (zero perturbations) are dropped and counted.

    Returns:
        dict with ``f_half_cpp``, ``f_half_ci_low_cpp``, ``f_half_ci_high_cpp``,
        ``f_half_median_image_cpp`` (median of per-image f_0.5), ``n_pgd_images``
        (images used), ``n_pgd_zero`` (all-zero perturbations left out). Where every perturbation
        is zero (the model's input gradient vanished on every image: a collapsed network) f_0.5 is
        undefined: NaN with ``n_pgd_images`` 0, a result the report states, not an error.
    """
    ok = np.isfinite(power).all(axis=1)
    p = power[ok]
    n = p.shape[0]
    if n == 0:
        nan = float("nan")
        return {"f_half_cpp": nan, "f_half_ci_low_cpp": nan, "f_half_ci_high_cpp": nan,
                "f_half_median_image_cpp": nan, "n_pgd_images": 0, "n_pgd_zero": int((~ok).sum())}
    res = stats.bootstrap_statistic(lambda m: half_power_frequency(radii_cpp, m), p, iterations, seed, ci=level)
    return {
        "f_half_cpp": float(res["value"]),
        "f_half_ci_low_cpp": float(res["ci_low"]),
        "f_half_ci_high_cpp": float(res["ci_high"]),
        "f_half_median_image_cpp": float(np.median(half_power_frequency(radii_cpp, p))),
        "n_pgd_images": int(n),
        "n_pgd_zero": int((~ok).sum()),
    }


# --------------------------------------------------------------------------- shape bias


def _shape_bias(rates: np.ndarray) -> np.ndarray:
    """``shape / (shape + texture)`` of hit rates ``[..., 2]``; NaN where neither cue was chosen."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return rates[..., 0] / (rates[..., 0] + rates[..., 1])


def shape_bias_summary(
    preds: np.ndarray,
    shape_labels: np.ndarray,
    texture_labels: np.ndarray,
    iterations: int,
    seed: int,
    level: float = 0.95,
) -> dict:
    """Shape bias on cue-conflict images with a bootstrap CI over images.

    Images whose shape and texture class agree carry no conflict and are
    excluded (Geirhos et al.). ``shape_bias = shape hits / (shape + texture hits)``.

    Returns:
        dict with ``shape_bias``, ``shape_bias_ci_low``, ``shape_bias_ci_high``,
        ``shape_acc``, ``texture_acc`` (fractions of conflict images),
        ``n_conflict``, ``n_excluded_same`` (images with equal labels).
    """
    preds, s, t = (np.asarray(a).ravel() for a in (preds, shape_labels, texture_labels))
    if not (preds.size == s.size == t.size):
        raise ValueError(f"preds, shape_labels, texture_labels differ in length: {preds.size}, {s.size}, {t.size}")
    keep = s != t
    n = int(keep.sum())
    if n == 0:
        raise ValueError("cue-conflict set has no image with shape_label != texture_label")
    hs = (preds[keep] == s[keep]).astype(np.float64)
    ht = (preds[keep] == t[keep]).astype(np.float64)
    res = stats.bootstrap_statistic(_shape_bias, np.stack([hs, ht], axis=1), iterations, seed, ci=level)
    return {
        "shape_bias": float(res["value"]),
        "shape_bias_ci_low": float(res["ci_low"]),
        "shape_bias_ci_high": float(res["ci_high"]),
        "shape_acc": float(hs.mean()),
        "texture_acc": float(ht.mean()),
        "n_conflict": n,
        "n_excluded_same": int((~keep).sum()),
    }


@torch.no_grad()
def predict(
    model: nn.Module, images: torch.Tensor, batch_size: int = 256, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Argmax predictions of ``model`` on ``images`` ``[N,3,H,W]`` (uint8 or [0,1] float), int64 ``[N]``."""
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = _as_float01(images[start : start + batch_size].to(device))
        out.append(model(x).argmax(1).cpu())
    return torch.cat(out).numpy() if out else np.empty(0, dtype=np.int64)


# --------------------------------------------------------------------------- aggregation

SUMMARY_METRICS = ("f_rev_cpp", "f_half_cpp", "shape_bias", "corruption_acc", "corruption_rel", "clean_acc")
"""Per-model numbers compared across σ (and across training seeds)."""


def summary_table(
    preference: pd.DataFrame,
    corruption: pd.DataFrame,
    shape: pd.DataFrame | None,
    shape_status: str = "ok",
    ce: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per model: f_rev, f_0.5, shape bias, clean and mean corruption accuracy (+ CIs), the
    corruption accuracy relative to the clean accuracy (``corruption_rel``), and with ``ce`` the mCE and
    relative mCE.

    Args:
        preference: rows of the per-model ``*_preference.tsv`` (``model sigma f_rev_* f_half_* ...``).
        corruption: rows of the per-model ``*_corruption.tsv``; its ``clean`` row gives
            ``clean_acc``, its ``mean`` row ``corruption_acc`` and the CI.
        shape: rows of ``*_shape_bias.tsv``, or None when the dataset has no cue-conflict
            split: the shape columns are then NaN and ``shape_bias_status`` says why.
        shape_status: the reason written to ``shape_bias_status`` when ``shape`` is None.
        ce: rows of the per-model ``*_ce.tsv`` (:func:`blurscope.frequency.corruptions.corruption_errors`);
            their ``mCE`` row gives ``mce``, ``relative_mce`` (+ CIs), ``mce_reference`` and
            ``mce_n_types`` (ImageNet-C types averaged). None: no mCE columns.
    """
    keep = ["model", "sigma", "f_rev_cpp", "f_rev_ci_low_cpp", "f_rev_ci_high_cpp", "f_rev_status",
            "f_half_cpp", "f_half_ci_low_cpp", "f_half_ci_high_cpp", "pgd_success_rate"]
    missing = [c for c in keep if c not in preference.columns]
    if missing:
        raise ValueError(f"preference table lacks column(s) {missing}")
    out = preference[keep].copy()
    clean = corruption[corruption["corruption"] == "clean"].set_index("model")["accuracy"]
    mean = corruption[corruption["corruption"] == "mean"].set_index("model")
    lacking = sorted(set(out["model"]) - set(mean.index))
    if lacking:
        raise ValueError(f"corruption table has no 'mean' row for model(s) {lacking}")
    out["clean_acc"] = out["model"].map(clean)
    out["corruption_acc"] = out["model"].map(mean["accuracy"])
    out["corruption_acc_ci_low"] = out["model"].map(mean["ci_low"])
    out["corruption_acc_ci_high"] = out["model"].map(mean["ci_high"])
    # robustness relative to clean accuracy: a better-trained model scores higher under corruption too,
    # so the mean corruption accuracy alone tracks clean accuracy (the confound this ratio removes)
    out["corruption_rel"] = out["corruption_acc"] / out["clean_acc"]
    if ce is not None:
        mce = ce[ce["corruption"] == "mCE"].set_index("model")
        lacking = sorted(set(out["model"]) - set(mce.index))
        if lacking:
            raise ValueError(f"corruption-error table has no 'mCE' row for model(s) {lacking}")
        for col, src in (("mce", "ce"), ("mce_ci_low", "ce_ci_low"), ("mce_ci_high", "ce_ci_high"),
                         ("relative_mce", "relative_ce"), ("relative_mce_ci_low", "relative_ce_ci_low"),
                         ("relative_mce_ci_high", "relative_ce_ci_high"), ("mce_reference", "reference"),
                         ("mce_n_types", "n_types")):
            out[col] = out["model"].map(mce[src])
    cols = ["shape_bias", "shape_bias_ci_low", "shape_bias_ci_high", "shape_acc", "texture_acc"]
    if shape is None:
        for c in cols:
            out[c] = math.nan
        out["shape_bias_status"] = shape_status
    else:
        out = out.merge(shape[["model", *cols]], on="model", how="left")
        out["shape_bias_status"] = np.where(out["shape_bias"].notna(), "ok", "missing")
    return out.sort_values(["sigma", "model"]).reset_index(drop=True)


def seed_variance(summary: pd.DataFrame, groups: dict[str, Sequence[str]]) -> pd.DataFrame:
    """Spread of the summary metrics across training-seed replicates.

    Args:
        summary: :func:`summary_table` output containing every replicate model.
        groups: ``{group: [replicate model ids, the group's own model included]}``.

    Returns:
        tidy rows ``model sigma metric n_replicates mean sd min max`` (``model`` = the
        group id; sd with ddof=1, NaN for a single replicate).
    """
    rows = []
    s = summary.set_index("model")
    for base, members in groups.items():
        members = [m for m in members if m in s.index]
        if not members:
            continue
        for metric in SUMMARY_METRICS:
            v = s.loc[members, metric].to_numpy(dtype=np.float64)
            v = v[np.isfinite(v)]
            rows.append({
                "model": base,
                "sigma": float(s.loc[members[0], "sigma"]),
                "metric": metric,
                "n_replicates": int(v.size),
                "mean": float(v.mean()) if v.size else math.nan,
                "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan,
                "min": float(v.min()) if v.size else math.nan,
                "max": float(v.max()) if v.size else math.nan,
            })
    return pd.DataFrame(rows, columns=["model", "sigma", "metric", "n_replicates", "mean", "sd", "min", "max"])


TREND_COLUMNS = ["x", "y", *stats.runs.TREND_COLUMNS]
"""Columns of :func:`trends`."""


def trends(summary: pd.DataFrame, group_of: dict[str, str] | None = None, ci: float = 0.95) -> pd.DataFrame:
    """The run-level σ contrast of every measure of :data:`SUMMARY_METRICS` (:func:`blurscope.stats.sigma_table`).

    Over the σ models (:func:`blurscope.model_id.in_sigma_series`: training replicates are runs of
    their σ; filter references and BlurPool are not σ models), each model's value one run.
    Always one row per measure; ``note`` says when the design cannot test it (``x`` is
    ``sigma`` in every row).
    """
    sig = summary[summary["model"].map(model_id.in_sigma_series).astype(bool)]
    long = sig.melt(id_vars=["model"], value_vars=list(SUMMARY_METRICS), var_name="y", value_name="value")
    grp = {m: str((group_of or {}).get(m, model_id.group_of(m))) for m in sig["model"]}
    sigma_of = {grp[m]: float(s) for m, s in zip(sig["model"], sig["sigma"])}
    series = sorted(dict.fromkeys(grp.values()), key=lambda g: sigma_of[g])
    out = stats.sigma_table(long, ["y"], series, sigma_of, grp, ci=ci)
    out.insert(0, "x", "sigma")
    return out[TREND_COLUMNS]


# --------------------------------------------------------------------------- trained vs filter-only reference

REFERENCE_METRICS = ("f_rev_cpp", "f_half_cpp", "shape_bias", "corruption_acc")
"""The deployed-model measures compared with the filter-only reference (:func:`reference_comparison`)."""


def _units(per_model: dict, metric: str) -> np.ndarray | tuple[np.ndarray, np.ndarray] | None:
    """The per-unit data of one model for ``metric`` (None when that measure was not run)."""
    u = per_model
    if metric == "f_rev_cpp":  # per pair p_low − p_high at every f_mix: [P, F]
        return (np.asarray(u["hits_low"], dtype=np.float64) - np.asarray(u["hits_high"], dtype=np.float64)).T
    if metric == "f_half_cpp":
        return np.nan_to_num(np.asarray(u["pgd_power"], dtype=np.float64))  # a zero perturbation has no power
    if metric == "shape_bias":
        if "shape_pred" not in u:
            return None
        pred, s, t = (np.asarray(u[k]) for k in ("shape_pred", "shape_labels", "texture_labels"))
        conflict = s != t
        return np.stack([(pred == s)[conflict], (pred == t)[conflict]], axis=1).astype(np.float64)
    if metric == "corruption_acc":
        if "corruption_hits" not in u:
            return None
        corrupted = np.asarray(u["corruption_names"]) != "clean"
        return np.asarray(u["corruption_hits"], dtype=np.float64)[corrupted].mean(axis=0)[:, None]
    raise ValueError(f"unknown reference metric {metric!r}; known: {REFERENCE_METRICS}")


def _reference_statistic(metric: str, arrays: dict) -> Callable[[np.ndarray], np.ndarray]:
    """The statistic of the means over units ``[B, *F]`` that gives ``metric`` (see :func:`_units`)."""
    if metric == "f_rev_cpp":
        f_cpp = to_cpp(np.asarray(arrays["f_mix"], dtype=np.float64))
        return lambda m: reversal_frequency(f_cpp, m)[0]
    if metric == "f_half_cpp":
        radii = np.asarray(arrays["pgd_radii"], dtype=np.float64)
        return lambda m: half_power_frequency(radii, m)
    if metric == "shape_bias":
        def shape_bias(m: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return m[..., 0] / (m[..., 0] + m[..., 1])
        return shape_bias
    return lambda m: m[..., 0]


def reference_comparison(
    units: dict[str, dict],
    groups: dict[float, list[str]],
    references: dict[float, str],
    iterations: int,
    seed: int,
    level: float = 0.95,
) -> pd.DataFrame:
    """Trained models minus their filter-only reference, per σ and measure, paired over shared units.

    A reference ``ref-sigma<s>`` is the σ 0 network behind the blur a σ-``s`` model was
    trained with: the reference alone is what the filter does, trained − reference what
    training changed. Both run on the same image pairs (f_rev), PGD images (f_0.5),
    cue-conflict images (shape bias) and corrupted images (mean corruption accuracy), so
    the bootstrap resamples those units jointly (and the trained replicates too,
    :func:`blurscope.stats.paired_difference`).

    Args:
        units: ``{model: arrays}`` of every model involved: ``hits_low``/``hits_high``
            ``[F, P]`` and ``f_mix``, ``pgd_power`` ``[N, R]`` and ``pgd_radii``, optionally
            ``shape_pred``/``shape_labels``/``texture_labels`` and ``corruption_hits``
            ``[C, N]`` with ``corruption_names`` ``[C]``.
        groups: ``{σ: [trained model ids]}`` (a σ model and its replicates).
        references: ``{σ: reference model id or [ids]}`` (one reference per σ 0 run); σ = 0 may map
            to the σ 0 model itself, whose difference is then exactly 0.

    Returns:
        Per σ × metric a ``comparison`` ``learned`` row (``model`` = the trained σ model,
        ``reference`` = its filter-only reference: ``diff`` is what training changed) and,
        for σ > 0, a ``filter`` row (``model`` = the reference, ``reference`` = the σ 0
        model(s): ``diff`` is what the blur filter alone does). Columns: ``sigma metric
        comparison model reference value ci_low ci_high reference_value reference_ci_low
        reference_ci_high diff diff_ci_low diff_ci_high boot_defined n n_replicates
        n_replicates_reference`` (f_rev and f_0.5 in cycles/pixel).
    """
    rows = []
    base = groups.get(0.0, [])
    for sigma, ref_ids in sorted(references.items()):
        refs = [ref_ids] if isinstance(ref_ids, str) else list(ref_ids)
        ref = refs[0]
        trained = groups.get(sigma)
        if not trained:
            raise ValueError(f"reference {ref!r}: no trained model at σ = {sigma:g} to compare it with")
        # learned: the trained models against their references; filter: the references against the
        # sigma 0 networks they are made of (both on the same units)
        # (at sigma 0 the reference is the sigma 0 model itself, replicates included: exactly 0)
        comparisons = [("learned", trained, trained if ref in trained else refs)]
        if base and ref not in base:
            comparisons.append(("filter", refs, base))
        for metric in REFERENCE_METRICS:
            for kind, a_models, b_models in comparisons:
                a = [_units(units[m], metric) for m in a_models]
                b = [_units(units[m], metric) for m in b_models]
                if any(x is None for x in a + b):
                    continue
                res = stats.paired_difference(_reference_statistic(metric, units[ref]), a, b, iterations, seed,
                                              ci=level)
                rows.append({"sigma": float(sigma), "metric": metric, "comparison": kind, "model": a_models[0],
                             "reference": b_models[0],
                             **{k: float(res[k]) for k in ("value", "ci_low", "ci_high", "reference_value",
                                                           "reference_ci_low", "reference_ci_high", "diff",
                                                           "diff_ci_low", "diff_ci_high", "boot_defined")},
                             "n": int(res["n"]), "n_replicates": int(res["n_replicates"]),
                             "n_replicates_reference": int(res["n_replicates_reference"])})
    cols = ["sigma", "metric", "comparison", "model", "reference", "value", "ci_low", "ci_high", "reference_value",
            "reference_ci_low", "reference_ci_high", "diff", "diff_ci_low", "diff_ci_high", "boot_defined", "n",
            "n_replicates", "n_replicates_reference"]
    return pd.DataFrame(rows, columns=cols)
