"""Streaming top-k equals brute force; neuron sampling; errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference_impl import brute_force_topk
from torch import nn

from blurscope.data.files import to_float
from blurscope.features.topk import (
    extract_topk,
    load_topk,
    sample_neurons,
    spatial_max,
    topk_arrays,
)
from blurscope.hooks import record_outputs
from blurscope.models.network import BlurscopeNet, build_model

LAYERS = ["layer1.0", "layer2.0", "layer4.0"]


def _images(n: int = 37, size: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    for dup in (5, 20):  # duplicate images: exact ties between images
        if dup < n:
            imgs[dup] = imgs[3]
    return imgs


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = BlurscopeNet(build_model("resnet_narrow", 5, False), sigma_px=0.5).eval()
    with torch.no_grad():  # a dead channel: all-zero after ReLU -> ties everywhere
        model.backbone.layer2[0].bn2.weight[3] = 0.0
        model.backbone.layer2[0].bn2.bias[3] = -10.0
        model.backbone.layer2[0].downsample[1].weight[3] = 0.0
        model.backbone.layer2[0].downsample[1].bias[3] = -10.0
    return model


def _full_fmaps(model: nn.Module, images: np.ndarray, layers: list[str], batch_size: int) -> dict[str, np.ndarray]:
    """All activations of all images (the brute-force reference), same batches as the stream."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            out = record_outputs(model, layers, to_float(images[start : start + batch_size]))
            for name in layers:
                parts[name].append(out[name].numpy())
    return {name: np.concatenate(v) for name, v in parts.items()}


@pytest.mark.parametrize("batch_size", [1, 8, 37, 64])
def test_streaming_equals_brute_force(batch_size: int) -> None:
    images, model, k = _images(), _model(), 7
    got = extract_topk(model, images, LAYERS, k=k, neurons_per_layer=6, batch_size=batch_size)
    ref = _full_fmaps(model, images, LAYERS, batch_size)
    for name in LAYERS:
        r = got[name]
        c = ref[name].shape[1]
        np.testing.assert_array_equal(r.neurons, sample_neurons(c, 6))
        v, i, p = brute_force_topk(ref[name], r.neurons, k)
        np.testing.assert_array_equal(r.image_index, i)
        np.testing.assert_array_equal(r.values, v.astype(np.float32))
        w = ref[name].shape[3]
        np.testing.assert_array_equal(r.y, p // w)
        np.testing.assert_array_equal(r.x, p % w)
        assert r.fmap_hw == ref[name].shape[2:]
        assert np.all(np.diff(r.values, axis=1) <= 0)


def test_ties_broken_by_image_index_and_first_position() -> None:
    images, model = _images(), _model()
    got = extract_topk(model, images, ["layer2.0"], k=10, neurons_per_layer=32, batch_size=4)["layer2.0"]
    dead = int(np.nonzero(got.neurons == 3)[0][0])
    # dead channel: every image ties at 0 -> the first 10 images, position (0, 0)
    np.testing.assert_array_equal(got.values[dead], np.zeros(10, np.float32))
    np.testing.assert_array_equal(got.image_index[dead], np.arange(10))
    assert (got.y[dead] == 0).all() and (got.x[dead] == 0).all()
    # duplicated images 3, 5, 20 have identical activations: when they appear they are in index order
    for row in got.image_index:
        dup = [i for i in row if i in (3, 5, 20)]
        assert dup == sorted(dup)


def test_batch_size_does_not_change_result() -> None:
    images, model = _images(), _model()
    a = extract_topk(model, images, LAYERS, k=5, neurons_per_layer=4, batch_size=3)
    b = extract_topk(model, images, LAYERS, k=5, neurons_per_layer=4, batch_size=16)
    for name in LAYERS:
        np.testing.assert_array_equal(a[name].image_index, b[name].image_index)
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-5, atol=1e-6)


def test_spatial_max_first_maximum() -> None:
    f = torch.zeros(1, 2, 3, 4)
    f[0, 0, 1, 2] = 5.0
    f[0, 0, 2, 0] = 5.0  # later in row-major order: not chosen
    v, p = spatial_max(f, torch.tensor([0, 1]))
    assert v.tolist() == [[5.0, 0.0]] and p.tolist() == [[1 * 4 + 2, 0]]


def test_sample_neurons_even_and_deterministic() -> None:
    np.testing.assert_array_equal(sample_neurons(128, 4), [16, 48, 80, 112])
    np.testing.assert_array_equal(sample_neurons(10, 3), [1, 5, 8])
    np.testing.assert_array_equal(sample_neurons(16, 64), np.arange(16))
    for c in (3, 17, 64, 2048):
        for n in sorted({1, 2, min(5, c), c - 1}):
            s = sample_neurons(c, n)
            assert len(s) == n and np.all(np.diff(s) > 0) and s[0] >= 0 and s[-1] < c


def test_npz_round_trip() -> None:
    images, model = _images(), _model()
    got = extract_topk(model, images, LAYERS, k=4, neurons_per_layer=3, batch_size=16)
    ids = np.arange(len(images)) * 10 + 7
    arrays = topk_arrays(got, ids)
    back = load_topk(arrays, "layer2.0")
    np.testing.assert_array_equal(back.values, got["layer2.0"].values)
    np.testing.assert_array_equal(arrays["layer2.0__image_id"], ids[got["layer2.0"].image_index])
    with pytest.raises(KeyError, match="layer 'layer3.0' not in top-k file x.npz; it holds: layer1.0"):
        load_topk(arrays, "layer3.0", "x.npz")


def test_unknown_layer_lists_valid_names() -> None:
    with pytest.raises(KeyError, match=r"unknown layer 'layer2\.2'.*valid layer names: .*layer2\.0"):
        extract_topk(_model(), _images(8), ["layer2.2"], k=2, neurons_per_layer=2, batch_size=4)


def test_bad_k_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"topk\.k=9 must be between 1 and the number of images \(8\)"):
        extract_topk(_model(), _images(8), LAYERS, k=9, neurons_per_layer=2, batch_size=4)
    with pytest.raises(ValueError, match="uint8"):
        extract_topk(_model(), _images(8).astype(np.float32), LAYERS, k=2, neurons_per_layer=2, batch_size=4)
