"""Band intervention inside feature maps (after the band-isolation study, docs/references.md).

Take the output of one layer, keep a single radial band of its 2-D Fourier
spectrum (per image and channel), transform back and let the rest of the
network run on the filtered map. Accuracy and mean ground-truth (GT) rank per
band say which spatial frequencies of that layer's representation the
downstream network (the model's **own head**) and a separately trained
**MLP probe** can still classify from.

Frequencies
-----------
Radii come from :func:`blurscope.freq.normalized_radius` (the library's single
``fftfreq`` grid): 1 = per-axis Nyquist, the spectrum's corners lie at √2.
A band ``(low, high)`` holds the frequencies with ``low <= r < high``.
Configured bands are given by their edges ``e_0 = 0 < e_1 < ... < e_n`` with
``e_n >= √2``; band ``i`` is ``[e_i, e_{i+1})`` except the **last band, which
is closed** (``e_{n-1} <= r <= e_n``), so the bands partition the whole
spectrum: every frequency bin, including the corners at exactly √2, belongs to
exactly one band (:func:`band_masks`). The default edges
``0, 0.25, 0.5, 1, √2`` name the bands ``ultra-low, low, mid, high``; "high"
is the region at or beyond the per-axis Nyquist radius (the spectrum's
corners). On small maps a band can hold no frequency bin at all (e.g. "low"
on a 4×4 map, whose radii are 0, 0.5, 0.71, 1, 1.12, 1.41): such a band gives
an all-zero map, exactly like the empty-band control; :func:`band_table`
reports ``n_freqs`` per band and map size so this is visible in every table.

Masks built from radii are symmetric under ``f -> -f`` (``fftfreq`` is), so
band isolation is a real orthogonal projection: ``real(ifft2(fft2(x) * m))``
equals ``irfft2(rfft2(x) * m_half)`` (used for speed in the batched runner)
and the isolated bands of a partition sum back to ``x``.

Layers that are not ``[B, C, H, W]`` maps
-----------------------------------------
Layer outputs are turned into a grid of channels (:class:`GridView`):

* 4-D outputs are taken as ``[B, C, H, W]`` (``layout="nchw"``, default for
  CNNs); ``layout="nhwc"`` handles channels-last stages (timm Swin, ...).
* 3-D outputs ``[B, N, C]`` are token sequences (ViT blocks). The first
  ``P`` tokens are prefix tokens (class / distillation / register tokens: the
  root model's ``num_prefix_tokens``, as in timm); the remaining ``N - P``
  patch tokens are reshaped to the patch grid (the root model's
  ``patch_embed.grid_size`` when present, else a square grid) and filtered as
  a ``[B, C, Hp, Wp]`` map. Prefix tokens have no spatial position; policy
  ``prefix_tokens``: ``"dc"`` (default) treats them as part of the DC term —
  kept in every band that contains the DC bin (so the all-band union is the
  identity and the empty band removes them), zeroed otherwise; ``"keep"``
  passes them through unchanged in every band (the band-isolation study's code: a bypass that
  makes late blocks look informative in every band); ``"zero"`` zeroes them
  in every filtered row.

Heads
-----
* ``own``: the model's own remaining layers and classifier.
* ``mlp``: a one-hidden-layer MLP trained on the frozen, **unmodified**
  features of the same layer of a training subset, then evaluated on the
  band-isolated features. Its readout is the layer map average-pooled to at
  most ``grid × grid`` positions and flattened (plus the prefix tokens), not a
  global average: a global average is exactly the DC coefficient, so a
  GAP-fed head would see nothing of any band without DC (``grid=1`` gives that
  readout on purpose, if wanted). Maps no larger than ``grid`` are read
  whole, which keeps the readout frequency-neutral; larger maps are
  box-filtered (a low-pass) before the probe.

All bands of one layer go through in one batched pass (:func:`band_logits`):
``strategy="expand"`` runs the network up to the layer once and returns from
the hook a batch ``R`` times larger (one copy per band/control), so only the
layers after it run per band; ``strategy="repeat"`` repeats the input batch
``R`` times instead (always valid, ``R`` full forwards). ``"auto"`` uses
expand after checking it against repeat on the first ≤ 8 images (a skip connection
that bypasses the hooked layer would break expand) and falls back otherwise.

The statistics of the results (per-layer summaries, per-image runs on disk,
the comparison across models) are in :mod:`blurscope.bands.stats`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from blurscope import freq, hooks

LOG = logging.getLogger("blurscope.bands.intervention")

MAX_RADIUS = freq.BAND_MAX_RADIUS
"""Largest normalised radius on the grid (the corners)."""

EDGE_TOL = freq.BAND_EDGE_TOL
"""Tolerance for the closed top edge and the ``edges[-1] >= √2`` check."""

DEFAULT_BAND_NAMES = freq.DEFAULT_BAND_NAMES
DEFAULT_EDGES: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, MAX_RADIUS)

CONTROL_ROWS = freq.BAND_CONTROL_ROWS
"""Rows run beside the bands: the untouched layer output, the FFT round trip
through the union of all band masks (must reproduce ``unmodified``) and the
all-zero empty band (must give chance)."""

PREFIX_POLICIES = ("dc", "keep", "zero")
LAYOUTS = ("auto", "nchw", "nhwc", "tokens")
STRATEGIES = ("auto", "expand", "repeat")


# --------------------------------------------------------------------------
# masks


def band_mask(h: int, w: int, low: float, high: float, *, closed: bool = False) -> torch.Tensor:
    """Boolean mask ``[h, w]`` (unshifted FFT order) of ``low <= r < high``.

    ``r`` is :func:`blurscope.freq.normalized_radius` (1 = per-axis Nyquist,
    corners at √2). ``closed=True`` includes the top edge (``r <= high``, with
    a 1e-9 tolerance); :func:`band_masks` closes the last band so configured
    bands cover the corners.
    """
    if math.isnan(low) or math.isnan(high):
        raise ValueError(f"band edges must be numbers, got low={low}, high={high}")
    if high < low:
        raise ValueError(f"band needs low <= high, got low={low}, high={high}")
    r = freq.normalized_radius(h, w)
    upper = r <= high + EDGE_TOL if closed else r < high
    return torch.from_numpy(np.ascontiguousarray((r >= low) & upper))


validate_bands = freq.validate_bands


def band_masks(h: int, w: int, edges: Sequence[float]) -> torch.Tensor:
    """Masks ``[n_bands, h, w]`` of the configured bands; the last band is closed.

    The bands are :func:`blurscope.freq.band_bins`: with valid edges
    (:func:`validate_bands`) every bin is in exactly one band, and band ``i``
    equals ``band_mask(h, w, edges[i], edges[i+1], closed=i == n_bands - 1)``.
    """
    return torch.from_numpy(freq.band_bins(h, w, edges).masks())


def band_table(h: int, w: int, edges: Sequence[float], names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per band at map size ``h × w``: ``band low high n_freqs mean_radius``.

    ``n_freqs`` = number of FFT bins in the band (0 = empty band at this size);
    ``mean_radius`` = mean normalised radius of those bins (NaN when empty).
    """
    edges, names = validate_bands(edges, names)
    bins = freq.band_bins(h, w, edges)
    return pd.DataFrame({
        "band": names,
        "low": edges[:-1],
        "high": edges[1:],
        "n_freqs": bins.counts.tolist(),
        "mean_radius": bins.radius.tolist(),
    })


