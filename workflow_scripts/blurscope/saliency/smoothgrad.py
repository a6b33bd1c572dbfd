"""SmoothGrad focus of a naive (σ=0) and an expert (blur-fine-tuned) model (after Sun, Chen & Hu;
docs/references.md).

Pipeline of this module, shapes and units:

1. :func:`smoothgrad` — batched SmoothGrad (Smilkov et al. 2017). For each image
   ``x`` (float ``[3,H,W]`` in [0,1]) and target class ``t`` it returns
   ``(1/n) Σ_i ∂ logit_t(x + ε_i) / ∂x`` with ``ε_i ~ N(0, s²)`` i.i.d. per
   pixel and channel, ``s = noise_level × input_range`` (``input_range`` = 1
   for [0,1] images, so clear and blurred inputs get the same noise). All ``n``
   noisy copies of ``batch_size`` images go through ONE forward/backward. The
   noise of image ``i`` under seed ``s`` comes from a CPU ``torch.Generator``
   seeded with ``(s, i)``, so it does not depend on batching or device.
   captum's ``NoiseTunnel(Saliency)`` with the same convention (``abs=False``)
   agrees with it under the same noise (``tests/reference_impl.py``: the
   agreement test and the benchmark).
2. :func:`saliency_map` — channel reduction: ``max_c |g_c|`` → ``[B,H,W]``
   (the strongest colour channel's sensitivity, as in Simonyan et al.).
3. :func:`top_k_pixels` — the *focus*: coordinates ``(row, col)`` of the ``k``
   largest map values, ordered by decreasing value, ties broken by the lower
   flat index (row-major) → int64 ``[B,k,2]``.
4. Distances between two focus sets ``A``, ``B`` (``k`` points each, pixels):

   * ``nn_distance`` — symmetrised mean nearest-neighbour Euclidean distance
     ``½ [mean_a min_b ‖a−b‖ + mean_b min_a ‖a−b‖]`` (pixels; 0 iff A = B);
   * ``rank_distance`` — Sun, Chen & Hu's rank-matched distance
     ``mean_r ‖A_r − B_r‖`` between the r-th most salient pixels (pixels);
   * ``iou`` — ``|A∩B| / |A∪B|`` of the pixel sets (1 iff A = B).

5. :func:`focus_comparisons` — the three comparisons of Sun, Chen & Hu, each against
   its *noise floor*, per image, with two independent SmoothGrad noise seeds
   ``s0, s1`` (``F[m, c, s]`` = focus of model ``m`` on condition ``c``)::

       value(A, B) = ½ [ d(F_A,s0 , F_B,s1) + d(F_A,s1 , F_B,s0) ]
       floor(A, B) = ½ [ d(F_A,s0 , F_A,s1) + d(F_B,s0 , F_B,s1) ]

   Every term compares two maps computed with independent noise, so under
   "no real difference between A and B" value and floor have the same
   distribution; ``excess = value − floor``.
6. :func:`focus_statistics` — the tests, each :func:`blurscope.stats.paired_test`
   (Wilcoxon signed-rank, bootstrap CI of the mean paired difference, Cohen's d_z,
   matched-pairs rank-biserial r), Holm-adjusted with :func:`blurscope.stats.holm`.

torch is imported inside the functions that need it so the statistics also
run in an environment without torch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from blurscope.model_id import model_id
from blurscope.stats import holm, paired_test

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

log = logging.getLogger("blurscope.saliency.smoothgrad")

ROLES = ("naive", "expert")
"""Model roles: naive = σ=0 model, expert = blur-fine-tuned model."""
CONDITIONS = ("clear", "blurred")
"""Input conditions: the analysis image as is, and blurred at the expert's σ (px)."""

COMPARISONS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "naive_clear_vs_blurred": (("naive", "clear"), ("naive", "blurred")),
    "expert_clear_vs_blurred": (("expert", "clear"), ("expert", "blurred")),
    "naive_vs_expert_blurred": (("naive", "blurred"), ("expert", "blurred")),
}
"""Sun, Chen & Hu's three distances: (1) input effect on the naive model, (2) input
effect on the expert, (3) classifier effect on blurred inputs."""

