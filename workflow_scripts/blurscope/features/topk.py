"""Top-activating images per neuron, in one streaming forward pass (the VITAL feature-analysis report;
docs/references.md).

Definitions (docs/features.md):

* a **neuron** is one channel of a layer's output feature map;
* its **activation on an image** is the maximum over spatial positions of that
  channel, and the **position** is where that maximum sits (``y``, ``x`` in
  feature-map coordinates);
* the **top-k images** of a neuron are the ``k`` images with the largest
  activation.

Neurons are sampled evenly across the channel axis by :func:`sample_neurons`,
which depends only on the channel count, so every model of one architecture
(all σ, BlurPool) gets the same channel indices and the grids can show the same
neurons across σ.

Streaming: a forward hook on every configured layer reduces the layer's output
to the per-channel spatial max and argmax of the sampled channels
(``[B, n_neurons]`` each) inside the hook; nothing else is kept. After each
batch the running top-k ``[n_neurons, k]`` is merged with the batch. Memory is
O(k × neurons) plus one batch's activations, independent of the number of images.

Ties (deterministic, identical on CPU and GPU):

* between images: equal activations are ordered by **image index ascending**
  (the running buffer is kept sorted by (value desc, index asc); a batch's
  images all have larger indices than the buffer's, and the merge is a *stable*
  descending sort of ``[buffer, batch]``, which preserves that order);
* between positions: the **first** maximum in row-major order (smallest ``y``,
  then smallest ``x``), which is what ``torch.max(dim)`` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from blurscope.data.files import to_float
from blurscope.hooks import capture, get_module

log = logging.getLogger("blurscope.features.topk")


def sample_neurons(n_channels: int, n: int) -> np.ndarray:
    """``n`` channel indices spread evenly over ``range(n_channels)`` (int64, ascending).

    Channel ``floor((2i + 1) · C / (2n))`` for ``i = 0..n-1``: the centres of
    ``n`` equal strata of the channel axis. ``n >= C`` (or ``n <= 0``) gives
    every channel.
    """
    if n_channels < 1:
        raise ValueError(f"a layer needs at least one channel, got {n_channels}")
    if n <= 0 or n >= n_channels:
        return np.arange(n_channels, dtype=np.int64)
    return ((2 * np.arange(n, dtype=np.int64) + 1) * n_channels) // (2 * n)


@dataclass
class LayerTopK:
    """Top-k result for one layer.

    Attributes:
        neurons: int64 ``[n]`` channel indices.
        values: float32 ``[n, k]`` activation (spatial max), descending per row.
        image_index: int64 ``[n, k]`` row of the image in the input array.
        y, x: int64 ``[n, k]`` argmax position in feature-map coordinates.
        fmap_hw: feature-map size ``(h, w)``.
        n_channels: channels of the layer.
    """

    neurons: np.ndarray
    values: np.ndarray
    image_index: np.ndarray
    y: np.ndarray
    x: np.ndarray
    fmap_hw: tuple[int, int]
    n_channels: int


@dataclass
class StreamingTopK:
    """Running top-k of one layer's sampled neurons, merged batch by batch.

    Buffers live on the activations' device: ``values [n, k]`` (init −inf),
    ``index``, ``pos`` (flat ``y·w + x``) ``[n, k]`` int64.
    """

    k: int
    neurons: torch.Tensor
    fmap_hw: tuple[int, int]
    n_channels: int
    values: torch.Tensor = field(init=False)
    index: torch.Tensor = field(init=False)
    pos: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        n, dev = self.neurons.numel(), self.neurons.device
        self.values = torch.full((n, self.k), -torch.inf, device=dev)
        self.index = torch.full((n, self.k), -1, dtype=torch.int64, device=dev)
        self.pos = torch.zeros((n, self.k), dtype=torch.int64, device=dev)

    def update(self, values: torch.Tensor, pos: torch.Tensor, first_index: int) -> None:
        """Merge a batch: ``values``/``pos`` ``[B, n]`` for images ``first_index .. first_index+B-1``."""
        b = values.shape[0]
        idx = torch.arange(first_index, first_index + b, device=values.device).expand(values.shape[1], b)
        all_v = torch.cat([self.values, values.t().float()], dim=1)
        all_i = torch.cat([self.index, idx], dim=1)
        all_p = torch.cat([self.pos, pos.t()], dim=1)
        order = torch.sort(all_v, dim=1, descending=True, stable=True).indices[:, : self.k]
        self.values = all_v.gather(1, order)
        self.index = all_i.gather(1, order)
        self.pos = all_p.gather(1, order)

    def result(self) -> LayerTopK:
        """The final top-k as numpy arrays (see :class:`LayerTopK`)."""
        w = self.fmap_hw[1]
        pos = self.pos.cpu().numpy()
        return LayerTopK(
            neurons=self.neurons.cpu().numpy().astype(np.int64),
            values=self.values.cpu().numpy().astype(np.float32),
            image_index=self.index.cpu().numpy().astype(np.int64),
            y=pos // w,
            x=pos % w,
            fmap_hw=self.fmap_hw,
            n_channels=self.n_channels,
        )


def spatial_max(fmap: torch.Tensor, channels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel spatial max and flat argmax (first maximum, row-major).

    Args:
        fmap: ``[B, C, h, w]``.
        channels: int64 ``[n]`` channel indices.

    Returns:
        ``values [B, n]`` (fmap dtype) and ``pos [B, n]`` int64 = ``y·w + x``.
    """
    sel = fmap.index_select(1, channels).flatten(2)
    values, pos = sel.max(dim=2)
    return values, pos


