"""Exact receptive fields of feature-map units, computed from the model graph.

What is computed
----------------
For a layer's output unit at feature-map position ``(y, x)`` we compute the
input-pixel box that the unit *can* depend on through the network's wiring
(kernels, strides, padding, dilation), independent of the weight values:

* the **theoretical** receptive field, the classic affine formula per axis:
  unit ``i`` covers input rows ``[start + i·jump, start + i·jump + size)``.
  ``size`` is the same for every unit of a layer; it may extend past the image
  borders (into padding).
* the **exact** (clipped) box: the hull of the input pixels the unit really
  reaches, following every operation on real indices. Zero padding
  contributes no pixel (so the box is the theoretical one clipped at the
  image borders), reflect / replicate / circular padding contribute the pixels
  they copy (so a BlurPool's reflect pad is handled exactly, also the
  asymmetric pad of a filter-size-4 BlurPool), a unit that reads only padding
  depends on nothing. The clip is the difference between the two boxes.

How the graph is read
---------------------
The model is run once on a dummy input of the analysis image size inside a
:class:`torch.overrides.TorchFunctionMode` that attaches a per-axis interval
table (``lo[i]``, ``hi[i]``: the hull of input pixels of unit ``i``) and the
affine ``(start, jump, size)`` to every tensor derived from the input, and
updates them op by op:

* ``conv2d``, ``max_pool2d``, ``avg_pool2d`` (kernel ``k``, stride ``s``,
  padding ``p``, dilation ``d``; string paddings ``"same"``/``"valid"`` too):
  ``lo_out[i] = min_t lo_in[i·s − p + t·d]`` over the taps that fall on real
  positions; affine ``start −= p·jump``, ``size += (k−1)·d·jump``, ``jump *= s``.
* ``F.pad`` (constant / reflect / replicate / circular) and ``index_select``
  on a spatial axis: the tables are gathered with the same indices.
* ``matmul`` of the image with a fixed 2-D matrix on one spatial axis (the
  blur layer's :func:`blurscope.blur.blur_matrix`): unit ``i`` sees every
  input with a non-zero weight; affine widened by the matrix's band.
* ``adaptive_{avg,max}_pool2d``: PyTorch's exact windows
  ``[floor(i·n/o), ceil((i+1)·n/o))``.
* **Residual branches**: an element-wise op of several tracked tensors
  (``out += identity`` in a ResNet block, ``torch.add``, ``cat`` along channels)
  depends on every operand, so its receptive field is the **union (hull)** of
  the branches' fields: ``lo = min``, ``hi = max`` per unit, and the affine
  field is the hull of the branch intervals (the jumps must agree). In a
  ResNet the main path (3×3 convs) always contains the shortcut's field
  (1×1 downsample conv or identity), so the hull equals the main path's field,
  but nothing relies on that.
* Element-wise unary ops (ReLU, BatchNorm, dropout, arithmetic with constants,
  channel slicing, reshapes that keep the two spatial axes) keep the tables.

Any other op applied to a tracked tensor (global pooling, flatten, attention,
GroupNorm, ...) marks the result *untracked*; asking for the receptive field
of a layer whose output is untracked raises ``NotImplementedError`` naming the
op. Layer names are resolved with :func:`blurscope.hooks.get_module` (unknown
name → ``KeyError`` listing the valid names) and observed with
:func:`blurscope.hooks.capture`.

By default the trace starts at the backbone's input (:func:`blurscope.hooks.module_root`),
i.e. after a :class:`~blurscope.models.network.BlurscopeNet`'s fixed Gaussian blur and
normalisation, so the box is the same for every σ model of one architecture.
``through_preprocessing=True`` traces the whole model instead: the truncated
Gaussian (radius ``ceil(3σ_px)``, reflect padding) then widens the field by
that radius on each side.

Units: all boxes are in input pixels of the traced image size, half-open
``[y0, y1) × [x0, x1)``.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from blurscope.hooks import capture, module_root

_EMPTY_LO = np.iinfo(np.int64).max // 4
_EMPTY_HI = -_EMPTY_LO


@dataclass(frozen=True)
class Affine:
    """Theoretical field along one axis: unit ``i`` covers ``[start + i·jump, start + i·jump + size)``."""

    start: int
    jump: int
    size: int

    def hull(self, other: Affine) -> Affine:
        """The smallest affine field containing both (same jump required)."""
        if self.jump != other.jump:
            raise NotImplementedError(
                f"receptive field: branches with different strides ({self.jump} vs {other.jump}) are combined"
            )
        start = min(self.start, other.start)
        end = max(self.start + self.size, other.start + other.size)
        return Affine(start, self.jump, end - start)


@dataclass
class _Axis:
    """Per-axis state of a tracked tensor: exact tables and the affine field (or None)."""

    lo: np.ndarray  # int64 [n], inclusive; _EMPTY_LO where the unit depends on no pixel
    hi: np.ndarray  # int64 [n], inclusive; _EMPTY_HI where empty
    affine: Affine | None

    def gather(self, index: np.ndarray, valid: np.ndarray | None = None) -> _Axis:
        lo, hi = self.lo[index], self.hi[index]
        if valid is not None:
            lo = np.where(valid, lo, _EMPTY_LO)
            hi = np.where(valid, hi, _EMPTY_HI)
        return _Axis(lo, hi, self.affine)

    def with_affine(self, affine: Affine | None) -> _Axis:
        return _Axis(self.lo, self.hi, affine)


@dataclass
class _Geom:
    y: _Axis
    x: _Axis


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive fields of every unit of one layer's output, for one input size.

    Attributes:
        layer: layer name (relative to the backbone).
        input_hw: traced input size ``(H, W)`` in pixels.
        fmap_hw: the layer's feature-map size ``(h, w)`` at that input size.
        lo_y, hi_y: int64 ``[h]`` inclusive exact row bounds per unit row (clipped).
        lo_x, hi_x: int64 ``[w]`` inclusive exact column bounds per unit column.
        affine_y, affine_x: theoretical (unclipped) field per axis, or ``None``
            where no affine form exists (non-divisible adaptive pooling).
        through_preprocessing: whether the model's input blur/normalisation was traced.
    """

    layer: str
    input_hw: tuple[int, int]
    fmap_hw: tuple[int, int]
    lo_y: np.ndarray
    hi_y: np.ndarray
    lo_x: np.ndarray
    hi_x: np.ndarray
    affine_y: Affine | None
    affine_x: Affine | None
    through_preprocessing: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """Theoretical field size ``(size_y, size_x)`` in pixels (unclipped).

        Where no affine form exists, the largest exact box size over all units.
        """
        sy = self.affine_y.size if self.affine_y else int((self.hi_y - self.lo_y).max() + 1)
        sx = self.affine_x.size if self.affine_x else int((self.hi_x - self.lo_x).max() + 1)
        return sy, sx

    def _check(self, y: np.ndarray, x: np.ndarray) -> None:
        h, w = self.fmap_hw
        if np.any((y < 0) | (y >= h)) or np.any((x < 0) | (x >= w)):
            raise ValueError(
                f"feature-map positions outside layer {self.layer!r} map of size {h}x{w} "
                f"(y in [{int(np.min(y))}, {int(np.max(y))}], x in [{int(np.min(x))}, {int(np.max(x))}])"
            )

    def theoretical_box(self, y: np.ndarray | int, x: np.ndarray | int) -> np.ndarray:
        """Unclipped boxes ``int64 [..., 4]`` = ``(y0, x0, y1, x1)`` half-open, input pixels."""
        y, x = np.asarray(y, dtype=np.int64), np.asarray(x, dtype=np.int64)
        self._check(y, x)
        if self.affine_y is None or self.affine_x is None:
            return self.box(y, x)
        ay, ax = self.affine_y, self.affine_x
        y0 = ay.start + y * ay.jump
        x0 = ax.start + x * ax.jump
        return np.stack(np.broadcast_arrays(y0, x0, y0 + ay.size, x0 + ax.size), axis=-1)

    def box(self, y: np.ndarray | int, x: np.ndarray | int) -> np.ndarray:
        """Exact clipped boxes ``int64 [..., 4]`` = ``(y0, x0, y1, x1)`` half-open.

        An empty box (unit reads only padding) is ``(0, 0, 0, 0)``.
        """
        y, x = np.asarray(y, dtype=np.int64), np.asarray(x, dtype=np.int64)
        self._check(y, x)
        y0, y1 = self.lo_y[y], self.hi_y[y] + 1
        x0, x1 = self.lo_x[x], self.hi_x[x] + 1
        out = np.stack(np.broadcast_arrays(y0, x0, y1, x1), axis=-1)
        empty = (out[..., 0] >= out[..., 2]) | (out[..., 1] >= out[..., 3])
        out[empty] = 0
        return out


