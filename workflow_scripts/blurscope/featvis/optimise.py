"""Feature visualisation by optimisation: the image each neuron wants to see (Olah et al. 2017).

Top-k patches show what a neuron prefers *among the analysis images*;
:func:`render` asks the dataset-free question: starting from faint noise,
optimise an image so that one channel of a layer responds as strongly as
possible, then measure that image's spectrum with the library's one spectrum
definition (:func:`featvis_metrics` → :func:`blurscope.spectra.spectrum.patch_spectra`).

Method (Olah, Mordvintsev & Schubert 2017, "Feature Visualization", Distill;
the parameterisation and transforms of Lucid / its PyTorch port Lucent):

* **Fourier parameterisation, 1/f scaled.** The free parameters are the real
  and imaginary parts of the image's half-plane spectrum
  ``[n, 3, S, S//2 + 1, 2]`` (``torch.fft.irfft2`` order, ``norm="ortho"``),
  drawn ``N(0, init_sd²)``. Each coefficient is multiplied by
  ``1 / max(f, 1/S)`` (``f`` = radial frequency in cycles/pixel from
  :func:`blurscope.freq.radius_cpp`; the DC term gets ``S``) before the inverse
  FFT, and the image is divided by Lucid's constant 4. Adam moves every
  parameter by about the same step, so the image moves by ∝ 1/f per frequency:
  the start and every update have a natural-image-like 1/f² power spectrum
  instead of white noise's, i.e. the optimiser is not biased toward high
  frequencies (a pixel parameterisation is, and produces high-frequency
  "adversarial" patterns).
* **Decorrelated colour.** The three spectrum channels live in a decorrelated
  colour space and are mapped to RGB by Lucid's colour-correlation matrix
  (square root of ImageNet's colour covariance, columns scaled to max norm 1,
  :data:`COLOR_CORRELATION`).
* **Sigmoid** maps the result to ``(0, 1)``: the model's input range (a
  :class:`blurscope.models.network.BlurscopeNet` takes ``[0, 1]`` images and applies its
  own normalisation).
* **Robustness transforms** (:class:`Transforms`), drawn independently for every
  image and step: the image is placed on a grey (0.5) canvas ``pad`` px larger
  on every side, translated by an integer ``(dy, dx)`` uniform in
  ``[−jitter, jitter]`` and, with probability ``p_scale_rotate`` (default 0.5),
  scaled by a factor uniform in ``[1 − scale, 1 + scale]`` and rotated by an
  angle uniform in ``[−rotate, rotate]`` degrees about the image centre — one
  bilinear resampling (``grid_sample``) per step. Without them the optimum is a
  brittle high-frequency pattern. Scaling and rotating in every step (Lucent)
  hides what a channel tuned near Nyquist wants: they move its grating by a
  frequency ∝ f, out of the channel's band in most steps; the steps without them
  let the render find it, and the render is still optimised for the scaled and
  rotated views (docs/featvis.md: known answers and robustness, measured).
* **Objective**: the mean over spatial positions of the channel's output
  (``"mean"``, default) or its centre unit (``"center"``, position
  ``(h // 2, w // 2)`` of the feature map). All channels are optimised together
  in one batch (image ``i`` maximises channel ``channels[i]``); images do not
  interact (the model runs in eval mode), so the result does not depend on the
  batch size up to float rounding. Adam, learning rate ``lr``, ``steps`` steps.
  Only the image's gradient is computed (``torch.autograd.grad``), and the
  forward stops at the analysed layer.
* **Redirected ReLU gradients** (Lucid's ``redirected_relu_grad``, on by default
  in Lucid's ``render_vis``; Lucent has none): while rendering, every
  ``nn.ReLU`` of the network computes the same forward values, but for an image
  whose gradient through that ReLU would be exactly zero (every unit off — a
  channel silent for the faint starting noise) the gradient passes where it
  would raise the unit. Without it such a channel never moves off its start
  (measured on the trained σ 0 narrow ResNet at 64 px: 4, 3 and 5 of the 12
  grid neurons of layer2.0 / 3.0 / 4.0). Images with a non-zero ReLU gradient
  get the plain ReLU gradient.
* **Clear-input protocol.** The network runs *without* its training blur layer
  (:func:`blurscope.models.network.without_blur`): the question is what the trained
  network prefers, not what a low-pass filter in front of it lets through.
* **Seeds.** The initial spectrum and all transform draws of image ``i`` come
  from ``numpy.random.default_rng([seed, crc32(layer), channels[i]])``: the same
  (seed, layer, channel) gets the same start and transforms in every model, and
  on CPU the same call returns bitwise identical images (for a fixed thread
  count: threads change float rounding, which the optimisation amplifies).

Units: images are float ``[0, 1]``; the measures take them as grey levels
``255·x`` (:func:`grey_levels`, the patch metrics' 0–255 units, not rounded);
:func:`to_uint8` gives the stored 8-bit images ``round(255·x)``. A positive
rotation angle turns the image clockwise as displayed (y down).
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from blurscope.features.topk import sample_neurons

# the featvis file and the statistics live in the torch-free featvis_stats (re-exported here)
from blurscope.featvis.stats import FILE_KEYS, METRICS, featvis_summary, load_featvis, save_featvis  # noqa: F401
from blurscope.freq import radius_cpp
from blurscope.hooks import capture, get_module
from blurscope.models.network import without_blur
from blurscope.spectra.spectrum import patch_spectra, periodogram

log = logging.getLogger("blurscope.featvis.optimise")

OBJECTIVES = ("mean", "center")
"""Channel objectives: spatial mean of the channel, or its centre unit."""

COLOR_CORRELATION_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float64
)
"""Lucid's square root of ImageNet's RGB colour covariance (rows R, G, B)."""

COLOR_CORRELATION = COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0))
"""Decorrelated → RGB mixing matrix ``[3 rgb, 3 decorrelated]``, columns scaled to max norm 1 (Lucid)."""

LUCID_SCALE = 4.0
"""Lucid's constant divisor of the inverse FFT (a smaller start amplitude, less saturation)."""