CLASSIFIER_VS_INPUT: dict[str, tuple[str, str]] = {
    "classifier_vs_input_naive": ("naive_vs_expert_blurred", "naive_clear_vs_blurred"),
    "classifier_vs_input_expert": ("naive_vs_expert_blurred", "expert_clear_vs_blurred"),
}
"""Does the classifier effect (3) exceed the input effect (1) [and (2)]? (paired, on excess over floor)."""

METRICS: dict[str, dict[str, str]] = {
    "nn_distance": {"unit": "px", "more_different": "greater"},
    "rank_distance": {"unit": "px", "more_different": "greater"},
    "iou": {"unit": "1", "more_different": "less"},
}
"""Focus metrics; ``more_different`` = the one-sided alternative meaning "foci differ more"."""


# --------------------------------------------------------------------------- SmoothGrad


def without_blur(model: nn.Module) -> nn.Module:
    """:func:`blurscope.models.network.without_blur` (imported lazily: this module loads without torch).

    Sun, Chen & Hu show each classifier clear *and* blurred images and take the
    gradient with respect to the image the network sees, so saliency feeds the
    network without its fixed training blur (the blurred condition is blurred
    once, by :func:`blurscope.blur.gaussian_blur`, not twice).
    """
    from blurscope.models.network import without_blur as _without_blur

    return _without_blur(model)


def image_noise(seed: int, image_index: int, n_samples: int, shape: Sequence[int], std: float) -> torch.Tensor:
    """Noise ``[n_samples, *shape]`` (float32, CPU) for one image: ``N(0, std²)``.

    Drawn from a CPU generator seeded with ``(seed, image_index)`` (through
    numpy's ``SeedSequence``), so image ``i`` gets the same noise whatever the
    batch size, device, or number of images in the run.
    """
    import torch

    state = np.random.SeedSequence([int(seed), int(image_index)]).generate_state(2, dtype=np.uint32)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(state[0]) << 32 | int(state[1]))
    return torch.randn((n_samples, *shape), generator=gen, dtype=torch.float32) * float(std)


def _check_inputs(images: torch.Tensor, targets: torch.Tensor, n_samples: int, noise_level: float) -> None:
    if images.ndim != 4:
        raise ValueError(f"smoothgrad expects images [B, C, H, W], got shape {tuple(images.shape)}")
    if targets.ndim != 1 or targets.shape[0] != images.shape[0]:
        raise ValueError(f"targets must be [B={images.shape[0]}] class indices, got shape {tuple(targets.shape)}")
    if n_samples < 1:
        raise ValueError(f"saliency.n_samples must be >= 1, got {n_samples}")
    if noise_level < 0:
        raise ValueError(f"saliency.noise_level must be >= 0, got {noise_level}")


