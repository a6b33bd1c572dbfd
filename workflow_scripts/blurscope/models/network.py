"""Model construction, the blur-prepended wrapper, and safetensors checkpoints.

Every trained blurscope model is a :class:`BlurscopeNet`: a fixed Gaussian blur
(Li et al.'s blurring layer, docs/references.md; σ in pixels of the input), ImageNet normalisation
and a backbone (timm / torchvision / antialiased_cnns). Its input is a float
image batch ``[B, 3, H, W]`` in ``[0, 1]``; its output logits ``[B, K]``.
Layer names used in the config ("layer4.0", "layer2.2") are relative to
``backbone`` (see :mod:`blurscope.hooks`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from blurscope.blur import GaussianBlur, sigma_to_px
from blurscope.io import atomic_path, write_json
from blurscope.model_id import BASELINE, ModelId

log = logging.getLogger("blurscope.models.network")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

NARROW = "resnet_narrow"
"""The embedded default: timm ResNet, BasicBlock ×[1,1,1,1], widths 16/32/64/128 (stem included)."""

TORCHVISION_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


def _narrow(num_classes: int, antialiased: bool, widths: tuple[int, ...] = (16, 32, 64, 128)) -> nn.Module:
    """The embedded default's narrow ResNet (:class:`blurscope.models.narrow.NarrowResNet`, timm's architecture and
    module names without importing timm)."""
    from blurscope.models.narrow import NarrowResNet

    return NarrowResNet(num_classes, tuple(widths), antialiased)


def available_architectures() -> list[str]:
    """Architecture names accepted by :func:`build_model` (plus any ``timm:<name>``)."""
    return [NARROW, *TORCHVISION_RESNETS, "timm:<any timm model name>"]


def build_model(arch: str, num_classes: int, antialiased: bool = False, **kwargs: Any) -> nn.Module:
    """A randomly initialised backbone.

    Args:
        arch: ``"resnet_narrow"`` (timm narrow ResNet), a torchvision ResNet name
            (``"resnet50"`` …; with ``antialiased=True`` the antialiased_cnns
            BlurPool version with filter size 4), or ``"timm:<name>"``.
        num_classes: classifier outputs K.
        antialiased: BlurPool variant (Zhang 2019).
        kwargs: ``widths`` for the narrow net.

    Raises:
        ValueError: unknown architecture (the message lists the valid ones).
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if arch == NARROW:
        return _narrow(num_classes, antialiased, tuple(kwargs.get("widths", (16, 32, 64, 128))))
    if arch in TORCHVISION_RESNETS:
        if antialiased:
            import antialiased_cnns

            return getattr(antialiased_cnns, arch)(pretrained=False, filter_size=4, num_classes=num_classes)
        import torchvision

        return getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
    if arch.startswith("timm:"):
        import timm

        extra: dict[str, Any] = {}
        if antialiased:
            from timm.layers import BlurPool2d

            extra["aa_layer"] = BlurPool2d
        try:
            return timm.create_model(arch[5:], pretrained=False, num_classes=num_classes, **extra)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"model.arch {arch!r}: timm could not build it ({err})") from err
    raise ValueError(f"model.arch {arch!r} is not known; valid: {', '.join(available_architectures())}")


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` with the statistics stored as buffers."""

    def __init__(self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return (x - self.mean) / self.std


class BlurscopeNet(nn.Module):
    """``[B,3,H,W]`` in [0,1] → fixed blur (σ px) → normalise → backbone → logits ``[B,K]``."""

    def __init__(self, backbone: nn.Module, sigma_px: float = 0.0) -> None:
        super().__init__()
        self.blur = GaussianBlur(sigma_px)
        self.normalize = Normalize()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.backbone(self.normalize(self.blur(x)))


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a checkpoint's backbone state dict (every layout of :func:`blurscope.models.checkpoints.read_checkpoint`:
    ``.safetensors``, a torch state dict or checkpoint dict read with ``weights_only=True``, ``module.`` prefixes,
    blurscope's own model files).

    Raises:
        FileNotFoundError / ValueError naming the file.
    """
    from blurscope.models.checkpoints import read_checkpoint

    return read_checkpoint(path)[0]


def load_backbone_weights(
    backbone: nn.Module, state: dict[str, torch.Tensor], source: str, reset_head: bool = False
) -> list[str]:
    """Load ``state`` into ``backbone`` strictly, with a clear error on any mismatch.

    Args:
        reset_head: drop classifier tensors whose shape differs (fine-tuning a
            checkpoint on a dataset with another number of classes).

    Returns:
        The names of tensors that were skipped (head reset).

    Raises:
        ValueError: naming ``source`` and listing missing / unexpected / mis-shaped keys.
    """
    from blurscope.models.checkpoints import backbone_names

    state = backbone_names(state)
    own = backbone.state_dict()
    skipped: list[str] = []
    shape_bad = [k for k in state if k in own and own[k].shape != state[k].shape]
    if reset_head and shape_bad:
        head = {k for k in shape_bad if k.split(".")[0] in ("fc", "head", "classifier", "last_linear")}
        for k in head:
            skipped.append(k)
            state.pop(k)
        shape_bad = [k for k in shape_bad if k not in head]
    missing = [k for k in own if k not in state and k not in skipped]
    unexpected = [k for k in state if k not in own]
    if shape_bad or missing or unexpected:
        parts = []
        if shape_bad:
            parts.append(
                "shape mismatch: "
                + ", ".join(f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in shape_bad[:8])
            )
        if missing:
            parts.append(f"missing {len(missing)} keys (e.g. {', '.join(missing[:5])})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys (e.g. {', '.join(unexpected[:5])})")
        raise ValueError(
            f"checkpoint {source} does not fit architecture {type(backbone).__name__}: " + "; ".join(parts)
        )
    backbone.load_state_dict(state, strict=False)
    return skipped


def save_model(model: BlurscopeNet, path: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write weights to ``path`` (.safetensors) and ``meta`` to the sibling ``.json``."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"model path {path} must end in .safetensors")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # meta first: a weights file on disk always has its meta beside it
    write_json(meta, path.with_suffix(".json"))
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))


def model_from_meta(meta: dict[str, Any]) -> BlurscopeNet:
    """An untrained :class:`BlurscopeNet` with the architecture and σ that ``meta`` describes."""
    backbone = build_model(meta["arch"], int(meta["num_classes"]), bool(meta.get("antialiased", False)),
                           **meta.get("arch_kwargs", {}))
    return BlurscopeNet(backbone, float(meta.get("sigma_px", 0.0)))


def initial_network(arch: str, num_classes: int, antialiased: bool, arch_kwargs: dict[str, Any],
                    sigma_px: float, seed: int) -> BlurscopeNet:
    """The untrained network a from-scratch training with ``seed`` starts from.

    Seeds torch's global RNG with ``seed`` and builds the backbone, so the
    initialisation depends on the seed alone; training and the stem diagnostic
    (which compares the trained stem with this initialisation) both call it.
    """
    torch.manual_seed(int(seed))
    return BlurscopeNet(build_model(arch, int(num_classes), bool(antialiased), **dict(arch_kwargs)), float(sigma_px))


def initial_network_of(meta: dict[str, Any]) -> BlurscopeNet:
    """:func:`initial_network` for a trained model's meta (its arch, classes, blur and seed)."""
    return initial_network(meta["arch"], int(meta["num_classes"]), bool(meta.get("antialiased", False)),
                           meta.get("arch_kwargs", {}), float(meta.get("sigma_px", 0.0)), int(meta["seed"]))


def without_blur(model: nn.Module) -> nn.Module:
    """The same network with its fixed training blur switched off: ``normalize → backbone``.

    A :class:`BlurscopeNet` fine-tuned at σ blurs every input at σ: the blur
    layer is how it was *trained* on blurred images (Li et al.). Probing what the
    trained network itself responds to — clear images as in the VITAL feature-analysis report, or a test
    image blurred at a stated σ exactly once — needs the network without that
    layer. Returns a :class:`BlurscopeNet` with σ = 0 that shares ``normalize``
    and ``backbone`` (no copy), so layer names resolve as everywhere else.
    Modules without ``blur`` / ``normalize`` / ``backbone`` are returned unchanged.
    """
    if not all(hasattr(model, a) for a in ("blur", "normalize", "backbone")):
        return model
    wrapped = BlurscopeNet(model.backbone, 0.0)
    wrapped.normalize = model.normalize
    wrapped.train(model.training)
    return wrapped


def load_model(
    path: str | os.PathLike, device: str | torch.device = "cpu", own_blur: bool = True,
    blur_sigma_px: float | None = None,
) -> tuple[BlurscopeNet, dict[str, Any]]:
    """Load a trained model (``.safetensors`` + sibling ``.json`` meta), in eval mode.

    Args:
        own_blur: keep the model's fixed training blur (σ = ``meta["sigma_px"]``)
            in front of the network; ``False`` gives :func:`without_blur`.
        blur_sigma_px: put a fixed blur of this σ (px) in front of the network
            *instead of* its own: the filter-only reference (the σ 0 network behind
            the blur a σ model was trained with, untrained for it). The returned
            meta then records ``reference_sigma_px``. Excludes ``own_blur=False``.

    Returns:
        ``(model, meta)``; see :class:`BlurscopeNet` for the input convention.
    """
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        raise FileNotFoundError(f"model meta {meta_path} (written beside {path.name} by training) is missing")
    meta = json.loads(meta_path.read_text())
    model = model_from_meta(meta)
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
        raise ValueError(f"weights file {path} cannot be read ({err}); delete it and rerun its training rule") from err
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"weights {path} do not match the architecture in {meta_path.name}: {err}") from err
    if blur_sigma_px is not None:
        if not own_blur:
            raise ValueError(
                "load_model: blur_sigma_px replaces the model's blur; it cannot be combined with own_blur=False"
            )
        reference = BlurscopeNet(model.backbone, float(blur_sigma_px))
        reference.normalize = model.normalize
        model, meta = reference, {**meta, "reference_sigma_px": float(blur_sigma_px)}
    model = model if own_blur else without_blur(model)
    return model.to(device).eval(), meta


def load_model_id(
    weights: str | os.PathLike, model: str | ModelId, device: str | torch.device = "cpu", own_blur: bool = True,
) -> tuple[BlurscopeNet, dict[str, Any]]:
    """Load the network of any model id (:mod:`blurscope.model_id`), filter-only references included.

    Args:
        weights: the ``.safetensors`` file of the trained network the id uses
            (:attr:`blurscope.model_id.ModelId.network`: a reference ``ref-sigma<σ>[-seed<k>]`` uses the
            weights of the σ 0 run ``sigma0[-seed<k>]``); its ``.json`` meta lies beside it.
        model: the model id (``str`` or :class:`~blurscope.model_id.ModelId`).
        device: where the model goes.
        own_blur: keep a trained model's fixed training blur in front of the network (``False``: the
            network alone, :func:`without_blur`). A reference always has its blur: the blur of σ
            (px at 224 px, scaled to the model's ``image_size``) in front of the σ 0 network *is* the
            reference.

    Returns:
        ``(model, meta)`` in eval mode. For a reference ``meta`` is the σ 0 run's with ``model_id`` =
        the reference's id, ``reference_of`` = the σ 0 run's id, ``sigma`` = the blur's σ (px at
        224 px), ``sigma_px`` = ``reference_sigma_px`` = the blur's σ in px of the image.

    Raises:
        ValueError: the id is outside the grammar or the baseline, or ``weights`` hold another network.
    """
    mid = model if isinstance(model, ModelId) else ModelId.parse(model)
    if mid.kind == BASELINE:
        raise ValueError(f"model id {mid} (random patches) is not a network")
    meta_path = Path(weights).with_suffix(".json")
    if not meta_path.is_file():
        raise FileNotFoundError(f"model meta {meta_path} (written beside {Path(weights).name} by training) is missing")
    stored = json.loads(meta_path.read_text())
    if str(stored.get("model_id", mid.network)) != str(mid.network):
        raise ValueError(f"{weights} holds model {stored['model_id']!r}, but model {mid} uses the weights of "
                         f"{mid.network}")
    if not mid.is_reference:
        return load_model(weights, device, own_blur=own_blur)
    if "image_size" not in stored:
        raise ValueError(f"{meta_path}: no 'image_size' (the blur of reference {mid} is given in px at 224 px)")
    blur_px = sigma_to_px(mid.sigma, int(stored["image_size"]))
    net, meta = load_model(weights, device, blur_sigma_px=blur_px)
    return net, {**meta, "model_id": str(mid), "reference_of": meta["model_id"], "sigma": mid.sigma,
                 "sigma_px": blur_px}