@dataclass(frozen=True)
class Transforms:
    """Random robustness transforms applied to every image at every step.

    The ranges are Lucent's ``standard_transforms`` (pad 12, jitter 8 then 4,
    scale 0.9–1.1, rotation ±10° at 224 px) with the pixel sizes scaled to the
    embedded default's 64 px. Scale and rotation apply to a random fraction
    ``p_scale_rotate`` of the steps (every image draws its own); the other steps
    only pad and jitter (an exact pixel copy). Scaling by ``s`` moves a grating at
    ``f`` c/px to ``f/s`` and rotating turns it: a shift that grows with ``f``
    (±0.04 c/px at 0.44 c/px), so a channel tuned near Nyquist is hit in few
    steps when every step is scaled and rotated, and its render loses it
    (docs/featvis.md measures this; the resampling itself is not the cause).

    Attributes:
        pad: grey (0.5) border in px added on every side; the model sees
            ``S + 2·pad`` px.
        jitter: integer translation in px, each axis uniform in ``[−jitter, jitter]``.
        scale: scale factor uniform in ``[1 − scale, 1 + scale]`` (0 = none).
        rotate: rotation angle uniform in ``[−rotate, rotate]`` degrees (0 = none).
        p_scale_rotate: probability that an image is scaled and rotated at a step
            (1 = every step, the Lucent transforms; 0 = pad and jitter only).
    """

    pad: int = 4
    jitter: int = 3
    scale: float = 0.1
    rotate: float = 10.0
    p_scale_rotate: float = 0.5

    def __post_init__(self) -> None:
        if int(self.pad) != self.pad or self.pad < 0:
            raise ValueError(f"featvis.transforms.pad must be an integer >= 0 (px), got {self.pad}")
        if int(self.jitter) != self.jitter or self.jitter < 0:
            raise ValueError(f"featvis.transforms.jitter must be an integer >= 0 (px), got {self.jitter}")
        if not 0 <= self.scale < 1:
            raise ValueError(f"featvis.transforms.scale must lie in [0, 1), got {self.scale}")
        if not 0 <= self.rotate <= 180:
            raise ValueError(f"featvis.transforms.rotate must lie in [0, 180] degrees, got {self.rotate}")
        if not 0 <= self.p_scale_rotate <= 1:
            raise ValueError(f"featvis.transforms.p_scale_rotate must lie in [0, 1], got {self.p_scale_rotate}")

    @property
    def identity(self) -> bool:
        """No transform at all: no pad, no jitter, and no scale or rotation at any step."""
        resample = self.p_scale_rotate > 0 and (self.scale > 0 or self.rotate > 0)
        return self.pad == 0 and self.jitter == 0 and not resample

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None) -> Transforms:
        """From a config mapping ``{pad, jitter, scale, rotate, p_scale_rotate}`` (missing keys: defaults;
        ``None``: none)."""
        if cfg is None:
            return NO_TRANSFORMS
        keys = ("pad", "jitter", "scale", "rotate", "p_scale_rotate")
        unknown = sorted(set(cfg) - set(keys))
        if unknown:
            raise ValueError(f"featvis.transforms: unknown keys {unknown}; valid: {', '.join(keys)}")
        return cls(**cfg)