# which layers can carry the bands: torch-free, in blurscope.freq (band_sample_counts,
# bands_without_samples, smallest_square_map), usable at parse time
check_band_layers = freq.check_band_layers


# --------------------------------------------------------------------------
# isolation


def half_masks(masks: torch.Tensor) -> torch.Tensor:
    """The ``rfft2`` half (``[..., H, W//2+1]``) of radially symmetric masks."""
    return masks[..., : masks.shape[-1] // 2 + 1]


def isolate_many(x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """All masks at once: ``[B, C, H, W]`` (or ``[R, B, C, H, W]``) → ``[R, B, C, H, W]``.

    ``masks``: bool ``[R, H, W]``, each symmetric under ``f -> -f`` (any mask
    from :func:`band_mask`); uses ``rfft2``/``irfft2``, equal to
    ``real(ifft2(fft2(x) * mask))`` per mask. A 5-D ``x`` pairs row ``r`` with mask ``r``;
    a 4-D ``x`` is transformed once and shared by all masks.
    """
    h, w = x.shape[-2:]
    if masks.shape[-2:] != (h, w):
        raise ValueError(f"mask shape {tuple(masks.shape[-2:])} does not match feature map {(h, w)}")
    xf = x.float() if x.dtype not in (torch.float32, torch.float64) else x
    spec = torch.fft.rfft2(xf, dim=(-2, -1))
    if x.dim() == 4:
        spec = spec.unsqueeze(0)
    m = half_masks(masks).to(device=x.device, dtype=xf.dtype)[:, None, None]
    out = torch.fft.irfft2(spec * m, s=(h, w), dim=(-2, -1))
    return out.to(x.dtype)


# --------------------------------------------------------------------------
# layer outputs as grids


@dataclass
class GridView:
    """How a layer output maps to a ``[B, C, H, W]`` grid and back.

    ``kind``: ``nchw`` | ``nhwc`` | ``tokens``; ``prefix``: number of prefix
    tokens (tokens only); ``grid``: ``(H, W)`` of the patch grid (tokens only).
    """

    kind: str
    prefix: int = 0
    grid: tuple[int, int] | None = None

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``out`` → (maps ``[B, C, H, W]``, prefix tokens ``[B, P, C]`` or None)."""
        if self.kind == "nchw":
            return out, None
        if self.kind == "nhwc":
            return out.permute(0, 3, 1, 2), None
        b, n, c = out.shape
        gh, gw = self.grid  # type: ignore[misc]
        patches = out[:, self.prefix :]
        maps = patches.transpose(1, 2).reshape(b, c, gh, gw)
        return maps, (out[:, : self.prefix] if self.prefix else None)

    def merge(self, maps: torch.Tensor, prefix: torch.Tensor | None) -> torch.Tensor:
        """Inverse of :meth:`split` for a batch of any size."""
        if self.kind == "nchw":
            return maps
        if self.kind == "nhwc":
            return maps.permute(0, 2, 3, 1)
        b, c = maps.shape[:2]
        tokens = maps.reshape(b, c, -1).transpose(1, 2)
        return torch.cat([prefix, tokens], dim=1) if prefix is not None else tokens


def grid_view(model: nn.Module, layer: str, output: object, layout: str = "auto") -> GridView:
    """Decide how to read ``output`` of ``layer`` as a channel grid.

    Raises:
        ValueError: naming the layer when the output is not a tensor of a
            supported shape or the token count does not fit a grid.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"bands.layout must be one of {LAYOUTS}, got {layout!r}")
    if not isinstance(output, torch.Tensor):
        raise ValueError(
            f"layer {layer!r} returns {type(output).__name__}, not a tensor; pick a layer whose output "
            "is a [B,C,H,W] map or a [B,N,C] token sequence"
        )
    shape = tuple(output.shape)
    if layout == "auto":
        layout = {4: "nchw", 3: "tokens"}.get(output.dim(), "")
        if not layout:
            raise ValueError(f"layer {layer!r} output has shape {shape}; expected [B,C,H,W] or [B,N,C] tokens")
    if layout in ("nchw", "nhwc"):
        if output.dim() != 4:
            raise ValueError(f"layer {layer!r}: layout {layout!r} needs a 4-D output, got shape {shape}")
        return GridView(layout)
    if output.dim() != 3:
        raise ValueError(f"layer {layer!r}: layout 'tokens' needs a [B,N,C] output, got shape {shape}")
    root = hooks.module_root(model)
    n = shape[1]
    prefix = int(getattr(root, "num_prefix_tokens", 0) or 0)
    grid = getattr(getattr(root, "patch_embed", None), "grid_size", None)
    if grid is not None and int(grid[0]) * int(grid[1]) == n - prefix:
        gh, gw = int(grid[0]), int(grid[1])
    else:
        side = math.isqrt(n - prefix)
        if side * side != n - prefix:
            raise ValueError(
                f"layer {layer!r}: {n} tokens minus {prefix} prefix tokens do not form a square grid; "
                "the root model needs num_prefix_tokens / patch_embed.grid_size (timm ViT has both)"
            )
        gh = gw = side
    return GridView("tokens", prefix=prefix, grid=(gh, gw))


# --------------------------------------------------------------------------
# rows (bands + controls) and the batched intervention


@dataclass
class RowSpec:
    """The rows of one intervention: names, masks (None = untouched) and DC flags."""

    names: list[str]
    masks: torch.Tensor  # bool [R, H, W]; the identity row holds an all-True mask
    identity: torch.Tensor  # bool [R]: row passes the layer output through untouched
    has_dc: torch.Tensor  # bool [R]: mask contains the DC bin

    def __len__(self) -> int:
        return len(self.names)


def row_spec(
    h: int, w: int, edges: Sequence[float], names: Sequence[str] | None = None, controls: bool = True
) -> RowSpec:
    """Controls (``unmodified``, ``union``, ``empty``) then the bands, for an ``h × w`` map."""
    edges, names = validate_bands(edges, names)
    bands = band_masks(h, w, edges)
    rows, masks, ident = [], [], []
    if controls:
        rows += list(CONTROL_ROWS)
        union = bands.any(dim=0)
        masks += [torch.ones(h, w, dtype=torch.bool), union, torch.zeros(h, w, dtype=torch.bool)]
        ident += [True, False, False]
    rows += names
    masks += list(bands)
    ident += [False] * len(names)
    m = torch.stack(masks)
    return RowSpec(rows, m, torch.tensor(ident), m[:, 0, 0].clone())


def filter_rows(maps: torch.Tensor, spec: RowSpec) -> torch.Tensor:
    """Band-isolated copies of ``maps`` ``[B, C, H, W]`` (or ``[R, B, ...]``) → ``[R, B, C, H, W]``.

    Identity rows get the input back bit for bit (no FFT round trip).
    """
    out = isolate_many(maps, spec.masks)
    if bool(spec.identity.any()):
        src = maps.unsqueeze(0).expand_as(out) if maps.dim() == 4 else maps
        keep = spec.identity.to(out.device)[:, None, None, None, None]
        out = torch.where(keep, src, out)
    return out


def filter_prefix(prefix: torch.Tensor | None, spec: RowSpec, policy: str) -> torch.Tensor | None:
    """Prefix tokens per row (``[B, P, C]`` or ``[R, B, P, C]`` → ``[R, B, P, C]``) under ``policy``."""
    if prefix is None:
        return None
    r = len(spec)
    src = prefix.unsqueeze(0).expand(r, *prefix.shape) if prefix.dim() == 3 else prefix
    if policy == "keep":
        keep = torch.ones(r, dtype=torch.bool)
    elif policy == "dc":
        keep = spec.has_dc | spec.identity
    elif policy == "zero":
        keep = spec.identity.clone()
    else:
        raise ValueError(f"bands.prefix_tokens must be one of {PREFIX_POLICIES}, got {policy!r}")
    return src * keep.to(device=src.device, dtype=src.dtype)[:, None, None, None]


def probe_readout(maps: torch.Tensor, prefix: torch.Tensor | None, grid: int) -> torch.Tensor:
    """MLP-probe input: maps ``[N, C, H, W]`` pooled to ≤ ``grid × grid`` and flattened.

    ``grid <= 0`` keeps the full map. Prefix tokens ``[N, P, C]`` are appended.
    Returns float32 ``[N, D]``.
    """
    h, w = maps.shape[-2:]
    if grid > 0 and (h > grid or w > grid):
        maps = F.adaptive_avg_pool2d(maps.float(), (min(h, grid), min(w, grid)))
    feats = maps.float().flatten(1)
    if prefix is not None:
        feats = torch.cat([feats, prefix.float().flatten(1)], dim=1)
    return feats


class _Stop(Exception):
    """Raised from a hook to end a forward pass early."""


def layer_output_shape(model: nn.Module, layer: str, example: torch.Tensor) -> tuple[int, ...]:
    """Output shape of ``layer`` for a batch like ``example`` (runs to the layer only)."""
    shape: list[tuple[int, ...]] = []

    def fn(_n: str, _m: nn.Module, _i: tuple, out: object) -> None:
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"layer {layer!r} returns {type(out).__name__}, not a tensor")
        shape.append(tuple(out.shape))
        raise _Stop

    with torch.inference_mode(), hooks.capture(model, [layer], fn):
        try:
            model(example)
        except _Stop:
            pass
    if not shape:
        raise ValueError(f"layer {layer!r} was not called in the forward pass")
    return shape[0]