# --------------------------------------------------------------------------- tracing


_ELEMENTWISE = frozenset("""
    add add_ __add__ __radd__ __iadd__ sub sub_ __sub__ __rsub__ __isub__ rsub
    mul mul_ __mul__ __rmul__ __imul__ div div_ __truediv__ __rtruediv__ __itruediv__ true_divide
    neg __neg__ abs abs_ exp clamp clamp_ clip clip_ square sqrt
    relu relu_ relu6 hardtanh hardtanh_ leaky_relu leaky_relu_ elu elu_ selu celu gelu silu mish
    hardswish hardsigmoid sigmoid sigmoid_ tanh tanh_ softplus prelu threshold threshold_
    batch_norm dropout dropout_ dropout2d feature_dropout alpha_dropout
    clone contiguous to float double half bfloat16 detach detach_ requires_grad_ type_as
    """.split())
_KEEP_SPATIAL_SHAPE = frozenset("reshape view flatten unsqueeze squeeze expand expand_as".split())


def _pair(v: object, name: str) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return int(v[0]), int(v[0])
        if len(v) != 2:
            raise NotImplementedError(f"receptive field: {name}={v!r} is not 2-D")
        return int(v[0]), int(v[1])
    return int(v), int(v)  # type: ignore[arg-type]


def _arg(args: tuple, kwargs: dict, pos: int, name: str, default: object) -> object:
    if name in kwargs:
        return kwargs[name]
    if len(args) > pos:
        return args[pos]
    return default


