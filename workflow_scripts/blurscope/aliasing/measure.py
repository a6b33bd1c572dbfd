"""Aliasing (AVR) and shift instability (SIS) at every stride>1 operation.

Kashyap's spectral-aliasing study (docs/references.md) asks how much feature-map
energy violates the sampling theorem right before each downsampling operation of a
CNN and whether that predicts how much
the network's output changes under one-pixel shifts. This module provides:

* **Stride points** come from :mod:`blurscope.aliasing.stride_points`
  (:func:`~blurscope.aliasing.stride_points.discover_stride_points`: every ``Conv2d`` and
  pooling layer with stride > 1 and every BlurPool module, hooked at the *input
  of the blur*; :func:`~blurscope.aliasing.stride_points.match_points` pairs a standard
  network's points one-to-one with its BlurPool twin's).
* **AVR** (:func:`avr`): the alias violation ratio of a feature map, per image,
  from the channel-mean power spectrum on :mod:`blurscope.freq`'s grid, with
  each channel's spatial mean removed first by default (``remove_mean``).
  ``region="radial"`` is that study's definition (normalised radius > 1/stride);
  ``region="separable"`` counts ``max(|fy|, |fx|) > 1/stride``, which is exactly
  what subsampling each axis by ``stride`` folds back.
* **SIS** (:func:`sis`): mean over the four one-pixel circular shifts of
  ``1 - cos(softmax(f(x)), softmax(f(shift(x))))``; also top-1 agreement under
  shift ("consistency"). :func:`shift_metrics` measures AVR at every stride
  point (inside forward-pre-hooks, on the originals only) and SIS/consistency in
  one batched pass of ``5 × B`` images.
* **Frequency sweep** (:func:`sinusoid_images`, :func:`frequency_sweep_direct`,
  :func:`frequency_sweep_network`): periodic sinusoids with integer cycles.
* **Statistics** (:func:`aliasing_statistics`, in the torch-free
  :mod:`blurscope.aliasing.stats`): every interval, paired test, correlation and
  trend comes from :mod:`blurscope.stats`.

Units: frequencies are *normalised* (1 = per-axis Nyquist, see
:mod:`blurscope.freq`); AVR is a fraction of power in [0, 1]; SIS is a cosine
distance of probability vectors in [0, 1].
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from blurscope import freq
from blurscope.aliasing.stats import AVR_METRICS, IMAGE_METRICS, aliasing_statistics  # noqa: F401  (re-exported)
from blurscope.aliasing.stride_points import StridePoint
from blurscope.hooks import capture, get_module

REGIONS: tuple[str, str] = ("radial", "separable")
"""AVR pass-region definitions (see :func:`avr`)."""

SHIFTS: tuple[tuple[str, int, int], ...] = (
    ("up", -1, 2),
    ("down", 1, 2),
    ("left", -1, 3),
    ("right", 1, 3),
)
"""The four one-pixel circular shifts: (name, roll amount, tensor dim)."""

ORIENTATIONS: tuple[str, ...] = ("horizontal", "vertical", "diagonal")
"""Sinusoid orientations: the axis along which intensity varies (diagonal: both)."""


# --------------------------------------------------------------------------- spectra and AVR


def _check_map(feature_map: torch.Tensor) -> None:
    if not isinstance(feature_map, torch.Tensor) or feature_map.ndim != 4:
        shape = tuple(feature_map.shape) if isinstance(feature_map, torch.Tensor) else type(feature_map).__name__
        raise ValueError(f"expected a feature map [B, C, H, W], got {shape}")


def alias_mask(h: int, w: int, stride: int = 2, region: str = "radial") -> np.ndarray:
    """Boolean ``[h, w]`` (unshifted FFT order): True where power counts as aliased.

    ``radial``: normalised radius > 1/stride; ``separable``: ``max(|fy|,|fx|)`` > 1/stride.
    """
    if region not in REGIONS:
        raise ValueError(f"AVR region must be one of {REGIONS}, got {region!r}")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    grid = freq.normalized_radius(h, w) if region == "radial" else freq.normalized_chebyshev(h, w)
    # tolerance: a component exactly at the cutoff (e.g. 16 cycles in 64 px) is not aliased
    return grid > (1.0 / stride) + 1e-9


def _rfft_weights(h: int, w: int, stride: int, regions: Sequence[str], like: torch.Tensor) -> torch.Tensor:
    """``[1 + len(regions), h, w//2+1]`` weights on the rfft2 half-plane: row 0 = all power,
    then one aliased-power mask per region; each column weighted by its Hermitian multiplicity."""
    wr = w // 2 + 1
    mult = np.full(wr, 2.0)
    mult[0] = 1.0
    if w % 2 == 0:
        mult[-1] = 1.0
    rows = [np.ones((h, wr)) * mult]
    for region in regions:
        rows.append(alias_mask(h, w, stride, region)[:, :wr] * mult)
    return freq.as_tensor(np.stack(rows), like)


def _dft_operators(
    h: int, w: int, stride: int, regions: Sequence[str], like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Real DFT operators restricted to the separable pass rectangle, and pass weights.

    Rows: the ``ky`` with normalised ``|fy| <= 1/stride``; columns: ``kx >= 0``
    with normalised ``fx <= 1/stride`` (the other half follows by Hermitian
    symmetry). Returns ``ey [2·ny, h]`` (cos rows then sin rows), ``ex [w, 2·nx]``
    (cos columns then sin columns) and ``pass_w [len(regions), ny, nx]``: the
    Hermitian multiplicity of each column times the region's *pass* mask
    (the complement of :func:`alias_mask`, taken from the same grid).
    """
    wr = w // 2 + 1
    rows_all = np.arange(h)
    full = {r: ~alias_mask(h, w, stride, r)[:, :wr] for r in regions}
    sep = ~alias_mask(h, w, stride, "separable")[:, :wr]
    rows = rows_all[sep.any(axis=1)]
    cols = np.arange(wr)[sep.any(axis=0)]
    mult = np.where((cols == 0) | ((w % 2 == 0) & (cols == w // 2)), 1.0, 2.0)
    ang_y = 2 * np.pi * np.outer(rows, np.arange(h)) / h  # [ny, h]
    ang_x = 2 * np.pi * np.outer(np.arange(w), cols) / w  # [w, nx]
    ey = np.concatenate([np.cos(ang_y), np.sin(ang_y)], axis=0)
    ex = np.concatenate([np.cos(ang_x), np.sin(ang_x)], axis=1)
    pass_w = np.stack([full[r][np.ix_(rows, cols)] * mult for r in regions])
    return freq.as_tensor(ey, like), freq.as_tensor(ex, like), freq.as_tensor(pass_w, like)


class AvrKernel:
    """Per-image AVR of many maps for the given regions; operators cached per
    (h, w, stride, device, dtype). Reuse one instance across batches (as
    :func:`analyse_images` does) so they are built once.
    ``kernel(feature_map [B, C, H, W], stride) -> [len(regions), B]``.

    Two exact evaluations of the same sum (tested against each other):

    * ``"fft"``: ``rfft2`` of every channel; aliased and total power summed with
      Hermitian column weights.
    * ``"dft"``: total power from Parseval (``H·W·Σx²``) and the power *inside*
      the pass region from a DFT restricted to the separable pass rectangle,
      computed as two small matrix products (about 1/s² of the spectrum);
      aliased = total − pass. Several times faster than ``rfft2`` on CPU for
      feature-map sizes, where FFT libraries are slow on many small 2-D
      transforms.
    * ``"auto"`` (default): ``"dft"`` for maps up to 128 px per side, else ``"fft"``.

    ``remove_mean=True`` (default) subtracts each channel's spatial mean first
    (:func:`remove_channel_mean`), so the DC term is 0 and a constant offset
    does not change the AVR; ``False`` keeps the DC term in the total, as in
    Kashyap's aliasing study.
    """

    def __init__(self, regions: Sequence[str] = REGIONS, method: str = "auto", remove_mean: bool = True) -> None:
        for region in regions:
            if region not in REGIONS:
                raise ValueError(f"AVR region must be one of {REGIONS}, got {region!r}")
        if method not in ("auto", "fft", "dft"):
            raise ValueError(f"AVR method must be 'auto', 'fft' or 'dft', got {method!r}")
        if not isinstance(remove_mean, bool):
            raise TypeError(f"aliasing.remove_mean must be true or false, got {remove_mean!r}")
        self.regions = tuple(regions)
        self.method = method
        self.remove_mean = remove_mean
        self._cache: dict[tuple, tuple[torch.Tensor, ...]] = {}

    def __call__(self, feature_map: torch.Tensor, stride: int) -> torch.Tensor:
        """``[B, C, H, W]`` → ``[len(regions), B]`` AVR (0 for a map with no power)."""
        _check_map(feature_map)
        x = feature_map if feature_map.dtype == torch.float64 else feature_map.float()
        if self.remove_mean:
            x = remove_channel_mean(x)
        b, c, h, w = x.shape
        method = self.method if self.method != "auto" else ("dft" if max(h, w) <= 128 else "fft")
        key = (method, h, w, int(stride), x.device, x.dtype)
        ops = self._cache.get(key)
        if ops is None:
            if method == "fft":
                ops = (_rfft_weights(h, w, int(stride), self.regions, x),)
            else:
                ops = _dft_operators(h, w, int(stride), self.regions, x)
            self._cache[key] = ops
        if method == "fft":
            spec = torch.fft.rfft2(x)
            power = spec.real.square_() + spec.imag.square_()
            sums = torch.einsum("bchw,rhw->rb", power, ops[0])
            total, aliased = sums[0], sums[1:]
        else:
            ey, ex, pass_w = ops
            ny, nx = ey.shape[0] // 2, ex.shape[1] // 2
            if c < 16 or x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
                x = x.contiguous()
                flat = x.reshape(b, -1)
                a = torch.matmul(x.reshape(b * c, h, w), ex)  # [N, h, 2nx]: x·cos | x·sin
                y = torch.matmul(ey, a).reshape(b, c, 2 * ny, 2 * nx)
            else:  # channels-last maps (CPU convs keep that layout): contract in place, no copy
                nhwc = x.permute(0, 2, 3, 1)  # contiguous view [B, H, W, C]
                flat = nhwc.reshape(b, -1)
                a = torch.matmul(ex.T, nhwc.reshape(b * h, w, c))  # [B·H, 2nx, C]
                y = torch.matmul(ey, a.reshape(b, h, 2 * nx * c)).reshape(b, 2 * ny, 2 * nx, c)
                y = y.permute(0, 3, 1, 2)  # [B, C, 2ny, 2nx] view
            re = y[..., :ny, :nx] - y[..., ny:, nx:]
            im = y[..., ny:, :nx] + y[..., :ny, nx:]
            power = re.square_() + im.square_()
            passed = torch.einsum("bcyx,ryx->rb", power, pass_w)
            total = torch.linalg.vecdot(flat, flat) * (h * w)  # Parseval
            aliased = total.unsqueeze(0) - passed
        ratio = aliased / torch.where(total > 0, total, torch.ones_like(total))
        return ratio.clamp_(0.0, 1.0)


def remove_channel_mean(feature_map: torch.Tensor) -> torch.Tensor:
    """Each channel minus its spatial mean, ``[B, C, H, W]`` → same shape (a new tensor).

    The channel's first pixel is subtracted first, which does not change the
    result and makes a constant channel exactly 0 (no rounding residue that a
    ratio of two tiny powers would turn into an arbitrary AVR).
    """
    _check_map(feature_map)
    x = feature_map - feature_map[..., :1, :1]
    return x - x.mean(dim=(-2, -1), keepdim=True)


def avr(feature_map: torch.Tensor, stride: int = 2, region: str = "radial", remove_mean: bool = True) -> torch.Tensor:
    """Alias violation ratio per image.

    ``AVR = Σ_{aliased (fy,fx)} P / Σ_all P`` with ``P = mean_c |FFT2(F_c)|²``
    on :mod:`blurscope.freq`'s grid; aliased means normalised radius > 1/stride
    (``region="radial"``) or ``max(|fy|, |fx|) > 1/stride`` (``region="separable"``).
    With ``remove_mean=True`` (default) each channel's spatial mean is removed
    first, so the DC term is 0 and a constant offset (post-ReLU maps are
    positive) does not change the AVR: a fully aliased sinusoid reads 1.0 with
    or without +3 added. ``remove_mean=False`` keeps the DC term in the total,
    as in Kashyap's aliasing study (then that sinusoid + 3 reads 0.05).

    Args:
        feature_map: ``[B, C, H, W]`` (any H, W >= 1, odd sizes exact).
        stride: the downsampling factor that follows.
        region: ``"radial"`` or ``"separable"``.
        remove_mean: remove each channel's spatial mean first (default).

    Returns:
        float ``[B]`` in [0, 1]; a map with no power (all zero, or constant
        channels with ``remove_mean``) has AVR 0.
    """
    return AvrKernel((region,), remove_mean=remove_mean)(feature_map, stride)[0]


def avr_regions(feature_map: torch.Tensor, stride: int = 2, remove_mean: bool = True) -> dict[str, torch.Tensor]:
    """AVR for both regions from one FFT: ``{"radial": [B], "separable": [B]}`` (see :func:`avr`)."""
    out = AvrKernel(REGIONS, remove_mean=remove_mean)(feature_map, stride)
    return {r: out[i] for i, r in enumerate(REGIONS)}


# --------------------------------------------------------------------------- SIS


def circular_shifts(images: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` → ``[5B, C, H, W]``: the originals, then up, down, left, right (1 px, circular)."""
    _check_map(images)
    return torch.cat([images] + [torch.roll(images, shifts=s, dims=d) for _, s, d in SHIFTS], dim=0)


def _points_dict(model: nn.Module, points: Iterable[StridePoint] | Mapping[str, int] | None) -> dict[str, int]:
    if points is None:
        return {}
    if isinstance(points, Mapping):
        pts = {str(k): int(v) for k, v in points.items()}
    else:
        pts = {p.name: p.stride for p in points}
    for name in pts:
        get_module(model, name)  # KeyError listing valid names
    return pts


def shift_metrics(
    model: nn.Module,
    images: torch.Tensor,
    points: Iterable[StridePoint] | Mapping[str, int] | None = None,
    regions: Sequence[str] = REGIONS,
    kernel: AvrKernel | None = None,
    chunks: int = 1,
    remove_mean: bool = True,
) -> dict[str, object]:
    """AVR at every stride point + SIS + consistency for a batch, in one pass.

    The originals and their four one-pixel circular shifts form one ``5B``
    batch (originals first); forward-pre-hooks compute the AVR of each point's
    input for the ``B`` originals on the fly (nothing else is kept).

    Args:
        model: network in eval mode, ``[N, 3, H, W] -> logits [N, K]``.
        images: float ``[B, 3, H, W]`` as the model expects them.
        points: stride points (or ``{name: stride}``); ``None`` = no AVR.
        regions: AVR regions to compute.
        kernel: an :class:`AvrKernel` to reuse across calls (masks cached);
            it carries its own ``regions`` and ``remove_mean``.
        chunks: forward the ``5B`` batch in this many consecutive pieces
            (1 = one forward, best on a GPU; 5 = one forward per shift, each of
            the size of a bare forward of the batch, which avoids the
            higher per-image cost of large batches on a CPU). Results do not
            depend on it (eval mode), up to float rounding.
        remove_mean: AVR without the DC term (see :func:`avr`); used when
            ``kernel`` is not given.

    Returns:
        dict with ``sis`` ``[B]``, ``consistency`` ``[B]`` (fraction of the four
        shifts whose top-1 class equals the original's), ``pred`` ``[B]`` (top-1
        of the original), ``avr`` ``{name: {region: [B]}}``; all on CPU.

    Raises:
        ValueError: model in training mode, bad image shape or ``chunks``.
    """
    _check_map(images)
    if model.training:
        raise ValueError("shift_metrics needs the model in eval mode (call model.eval()); "
                         "batch norm in training mode mixes the shifted copies")
    if not 1 <= int(chunks) <= 5:
        raise ValueError(f"chunks must be between 1 and 5, got {chunks}")
    pts = _points_dict(model, points)
    kern = kernel if kernel is not None else AvrKernel(regions, remove_mean=remove_mean)
    b = images.shape[0]
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in pts}
    offset = [0, 0]  # rows of the current forward: [start, stop) within the 5B batch

    # points fed by the very same tensor (a block's conv1 and its downsample) share one AVR
    # (the tensor is kept referenced until the forward ends, so its address cannot be reused)
    same_input: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(name: str, _m: nn.Module, inputs: tuple, _o: object) -> None:
        start, stop = offset
        have = sum(v.shape[1] for v in parts[name])
        # originals in this forward not yet measured (a module called twice keeps its first call)
        lo, hi = max(start, have), min(stop, b)
        if lo < hi and lo == have:
            x = inputs[0]
            key = (x.data_ptr(), tuple(x.shape), tuple(x.stride()), start, lo, hi, pts[name])
            hit = same_input.get(key)
            if hit is None or hit[0] is not x:
                hit = same_input[key] = (x, kern(x[lo - start : hi - start], pts[name]).cpu())
            parts[name].append(hit[1])

    batch = circular_shifts(images)
    size = math.ceil(5 * b / int(chunks))
    logits_parts = []
    with capture(model, list(pts), hook, pre=True), torch.inference_mode():
        for start in range(0, 5 * b, size):
            offset[:] = [start, min(start + size, 5 * b)]
            same_input.clear()  # keys hold data pointers: valid within one forward only
            logits_parts.append(model(batch[start : start + size]))
    logits = torch.cat(logits_parts)
    if logits.ndim != 2 or logits.shape[0] != 5 * b:
        raise ValueError(f"model must return logits [N, K]; got shape {tuple(logits.shape)} for N={5 * b}")
    probs = torch.softmax(logits.float(), dim=1)
    p0 = probs[:b]
    shifted = probs[b:].reshape(len(SHIFTS), b, -1)
    cos = F.cosine_similarity(p0.unsqueeze(0).expand_as(shifted), shifted, dim=2)
    sis_vals = (1.0 - cos).clamp_(min=0.0).mean(dim=0)
    top0 = p0.argmax(dim=1)
    agree = (shifted.argmax(dim=2) == top0.unsqueeze(0)).float().mean(dim=0)
    missing = sorted(n for n, v in parts.items() if sum(t.shape[1] for t in v) != b)
    if missing:
        raise ValueError(f"stride points never called in the forward pass: {missing}")
    avrs = {n: {r: torch.cat([t[i] for t in v]) for i, r in enumerate(kern.regions)} for n, v in parts.items()}
    return {"sis": sis_vals.cpu(), "consistency": agree.cpu(), "pred": top0.cpu(), "avr": avrs}


def sis(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Shift instability score per image: mean over the 4 one-pixel circular
    shifts of ``1 - cos(softmax(model(x)), softmax(model(shift(x))))``; ``[B]`` in [0, 1]."""
    return shift_metrics(model, images, points=None)["sis"]  # type: ignore[return-value]


def analyse_images(
    model: nn.Module,
    images: torch.Tensor | np.ndarray,
    points: Sequence[StridePoint],
    batch_size: int = 32,
    labels: np.ndarray | None = None,
    image_ids: np.ndarray | None = None,
    point_names: Mapping[str, str] | None = None,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
    chunks: int = 1,
    remove_mean: bool = True,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Stream images through :func:`shift_metrics` and return the tidy table.

    Args:
        images: float ``[N, 3, H, W]`` in [0, 1] (tensor or array), or uint8
            ``[N, H, W, 3]`` (as stored in ``analysis_images.npz``) — converted
            (:func:`blurscope.data.files.to_float`) and moved to ``device`` one batch
            at a time, so only one batch is ever held as float.
        points: stride points of ``model``.
        labels, image_ids: optional ``[N]`` ground truth / ids for the table.
        point_names: ``{layer: canonical point}`` (standard-model name); default identity.
        progress: called with the number of images done after each batch.
        chunks: see :func:`shift_metrics`.
        remove_mean: AVR with each channel's spatial mean removed (default;
            ``False`` = DC term in the total), see :func:`avr`.

    Returns:
        ``(table, timing)``: one row per image × point with columns ``image``
        (index), ``image_id``, ``label``, ``pred``, ``correct``, ``layer``,
        ``point``, ``order``, ``op``, ``kind``, ``stride``, ``avr_radial``,
        ``avr_separable``, ``sis``, ``consistency``; timing ``{"seconds",
        "images_per_s"}`` of the measurement loop.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(images)
    if n == 0:
        raise ValueError("no images to analyse")
    names = point_names or {}
    kern = AvrKernel(REGIONS, remove_mean=remove_mean)
    cols: dict[str, list] = {k: [] for k in ("sis", "consistency", "pred")}
    avr_cols: dict[tuple[str, str], list] = {(p.name, r): [] for p in points for r in REGIONS}
    dev = torch.device(device)
    t0 = time.perf_counter()
    for start in range(0, n, batch_size):
        batch = _float_batch(images[start : start + batch_size]).to(dev)
        res = shift_metrics(model, batch, points, REGIONS, kern, chunks)
        for k in cols:
            cols[k].append(res[k].numpy())  # type: ignore[union-attr]
        for (name, r), lst in avr_cols.items():
            lst.append(res["avr"][name][r].numpy())  # type: ignore[index]
        if progress is not None:
            progress(len(batch))
    seconds = time.perf_counter() - t0
    per_image = {k: np.concatenate(v) for k, v in cols.items()}
    lab = np.full(n, -1, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    ids = np.arange(n, dtype=np.int64) if image_ids is None else np.asarray(image_ids, dtype=np.int64)
    if len(lab) != n or len(ids) != n:
        raise ValueError(f"labels/ids length ({len(lab)}/{len(ids)}) differs from the number of images ({n})")
    frames = []
    for p in points:
        frames.append(
            pd.DataFrame(
                {
                    "image": np.arange(n),
                    "image_id": ids,
                    "label": lab,
                    "pred": per_image["pred"],
                    "correct": (per_image["pred"] == lab).astype(np.int64),
                    "layer": p.name,
                    "point": names.get(p.name, p.name),
                    "order": p.order,
                    "op": p.op,
                    "kind": p.kind,
                    "stride": p.stride,
                    "avr_radial": np.concatenate(avr_cols[(p.name, "radial")]),
                    "avr_separable": np.concatenate(avr_cols[(p.name, "separable")]),
                    "sis": per_image["sis"],
                    "consistency": per_image["consistency"],
                }
            )
        )
    table = pd.concat(frames, ignore_index=True).sort_values(["image", "order"], kind="stable")
    return table.reset_index(drop=True), {"seconds": seconds, "images_per_s": n / max(seconds, 1e-12)}


def _float_batch(batch: torch.Tensor | np.ndarray) -> torch.Tensor:
    """A batch as float32 ``[B, 3, H, W]``: uint8 ``[B, H, W, 3]`` is converted with ``to_float``."""
    t = torch.as_tensor(batch)
    if t.dtype == torch.uint8:
        from blurscope.data.files import to_float

        return to_float(t)
    if t.ndim != 4:
        raise ValueError(f"images must be float [N, 3, H, W] or uint8 [N, H, W, 3], got {t.dtype} {tuple(t.shape)}")
    return t.float()


# --------------------------------------------------------------------------- frequency sweep


def sweep_cycles(size: int, freq_min: float, freq_max: float, n_freqs: int) -> np.ndarray:
    """Integer cycle counts ``k`` (unique, sorted) closest to ``n_freqs`` normalised
    frequencies evenly spaced in ``[freq_min, freq_max]`` for a ``size``-px image
    (normalised frequency ``= 2k/size``)."""
    if not 0 < freq_min <= freq_max < 1:
        raise ValueError(f"sweep frequencies must satisfy 0 < freq_min <= freq_max < 1, got {freq_min}, {freq_max}")
    if n_freqs < 1 or size < 4:
        raise ValueError(f"need n_freqs >= 1 and size >= 4, got {n_freqs}, {size}")
    k = np.rint(np.linspace(freq_min, freq_max, n_freqs) * size / 2.0).astype(np.int64)
    return np.unique(np.clip(k, 1, (size - 1) // 2))


def sinusoid_images(size: int, cycles: Sequence[int], orientation: str, amplitude: float = 1.0) -> torch.Tensor:
    """Zero-mean periodic sinusoids ``amplitude · sin(2π(kx·x + ky·y)/size)``, ``[len(cycles), 1, size, size]``.

    ``horizontal`` varies along x (kx = k, ky = 0), ``vertical`` along y,
    ``diagonal`` along both (kx = ky = k): per-axis normalised frequency
    ``2k/size``, radial ``√2 · 2k/size``. Integer cycles make them exactly
    periodic (no spectral leakage). float64.
    """
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    kx_on, ky_on = {"horizontal": (1, 0), "vertical": (0, 1), "diagonal": (1, 1)}[orientation]
    coord = torch.arange(size, dtype=torch.float64) / size
    k = torch.as_tensor(np.asarray(cycles), dtype=torch.float64).view(-1, 1, 1)
    phase = 2 * math.pi * k * (kx_on * coord.view(1, 1, -1) + ky_on * coord.view(1, -1, 1))
    return (amplitude * torch.sin(phase)).unsqueeze(1)


def _sweep_frame(size: int, cycles: np.ndarray, orientation: str) -> pd.DataFrame:
    f_axis = 2.0 * cycles / size
    return pd.DataFrame(
        {
            "orientation": orientation,
            "cycles": cycles,
            "freq_axis": f_axis,
            "freq_radial": f_axis * (math.sqrt(2.0) if orientation == "diagonal" else 1.0),
        }
    )


def frequency_sweep_direct(
    size: int,
    cycles: np.ndarray,
    orientations: Sequence[str] = ORIENTATIONS,
    stride: int = 2,
    remove_mean: bool = True,
) -> pd.DataFrame:
    """AVR of the zero-mean sinusoids themselves (the sampling-theory ground truth;
    ``remove_mean`` changes nothing for them up to rounding).

    Returns columns ``orientation cycles freq_axis freq_radial avr_radial avr_separable``.
    """
    frames = []
    for o in orientations:
        vals = avr_regions(sinusoid_images(size, cycles, o), stride, remove_mean=remove_mean)
        df = _sweep_frame(size, cycles, o)
        for r in REGIONS:
            df[f"avr_{r}"] = vals[r].numpy()
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def frequency_sweep_network(
    model: nn.Module,
    size: int,
    cycles: np.ndarray,
    points: Sequence[StridePoint],
    orientations: Sequence[str] = ORIENTATIONS,
    amplitude: float = 1.0,
    batch_size: int = 32,
    point_names: Mapping[str, str] | None = None,
    remove_mean: bool = True,
) -> pd.DataFrame:
    """AVR at each stride point of ``model`` for RGB-grey images ``0.5 + 0.5·amplitude·sin``
    (``remove_mean``: see :func:`avr`).

    Returns one row per orientation × frequency × point: ``orientation cycles
    freq_axis freq_radial layer point order stride avr_radial avr_separable``.
    """
    if not 0 < amplitude <= 1:
        raise ValueError(f"sweep amplitude must be in (0, 1], got {amplitude}")
    if model.training:
        raise ValueError("frequency_sweep_network needs the model in eval mode")
    names = point_names or {}
    pts = _points_dict(model, points)
    kern = AvrKernel(REGIONS, remove_mean=remove_mean)
    dev = next(iter(model.parameters())).device
    frames = []
    for o in orientations:
        imgs = (0.5 + 0.5 * sinusoid_images(size, cycles, o, amplitude)).float().expand(-1, 3, -1, -1)
        acc: dict[str, list[torch.Tensor]] = {p: [] for p in pts}
        for s in range(0, len(imgs), batch_size):
            got: dict[str, torch.Tensor] = {}

            def hook(name: str, _m: nn.Module, inputs: tuple, _o: object, got: dict = got) -> None:
                if name not in got:
                    got[name] = kern(inputs[0], pts[name]).cpu()

            with capture(model, list(pts), hook, pre=True), torch.inference_mode():
                model(imgs[s : s + batch_size].to(dev))
            for p in pts:
                acc[p].append(got[p])
        base = _sweep_frame(size, cycles, o)
        for p in points:
            vals = torch.cat(acc[p.name], dim=1)
            df = base.copy()
            df["layer"] = p.name
            df["point"] = names.get(p.name, p.name)
            df["order"] = p.order
            df["stride"] = p.stride
            for i, r in enumerate(REGIONS):
                df[f"avr_{r}"] = vals[i].numpy()
            frames.append(df)
    return pd.concat(frames, ignore_index=True)
