"""Tests for blurscope.aliasing.stride_points: stride-point discovery on real architectures and
the one-to-one matching of a standard network's points with its BlurPool twin's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from blurscope.aliasing.stride_points import discover_stride_points, match_points
from blurscope.models.network import BlurscopeNet, build_model


def test_discovery_torchvision_resnet50():
    import torchvision

    pts = discover_stride_points(torchvision.models.resnet50(weights=None), image_size=64)
    names = [p.name for p in pts]
    expected = ["conv1", "maxpool"] + [f"layer{i}.0.{n}" for i in (2, 3, 4) for n in ("conv2", "downsample.0")]
    assert sorted(names) == sorted(expected)
    assert names[:2] == ["conv1", "maxpool"]  # execution order
    assert all(p.stride == 2 for p in pts)
    assert {p.name: p.kind for p in pts}["maxpool"] == "pool"
    assert {p.name for p in discover_stride_points(torchvision.models.resnet50(weights=None), None)} == set(expected)


NARROW_TABLE = [
    ("conv1", "conv1"),
    ("maxpool", "maxpool.1"),
    ("layer2.0.conv1", "layer2.0.aa"),
    ("layer2.0.downsample.0", "layer2.0.downsample.0"),
    ("layer3.0.conv1", "layer3.0.aa"),
    ("layer3.0.downsample.0", "layer3.0.downsample.0"),
    ("layer4.0.conv1", "layer4.0.aa"),
    ("layer4.0.downsample.0", "layer4.0.downsample.0"),
]


def test_narrow_timm_matching_is_one_to_one():
    std = BlurscopeNet(build_model("resnet_narrow", 10, antialiased=False), 0.5).eval()
    aa = BlurscopeNet(build_model("resnet_narrow", 10, antialiased=True), 0.0).eval()
    ps, pb = discover_stride_points(std, 64), discover_stride_points(aa, 64)
    table = match_points(ps, pb)
    assert list(zip(table["standard"], table["blurpool"])) == NARROW_TABLE
    assert table["blurpool"].is_unique and table["standard"].is_unique
    kinds = dict(zip(table["blurpool"], table["blurpool_kind"]))
    assert kinds["layer2.0.aa"] == "blurpool" and kinds["maxpool.1"] == "blurpool"
    assert (table["stride"] == 2).all()
    assert list(table["out_h"]) == [32, 16, 8, 8, 4, 4, 2, 2]


def test_resnet50_matches_antialiased_cnns():
    import antialiased_cnns
    import torchvision

    ps = discover_stride_points(torchvision.models.resnet50(weights=None), 64)
    pb = discover_stride_points(antialiased_cnns.resnet50(pretrained=False, filter_size=4), 64)
    pairs = dict(zip(*match_points(ps, pb)[["standard", "blurpool"]].to_numpy().T))
    assert pairs == {
        "conv1": "conv1",
        "maxpool": "maxpool.1",
        "layer2.0.conv2": "layer2.0.conv3.0",
        "layer2.0.downsample.0": "layer2.0.downsample.0",
        "layer3.0.conv2": "layer3.0.conv3.0",
        "layer3.0.downsample.0": "layer3.0.downsample.0",
        "layer4.0.conv2": "layer4.0.conv3.0",
        "layer4.0.downsample.0": "layer4.0.downsample.0",
    }


def test_match_points_error_lists_both_sides():
    std = discover_stride_points(build_model("resnet_narrow", 10), 64)
    with pytest.raises(ValueError, match="one-to-one.*standard: \\[conv1"):
        match_points(std, std[:-1])


def test_discovery_skips_stride_one_and_restores_training_mode():
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(3, 1, 1), nn.BatchNorm2d(4), nn.AvgPool2d(2),
                      nn.Conv2d(4, 4, 3, stride=(2, 2)))
    m.train()
    before = m[2].running_mean.clone()
    pts = discover_stride_points(m, 16)
    assert [(p.name, p.stride, p.kind) for p in pts] == [("3", 2, "pool"), ("4", 2, "conv")]
    assert m.training and torch.equal(m[2].running_mean, before)