def extract_topk(
    model: nn.Module,
    images: np.ndarray,
    layers: Sequence[str],
    k: int,
    neurons_per_layer: int,
    batch_size: int,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> dict[str, LayerTopK]:
    """Top-k images of the sampled neurons of every layer, in one forward pass.

    Args:
        model: a model taking ``[B, 3, H, W]`` floats in [0, 1] (a
            :class:`~blurscope.models.network.BlurscopeNet` applies its own blur and
            normalisation); layer names relative to its backbone.
        images: uint8 ``[N, H, W, 3]``; converted batch by batch with
            :func:`blurscope.data.files.to_float`.
        layers: layer names (config ``analysis.layers``).
        k: images kept per neuron (config ``topk.k``); must be ``<= N``.
        neurons_per_layer: sampled channels per layer (:func:`sample_neurons`).
        batch_size: images per forward pass.
        device: torch device of ``model``.
        progress: called with the number of images after each batch.

    Returns:
        ``{layer: LayerTopK}``.

    Raises:
        KeyError: unknown layer (lists the valid names).
        ValueError: bad ``k`` / ``batch_size`` / images, non-finite activations.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 [N,H,W,3], got {images.dtype} {images.shape}")
    n_images = images.shape[0]
    if k < 1 or k > n_images:
        raise ValueError(f"topk.k={k} must be between 1 and the number of images ({n_images})")
    if batch_size < 1:
        raise ValueError(f"topk.batch_size must be >= 1, got {batch_size}")
    layers = list(dict.fromkeys(layers))
    if not layers:
        raise ValueError("no layers given (config analysis.layers is empty)")
    for name in layers:
        get_module(model, name)  # unknown name -> KeyError listing the valid names
    device = torch.device(device)
    states: dict[str, StreamingTopK] = {}
    batch: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    remaining: set[str] = set()

    class _Done(Exception):
        pass

    def reduce(name: str, _m: nn.Module, _inputs: tuple, output: object) -> None:
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise ValueError(f"layer {name!r} output is not a [B, C, h, w] feature map")
        st = states.get(name)
        if st is None:
            c = int(output.shape[1])
            chans = torch.as_tensor(sample_neurons(c, neurons_per_layer), device=output.device)
            st = states[name] = StreamingTopK(k, chans, (int(output.shape[2]), int(output.shape[3])), c)
        batch[name] = spatial_max(output, st.neurons)
        remaining.discard(name)
        if not remaining:
            raise _Done  # every configured layer seen: the rest of the network is not needed

    model.eval()
    with torch.inference_mode(), capture(model, layers, reduce):
        for start in range(0, n_images, batch_size):
            x = to_float(images[start : start + batch_size]).to(device, non_blocking=True)
            remaining.update(layers)
            batch.clear()
            try:
                model(x)
            except _Done:
                pass
            for name in layers:
                if name not in batch:
                    raise ValueError(f"layer {name!r} was not executed in the model's forward pass")
                values, pos = batch[name]
                if not torch.isfinite(values).all():
                    raise ValueError(f"non-finite activations in layer {name!r} (images {start}..)")
                states[name].update(values, pos, start)
            if progress is not None:
                progress(x.shape[0])
    return {name: states[name].result() for name in layers}


def topk_arrays(results: dict[str, LayerTopK], image_ids: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Flatten results into ``.npz`` arrays: ``layers`` plus ``<layer>__<key>`` per layer.

    Keys per layer: ``neurons``, ``values``, ``image_index``, ``image_id``
    (``image_ids[image_index]`` if given, else the index), ``y``, ``x``,
    ``fmap_hw``, ``n_channels``.
    """
    out: dict[str, np.ndarray] = {"layers": np.array(list(results), dtype=str)}
    for name, r in results.items():
        ids = np.asarray(image_ids)[r.image_index] if image_ids is not None else r.image_index
        out[f"{name}__neurons"] = r.neurons
        out[f"{name}__values"] = r.values
        out[f"{name}__image_index"] = r.image_index
        out[f"{name}__image_id"] = np.asarray(ids, dtype=np.int64)
        out[f"{name}__y"] = r.y
        out[f"{name}__x"] = r.x
        out[f"{name}__fmap_hw"] = np.asarray(r.fmap_hw, dtype=np.int64)
        out[f"{name}__n_channels"] = np.asarray(r.n_channels, dtype=np.int64)
    return out


def load_topk(arrays: dict[str, np.ndarray] | np.lib.npyio.NpzFile, layer: str, source: str = "") -> LayerTopK:
    """One layer's :class:`LayerTopK` from arrays written by :func:`topk_arrays`.

    Raises:
        KeyError: the layer is not in the file (lists the layers that are).
    """
    layers = [str(v) for v in np.asarray(arrays["layers"])]
    if layer not in layers:
        raise KeyError(f"layer {layer!r} not in top-k file {source}; it holds: {', '.join(layers)}")
    g = lambda key: np.asarray(arrays[f"{layer}__{key}"])  # noqa: E731
    return LayerTopK(
        neurons=g("neurons"),
        values=g("values"),
        image_index=g("image_index"),
        y=g("y"),
        x=g("x"),
        fmap_hw=tuple(int(v) for v in g("fmap_hw")),  # type: ignore[arg-type]
        n_channels=int(g("n_channels")),
    )


def subset_topk(topk: LayerTopK, rows: np.ndarray) -> LayerTopK:
    """The same result restricted to neuron rows ``rows`` (positions, not channel ids)."""
    rows = np.asarray(rows, dtype=np.int64)
    return LayerTopK(
        neurons=topk.neurons[rows],
        values=topk.values[rows],
        image_index=topk.image_index[rows],
        y=topk.y[rows],
        x=topk.x[rows],
        fmap_hw=topk.fmap_hw,
        n_channels=topk.n_channels,
    )