NO_TRANSFORMS = Transforms(pad=0, jitter=0, scale=0.0, rotate=0.0)
"""No transform at all: the model sees the parameterised image as it is."""


# --- parameterisation ---------------------------------------------------------------------------


def fourier_scale(size: int, decay_power: float = 1.0) -> np.ndarray:
    """Per-coefficient amplitude ``1 / max(f, 1/size)^decay_power``, float64 ``[size, size//2 + 1]``.

    ``f`` is the radial frequency (cycles/pixel, :func:`blurscope.freq.radius_cpp`)
    of each coefficient of the half-plane (``rfft2``) spectrum of a
    ``size × size`` image; the DC term gets ``size`` (Lucid's floor).
    """
    if size < 2:
        raise ValueError(f"featvis image size must be >= 2 px, got {size}")
    r = radius_cpp(size, size)[:, : size // 2 + 1]
    return 1.0 / np.maximum(r, 1.0 / size) ** float(decay_power)


def spectrum_to_image(spectrum: torch.Tensor, scale: torch.Tensor, decorrelate: bool = True) -> torch.Tensor:
    """Parameters → image: ``[n, 3, S, S//2+1, 2]`` (real, imag) → float ``[n, 3, S, S]`` in (0, 1).

    ``image = sigmoid(C · irfft2(scale · spectrum, norm="ortho") / 4)`` with ``C``
    = :data:`COLOR_CORRELATION` when ``decorrelate`` (identity otherwise);
    ``scale`` = :func:`fourier_scale` as a tensor ``[S, S//2+1]``.
    """
    if spectrum.ndim != 5 or spectrum.shape[1] != 3 or spectrum.shape[-1] != 2:
        raise ValueError(f"spectrum must be [n, 3, S, S//2+1, 2], got {tuple(spectrum.shape)}")
    size = spectrum.shape[2]
    coeffs = torch.view_as_complex(spectrum.contiguous()) * scale
    z = torch.fft.irfft2(coeffs, s=(size, size), norm="ortho") / LUCID_SCALE
    if decorrelate:
        mix = torch.as_tensor(COLOR_CORRELATION, dtype=z.dtype, device=z.device)
        z = torch.einsum("dc,nchw->ndhw", mix, z)
    return torch.sigmoid(z)


def _stream(seed: int, layer: str, channel: int) -> np.random.Generator:
    """The random stream of one rendered image: depends on (seed, layer, channel) only."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(layer.encode()), int(channel)])


def _draws(
    seed: int, layer: str, channels: Sequence[int], size: int, steps: int, init_sd: float, tf: Transforms
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Initial spectra ``[n,3,S,S//2+1,2]``, shifts ``[steps,n,2]`` (px), scales, angles ``[steps,n]`` (rad).

    Per image, in this order from its stream: spectrum, shifts, scales, angles, then
    one uniform per step; a step whose uniform is not below ``tf.p_scale_rotate``
    gets scale 1 and angle 0 (so ``p_scale_rotate = 1`` gives the draws of the
    plain Lucent transforms, bit for bit).
    """
    shape = (3, size, size // 2 + 1, 2)
    spec, shift, scale, angle = [], [], [], []
    for c in channels:
        rng = _stream(seed, layer, c)
        spec.append(rng.standard_normal(shape) * init_sd)
        shift.append(rng.integers(-tf.jitter, tf.jitter + 1, size=(steps, 2)))
        s = 1.0 + tf.scale * rng.uniform(-1.0, 1.0, size=steps)
        a = np.deg2rad(tf.rotate) * rng.uniform(-1.0, 1.0, size=steps)
        on = rng.uniform(0.0, 1.0, size=steps) < tf.p_scale_rotate
        scale.append(np.where(on, s, 1.0))
        angle.append(np.where(on, a, 0.0))
    return (np.stack(spec), np.stack(shift, axis=1), np.stack(scale, axis=1), np.stack(angle, axis=1))


def transform_images(
    images: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, angle: torch.Tensor, pad: int
) -> torch.Tensor:
    """Place images on a grey canvas and translate, scale, rotate each (one bilinear resampling).

    Args:
        images: float ``[n, 3, S, S]`` in [0, 1].
        shift: ``[n, 2]`` translation ``(dy, dx)`` in px (down, right).
        scale: ``[n]`` scale factors (> 1 enlarges).
        angle: ``[n]`` rotation angles in radians (about the image centre).
        pad: grey border in px on every side.

    Returns:
        float ``[n, 3, S + 2·pad, S + 2·pad]``; canvas outside the transformed image is 0.5.
        With unit scale and zero angle, an integer shift copies pixels exactly.
    """
    n, _, size, _ = images.shape
    out = size + 2 * pad
    dtype, dev = images.dtype, images.device
    shift, scale, angle = (t.to(dtype=dtype, device=dev) for t in (shift, scale, angle))
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    k = out / size  # canvas half-width in units of the image's half-width
    # output pixel u (px from canvas centre) samples source v = R(-θ)/s · (u − t); normalised by S/2
    theta = torch.zeros(n, 2, 3, dtype=dtype, device=dev)
    theta[:, 0, 0], theta[:, 0, 1] = cos * k, sin * k
    theta[:, 1, 0], theta[:, 1, 1] = -sin * k, cos * k
    tx, ty = shift[:, 1] * 2.0 / size, shift[:, 0] * 2.0 / size
    theta[:, 0, 2] = -(cos * tx + sin * ty)
    theta[:, 1, 2] = -(-sin * tx + cos * ty)
    grid = F.affine_grid(theta, [n, 3, out, out], align_corners=False)
    return F.grid_sample(images - 0.5, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + 0.5


# --- the network up to one layer ----------------------------------------------------------------


class _RedirectedReLUFunction(torch.autograd.Function):
    """ReLU whose backward redirects the gradient of images that would otherwise get none (Lucid)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.relu(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        off = x <= 0
        relu_grad = grad.masked_fill(off, 0.0)
        silent = ~relu_grad.reshape(x.shape[0], -1).any(dim=1)  # [B]: no gradient at all
        if not bool(silent.any()):
            return relu_grad
        # where a unit is off, only a gradient that would raise it passes (loss gradient < 0)
        redirected = grad.masked_fill(off & (grad > 0), 0.0)
        return torch.where(silent.view(-1, *([1] * (x.ndim - 1))), redirected, relu_grad)


class RedirectedReLU(nn.Module):
    """``nn.ReLU`` with Lucid's redirected gradient (forward values identical, never in place)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _RedirectedReLUFunction.apply(x)


@contextlib.contextmanager
def redirected_relus(model: nn.Module) -> Iterator[int]:
    """Swap every ``nn.ReLU`` submodule of ``model`` for :class:`RedirectedReLU` inside the block.

    Yields the number of swapped modules; the originals are put back on exit, also
    when the block raises. ReLUs called as functions (``F.relu``) are not affected.
    """
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    try:
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is nn.ReLU:
                    swapped.append((parent, name, child))
                    setattr(parent, name, RedirectedReLU())
        yield len(swapped)
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)



@contextlib.contextmanager
def _eval_mode(net: nn.Module) -> Iterator[nn.Module]:
    """``net`` in eval mode inside the block (BatchNorm running statistics, no dropout), restored after."""
    was_training = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was_training)


class _Stop(Exception):
    """Raised by the layer hook: the rest of the network is not needed."""


def layer_output(model: nn.Module, layer: str, images: torch.Tensor) -> torch.Tensor:
    """The output ``[B, C, h, w]`` of ``layer`` (names relative to the backbone) for ``images``.

    The forward stops at the layer. Gradients flow if the caller enables them.

    Raises:
        KeyError: unknown layer (lists the valid names, :func:`blurscope.hooks.get_module`).
        ValueError: the layer's output is not a 4-D feature map.
    """
    got: dict[str, torch.Tensor] = {}

    def grab(_name: str, _m: nn.Module, _i: tuple, output: object) -> None:
        got["out"] = output  # type: ignore[assignment]
        raise _Stop

    with capture(model, [layer], grab):
        try:
            model(images)
        except _Stop:
            pass
    if "out" not in got:
        raise ValueError(f"featvis: layer {layer!r} was not reached by the forward pass")
    out = got["out"]
    if not isinstance(out, torch.Tensor) or out.ndim != 4:
        kind = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"featvis: layer {layer!r} must output a feature map [B, C, h, w], got {kind}")
    return out


