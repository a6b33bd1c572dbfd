"""The embedded default's narrow ResNet, built from torch.nn alone (no timm import).

Architecture: timm's ``ResNet(BasicBlock, [1, 1, 1, 1], channels=widths)`` with a
``widths[0]``-channel 7×7 stem (timm fixes its stem at 64 channels whatever the
widths), and for ``antialiased=True`` timm's anti-aliasing (``aa_layer=BlurPool2d``:
a stride-1 max-pool followed by a binomial blur that subsamples, and a blur after the
first convolution of every stride-2 block; Zhang 2019). Module names, state-dict keys
and shapes and the forward computation are timm's (``tests/test_models.py`` checks
that a timm-built network with the same weights gives bitwise the same logits), so
every layer name of the config (``layer2.0``, ``maxpool.1``, ``layer4.0.aa``) means
what it means in timm's network. Written out here because importing timm costs ~2 CPU-s (it
pulls in torchvision), paid by every torch job of the pipeline.

Input ``[B, 3, H, W]`` (normalised images), output logits ``[B, num_classes]``.
"""

from __future__ import annotations

from math import comb

import torch
import torch.nn.functional as F
from torch import nn

from blurscope.blur import outside_autocast


class BlurPool2d(nn.Module):
    """Binomial blur (filter size ``filt_size``) then subsampling by ``stride``, per channel.

    Reflect padding of ``((stride - 1) + (filt_size - 1)) // 2`` px on every side, as
    timm's ``BlurPool2d``; the filter is a non-persistent buffer (not in the state dict).
    """

    def __init__(self, channels: int, filt_size: int = 3, stride: int = 2) -> None:
        super().__init__()
        if filt_size < 2:
            raise ValueError(f"BlurPool2d filt_size must be >= 2, got {filt_size}")
        self.channels, self.filt_size, self.stride = int(channels), int(filt_size), int(stride)
        self.padding = [((stride - 1) + (filt_size - 1)) // 2] * 4
        coeffs = torch.tensor([comb(filt_size - 1, k) for k in range(filt_size)], dtype=torch.float32)
        coeffs = coeffs / 2 ** (filt_size - 1)
        filt = (coeffs[:, None] * coeffs[None, :])[None, None].repeat(self.channels, 1, 1, 1)
        self.register_buffer("filt", filt, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return outside_autocast(self._blur_subsample, x)  # float32 even in a bfloat16 training step

    def _blur_subsample(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, self.padding, mode="reflect")
        return F.conv2d(x, self.filt, stride=self.stride, groups=self.channels)

    def extra_repr(self) -> str:  # noqa: D102
        return f"channels={self.channels}, filt_size={self.filt_size}, stride={self.stride}"


class BasicBlock(nn.Module):
    """timm's ``BasicBlock``: conv3×3 → BN → ReLU → [blur] → conv3×3 → BN, + shortcut, ReLU.

    With ``antialiased`` and ``stride == 2`` the first convolution runs at stride 1 and
    ``aa`` (a :class:`BlurPool2d`) subsamples; the shortcut is a strided 1×1 conv + BN
    whenever the shape changes (as in timm, not anti-aliased).
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1, antialiased: bool = False) -> None:
        super().__init__()
        use_aa = antialiased and stride == 2
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=1 if use_aa else stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.drop_block = nn.Identity()
        self.act1 = nn.ReLU(inplace=True)
        self.aa = BlurPool2d(planes, stride=stride) if use_aa else nn.Identity()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
            if stride != 1 or inplanes != planes
            else None
        )

    def zero_init_last(self) -> None:
        """Zero the last BN's scale: the residual branch starts as zero, the block as the identity."""
        nn.init.zeros_(self.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        shortcut = x
        x = self.aa(self.act1(self.drop_block(self.bn1(self.conv1(x)))))
        x = self.bn2(self.conv2(x))
        if self.downsample is not None:
            shortcut = self.downsample(shortcut)
        x += shortcut
        return self.act2(x)


class GlobalAvgPool(nn.Module):
    """Global average pool and flatten, ``[B, C, H, W] → [B, C]`` (modules ``pool`` and ``flatten``)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.flatten(self.pool(x))


class NarrowResNet(nn.Module):
    """One :class:`BasicBlock` per stage at ``widths`` channels, a ``widths[0]``-channel 7×7 stride-2 stem.

    Strides: stem 2, max-pool 2 (anti-aliased: max-pool 1 + blur 2), stages 1, 2, 2, 2;
    a 64 px image gives 16×16 maps at ``layer1`` and 2×2 at ``layer4``.
    """

    def __init__(
        self, num_classes: int, widths: tuple[int, ...] = (16, 32, 64, 128), antialiased: bool = False
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 4 or min(widths) < 1:
            raise ValueError(f"model.widths must be 4 positive integers, got {list(widths)}")
        w0 = widths[0]
        self.conv1 = nn.Conv2d(3, w0, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w0)
        self.act1 = nn.ReLU(inplace=True)
        if antialiased:
            self.maxpool: nn.Module = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), BlurPool2d(w0, stride=2))
        else:
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = w0
        for i, w in enumerate(widths, start=1):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(cin, w, 1 if i == 1 else 2, antialiased)))
            cin = w
        self.global_pool = GlobalAvgPool()
        self.fc = nn.Linear(cin, num_classes)
        self.num_classes = num_classes
        self.init_weights()

    def init_weights(self, zero_init_last: bool = True) -> None:
        """timm's ResNet initialisation: Kaiming-normal (fan out, ReLU) convolutions, zeroed last BN per block."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_last:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    m.zero_init_last()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.global_pool(x))
