"""Stride points: every stride>1 operation of a CNN, found from its module graph.

The places where a network downsamples, observed at their input (where
:mod:`blurscope.aliasing.measure` measures the AVR). :func:`discover_stride_points`
finds every ``Conv2d`` and pooling layer with stride > 1 and every BlurPool
module (timm ``BlurPool2d``, antialiased_cnns ``BlurPool``; hooked at the
*input of the blur*) and orders them by execution; :func:`match_points` pairs a
standard network's points one-to-one with its BlurPool twin's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from blurscope.hooks import capture, module_root

_POOL_TYPES = (nn.MaxPool2d, nn.AvgPool2d, nn.LPPool2d)


@dataclass(frozen=True)
class StridePoint:
    """A stride>1 operation, observed at its input.

    Attributes:
        name: module name relative to :func:`blurscope.hooks.module_root`.
        stride: integer stride (equal on both axes).
        op: the module's class name (``Conv2d``, ``MaxPool2d``, ``BlurPool2d``...).
        kind: ``"conv"``, ``"pool"`` or ``"blurpool"``.
        order: execution order in a forward pass (definition order if unknown).
        in_shape: ``(C, H, W)`` of the module's input for the probe image, or None.
        out_shape: ``(C, H, W)`` of the module's output for the probe image, or None.
    """

    name: str
    stride: int
    op: str
    kind: str
    order: int
    in_shape: tuple[int, int, int] | None = None
    out_shape: tuple[int, int, int] | None = None


def _is_blurpool(module: nn.Module) -> bool:
    return "blurpool" in type(module).__name__.lower() and hasattr(module, "stride")


def _int_stride(name: str, module: nn.Module) -> int:
    s = getattr(module, "stride", 1)
    if s is None:  # pools default their stride to the kernel size
        s = getattr(module, "kernel_size", 1)
    if isinstance(s, (tuple, list)):
        if len(set(int(v) for v in s)) != 1:
            raise ValueError(f"layer {name!r} ({type(module).__name__}) has a non-square stride {tuple(s)}; "
                             "AVR needs one stride for both axes")
        s = s[0]
    return int(s)


def _candidates(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """Stride>1 modules (name, module, kind) in definition order; blur modules' children skipped."""
    out: list[tuple[str, nn.Module, str]] = []
    blur_prefixes: list[str] = []
    for name, module in module_root(model).named_modules():
        if not name or any(name.startswith(p + ".") for p in blur_prefixes):
            continue
        if _is_blurpool(module):
            kind = "blurpool"
            blur_prefixes.append(name)
        elif isinstance(module, nn.Conv2d):
            kind = "conv"
        elif isinstance(module, _POOL_TYPES):
            kind = "pool"
        else:
            continue
        if _int_stride(name, module) > 1:
            out.append((name, module, kind))
    return out


def discover_stride_points(model: nn.Module, image_size: int | None = 64, in_chans: int = 3) -> list[StridePoint]:
    """Find every stride>1 conv, pool and BlurPool of ``model`` from its module graph.

    Args:
        model: any ``nn.Module`` (a :class:`blurscope.models.network.BlurscopeNet` is
            searched in its ``backbone``, names are relative to it).
        image_size: side of a zero probe image run once through the model (eval
            mode, no state change) to record each point's input shape and the
            execution order; ``None`` skips the probe (definition order, no shapes).
        in_chans: channels of the probe image.

    Returns:
        Points in execution order. Modules that the probe forward never calls
        are dropped (they cannot alias anything).
    """
    cands = _candidates(model)
    if image_size is None:
        return [StridePoint(n, _int_stride(n, m), type(m).__name__, k, i) for i, (n, m, k) in enumerate(cands)]
    seen: dict[str, tuple[int, tuple[int, ...]]] = {}
    outs: dict[str, tuple[int, ...]] = {}

    def probe(name: str, _m: nn.Module, inputs: tuple, _o: object) -> None:
        if name not in seen:
            seen[name] = (len(seen), tuple(int(v) for v in inputs[0].shape[1:]))

    def probe_out(name: str, _m: nn.Module, _i: tuple, output: object) -> None:
        if name not in outs and isinstance(output, torch.Tensor):
            outs[name] = tuple(int(v) for v in output.shape[1:])

    was_training = model.training
    try:
        model.eval()
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        x = torch.zeros(1, in_chans, image_size, image_size, device=device, dtype=dtype)
        names = [n for n, _, _ in cands]
        with capture(model, names, probe, pre=True), capture(model, names, probe_out), torch.inference_mode():
            model(x)
    finally:
        model.train(was_training)
    points = [
        StridePoint(n, _int_stride(n, m), type(m).__name__, k, seen[n][0], seen[n][1], outs.get(n))  # type: ignore[arg-type]
        for n, m, k in cands
        if n in seen
    ]
    return sorted(points, key=lambda p: p.order)