def layer_channels(model: nn.Module, layer: str, size: int) -> int:
    """Channel count of ``layer`` (one probe forward of a grey ``size`` px image, eval mode, no gradient)."""
    get_module(model, layer)  # unknown name → KeyError with the valid names, before any forward
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    with _eval_mode(model), torch.inference_mode():
        return int(layer_output(model, layer, torch.full((1, 3, size, size), 0.5, device=dev)).shape[1])


def grid_channels(n_channels: int, neurons_per_layer: int, grid_neurons: int) -> np.ndarray:
    """The channel ids of a layer's feature grid (int64, ascending).

    The top-k pass samples ``neurons_per_layer`` channels evenly
    (:func:`blurscope.features.topk.sample_neurons`) and the grid shows ``grid_neurons`` of
    them evenly spread (``plot_features.even_subset``, the same formula): featvis
    renders exactly those, so its figure shows the grids' neurons.
    """
    sampled = sample_neurons(int(n_channels), int(neurons_per_layer))
    return sampled[sample_neurons(len(sampled), int(grid_neurons))]


def _select(act: torch.Tensor, channels: torch.Tensor, objective: str) -> torch.Tensor:
    """Objective ``[n]``: image ``i``'s value of channel ``channels[i]`` (spatial mean or centre unit)."""
    sel = act[torch.arange(act.shape[0], device=act.device), channels]  # [n, h, w]
    if objective == "mean":
        return sel.mean(dim=(1, 2))
    return sel[:, sel.shape[1] // 2, sel.shape[2] // 2]


def channel_objective(
    model: nn.Module,
    layer: str,
    images: torch.Tensor,
    channels: Sequence[int],
    objective: str = "mean",
    pad: int = 0,
) -> torch.Tensor:
    """The objective ``[n]`` of ``images[i]`` for channel ``channels[i]``, clear input.

    ``images`` float ``[n, 3, S, S]`` in [0, 1], placed untransformed in the middle of
    a grey (0.5) canvas ``pad`` px wider on every side (the canvas the render was
    optimised on, without its random transforms). Runs the network without its
    training blur (:func:`blurscope.models.network.without_blur`), in eval mode (restored
    after) and ``torch.inference_mode()``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"featvis.objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    net = without_blur(model)
    dev = next((p.device for p in net.parameters()), torch.device("cpu"))
    idx = torch.as_tensor(list(channels), dtype=torch.int64, device=dev)
    with _eval_mode(net), torch.inference_mode():
        x = F.pad(images.to(dev) - 0.5, [int(pad)] * 4) + 0.5 if pad else images.to(dev)
        return _select(layer_output(net, layer, x), idx, objective).float().cpu()


# --- render -------------------------------------------------------------------------------------


def render(
    model: nn.Module,
    layer: str,
    channels: Sequence[int],
    size: int,
    steps: int,
    seed: int,
    *,
    lr: float = 0.05,
    objective: str = "mean",
    transforms: Transforms = Transforms(),
    decorrelate: bool = True,
    init_sd: float = 0.01,
    batch_size: int = 0,
    redirect_relu: bool = True,
) -> torch.Tensor:
    """Optimised images that maximise each channel of ``layer`` (a public contract: tests rely on it).

    Args:
        model: a blurscope model (:class:`blurscope.models.network.BlurscopeNet`; its training
            blur is switched off, :func:`blurscope.models.network.without_blur`) or any module
            taking ``[B, 3, H, W]`` images in [0, 1]. Run in eval mode (restored after).
        layer: layer name relative to the backbone (e.g. ``"layer4.0"``).
        channels: channel indices; image ``i`` maximises ``channels[i]``.
        size: image side ``S`` in px.
        steps: Adam steps (0 returns the initial image).
        seed: seed of the initial spectrum and of the transforms (module docstring).
        lr: Adam learning rate (on the Fourier parameters).
        objective: ``"mean"`` (spatial mean of the channel) or ``"center"`` (centre unit).
        transforms: robustness transforms (:class:`Transforms`; :data:`NO_TRANSFORMS`: none).
        decorrelate: Lucid's colour decorrelation (otherwise the channels are RGB).
        init_sd: standard deviation of the initial Fourier parameters.
        batch_size: images per forward/backward (0 = all in one batch). The images do
            not interact, so this bounds memory only.
        redirect_relu: Lucid's redirected ReLU gradients while rendering (module docstring).

    Returns:
        float32 ``[len(channels), 3, size, size]`` in [0, 1], on the CPU.

    Raises:
        KeyError: unknown layer (with the valid names).
        ValueError: a channel outside ``[0, C)`` (naming it, the layer and ``C``), or a bad argument.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"featvis.objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    channels = [int(c) for c in channels]
    if not channels:
        raise ValueError(f"featvis: no channels to render for layer {layer!r}")
    if int(size) != size or size < 8:
        raise ValueError(f"featvis.size must be an integer >= 8 px, got {size}")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"featvis.steps must be an integer >= 0, got {steps}")
    if not lr > 0:
        raise ValueError(f"featvis.lr must be > 0, got {lr}")
    if int(batch_size) != batch_size or batch_size < 0:
        raise ValueError(f"featvis.batch_size must be an integer >= 0, got {batch_size}")
    size, steps = int(size), int(steps)
    net = without_blur(model)
    with _eval_mode(net), redirected_relus(net) if redirect_relu else contextlib.nullcontext():
        return _render(net, layer, channels, size, steps, seed, lr, objective, transforms, decorrelate, init_sd,
                       batch_size)