def layer_features(
    model: nn.Module,
    layer: str,
    images: torch.Tensor,
    *,
    grid: int,
    layout: str = "auto",
    batch_size: int = 64,
    transform: Callable[[object], torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Unmodified probe features ``[N, D]`` of ``layer`` (forward stops at the layer).

    ``images``: anything indexable by slices whose batches ``transform`` turns
    into float ``[b, 3, H, W]`` tensors (default: already such a tensor).
    """
    model.eval()
    feats: list[torch.Tensor] = []
    view: list[GridView] = []

    def fn(_n: str, _m: nn.Module, _i: tuple, out: object) -> None:
        if not view:
            view.append(grid_view(model, layer, out, layout))
        maps, prefix = view[0].split(out)  # type: ignore[arg-type]
        feats.append(probe_readout(maps, prefix, grid).cpu())
        raise _Stop

    with torch.inference_mode(), hooks.capture(model, [layer], fn):
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size]
            x = (transform(x) if transform else x).to(device)
            try:
                model(x)
            except _Stop:
                pass
    return torch.cat(feats)


def _forward_rows(
    model: nn.Module,
    layer: str,
    x: torch.Tensor,
    spec: RowSpec,
    *,
    strategy: str,
    layout: str,
    prefix_tokens: str,
    probe: nn.Module | None,
    probe_grid: int,
    control_out: list[tuple[float, float, str]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One batched pass: own logits ``[R, B, K]`` and probe logits ``[R, B, K]`` (or None); the union
    control at the layer (:func:`control_errors`) is appended to ``control_out`` if given."""
    b, r = x.shape[0], len(spec)
    probe_out: list[torch.Tensor] = []
    called: list[bool] = []
    control = (spec.names.index("unmodified"), spec.names.index("union")) if "union" in spec.names else None

    def fn(_n: str, _m: nn.Module, _i: tuple, out: object) -> torch.Tensor:
        called.append(True)
        view = grid_view(model, layer, out, layout)
        maps, prefix = view.split(out)  # type: ignore[arg-type]
        if tuple(maps.shape[-2:]) != tuple(spec.masks.shape[-2:]):
            raise ValueError(
                f"layer {layer!r} map size {tuple(maps.shape[-2:])} changed from {tuple(spec.masks.shape[-2:])}; "
                "all images must have the same size"
            )
        if strategy == "repeat":
            maps = maps.reshape(r, b, *maps.shape[1:])
            prefix = prefix.reshape(r, b, *prefix.shape[1:]) if prefix is not None else None
        rows = filter_rows(maps, spec)  # [R, B, C, H, W]
        if control is not None and control_out is not None:
            control_out.append((*control_errors(rows[control[0]], rows[control[1]]), str(rows.dtype)))
        pre = filter_prefix(prefix, spec, prefix_tokens)
        flat = rows.reshape(r * b, *rows.shape[2:])
        pre_flat = pre.reshape(r * b, *pre.shape[2:]) if pre is not None else None
        if probe is not None:
            probe_out.append(probe(probe_readout(flat, pre_flat, probe_grid)).reshape(r, b, -1))
        return view.merge(flat, pre_flat).contiguous()

    with hooks.capture(model, [layer], fn):
        logits = model(x.repeat(r, *([1] * (x.dim() - 1))) if strategy == "repeat" else x)
    if not called:
        raise ValueError(f"layer {layer!r} was not called in the forward pass")
    if logits.shape[0] != r * b:
        raise RuntimeError(f"model output batch {logits.shape[0]} != {r} rows x {b} images after layer {layer!r}")
    return logits.reshape(r, b, -1), (probe_out[0] if probe_out else None)


def layer_grid_size(model: nn.Module, layer: str, example: torch.Tensor, layout: str = "auto") -> tuple[int, int]:
    """``(H, W)`` of the grid that ``layer``'s output is filtered on, for inputs like ``example``."""
    out_shape = layer_output_shape(model, layer, example[:1])
    view = grid_view(model, layer, torch.empty(out_shape, device="meta"), layout)
    if view.kind == "nchw":
        return int(out_shape[2]), int(out_shape[3])
    if view.kind == "nhwc":
        return int(out_shape[1]), int(out_shape[2])
    return view.grid  # type: ignore[return-value]


def gt_rank(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1-based rank of the true class (1 = top; ties count half), ``[..., K]`` → ``[...]`` float.

    ``rank = 1 + #(logit > gt) + 0.5 · #(logit == gt, other classes)``; chance
    is ``(K + 1) / 2``.
    """
    gt = logits.gather(-1, labels.unsqueeze(-1).expand(*logits.shape[:-1], 1))
    greater = (logits > gt).sum(-1).float()
    ties = (logits == gt).sum(-1).float() - 1.0
    return 1.0 + greater + 0.5 * ties


@dataclass
class BandRun:
    """Per-image outcomes of one layer's intervention.

    ``rows``: row names (controls + bands); ``correct[head]`` bool and
    ``rank[head]`` float arrays ``[R, N]``; ``map_hw``: the layer's grid size;
    ``control``: the union control (:func:`check_controls`; empty without controls);
    ``strategy``: the strategy actually used.
    """

    rows: list[str]
    correct: dict[str, np.ndarray]
    rank: dict[str, np.ndarray]
    map_hw: tuple[int, int]
    num_classes: int
    strategy: str
    control: dict = field(default_factory=dict)
    seconds: float = 0.0


MAP_CONTROL_EPS = 1024
"""The union control at the layer: the FFT round trip through the union of all band masks must
reproduce every (image, channel) map to within this many units of round-off (machine epsilon of
the map's dtype) relative to the map's largest |value|. Measured: 2.2–2.6 eps for float32 maps of
7×7 to 112×112; leaving out any one band moves it to 0.1–0.2 (random maps)."""


def control_errors(unmodified: torch.Tensor, union: torch.Tensor) -> tuple[float, float]:
    """The union control at the layer: ``(relative, absolute)`` largest deviation of the union row
    from the unmodified map, ``[B, C, H, W]`` each; relative to each (image, channel) map's largest
    |value| (all-zero maps, e.g. dead ReLU channels, count as 0)."""
    dev = (union.float() - unmodified.float()).abs().flatten(2).amax(-1)
    scale = unmodified.float().abs().flatten(2).amax(-1)
    rel = torch.where(scale > 0, dev / scale.clamp_min(torch.finfo(torch.float32).tiny), dev)
    return float(rel.max()), float(dev.max())


def check_controls(run: BandRun, layer: str, logit_tolerance: float) -> None:
    """Raise if the union of all bands does not reproduce the unmodified forward pass.

    Two checks, both relative to the scale of what they protect (so they hold for a 64-px narrow
    net and for ResNet-50 at 224 px with a 200 000-feature probe alike):

    * at the layer: each (image, channel) map within :data:`MAP_CONTROL_EPS` units of its dtype's
      round-off, relative to its largest |value| — a band left out of the union shows here;
    * at the logits of each head: max |logit(union) − logit(unmodified)| relative to the largest
      unmodified |logit| of the batch, at most ``logit_tolerance`` (config ``bands.control_tolerance``)
      — a row merged back into the wrong place shows here. Not checked where the union row zeroes the
      prefix tokens (``prefix_tokens: zero``): its logits differ by design.

    Raises:
        RuntimeError: naming the layer, the head, the relative and the absolute deviation.
    """
    c = run.control
    if not c:
        return
    eps = torch.finfo(getattr(torch, c.get("map_dtype", "float32"))).eps
    if c["map_rel"] > MAP_CONTROL_EPS * eps:
        raise RuntimeError(
            f"control failed at layer {layer!r}: the FFT round trip through the union of all bands changes the "
            f"feature map by {c['map_rel']:.3g} of its largest value ({c['map_abs']:.3g} absolute), more than "
            f"{MAP_CONTROL_EPS} x round-off ({MAP_CONTROL_EPS * eps:.3g}): the bands do not cover the spectrum"
        )
    for head, rel in c.get("logit_rel", {}).items():
        if rel > logit_tolerance:
            raise RuntimeError(
                f"control failed at layer {layer!r}: the union of all bands changes the {head} logits by "
                f"{rel:.3g} of their scale ({c['logit_abs'][head]:.3g} absolute, largest |logit| "
                f"{c['logit_scale'][head]:.3g}) > bands.control_tolerance={logit_tolerance}; the layer's map is "
                f"reproduced to {c['map_rel']:.2g}, so the rows are not merged back into the forward pass as they "
                "were taken out"
            )


def band_logits(
    model: nn.Module,
    layer: str,
    images: object,
    labels: torch.Tensor | np.ndarray,
    *,
    edges: Sequence[float] = DEFAULT_EDGES,
    names: Sequence[str] | None = None,
    batch_size: int = 32,
    strategy: str = "auto",
    layout: str = "auto",
    prefix_tokens: str = "dc",
    controls: bool = True,
    probe: nn.Module | None = None,
    probe_grid: int = 16,
    transform: Callable[[object], torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
    logger: logging.Logger | None = None,
) -> BandRun:
    """Run the band intervention at ``layer`` for all bands (+ controls) in batched passes.

    Args:
        model: any ``nn.Module`` classifier (``[b,3,H,W]`` → logits ``[b,K]``);
            ``layer`` is resolved with :func:`blurscope.hooks.get_module`.
        images: indexable by slices; ``transform`` turns a slice into float
            ``[b, 3, H, W]`` (default: ``images`` already is such a tensor).
        labels: int ``[N]`` ground-truth classes.
        probe: optional MLP head on :func:`probe_readout` features (``mlp``).
        strategy: ``expand`` | ``repeat`` | ``auto`` (see module docstring).

    Returns:
        :class:`BandRun` with heads ``own`` (and ``mlp`` if ``probe``).
    """
    import time

    if strategy not in STRATEGIES:
        raise ValueError(f"bands.strategy must be one of {STRATEGIES}, got {strategy!r}")
    if prefix_tokens not in PREFIX_POLICIES:
        raise ValueError(f"bands.prefix_tokens must be one of {PREFIX_POLICIES}, got {prefix_tokens!r}")
    edges, names = validate_bands(edges, names)
    log = logger or LOG
    hooks.get_module(model, layer)  # unknown name → KeyError listing valid names
    model.eval()
    if probe is not None:
        probe.eval()
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    n = len(labels_t)
    if len(images) != n:  # type: ignore[arg-type]
        raise ValueError(f"{len(images)} images but {n} labels")  # type: ignore[arg-type]
    heads = ["own"] + (["mlp"] if probe is not None else [])
    correct = {h: [] for h in heads}
    rank = {h: [] for h in heads}
    logit_abs = {h: 0.0 for h in heads}
    logit_scale = {h: 0.0 for h in heads}
    map_errors: list[tuple[float, float, str]] = []
    used = strategy
    t0 = time.perf_counter()
    kw = dict(layout=layout, prefix_tokens=prefix_tokens, probe=probe, probe_grid=probe_grid)
    spec: RowSpec | None = None
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            x = images[start : start + batch_size]  # type: ignore[index]
            x = (transform(x) if transform else x).to(device)
            y = labels_t[start : start + batch_size].to(device)
            if spec is None:
                spec = row_spec(*layer_grid_size(model, layer, x, layout), edges, names, controls)
            if used == "auto":
                used = _choose_strategy(model, layer, x[:8], spec, kw, log)
            own, mlp = _forward_rows(model, layer, x, spec, strategy=used, control_out=map_errors, **kw)
            for head, logits in (("own", own), ("mlp", mlp)):
                if logits is None:
                    continue
                yy = y.unsqueeze(0).expand(logits.shape[0], -1)
                correct[head].append((logits.argmax(-1) == yy).cpu())
                rank[head].append(gt_rank(logits, yy).cpu())
                if controls:
                    logit_abs[head] = max(logit_abs[head], (logits[1] - logits[0]).abs().max().item())
                    logit_scale[head] = max(logit_scale[head], logits[0].abs().max().item())
    if spec is None:
        raise ValueError("band intervention needs at least one image")
    k = int(own.shape[-1])
    return BandRun(
        rows=list(spec.names),
        correct={h: torch.cat(correct[h], dim=1).numpy() for h in heads},
        rank={h: torch.cat(rank[h], dim=1).numpy() for h in heads},
        map_hw=tuple(int(v) for v in spec.masks.shape[-2:]),  # type: ignore[arg-type]
        num_classes=k,
        strategy=used,
        control=_control_summary(map_errors, logit_abs, logit_scale, prefix_tokens) if controls else {},
        seconds=time.perf_counter() - t0,
    )


def _control_summary(map_errors: list[tuple[float, float, str]], logit_abs: dict[str, float],
                     logit_scale: dict[str, float], prefix_tokens: str) -> dict:
    """:attr:`BandRun.control`: the union control's largest deviations over all batches."""
    dtypes = {e[2].removeprefix("torch.") for e in map_errors}
    # the coarsest dtype the maps came in sets the round-off scale
    dtype = max(dtypes, key=lambda d: torch.finfo(getattr(torch, d)).eps)
    out: dict = {"map_rel": max(e[0] for e in map_errors), "map_abs": max(e[1] for e in map_errors),
                 "map_dtype": dtype, "logit_abs": logit_abs, "logit_scale": logit_scale}
    if prefix_tokens != "zero":  # "zero" removes the prefix tokens from the union row too: logits differ by design
        out["logit_rel"] = {h: logit_abs[h] / logit_scale[h] if logit_scale[h] > 0 else logit_abs[h]
                            for h in logit_abs}
    return out


def _choose_strategy(
    model: nn.Module, layer: str, x: torch.Tensor, spec: RowSpec, kw: dict, log: logging.Logger
) -> str:
    """``expand`` if it matches ``repeat`` on ``x`` (the first ≤ 8 images of the first batch; needs ≥ 2),
    else ``repeat``."""
    if x.shape[0] < 2:
        log.info("strategy auto: batch of %d image(s) cannot validate expand; using repeat", x.shape[0])
        return "repeat"
    ref, _ = _forward_rows(model, layer, x, spec, strategy="repeat", **kw)
    try:
        got, _ = _forward_rows(model, layer, x, spec, strategy="expand", **kw)
    except RuntimeError as err:
        log.info("strategy auto: expand fails at layer %r (%s); using repeat", layer, str(err).splitlines()[0])
        return "repeat"
    diff = (got - ref).abs().max().item()
    scale = ref.abs().max().item() + 1e-12
    if diff > 1e-4 * scale:
        log.info("strategy auto: expand differs from repeat at layer %r (max |Δlogit| %.3g); using repeat", layer, diff)
        return "repeat"
    log.info("strategy auto: expand validated against repeat at layer %r (max |Δlogit| %.3g)", layer, diff)
    return "expand"


# --------------------------------------------------------------------------
# MLP head


class MLPHead(nn.Module):
    """Standardise → Linear(D, hidden) → ReLU → Linear(hidden, K).

    ``mean``/``std`` buffers come from the (unmodified) training features and
    are applied unchanged to band-isolated features.
    """

    def __init__(self, in_dim: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.net((feats.float() - self.mean) / self.std)


def train_mlp_head(
    feats: torch.Tensor,
    labels: torch.Tensor | np.ndarray,
    num_classes: int,
    *,
    hidden: int = 128,
    epochs: int = 30,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    seed: int = 0,
    device: torch.device | str = "cpu",
    logger: logging.Logger | None = None,
) -> tuple[MLPHead, dict[str, float]]:
    """Train an :class:`MLPHead` on frozen features ``[N, D]`` (Adam, cross-entropy).

    Deterministic for a given ``seed`` (init and shuffling). Returns the head
    (eval mode) and ``{"train_accuracy", "final_loss"}``.
    """
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if feats.dim() != 2 or feats.shape[0] != len(labels_t):
        raise ValueError(f"features {tuple(feats.shape)} do not match {len(labels_t)} labels")
    if len(labels_t) == 0:
        raise ValueError("MLP head needs at least one training image (bands.mlp.n_train)")
    gen = torch.Generator().manual_seed(int(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        head = MLPHead(feats.shape[1], hidden, num_classes)
    head.mean.copy_(feats.mean(0))
    head.std.copy_(feats.std(0, unbiased=False).clamp_min(1e-6))
    head.to(device)
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    feats_d, labels_d = feats.to(device), labels_t.to(device)
    n = len(labels_t)
    loss_v = float("nan")
    for epoch in range(epochs):
        head.train()
        order = torch.randperm(n, generator=gen).to(device)
        total = 0.0
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            loss = F.cross_entropy(head(feats_d[idx]), labels_d[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        loss_v = total / n
        if logger and (epoch == epochs - 1 or (epoch + 1) % max(1, epochs // 5) == 0):
            logger.info("mlp head epoch %d/%d loss %.4f", epoch + 1, epochs, loss_v)
    head.eval()
    with torch.no_grad():
        acc = (head(feats_d).argmax(-1) == labels_d).float().mean().item()
    return head, {"train_accuracy": acc, "final_loss": loss_v}
