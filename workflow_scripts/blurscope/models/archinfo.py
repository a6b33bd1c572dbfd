"""What an architecture looks like, without torch: module names, state-dict shapes, strides.

The Snakefile checks layer names and checkpoints before any job starts. Importing
torch and building a network for that costs seconds on every ``snakemake``
invocation (and twice per cluster job), so the ResNet families blurscope knows are
described here as plain tables: the module names that ``blurscope.hooks.get_module``
resolves on the backbone, the state-dict tensor names and shapes a checkpoint must
have, and the cumulative stride (hence the feature-map size) of every stage.
``tests/test_archinfo.py`` checks every table against the network that
:func:`blurscope.models.network.build_model` really builds.

Covered: ``resnet_narrow`` (both variants, any widths) and torchvision's
``resnet18`` … ``resnet152`` (plain). Other architectures (``timm:<name>``, the
antialiased_cnns BlurPool ResNets) return ``None``: the caller then builds the
network (:func:`describe_by_building`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

_TORCHVISION = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}
_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@dataclass
class ArchInfo:
    """Module names, state-dict shapes and stage strides of one backbone.

    ``stride[name]`` is the cumulative stride of module ``name``'s *output*
    relative to the input image (known for stage-level names: ``conv1``,
    ``maxpool``, ``layerN``, ``layerN.J``); the output map of a module at stride
    ``s`` on a ``S``-px image is ``ceil(S / s)`` px (every stride-2 op here pads to
    keep ``ceil``).
    """

    modules: list[str] = field(default_factory=list)
    state: dict[str, tuple[int, ...]] = field(default_factory=dict)
    stride: dict[str, int] = field(default_factory=dict)

    def map_size(self, name: str, image_size: int) -> int | None:
        """Side (px) of the output map of ``name`` for an ``image_size`` input, None if unknown."""
        s = self.stride.get(name)
        return None if s is None else -(-int(image_size) // s)

    def _bn(self, prefix: str, c: int) -> None:
        self.modules.append(prefix)
        for k in _BN:
            self.state[f"{prefix}.{k}"] = () if k == "num_batches_tracked" else (c,)

    def _conv(self, prefix: str, cout: int, cin: int, k: int) -> None:
        self.modules.append(prefix)
        self.state[f"{prefix}.weight"] = (cout, cin, k, k)


def _narrow(widths: tuple[int, ...], num_classes: int, antialiased: bool) -> ArchInfo:
    """timm ``ResNet(BasicBlock, [1,1,1,1], channels=widths)`` with a widths[0] stem (blurscope.models.network)."""
    a = ArchInfo()
    w0 = int(widths[0])
    a._conv("conv1", w0, 3, 7)
    a._bn("bn1", w0)
    a.modules += ["act1", "maxpool"] + (["maxpool.0", "maxpool.1"] if antialiased else [])
    a.stride.update(conv1=2, bn1=2, act1=2, maxpool=4)
    cin, stride = w0, 4
    for i, w in enumerate(widths, start=1):
        w = int(w)
        stride *= 1 if i == 1 else 2
        for name in (f"layer{i}", f"layer{i}.0"):
            a.modules.append(name)
            a.stride[name] = stride
        p = f"layer{i}.0"
        a._conv(f"{p}.conv1", w, cin, 3)
        a._bn(f"{p}.bn1", w)
        a.modules += [f"{p}.drop_block", f"{p}.act1", f"{p}.aa"]
        a._conv(f"{p}.conv2", w, w, 3)
        a._bn(f"{p}.bn2", w)
        a.modules.append(f"{p}.act2")
        if i > 1 or cin != w:
            a.modules.append(f"{p}.downsample")
            a._conv(f"{p}.downsample.0", w, cin, 1)
            a._bn(f"{p}.downsample.1", w)
        cin = w
    a.modules += ["global_pool", "global_pool.pool", "global_pool.flatten", "fc"]
    a.state["fc.weight"] = (num_classes, cin)
    a.state["fc.bias"] = (num_classes,)
    return a


def _torchvision(arch: str, num_classes: int) -> ArchInfo:
    """torchvision ``resnet18`` … ``resnet152`` (BasicBlock or Bottleneck, expansion 1 or 4)."""
    kind, blocks = _TORCHVISION[arch]
    expansion = 1 if kind == "basic" else 4
    a = ArchInfo()
    a._conv("conv1", 64, 3, 7)
    a._bn("bn1", 64)
    a.modules += ["relu", "maxpool"]
    a.stride.update(conv1=2, bn1=2, relu=2, maxpool=4)
    cin, stride = 64, 4
    for i, n in enumerate(blocks, start=1):
        planes = 64 * 2 ** (i - 1)
        first_stride = 1 if i == 1 else 2
        stride *= first_stride
        a.modules.append(f"layer{i}")
        a.stride[f"layer{i}"] = stride
        for j in range(n):
            p = f"layer{i}.{j}"
            a.modules.append(p)
            a.stride[p] = stride
            if kind == "basic":
                a._conv(f"{p}.conv1", planes, cin, 3)
                a._bn(f"{p}.bn1", planes)
                a.modules.append(f"{p}.relu")
                a._conv(f"{p}.conv2", planes, planes, 3)
                a._bn(f"{p}.bn2", planes)
            else:
                a._conv(f"{p}.conv1", planes, cin, 1)
                a._bn(f"{p}.bn1", planes)
                a._conv(f"{p}.conv2", planes, planes, 3)
                a._bn(f"{p}.bn2", planes)
                a._conv(f"{p}.conv3", planes * expansion, planes, 1)
                a._bn(f"{p}.bn3", planes * expansion)
                a.modules.append(f"{p}.relu")
            if j == 0 and (first_stride != 1 or cin != planes * expansion):
                a.modules.append(f"{p}.downsample")
                a._conv(f"{p}.downsample.0", planes * expansion, cin, 1)
                a._bn(f"{p}.downsample.1", planes * expansion)
            cin = planes * expansion
    a.modules += ["avgpool", "fc"]
    a.state["fc.weight"] = (num_classes, cin)
    a.state["fc.bias"] = (num_classes,)
    return a


def describe(arch: str, num_classes: int = 10, antialiased: bool = False,
             widths: tuple[int, ...] = (16, 32, 64, 128)) -> ArchInfo | None:
    """The table of ``arch`` (the backbone :func:`blurscope.models.network.build_model` builds), or None.

    None means "not tabulated" (``timm:<name>``, antialiased torchvision ResNets, an
    unknown name): build the network to find out.
    """
    if arch == "resnet_narrow":
        return _narrow(tuple(widths), num_classes, antialiased)
    if arch in _TORCHVISION and not antialiased:
        return _torchvision(arch, num_classes)
    return None


def describe_by_building(arch: str, num_classes: int = 10, antialiased: bool = False,
                         widths: tuple[int, ...] = (16, 32, 64, 128)) -> ArchInfo:
    """The same table read off a built network (imports torch; for untabulated architectures).

    Strides are left empty (a built network's strides need a forward pass).
    """
    from blurscope.models.network import build_model

    kwargs = {"widths": tuple(widths)} if arch == "resnet_narrow" else {}
    net = build_model(arch, num_classes, antialiased, **kwargs)
    return ArchInfo(
        modules=[n for n, _ in net.named_modules() if n],
        state={k: tuple(v.shape) for k, v in net.state_dict().items()},
    )


def safetensors_shapes(path: str) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of a ``.safetensors`` file, from its JSON header (no tensors read).

    Raises:
        ValueError: naming the file, when the header is not a safetensors header.
    """
    import json
    import struct

    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"checkpoint {path} is not a safetensors file (shorter than its 8-byte header size)")
        (n,) = struct.unpack("<Q", raw)
        if not 2 <= n <= 100_000_000:
            raise ValueError(f"checkpoint {path} is not a safetensors file (header size {n})")
        try:
            header = json.loads(fh.read(n))
        except ValueError as err:
            raise ValueError(f"checkpoint {path} is not a safetensors file (header is not JSON: {err})") from None
    return {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def checkpoint_mismatch(own: dict[str, tuple[int, ...]], ckpt: dict[str, tuple[int, ...]],
                        reset_head: bool = False) -> str | None:
    """Why a checkpoint's ``{name: shape}`` does not fit an architecture's, or None when it fits.

    The wording matches :func:`blurscope.models.network.load_backbone_weights` (the run-time check).
    """
    from blurscope.models.checkpoints import backbone_names

    ckpt = backbone_names(ckpt)
    differ = [k for k in own if k in ckpt and tuple(own[k]) != tuple(ckpt[k])]  # in the model's order
    head = ("fc", "head", "classifier", "last_linear")
    bad = [k for k in differ if not (reset_head and k.split(".")[0] in head)]
    head_reset = set(differ) - set(bad)
    missing = [k for k in own if k not in ckpt and k not in head_reset]
    unexpected = [k for k in ckpt if k not in own]
    parts = []
    if bad:
        parts.append("shape mismatch: " + ", ".join(f"{k} {tuple(ckpt[k])} vs model {tuple(own[k])}" for k in bad[:8]))
    if missing:
        parts.append(f"missing {len(missing)} keys (e.g. {', '.join(missing[:5])})")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} keys (e.g. {', '.join(unexpected[:5])})")
    return "; ".join(parts) or None