def _render(
    net: nn.Module,
    layer: str,
    channels: list[int],
    size: int,
    steps: int,
    seed: int,
    lr: float,
    objective: str,
    transforms: Transforms,
    decorrelate: bool,
    init_sd: float,
    batch_size: int,
) -> torch.Tensor:
    """:func:`render` after the checks, on the prepared network (eval mode, blur off)."""
    n_channels = layer_channels(net, layer, size + 2 * transforms.pad)
    bad = [c for c in channels if not 0 <= c < n_channels]
    if bad:
        raise ValueError(
            f"featvis: channel {bad[0]} is out of range for layer {layer!r} with {n_channels} channels "
            f"(valid 0..{n_channels - 1}); bad channels: {bad}"
        )
    dev = next((p.device for p in net.parameters()), torch.device("cpu"))
    spec0, shift, scale, angle = _draws(seed, layer, channels, size, steps, init_sd, transforms)
    amp = torch.as_tensor(fourier_scale(size), dtype=torch.float32, device=dev)  # [S, S//2+1]
    out = torch.empty(len(channels), 3, size, size)
    step_b = batch_size or len(channels)
    for start in range(0, len(channels), step_b):
        part = slice(start, start + step_b)
        out[part] = _optimise(
            net, layer, torch.as_tensor(channels[part], device=dev),
            torch.as_tensor(spec0[part], dtype=torch.float32, device=dev),
            torch.as_tensor(shift[:, part], device=dev), torch.as_tensor(scale[:, part], device=dev),
            torch.as_tensor(angle[:, part], device=dev), amp, steps, lr, objective, transforms, decorrelate,
        ).cpu()
    return out