def smoothgrad(
    forward: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    targets: torch.Tensor,
    n_samples: int,
    noise_level: float,
    seed: int = 0,
    *,
    input_range: float = 1.0,
    batch_size: int = 8,
    image_indices: Sequence[int] | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Batched SmoothGrad: mean input gradient of the target logit over noisy copies.

    Args:
        forward: ``[N,C,H,W] -> logits [N,K]`` (eval mode; BatchNorm must not
            use batch statistics, or noisy copies would interact).
        images: float ``[B,C,H,W]`` (any device; the gradient is taken on it).
        targets: int64 ``[B]`` class whose logit is differentiated.
        n_samples: noisy copies per image ``n`` (``n=1`` with ``noise_level=0``
            is the plain gradient).
        noise_level: noise std as a fraction of ``input_range``.
        seed: noise seed; see :func:`image_noise`.
        input_range: ``x_max − x_min`` of the input domain (1 for [0,1] images).
        batch_size: images per forward/backward pass (each pass carries
            ``batch_size × n_samples`` inputs).
        image_indices: global index of each image for the noise (default ``0..B-1``).
        noise: explicit noise ``[B, n, C, H, W]`` instead of drawing it
            (the agreement test with captum uses it).

    Returns:
        float32 ``[B,C,H,W]`` SmoothGrad gradient (signed), on ``images.device``.
    """
    import torch

    _check_inputs(images, targets, n_samples, noise_level)
    if batch_size < 1:
        raise ValueError(f"saliency.batch_size must be >= 1, got {batch_size}")
    if torch.is_inference_mode_enabled():
        raise RuntimeError("smoothgrad needs autograd: do not call it inside torch.inference_mode()")
    b_all, c, h, w = images.shape
    if image_indices is None:
        image_indices = range(b_all)
    if len(image_indices) != b_all:
        raise ValueError(f"image_indices has {len(image_indices)} entries for {b_all} images")
    if noise is not None and tuple(noise.shape) != (b_all, n_samples, c, h, w):
        raise ValueError(f"noise must be [B, n, C, H, W] = {(b_all, n_samples, c, h, w)}, got {tuple(noise.shape)}")
    std = float(noise_level) * float(input_range)
    device = images.device
    out = torch.empty(images.shape, dtype=torch.float32, device=device)
    for start in range(0, b_all, batch_size):
        stop = min(start + batch_size, b_all)
        x = images[start:stop].detach().clone().float()
        b = stop - start
        if noise is not None:
            eps = noise[start:stop].to(device=device, dtype=torch.float32)
        else:
            eps = torch.stack(
                [image_noise(seed, image_indices[i], n_samples, (c, h, w), std) for i in range(start, stop)]
            ).to(device)
        xin = (x[:, None] + eps).reshape(b * n_samples, c, h, w).requires_grad_(True)
        with torch.enable_grad():
            logits = forward(xin)
            if logits.ndim != 2 or logits.shape[0] != b * n_samples:
                raise ValueError(f"forward must return logits [N, K], got shape {tuple(logits.shape)}")
            t = targets[start:stop].to(device).long().repeat_interleave(n_samples)
            if int(t.max()) >= logits.shape[1] or int(t.min()) < 0:
                raise ValueError(f"target class out of range [0, {logits.shape[1]})")
            selected = logits.gather(1, t[:, None]).sum()
            (grad,) = torch.autograd.grad(selected, xin)
        out[start:stop] = grad.view(b, n_samples, c, h, w).mean(dim=1)
    return out


def saliency_map(grad: torch.Tensor) -> torch.Tensor:
    """Channel reduction of a gradient ``[B,C,H,W]`` → ``[B,H,W]``: ``max_c |g_c|``."""
    if grad.ndim != 4:
        raise ValueError(f"saliency_map expects [B, C, H, W], got shape {tuple(grad.shape)}")
    return grad.abs().amax(dim=1)


# --------------------------------------------------------------------------- focus sets


def top_k_pixels(maps: np.ndarray, k: int) -> np.ndarray:
    """The focus: ``(row, col)`` of the ``k`` largest values of each map.

    Args:
        maps: ``[B,H,W]`` saliency maps (numpy or torch).
        k: number of pixels (``saliency.top_k_pixels``), ``1 <= k <= H*W``.

    Returns:
        int64 ``[B,k,2]``, rank 0 = most salient; ties → lower row-major index first.
    """
    maps = np.asarray(maps.detach().cpu() if hasattr(maps, "detach") else maps)
    if maps.ndim != 3:
        raise ValueError(f"top_k_pixels expects maps [B, H, W], got shape {maps.shape}")
    b, h, w = maps.shape
    if not 1 <= k <= h * w:
        raise ValueError(f"saliency.top_k_pixels must be in [1, {h * w}] for {h}x{w} maps, got {k}")
    flat = maps.reshape(b, h * w).astype(np.float64)
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    return np.stack([order // w, order % w], axis=-1).astype(np.int64)


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 3 or a.shape[-1] != 2 or a.shape != b.shape:
        raise ValueError(f"focus sets must both be [B, k, 2] with equal shapes, got {a.shape} and {b.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def nn_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Symmetrised mean nearest-neighbour Euclidean distance, pixels, ``[B]``.

    ``½ [mean_{p∈A} min_{q∈B} ‖p−q‖ + mean_{q∈B} min_{p∈A} ‖p−q‖]`` for focus
    sets ``a``, ``b`` ``[B,k,2]`` of (row, col) coordinates.
    """
    a, b = _check_pair(a, b)
    d = np.sqrt(((a[:, :, None, :] - b[:, None, :, :]) ** 2).sum(-1))  # [B, k, k]
    return 0.5 * (d.min(axis=2).mean(axis=1) + d.min(axis=1).mean(axis=1))


def rank_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rank-matched distance ``mean_r ‖A_r − B_r‖`` (Sun, Chen & Hu), pixels, ``[B]``."""
    a, b = _check_pair(a, b)
    return np.sqrt(((a - b) ** 2).sum(-1)).mean(axis=1)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of the two pixel sets, ``[B]`` in [0, 1]."""
    a, b = _check_pair(a, b)
    k = a.shape[1]
    upper = np.triu(np.ones((k, k), dtype=bool), 1)

    def first(p: np.ndarray) -> np.ndarray:  # [B, k]: True where p_j is not a repeat of an earlier p_i
        same = (p[:, :, None, :] == p[:, None, :, :]).all(-1)
        return ~(same & upper).any(axis=1)

    ua, ub = first(a), first(b)
    in_b = (a[:, :, None, :] == b[:, None, :, :]).all(-1).any(axis=2)  # [B, k]
    inter = (in_b & ua).sum(axis=1).astype(np.float64)
    union = ua.sum(axis=1) + ub.sum(axis=1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


METRIC_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "nn_distance": nn_distance,
    "rank_distance": rank_distance,
    "iou": iou,
}


def focus_comparisons(
    focus: dict[tuple[str, str, int], np.ndarray],
    image_index: np.ndarray,
    image_id: np.ndarray | None = None,
    label: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-image distances of Sun, Chen & Hu's three comparisons and their noise floors.

    Args:
        focus: ``{(role, condition, seed_slot): int [N,k,2]}`` for roles
            :data:`ROLES`, conditions :data:`CONDITIONS` and seed slots 0, 1
            (two independent SmoothGrad noise seeds).
        image_index: ``[N]`` row in ``analysis_images.npz``.
        image_id, label: ``[N]`` manifest row and class label (optional).

    Returns:
        Tidy frame, one row per image × comparison × metric: ``image_index
        image_id label comparison metric unit value noise_floor excess``
        (value/floor as defined in the module docstring; excess = value − floor).
    """
    missing = [(r, c, s) for r in ROLES for c in CONDITIONS for s in (0, 1) if (r, c, s) not in focus]
    if missing:
        raise KeyError(f"focus sets missing for {missing}")
    n = len(image_index)
    image_id = np.full(n, -1) if image_id is None else np.asarray(image_id)
    label = np.full(n, -1) if label is None else np.asarray(label)
    frames = []
    for comp, ((ra, ca), (rb, cb)) in COMPARISONS.items():
        a0, a1 = focus[(ra, ca, 0)], focus[(ra, ca, 1)]
        b0, b1 = focus[(rb, cb, 0)], focus[(rb, cb, 1)]
        for metric, fn in METRIC_FUNCTIONS.items():
            value = 0.5 * (fn(a0, b1) + fn(a1, b0))
            floor = 0.5 * (fn(a0, a1) + fn(b0, b1))
            frames.append(
                pd.DataFrame(
                    {
                        "image_index": image_index,
                        "image_id": image_id,
                        "label": label,
                        "comparison": comp,
                        "metric": metric,
                        "unit": METRICS[metric]["unit"],
                        "value": value,
                        "noise_floor": floor,
                        "excess": value - floor,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- statistics


def focus_statistics(
    per_image: pd.DataFrame, iterations: int = 2000, seed: int = 0, alpha: float = 0.05
) -> pd.DataFrame:
    """The stats table from :func:`focus_comparisons` output.

    Tests (one row each, one-sided in the "foci differ more" direction of the
    metric, see :data:`METRICS`):

    * ``vs_noise_floor`` — for each comparison and metric: value vs noise floor.
    * ``classifier_vs_input_naive`` / ``_expert`` — excess of (3)
      ``naive_vs_expert_blurred`` vs excess of (1) ``naive_clear_vs_blurred``
      / (2) ``expert_clear_vs_blurred``.

    Each row is :func:`blurscope.stats.paired_test` (columns ``n_images mean
    reference_mean diff diff_sem diff_ci_low diff_ci_high rel_change d_z rank_biserial
    w p``); ``p_holm`` is Holm-adjusted over all rows of the table; ``significant`` =
    ``p_holm < alpha``. Bootstrap seeds differ per row (``seed + row``).
    """
    need = {"image_index", "comparison", "metric", "value", "noise_floor", "excess"}
    if not need <= set(per_image.columns):
        raise ValueError(f"per-image table lacks columns {sorted(need - set(per_image.columns))}")
    rows: list[dict[str, Any]] = []

    def pick(comp: str, metric: str) -> pd.DataFrame:
        sel = per_image[(per_image.comparison == comp) & (per_image.metric == metric)].sort_values("image_index")
        if sel.empty:
            raise ValueError(f"per-image table has no rows for comparison {comp!r}, metric {metric!r}")
        if len(sel) < 2:
            raise ValueError(f"paired tests need at least 2 images, got {len(sel)} (config saliency.n_images)")
        if not np.isfinite(sel[["value", "noise_floor", "excess"]].to_numpy(dtype=np.float64)).all():
            raise ValueError(f"per-image table has non-finite values for comparison {comp!r}, metric {metric!r}")
        return sel

    def run_test(x: np.ndarray, y: np.ndarray, alternative: str) -> dict[str, Any]:
        res = paired_test(x, y, iterations, seed + len(rows), alternative=alternative)
        return {k: v for k, v in res.items() if k not in ("n_replicates", "n_replicates_reference")}

    for metric, info in METRICS.items():
        for comp in COMPARISONS:
            sel = pick(comp, metric)
            res = run_test(sel.value.to_numpy(), sel.noise_floor.to_numpy(), info["more_different"])
            rows.append({"test": "vs_noise_floor", "comparison": comp, "reference": "noise_floor",
                         "metric": metric, "unit": info["unit"], "alternative": info["more_different"], **res})
        for test, (comp, ref) in CLASSIFIER_VS_INPUT.items():
            a, b = pick(comp, metric), pick(ref, metric)
            if not np.array_equal(a.image_index.to_numpy(), b.image_index.to_numpy()):
                raise ValueError(f"comparisons {comp} and {ref} cover different images")
            res = run_test(a.excess.to_numpy(), b.excess.to_numpy(), info["more_different"])
            rows.append({"test": test, "comparison": comp, "reference": ref, "metric": metric,
                         "unit": info["unit"], "alternative": info["more_different"], **res})
    table = pd.DataFrame(rows).rename(columns={"n": "n_images"})
    table["p_holm"] = holm(table.p.to_numpy())
    table["significant"] = table.p_holm < alpha
    return table


# --------------------------------------------------------------------------- activation maps


def activation_maps(
    forward_model: nn.Module, images: torch.Tensor, layers: Sequence[str]
) -> dict[str, np.ndarray]:
    """Layer outputs for a few images, ``{layer: float32 [B,C,h,w]}`` (CPU numpy).

    Uses :func:`blurscope.hooks.record_outputs`; names are relative to the
    model's backbone (unknown names → ``KeyError`` listing the valid ones).
    """
    import torch

    from blurscope.hooks import record_outputs

    with torch.inference_mode():
        out = record_outputs(forward_model, list(layers), images)
    res = {}
    for name in layers:
        t = out[name]
        if not isinstance(t, torch.Tensor) or t.ndim != 4:
            raise ValueError(f"saliency.activation_layers: layer {name!r} output is not a [B,C,h,w] feature map")
        res[name] = t.float().cpu().numpy()
    return res


# --------------------------------------------------------------------------- config helpers


def expert_model_id(expert_sigma: float, sigmas: Sequence[float]) -> str:
    """Model id (``sigma<σ>``, :func:`blurscope.model_id.model_id`) of the expert; it must be a configured σ > 0.

    Raises:
        ValueError: naming ``saliency.expert_sigma`` and the configured σ values.
    """
    configured = sorted(float(s) for s in sigmas)
    shown = ", ".join(f"{s:g}" for s in configured)
    if float(expert_sigma) <= 0:
        raise ValueError(f"saliency.expert_sigma must be > 0 (σ=0 is the naive model), got {expert_sigma:g}; "
                         f"configured σ: {shown}")
    if not any(abs(float(expert_sigma) - s) < 1e-9 for s in configured):
        raise ValueError(f"saliency.expert_sigma = {expert_sigma:g} is not one of the configured σ values ({shown})")
    if not any(s == 0 for s in configured):
        raise ValueError(f"the naive model needs σ = 0 among the configured σ values ({shown})")
    return model_id(expert_sigma)