def _window(axis: _Axis, n_in: int, n_out: int, k: int, s: int, p: int, d: int) -> _Axis:
    """Strided window op along one axis: taps ``i·s − p + t·d`` on real positions only."""
    pos = np.arange(n_out)[:, None] * s - p + np.arange(k)[None, :] * d
    valid = (pos >= 0) & (pos < n_in)
    safe = np.clip(pos, 0, n_in - 1)
    lo = np.where(valid, axis.lo[safe], _EMPTY_LO).min(axis=1)
    hi = np.where(valid, axis.hi[safe], _EMPTY_HI).max(axis=1)
    aff = axis.affine
    if aff is not None:
        aff = Affine(aff.start - p * aff.jump, aff.jump * s, aff.size + (k - 1) * d * aff.jump)
    return _Axis(lo, hi, aff)


def _adaptive(axis: _Axis, n_in: int, n_out: int) -> _Axis:
    starts = (np.arange(n_out) * n_in) // n_out
    ends = -((-(np.arange(n_out) + 1) * n_in) // n_out)  # ceil
    lo = np.array([axis.lo[a:b].min() for a, b in zip(starts, ends)], dtype=np.int64)
    hi = np.array([axis.hi[a:b].max() for a, b in zip(starts, ends)], dtype=np.int64)
    aff = axis.affine
    if aff is not None:
        if n_in % n_out == 0:
            k = n_in // n_out
            aff = Affine(aff.start, aff.jump * k, aff.size + (k - 1) * aff.jump)
        else:
            aff = None
    return _Axis(lo, hi, aff)


def _pad_axis(axis: _Axis, n_in: int, before: int, after: int, mode: str) -> _Axis:
    i = np.arange(-before, n_in + after)
    aff = axis.affine
    if aff is not None:
        aff = Affine(aff.start - before * aff.jump, aff.jump, aff.size)
    if mode == "constant":
        return axis.gather(np.clip(i, 0, n_in - 1), (i >= 0) & (i < n_in)).with_affine(aff)
    if mode == "replicate":
        idx = np.clip(i, 0, n_in - 1)
    elif mode == "reflect":
        period = max(2 * (n_in - 1), 1)
        idx = np.remainder(i, period)
        idx = np.where(idx >= n_in, period - idx, idx)
    elif mode == "circular":
        idx = np.remainder(i, n_in)
    else:
        raise NotImplementedError(f"receptive field: padding mode {mode!r} is not supported")
    return _Axis(axis.lo[idx], axis.hi[idx], aff)


def _matmul_axis(axis: _Axis, nonzero: np.ndarray) -> _Axis:
    """Output unit ``i`` of a fixed ``[n_out, n_in]`` matrix sees every input ``j`` with a non-zero weight.

    The exact tables take the hull over those inputs; the theoretical (affine)
    field widens by the matrix's band (largest offset ``j - i`` either way).
    """
    n_out, n_in = nonzero.shape
    rows, cols = np.nonzero(nonzero)
    lo = np.full(n_out, _EMPTY_LO, dtype=np.int64)
    hi = np.full(n_out, _EMPTY_HI, dtype=np.int64)
    np.minimum.at(lo, rows, axis.lo[cols])
    np.maximum.at(hi, rows, axis.hi[cols])
    aff = axis.affine
    if aff is not None and rows.size and n_out == n_in:
        below = int(max(0, (rows - cols).max()))
        above = int(max(0, (cols - rows).max()))
        aff = Affine(aff.start - below * aff.jump, aff.jump, aff.size + (below + above) * aff.jump)
    elif n_out != n_in:
        aff = None
    return _Axis(lo, hi, aff)


def _hull(axes: Sequence[_Axis], n: int) -> _Axis:
    lo = np.full(n, _EMPTY_LO, dtype=np.int64)
    hi = np.full(n, _EMPTY_HI, dtype=np.int64)
    aff: Affine | None = None
    first = True
    for a in axes:
        lo = np.minimum(lo, np.broadcast_to(a.lo, (n,)))
        hi = np.maximum(hi, np.broadcast_to(a.hi, (n,)))
        if first:
            aff, first = a.affine, False
        elif aff is not None and a.affine is not None:
            aff = aff.hull(a.affine)
        else:
            aff = None
    return _Axis(lo, hi, aff)


class _Untracked:
    """Marks a tensor derived from the input by an op the tracer does not model."""

    def __init__(self, op: str) -> None:
        self.op = op


class _RFMode(TorchFunctionMode):
    """Propagates per-axis receptive-field tables through torch functions."""

    def __init__(self) -> None:
        super().__init__()
        self._geom: dict[int, tuple[weakref.ref, _Geom | _Untracked]] = {}

    def set(self, t: torch.Tensor, g: _Geom | _Untracked) -> None:
        self._geom[id(t)] = (weakref.ref(t), g)

    def get(self, t: object) -> _Geom | _Untracked | None:
        if not isinstance(t, torch.Tensor):
            return None
        entry = self._geom.get(id(t))
        if entry is None or entry[0]() is not t:
            return None
        return entry[1]

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        flat: list[torch.Tensor] = []
        for a in (*args, *kwargs.values()):
            if isinstance(a, torch.Tensor):
                flat.append(a)
            elif isinstance(a, (list, tuple)):  # torch.cat([...]), torch.stack([...])
                flat.extend(t for t in a if isinstance(t, torch.Tensor))
        tracked = [(t, self.get(t)) for t in flat if self.get(t) is not None]
        if not tracked:
            return out
        result = out[0] if isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor) else out
        if not isinstance(result, torch.Tensor):
            return out  # shape queries, .dim(), ...
        name = getattr(func, "__name__", str(func))
        bad = [g for _, g in tracked if isinstance(g, _Untracked)]
        if bad:
            self.set(result, bad[0])
            return out
        try:
            g = self._propagate(name, args, kwargs, result, tracked)
        except NotImplementedError as err:
            g = _Untracked(f"{name} ({err})")
        self.set(result, g if g is not None else _Untracked(name))
        return out

    def _propagate(self, name, args, kwargs, out, tracked):  # type: ignore[no-untyped-def]
        x, gx = tracked[0]
        if out.ndim < 2:
            return None
        n_y, n_x = out.shape[-2], out.shape[-1]
        if name in ("conv2d", "max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
            if x is not args[0] or len(tracked) > 1 and any(t is not x for t, _ in tracked[1:]):
                raise NotImplementedError("only the input may depend on the image")
            h, w = x.shape[-2], x.shape[-1]
            if name == "conv2d":
                weight = _arg(args, kwargs, 1, "weight", None)
                k = (int(weight.shape[-2]), int(weight.shape[-1]))
                s = _pair(_arg(args, kwargs, 3, "stride", 1), "stride")
                d = _pair(_arg(args, kwargs, 5, "dilation", 1), "dilation")
                pad = _arg(args, kwargs, 4, "padding", 0)
                if isinstance(pad, str):
                    if pad == "valid":
                        p = (0, 0)
                    elif pad == "same":
                        p = (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
                    else:
                        raise NotImplementedError(f"padding {pad!r}")
                else:
                    p = _pair(pad, "padding")
            else:
                k = _pair(_arg(args, kwargs, 1, "kernel_size", None), "kernel_size")
                stride = _arg(args, kwargs, 2, "stride", None)
                s = (
                    k
                    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)
                    else _pair(stride, "stride")
                )
                p = _pair(_arg(args, kwargs, 3, "padding", 0), "padding")
                d = _pair(_arg(args, kwargs, 4, "dilation", 1), "dilation") if name != "avg_pool2d" else (1, 1)
            return _Geom(
                _window(gx.y, h, n_y, k[0], s[0], p[0], d[0]),
                _window(gx.x, w, n_x, k[1], s[1], p[1], d[1]),
            )
        if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d", "adaptive_max_pool2d_with_indices"):
            return _Geom(_adaptive(gx.y, x.shape[-2], n_y), _adaptive(gx.x, x.shape[-1], n_x))
        if name == "pad":
            pad = list(_arg(args, kwargs, 1, "pad", None))
            mode = _arg(args, kwargs, 2, "mode", "constant") or "constant"
            pad += [0] * (4 - len(pad))
            return _Geom(
                _pad_axis(gx.y, x.shape[-2], pad[2], pad[3], mode),
                _pad_axis(gx.x, x.shape[-1], pad[0], pad[1], mode),
            )
        if name == "matmul" and len(tracked) == 1:
            # a fixed matrix mixing one spatial axis (e.g. blurscope.blur's blur matrices):
            # M @ x mixes rows (y), x @ M mixes columns (x)
            if x is args[1] and isinstance(args[0], torch.Tensor) and args[0].ndim == 2 and x.ndim >= 2:
                return _Geom(_matmul_axis(gx.y, args[0].detach().cpu().numpy() != 0), gx.x)
            if x is args[0] and isinstance(args[1], torch.Tensor) and args[1].ndim == 2 and x.ndim >= 2:
                return _Geom(gx.y, _matmul_axis(gx.x, args[1].detach().cpu().numpy().T != 0))
            raise NotImplementedError("matmul of the image with anything but a fixed 2-D matrix")
        if name == "index_select":
            dim = int(_arg(args, kwargs, 1, "dim", None))
            index = _arg(args, kwargs, 2, "index", None).detach().cpu().numpy().astype(np.int64)
            dim = dim % x.ndim
            if dim == x.ndim - 1:
                return _Geom(gx.y, _Axis(gx.x.lo[index], gx.x.hi[index], None))
            if dim == x.ndim - 2:
                return _Geom(_Axis(gx.y.lo[index], gx.y.hi[index], None), gx.x)
            return gx
        if name == "cat":
            dim = int(_arg(args, kwargs, 1, "dim", 0)) % out.ndim
            if dim >= out.ndim - 2:
                raise NotImplementedError("concatenation along a spatial axis")
            return _Geom(_hull([g.y for _, g in tracked], n_y), _hull([g.x for _, g in tracked], n_x))
        same_spatial = all(t.ndim >= 2 and t.shape[-2:] in ((n_y, n_x), (1, 1), (n_y, 1), (1, n_x)) for t, _ in tracked)
        if name in _ELEMENTWISE and same_spatial:
            return _Geom(_hull([g.y for _, g in tracked], n_y), _hull([g.x for _, g in tracked], n_x))
        if name in _KEEP_SPATIAL_SHAPE and x.ndim >= 3 and out.ndim >= 3 and x.shape[-2:] == out.shape[-2:]:
            return gx
        if name == "__getitem__" and x.shape[-2:] == out.shape[-2:] and out.ndim == x.ndim:
            idx = args[1] if len(args) > 1 else None
            idx = idx if isinstance(idx, tuple) else (idx,)
            if len(idx) <= x.ndim - 2 and all(isinstance(i, (slice, int)) for i in idx):
                return gx
        return None


class _Stop(Exception):
    pass


def receptive_fields(
    model: nn.Module,
    layers: Sequence[str],
    image_size: int | tuple[int, int],
    *,
    through_preprocessing: bool = False,
) -> dict[str, ReceptiveField]:
    """Exact receptive fields of every unit of each named layer.

    Args:
        model: a :class:`~blurscope.models.network.BlurscopeNet` or any backbone; layer
            names are relative to :func:`~blurscope.hooks.module_root`.
        layers: layer names, e.g. ``["layer2.2", "layer3.2"]``.
        image_size: input size in pixels (``S`` or ``(H, W)``) of the images
            the boxes refer to (feature-map sizes and clipping depend on it).
        through_preprocessing: trace from the model's own input (fixed blur +
            normalisation) instead of the backbone's input.

    Returns:
        ``{layer: ReceptiveField}``.

    Raises:
        KeyError: unknown layer (lists the valid names).
        NotImplementedError: a layer's output is produced by an op the tracer
            does not model (the message names it).
    """
    hw = (image_size, image_size) if isinstance(image_size, int) else tuple(int(v) for v in image_size)
    root = model if through_preprocessing else module_root(model)
    try:
        param = next(root.parameters())
        device, dtype = param.device, param.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    mode = _RFMode()
    found: dict[str, _Geom | _Untracked | None] = {}
    shapes: dict[str, tuple[int, int]] = {}
    wanted = list(dict.fromkeys(layers))

    def fn(name: str, _m: nn.Module, _inputs: tuple, output: object) -> None:
        if name in found:
            return
        t = output[0] if isinstance(output, (tuple, list)) else output
        found[name] = mode.get(t)
        if isinstance(t, torch.Tensor) and t.ndim >= 2:
            shapes[name] = (int(t.shape[-2]), int(t.shape[-1]))
        if len(found) == len(wanted):
            raise _Stop

    x = torch.rand(1, 3, *hw, device=device, dtype=dtype)
    h, w = hw
    ident = _Geom(
        _Axis(np.arange(h, dtype=np.int64), np.arange(h, dtype=np.int64), Affine(0, 1, 1)),
        _Axis(np.arange(w, dtype=np.int64), np.arange(w, dtype=np.int64), Affine(0, 1, 1)),
    )
    was_training = root.training
    root.eval()
    try:
        with capture(model, wanted, fn), torch.inference_mode(), mode:
            mode.set(x, ident)
            try:
                root(x)
            except _Stop:
                pass
    finally:
        root.train(was_training)
    out: dict[str, ReceptiveField] = {}
    for name in wanted:
        g = found.get(name)
        if name not in found:
            raise RuntimeError(f"layer {name!r} was not executed in the forward pass of {type(root).__name__}")
        if g is None:
            raise NotImplementedError(f"receptive field of layer {name!r}: its output does not depend on the input")
        if isinstance(g, _Untracked):
            raise NotImplementedError(
                f"receptive field of layer {name!r}: the path from the input uses op {g.op!r}, "
                "which the receptive-field tracer does not model"
            )
        out[name] = ReceptiveField(
            layer=name,
            input_hw=(h, w),
            fmap_hw=shapes[name],
            lo_y=g.y.lo.copy(),
            hi_y=g.y.hi.copy(),
            lo_x=g.x.lo.copy(),
            hi_x=g.x.hi.copy(),
            affine_y=g.y.affine,
            affine_x=g.x.affine,
            through_preprocessing=through_preprocessing,
        )
    return out


def receptive_field(
    model: nn.Module, layer: str, image_size: int | tuple[int, int], *, through_preprocessing: bool = False
) -> ReceptiveField:
    """:func:`receptive_fields` for one layer."""
    return receptive_fields(model, [layer], image_size, through_preprocessing=through_preprocessing)[layer]