def _optimise(
    net: nn.Module,
    layer: str,
    channels: torch.Tensor,
    spectrum: torch.Tensor,
    shift: torch.Tensor,
    scale: torch.Tensor,
    angle: torch.Tensor,
    amp: torch.Tensor,
    steps: int,
    lr: float,
    objective: str,
    tf: Transforms,
    decorrelate: bool,
) -> torch.Tensor:
    """Adam on one batch of Fourier parameters; returns the final images ``[n, 3, S, S]``."""
    param = spectrum.clone().requires_grad_(True)
    opt = torch.optim.Adam([param], lr=lr)
    identity = tf.identity
    with torch.enable_grad():
        for t in range(steps):
            image = spectrum_to_image(param, amp, decorrelate)
            seen = image if identity else transform_images(image, shift[t], scale[t], angle[t], tf.pad)
            loss = -_select(layer_output(net, layer, seen), channels, objective).sum()
            (param.grad,) = torch.autograd.grad(loss, [param])
            opt.step()
    with torch.no_grad():
        return spectrum_to_image(param, amp, decorrelate)


# --- measures and tables ------------------------------------------------------------------------


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Float ``[N, 3, S, S]`` in [0, 1] → uint8 ``[N, S, S, 3]`` grey levels ``round(255·x)``."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise ValueError(f"images must be [N, 3, S, S] in [0, 1], got shape {arr.shape}")
    return np.ascontiguousarray(np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
                                .transpose(0, 2, 3, 1))