def _common_prefix_len(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        n += 1
    return n


def match_points(standard: Sequence[StridePoint], blurpool: Sequence[StridePoint]) -> pd.DataFrame:
    """Pair the stride points of a standard net one-to-one with its BlurPool twin's.

    Two points are compatible when they have the same stride and downsample
    onto the same grid (same *output* resolution for the probe image; the input
    may differ by a pixel, e.g. antialiased_cnns' ``MaxPool2d(2, stride=1)``
    before its BlurPool). Rules, in order: (1) the same layer name (``conv1``,
    a ``downsample.0`` conv kept strided); (2) for the rest, the compatible
    candidate with the longest common dotted name prefix (``maxpool`` ↔
    ``maxpool.1``, ``layer2.0.conv1`` ↔ ``layer2.0.aa``, ``layer2.0.conv2`` ↔
    ``layer2.0.conv3.0``), ties broken by execution order. Shapes come from
    :func:`discover_stride_points` with a probe image; without shapes only the
    stride and the names are used.

    Returns:
        DataFrame, one row per pair in the standard net's execution order:
        ``point`` (= standard layer name, the canonical id), ``standard``,
        ``blurpool``, ``stride``, ``standard_op``, ``blurpool_op``,
        ``blurpool_kind``, ``in_h``, ``in_w`` (standard input size, px; -1 if
        unknown), ``out_h``, ``out_w`` (output size), ``rule``.

    Raises:
        ValueError: if the points cannot be paired one-to-one (lists both sides).
    """
    def res(p: StridePoint) -> tuple[int, int] | None:
        return None if p.in_shape is None else (p.in_shape[1], p.in_shape[2])

    def out_res(p: StridePoint) -> tuple[int, int] | None:
        return None if p.out_shape is None else (p.out_shape[1], p.out_shape[2])

    def compatible(s: StridePoint, b: StridePoint) -> bool:
        return s.stride == b.stride and (out_res(s) is None or out_res(b) is None or out_res(s) == out_res(b))

    def listing() -> str:
        fmt = lambda ps: ", ".join(f"{p.name}(s{p.stride},out {out_res(p)})" for p in ps)  # noqa: E731
        return f"standard: [{fmt(standard)}]; blurpool: [{fmt(blurpool)}]"

    if len(standard) != len(blurpool):
        raise ValueError(
            f"cannot match stride points one-to-one: {len(standard)} in the standard model, "
            f"{len(blurpool)} in the BlurPool model; {listing()}"
        )
    free = {p.name: p for p in blurpool}
    pairs: dict[str, tuple[StridePoint, str]] = {}
    for s in standard:
        b = free.get(s.name)
        if b is not None and compatible(s, b):
            pairs[s.name] = (b, "same name")
            del free[s.name]
    for s in standard:
        if s.name in pairs:
            continue
        cands = [b for b in free.values() if compatible(s, b)]
        if not cands:
            raise ValueError(f"no BlurPool-model stride point matches {s.name!r}; {listing()}")
        best = max(_common_prefix_len(s.name, b.name) for b in cands)
        cands = sorted([b for b in cands if _common_prefix_len(s.name, b.name) == best], key=lambda b: b.order)
        b = cands[0]
        pairs[s.name] = (b, f"same output grid, common prefix {'.'.join(s.name.split('.')[:best]) or '-'}")
        del free[b.name]
    rows = []
    for s in standard:
        b, rule = pairs[s.name]
        r = res(s)
        rows.append(
            {
                "point": s.name,
                "standard": s.name,
                "blurpool": b.name,
                "stride": s.stride,
                "standard_op": s.op,
                "blurpool_op": b.op,
                "blurpool_kind": b.kind,
                "in_h": r[0] if r else -1,
                "in_w": r[1] if r else -1,
                "out_h": out_res(s)[0] if out_res(s) else -1,  # type: ignore[index]
                "out_w": out_res(s)[1] if out_res(s) else -1,  # type: ignore[index]
                "rule": rule,
            }
        )
    return pd.DataFrame(rows)
