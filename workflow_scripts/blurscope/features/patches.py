"""Top patches per neuron from its top-k images: VITAL windows or exact receptive fields.

Two methods (config ``patches.method``, docs/features.md); both return raw
uint8 pixels of the analysis images (never resized, never display-stretched).

``vital`` — the VITAL feature-analysis report's "VITAL approximation"
    Square windows of ``window_224`` px at 224 px, scaled to the image size
    (``w = round(window_224 · S / 224)``; 64 → 18 px at 64 px, 64 px at 224 px),
    slid with stride ``round(w · stride_fraction)`` (half a window by default)
    from the top-left corner; a last window flush with the right / bottom
    border is added when the stride does not land on it, so the whole image is
    covered (:func:`vital_geometry`). Every window of every top image is fed to
    the model **on its own** as a ``w × w`` image, through the model's own
    preprocessing (its fixed blur and normalisation — the same as in
    training; VITAL's code forgot the normalisation in this pass). Its score
    is the mean of the neuron's channel over the window's feature map. Each of
    the neuron's ``k`` top images contributes its best window (first maximum in
    raster order on ties); these ``k`` patches are ranked by score (ties: better
    top-k rank first) and the best ``n_show`` kept. Windows are batched across
    images and neurons: one forward per window serves every sampled neuron.

``receptive_field`` — the unit's exact receptive field
    For the ``n_show`` best top-k images, the exact, clipped receptive-field
    box (:mod:`blurscope.features.receptive_field`) of the unit at the argmax position.
    All patches of a layer share one size ``P = min(RF size, image size)``
    per axis: the box is placed in a ``P × P`` canvas where it sits inside the
    unit's theoretical field (clamped to the canvas), and canvas pixels outside
    the box — the clip — are filled (``rf_fill``): ``reflect`` mirrors the
    box's pixels about its edges (numpy "symmetric": no new colours, no step
    edge; the filled region's spectrum is that of the mirrored content), or
    ``mean`` paints the ImageNet mean colour, which is what the network's zero
    padding is in pixel space for an unblurred model. The valid region is
    recorded per patch (``valid`` box in patch coordinates, ``clip_*`` pixel
    counts), so consumers can restrict to real pixels.

Units: boxes ``(y0, x0, y1, x1)`` are half-open, in pixels of the analysis images.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from blurscope.data.files import to_float
from blurscope.features.receptive_field import ReceptiveField
from blurscope.features.topk import LayerTopK
from blurscope.hooks import capture

log = logging.getLogger("blurscope.features.patches")

METHODS = ("vital", "receptive_field")
RF_FILLS = ("reflect", "mean")
IMAGENET_MEAN_UINT8 = np.array([124, 116, 104], dtype=np.uint8)  # round(255 · (0.485, 0.456, 0.406))


def _round_half_up(v: float) -> int:
    return int(np.floor(v + 0.5))


def vital_geometry(
    image_size: int, window_224: float = 64, stride_fraction: float = 0.5, reference_size: int = 224
) -> tuple[int, np.ndarray]:
    """Window size and window start offsets (per axis) for VITAL windows.

    Args:
        image_size: side of the (square) analysis images, px.
        window_224: window side at ``reference_size`` px (seed: 64 at 224).
        stride_fraction: stride as a fraction of the window (seed: 0.5).

    Returns:
        ``(w, starts)``: window side ``w`` px and int64 ``starts`` (same for rows
        and columns), ``0, s, 2s, …`` plus ``S − w`` if not already there.

    Raises:
        ValueError: non-positive sizes / fractions (naming the config key).
    """
    if image_size < 1:
        raise ValueError(f"image size must be >= 1, got {image_size}")
    if window_224 <= 0:
        raise ValueError(f"patches.window_224 must be > 0, got {window_224}")
    if not 0 < stride_fraction <= 1:
        raise ValueError(f"patches.stride_fraction must be in (0, 1], got {stride_fraction}")
    w = min(image_size, max(1, _round_half_up(window_224 * image_size / reference_size)))
    s = max(1, _round_half_up(w * stride_fraction))
    starts = list(range(0, image_size - w + 1, s))
    if starts[-1] != image_size - w:
        starts.append(image_size - w)
    return w, np.asarray(starts, dtype=np.int64)


def window_boxes(window: int, starts: np.ndarray) -> np.ndarray:
    """All windows in raster order (row start major): int64 ``[n_windows, 4]`` ``(y0, x0, y1, x1)``."""
    yy, xx = np.meshgrid(starts, starts, indexing="ij")
    y0, x0 = yy.ravel(), xx.ravel()
    return np.stack([y0, x0, y0 + window, x0 + window], axis=1)


def crop_windows(images: np.ndarray, rows: np.ndarray, boxes: np.ndarray, window: int) -> np.ndarray:
    """Square crops ``uint8 [M, w, w, 3]`` of ``images[rows[m]]`` at ``boxes[m]`` (same size ``w``)."""
    view = np.lib.stride_tricks.sliding_window_view(images, (window, window), axis=(1, 2))
    # view: [N, H-w+1, W-w+1, 3, w, w]
    crops = view[rows, boxes[:, 0], boxes[:, 1]]  # [M, 3, w, w]
    return np.ascontiguousarray(crops.transpose(0, 2, 3, 1))


def window_scores(
    model: nn.Module,
    images: np.ndarray,
    layer: str,
    neurons: np.ndarray,
    window: int,
    starts: np.ndarray,
    batch_size: int,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Mean activation of each neuron's channel for every window of every image.

    Each window is a separate ``w × w`` input to ``model`` (its own blur and
    normalisation included).

    Args:
        images: uint8 ``[M, H, W, 3]`` (the unique top images).
        neurons: channel indices ``[n]``.
        batch_size: windows per forward pass.

    Returns:
        float32 ``[M, n_windows, n]`` (windows in :func:`window_boxes` order).
    """
    boxes = window_boxes(window, starts)
    n_win = len(boxes)
    total = len(images) * n_win
    chans = torch.as_tensor(np.asarray(neurons, dtype=np.int64), device=device)
    out = np.empty((total, len(neurons)), dtype=np.float32)
    got: dict[str, torch.Tensor] = {}

    class _Done(Exception):
        pass

    def reduce(name: str, _m: nn.Module, _i: tuple, output: object) -> None:
        got[name] = output.index_select(1, chans).mean(dim=(2, 3))  # type: ignore[union-attr]
        raise _Done  # later layers are not needed

    model.eval()
    with torch.inference_mode(), capture(model, [layer], reduce):
        for start in range(0, total, batch_size):
            flat = np.arange(start, min(start + batch_size, total))
            crops = crop_windows(images, flat // n_win, boxes[flat % n_win], window)
            try:
                model(to_float(crops).to(device))
            except _Done:
                pass
            except RuntimeError as err:
                raise ValueError(
                    f"the model cannot run on {window}x{window} px VITAL windows up to layer {layer!r} "
                    f"({err}); increase patches.window_224"
                ) from err
            out[start : start + len(flat)] = got.pop(layer).float().cpu().numpy()
            if progress is not None:
                progress(len(flat))
    if not np.isfinite(out).all():
        raise ValueError(f"non-finite window activations in layer {layer!r}")
    return out.reshape(len(images), n_win, len(neurons))


@dataclass
class PatchSet:
    """The shown patches of one layer (``n`` neurons × ``n_show`` patches).

    Attributes:
        patches: uint8 ``[n, n_show, P, P, 3]`` raw pixels.
        neurons: int64 ``[n]``.
        image_index: int64 ``[n, n_show]`` rows of the analysis image array.
        topk_rank: int64 ``[n, n_show]`` rank of the image in the neuron's top-k (0 = best).
        activations: float32 ``[n, n_show]`` the score the patches are ranked by
            (``vital``: mean channel activation over the window; ``receptive_field``:
            the unit's activation at the argmax = the image's spatial max).
        image_activations: float32 ``[n, n_show]`` the image's spatial max (top-k value).
        positions: int64 ``[n, n_show, 2]`` argmax ``(y, x)`` in feature-map coordinates.
        boxes: int64 ``[n, n_show, 4]`` cropped image region ``(y0, x0, y1, x1)``.
        valid: int64 ``[n, n_show, 4]`` region of real pixels inside the patch
            (patch coordinates); the rest is fill (``receptive_field`` only).
        method: ``vital`` | ``receptive_field``.
    """

    patches: np.ndarray
    neurons: np.ndarray
    image_index: np.ndarray
    topk_rank: np.ndarray
    activations: np.ndarray
    image_activations: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    valid: np.ndarray
    method: str


def _check_topk(topk: LayerTopK, n_show: int) -> None:
    k = topk.values.shape[1]
    if not 1 <= n_show <= k:
        raise ValueError(f"topk.n_show={n_show} must be between 1 and topk.k={k}")


def vital_patches(
    model: nn.Module,
    images: np.ndarray,
    topk: LayerTopK,
    layer: str,
    n_show: int,
    window_224: float = 64,
    stride_fraction: float = 0.5,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> PatchSet:
    """VITAL patches (see module docstring) for the neurons of ``topk``.

    Args:
        images: the analysis images uint8 ``[N, H, W, 3]`` that ``topk`` indexes.
    """
    _check_topk(topk, n_show)
    h, w_img = images.shape[1:3]
    if h != w_img:
        raise ValueError(f"VITAL windows need square images, got {h}x{w_img}")
    window, starts = vital_geometry(h, window_224, stride_fraction)
    boxes = window_boxes(window, starts)
    unique, inverse = np.unique(topk.image_index, return_inverse=True)
    inverse = inverse.reshape(topk.image_index.shape)  # [n, k] -> row of `unique`
    log.info(
        "VITAL %s: %d-px windows, stride %d, %d windows/image, %d unique top images",
        layer,
        window,
        int(starts[1] - starts[0]) if len(starts) > 1 else 0,
        len(boxes),
        len(unique),
    )
    scores = window_scores(
        model, images[unique], layer, topk.neurons, window, starts, batch_size, device, progress
    )  # [U, n_win, n]
    n, k = topk.image_index.shape
    per = scores[inverse, :, np.arange(n)[:, None]]  # [n, k, n_win]
    best_win = per.argmax(axis=2)  # first maximum in raster order
    best = np.take_along_axis(per, best_win[..., None], axis=2)[..., 0]  # [n, k]
    order = np.lexsort((np.broadcast_to(np.arange(k), (n, k)), -best), axis=1)[:, :n_show]
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    img_idx = take(topk.image_index)
    win = boxes[take(best_win)]  # [n, n_show, 4]
    crops = crop_windows(images, img_idx.ravel(), win.reshape(-1, 4), window)
    valid = np.broadcast_to(np.array([0, 0, window, window], dtype=np.int64), win.shape).copy()
    return PatchSet(
        patches=crops.reshape(n, n_show, window, window, 3),
        neurons=topk.neurons.copy(),
        image_index=img_idx,
        topk_rank=order.astype(np.int64),
        activations=take(best).astype(np.float32),
        image_activations=take(topk.values).astype(np.float32),
        positions=np.stack([take(topk.y), take(topk.x)], axis=-1),
        boxes=win,
        valid=valid,
        method="vital",
    )


def _mirror(i: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Map indices into ``[lo, hi)`` by mirroring about the edges (edge pixel repeated)."""
    n = np.maximum(hi - lo, 1)
    r = np.remainder(i - lo, 2 * n)
    return lo + np.where(r >= n, 2 * n - 1 - r, r)


def rf_patches(
    images: np.ndarray,
    topk: LayerTopK,
    rf: ReceptiveField,
    n_show: int,
    fill: str = "reflect",
) -> PatchSet:
    """Exact receptive-field crops at the argmax of the ``n_show`` best top-k images.

    Args:
        images: the analysis images uint8 ``[N, H, W, 3]`` that ``topk`` indexes.
        rf: the layer's receptive field at the images' size.
        fill: ``reflect`` | ``mean`` (see module docstring).
    """
    _check_topk(topk, n_show)
    if fill not in RF_FILLS:
        raise ValueError(f"patches.rf_fill {fill!r} is not one of {', '.join(RF_FILLS)}")
    h, w = images.shape[1:3]
    if rf.input_hw != (h, w):
        raise ValueError(f"receptive field traced at {rf.input_hw}, images are {h}x{w}")
    if tuple(topk.fmap_hw) != tuple(rf.fmap_hw):
        raise ValueError(f"top-k feature map {topk.fmap_hw} differs from the traced one {rf.fmap_hw}")
    n = topk.image_index.shape[0]
    sel = np.s_[:, :n_show]
    img_idx, ys, xs = topk.image_index[sel], topk.y[sel], topk.x[sel]
    exact = rf.box(ys, xs)  # [n, s, 4]
    theo = rf.theoretical_box(ys, xs)
    py, px = min(rf.size[0], h), min(rf.size[1], w)
    ey, ex = exact[..., 2] - exact[..., 0], exact[..., 3] - exact[..., 1]
    if np.any(ey > py) or np.any(ex > px):
        raise ValueError(f"layer {rf.layer!r}: an exact box exceeds the canvas {py}x{px}")
    off_y = np.clip(exact[..., 0] - theo[..., 0], 0, py - ey)
    off_x = np.clip(exact[..., 1] - theo[..., 1], 0, px - ex)
    origin_y, origin_x = exact[..., 0] - off_y, exact[..., 1] - off_x  # image coords of canvas (0, 0)
    rows = origin_y[..., None] + np.arange(py)  # [n, s, py]
    cols = origin_x[..., None] + np.arange(px)
    in_y = (rows >= exact[..., 0:1]) & (rows < exact[..., 2:3])
    in_x = (cols >= exact[..., 1:2]) & (cols < exact[..., 3:4])
    empty = (ey == 0) | (ex == 0)
    rows_m = _mirror(rows, exact[..., 0:1], np.maximum(exact[..., 2:3], exact[..., 0:1] + 1))
    cols_m = _mirror(cols, exact[..., 1:2], np.maximum(exact[..., 3:4], exact[..., 1:2] + 1))
    rows_m, cols_m = np.clip(rows_m, 0, h - 1), np.clip(cols_m, 0, w - 1)
    patches = images[img_idx[..., None, None], rows_m[..., :, None], cols_m[..., None, :]]  # [n,s,py,px,3]
    if fill == "mean":
        mask = in_y[..., :, None] & in_x[..., None, :] & ~empty[..., None, None]
        patches = np.where(mask[..., None], patches, IMAGENET_MEAN_UINT8)
    elif empty.any():
        patches[empty] = IMAGENET_MEAN_UINT8
    valid = np.stack([off_y, off_x, off_y + ey, off_x + ex], axis=-1).astype(np.int64)
    valid[empty] = 0
    return PatchSet(
        patches=np.ascontiguousarray(patches.astype(np.uint8)),
        neurons=topk.neurons.copy(),
        image_index=img_idx.copy(),
        topk_rank=np.broadcast_to(np.arange(n_show, dtype=np.int64), (n, n_show)).copy(),
        activations=topk.values[sel].astype(np.float32),
        image_activations=topk.values[sel].astype(np.float32),
        positions=np.stack([ys, xs], axis=-1),
        boxes=exact,
        valid=valid,
        method="receptive_field",
    )


def patch_arrays(ps: PatchSet, image_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Arrays of ``results/patches/{model}/{layer}.npz`` (see docs/features.md)."""
    return {
        "patches": ps.patches,
        "neurons": ps.neurons.astype(np.int64),
        "image_ids": np.asarray(image_ids)[ps.image_index].astype(np.int64),
        "image_index": ps.image_index.astype(np.int64),
        "topk_rank": ps.topk_rank.astype(np.int64),
        "activations": ps.activations.astype(np.float32),
        "image_activations": ps.image_activations.astype(np.float32),
        "positions": ps.positions.astype(np.int64),
        "boxes": ps.boxes.astype(np.int64),
        "valid": ps.valid.astype(np.int64),
        "method": np.array(ps.method),
    }


TSV_COLUMNS = [
    "model",
    "layer",
    "method",
    "neuron",
    "patch",
    "image_id",
    "image_index",
    "topk_rank",
    "activation",
    "image_activation",
    "fmap_y",
    "fmap_x",
    "box_y0",
    "box_x0",
    "box_y1",
    "box_x1",
    "valid_y0",
    "valid_x0",
    "valid_y1",
    "valid_x1",
    "clipped",
    "patch_size",
]


def patch_table(ps: PatchSet, image_ids: np.ndarray, model_id: str, layer: str) -> pd.DataFrame:
    """One row per (neuron, patch); columns :data:`TSV_COLUMNS` (see docs/features.md)."""
    n, s = ps.image_index.shape
    p = ps.patches.shape[2]
    clipped = (
        (ps.valid[..., 0] > 0)
        | (ps.valid[..., 1] > 0)
        | (ps.valid[..., 2] < p)
        | (ps.valid[..., 3] < ps.patches.shape[3])
    )
    df = pd.DataFrame(
        {
            "model": model_id,
            "layer": layer,
            "method": ps.method,
            "neuron": np.repeat(ps.neurons, s),
            "patch": np.tile(np.arange(s), n),
            "image_id": np.asarray(image_ids)[ps.image_index].ravel(),
            "image_index": ps.image_index.ravel(),
            "topk_rank": ps.topk_rank.ravel(),
            "activation": ps.activations.ravel(),
            "image_activation": ps.image_activations.ravel(),
            "fmap_y": ps.positions[..., 0].ravel(),
            "fmap_x": ps.positions[..., 1].ravel(),
            "box_y0": ps.boxes[..., 0].ravel(),
            "box_x0": ps.boxes[..., 1].ravel(),
            "box_y1": ps.boxes[..., 2].ravel(),
            "box_x1": ps.boxes[..., 3].ravel(),
            "valid_y0": ps.valid[..., 0].ravel(),
            "valid_x0": ps.valid[..., 1].ravel(),
            "valid_y1": ps.valid[..., 2].ravel(),
            "valid_x1": ps.valid[..., 3].ravel(),
            "clipped": clipped.ravel().astype(np.int64),
            "patch_size": p,
        }
    )
    return df[TSV_COLUMNS]


def load_patches(path: str, layer: str | None = None) -> dict[str, np.ndarray]:
    """Read a patch ``.npz``; checks the keys and shapes (errors name the file)."""
    with np.load(path) as z:
        d = {key: z[key] for key in z.files}
    need = ("patches", "neurons", "image_ids", "activations")
    missing = [key for key in need if key not in d]
    if missing:
        raise ValueError(f"patch file {path} lacks keys {missing}")
    if d["patches"].dtype != np.uint8 or d["patches"].ndim != 5:
        raise ValueError(f"patch file {path}: 'patches' must be uint8 [n, n_show, P, P, 3]")
    return d


def make_patches(
    method: str,
    model: nn.Module,
    images: np.ndarray,
    topk: LayerTopK,
    layer: str,
    n_show: int,
    *,
    rf: ReceptiveField | None = None,
    rf_fill: str = "reflect",
    **vital_options: Any,
) -> PatchSet:
    """Dispatch on ``patches.method`` (error lists the valid methods).

    ``vital_options`` go by keyword to :func:`vital_patches` (``window_224``, ``stride_fraction``,
    ``batch_size``, ``device``, ``progress``); ``receptive_field`` ignores them, as ``vital``
    ignores ``rf`` and ``rf_fill``.
    """
    if method == "vital":
        return vital_patches(model, images, topk, layer, n_show, **vital_options)
    if method == "receptive_field":
        if rf is None:
            raise ValueError("receptive_field patches need the layer's ReceptiveField")
        return rf_patches(images, topk, rf, n_show, rf_fill)
    raise ValueError(f"patches.method {method!r} is not one of {', '.join(METHODS)}")