def grey_levels(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Images in the units of the patch metrics: float64 ``[N, S, S, 3]`` grey levels (0–255).

    Float ``[N, 3, S, S]`` in [0, 1] (as :func:`render` returns) → ``255·x`` (not
    rounded: a low-contrast render keeps its spectrum instead of 8-bit
    quantisation noise); uint8 ``[N, S, S, 3]`` (as stored) → as it is.
    """
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"uint8 images must be [N, S, S, 3], got shape {images.shape}")
        return images.astype(np.float64)
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise ValueError(f"float images must be [N, 3, S, S] in [0, 1], got shape {arr.shape}")
    return np.ascontiguousarray(arr.astype(np.float64).transpose(0, 2, 3, 1) * 255.0)


def featvis_metrics(
    images: torch.Tensor | np.ndarray, hf_cutoff: float, n_bins: int = 0, *, window: str
) -> dict[str, np.ndarray]:
    """Spectrum measures of each rendered image, with the patch metrics' one definition.

    Args:
        images: float ``[N, 3, S, S]`` in [0, 1] or uint8 ``[N, S, S, 3]`` (:func:`grey_levels`).
        hf_cutoff: cycles/pixel; HF fraction = AC power above it / all AC power.
        n_bins: radial bins (:func:`blurscope.spectra.spectrum.patch_spectra`); 0 = ``S // 2``,
            one per frequency step.
        window: the spectra's patch window (config ``spectra.window``), so that both
            measures follow the patch metrics' definition.

    Returns:
        ``freqs`` ``[n_bins]`` (cycles/pixel), ``power`` ``[N, n_bins]`` (grey levels²
        per frequency sample), ``hf_fraction`` ``[N]`` (both from
        :func:`blurscope.spectra.spectrum.patch_spectra`),
        and ``peak_freq`` ``[N]``: the radius (cycles/pixel,
        :func:`blurscope.freq.radius_cpp`) of the largest non-DC sample of the 2-D
        periodogram (:func:`blurscope.spectra.spectrum.periodogram`, same window) — the
        image's dominant frequency.
    """
    grey = grey_levels(images)
    bins = int(n_bins) or grey.shape[1] // 2
    freqs, power, hf = patch_spectra(grey, bins, hf_cutoff=float(hf_cutoff), window=window)
    assert hf is not None
    r = radius_cpp(grey.shape[1], grey.shape[2]).ravel()
    p2 = periodogram(grey, window).reshape(grey.shape[0], -1)
    peak = r[np.argmax(np.where(r > 0, p2, -np.inf), axis=1)]  # DC is not a frequency of the pattern
    return {"freqs": freqs, "power": power, "hf_fraction": hf, "peak_freq": peak}


def render_layers(
    model: nn.Module,
    layers: Sequence[str],
    neurons_per_layer: int,
    grid_neurons: int,
    size: int,
    steps: int,
    seed: int,
    hf_cutoff: float,
    n_bins: int = 0,
    *,
    window: str,
    **options: Any,
) -> tuple[list[dict[str, np.ndarray]], pd.DataFrame]:
    """Render the grid neurons of every layer of one model and measure them (rule featvis).

    Args:
        model: a blurscope model (rendered without its training blur).
        layers: layer names; per layer the channels are :func:`grid_channels`.
        neurons_per_layer, grid_neurons: ``topk.neurons_per_layer``, ``patches.grid_neurons``.
        size, steps, seed, options: :func:`render` (``lr``, ``objective``, ``transforms``,
            ``decorrelate``, ``init_sd``, ``batch_size``, ``redirect_relu``).
        hf_cutoff, n_bins, window: :func:`featvis_metrics` (config ``spectra``).

    Returns:
        per layer ``{images uint8 [n, S, S, 3], neurons, objective, objective_init,
        power [n, n_bins], freqs, hf_fraction, peak_freq}``, and one tidy row per
        layer × neuron: ``layer neuron objective objective_init active hf_fraction
        peak_freq``. ``objective`` / ``objective_init``: :func:`channel_objective` of the
        render / of its starting image on the grey-padded canvas (no random transform);
        ``active``: the render raised it (a render that did not is still its starting
        noise, and says nothing about the neuron).
    """
    objective = options.get("objective", "mean")
    pad = options.get("transforms", Transforms()).pad
    net = without_blur(model)
    results, rows = [], []
    for layer in layers:
        channels = grid_channels(layer_channels(net, layer, size + 2 * pad), neurons_per_layer, grid_neurons)
        ids = channels.tolist()
        start = render(net, layer, ids, size, 0, seed, **options)
        images = render(net, layer, ids, size, steps, seed, **options)
        res = featvis_metrics(images, hf_cutoff, n_bins, window=window)
        res["objective"] = channel_objective(net, layer, images, ids, objective, pad).numpy().astype(np.float64)
        res["objective_init"] = channel_objective(net, layer, start, ids, objective, pad).numpy().astype(np.float64)
        res["images"] = to_uint8(images)
        res["neurons"] = channels
        results.append(res)
        rows.append(pd.DataFrame({
            "layer": layer, "neuron": channels, "objective": res["objective"],
            "objective_init": res["objective_init"], "active": res["objective"] > res["objective_init"],
            "hf_fraction": res["hf_fraction"], "peak_freq": res["peak_freq"],
        }))
    return results, pd.concat(rows, ignore_index=True)
