"""VITAL window geometry and scoring, receptive-field crops, tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blurscope.blur import gaussian_blur
from blurscope.data.files import to_float
from blurscope.features.patches import (
    IMAGENET_MEAN_UINT8,
    TSV_COLUMNS,
    make_patches,
    patch_arrays,
    patch_table,
    rf_patches,
    vital_geometry,
    vital_patches,
    window_boxes,
    window_scores,
)
from blurscope.features.receptive_field import receptive_field
from blurscope.features.topk import extract_topk
from blurscope.hooks import record_outputs
from blurscope.models.network import BlurscopeNet, build_model

SIZE = 32


@pytest.mark.parametrize(
    ("size", "window", "starts"),
    [
        (224, 64, [0, 32, 64, 96, 128, 160]),  # the VITAL report: 64 px at 224, stride 32
        (64, 18, [0, 9, 18, 27, 36, 45, 46]),  # 64·64/224 = 18.3 -> 18; last window flush with the border
        (32, 9, [0, 5, 10, 15, 20, 23]),  # 9.14 -> 9, stride round(4.5) = 5
        (128, 37, [0, 19, 38, 57, 76, 91]),  # 36.57 -> 37, stride 18.5 -> 19
    ],
)
def test_vital_geometry(size: int, window: int, starts: list[int]) -> None:
    w, s = vital_geometry(size, 64, 0.5)
    assert w == window and s.tolist() == starts
    boxes = window_boxes(w, s)
    assert len(boxes) == len(starts) ** 2
    assert boxes[:, :2].min() == 0 and boxes[:, 2:].max() == size  # inside the image, touching both borders
    covered = np.zeros((size, size), bool)
    for y0, x0, y1, x1 in boxes:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    assert boxes[1].tolist() == [0, starts[1], window, starts[1] + window]  # raster order: x varies first


def test_vital_geometry_errors_name_keys() -> None:
    with pytest.raises(ValueError, match="patches.window_224"):
        vital_geometry(64, 0)
    with pytest.raises(ValueError, match="patches.stride_fraction"):
        vital_geometry(64, 64, 1.5)
    assert vital_geometry(64, 1000)[0] == 64  # a window larger than the image is the image


def _images(n: int = 24, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, SIZE, SIZE, 3), dtype=np.uint8)


def _model(sigma_px: float = 0.6) -> BlurscopeNet:
    torch.manual_seed(0)
    return BlurscopeNet(build_model("resnet_narrow", 5, False), sigma_px=sigma_px).eval()


def test_window_scores_use_model_preprocessing() -> None:
    """Each window alone through blur -> normalise -> backbone; score = channel mean."""
    model, images = _model(), _images(3)
    w, starts = vital_geometry(SIZE, 64, 0.5)
    neurons = np.array([1, 7, 30])
    scores = window_scores(model, images, "layer2.0", neurons, w, starts, batch_size=5)
    boxes = window_boxes(w, starts)
    assert scores.shape == (3, len(boxes), 3)
    m, j = 2, 7
    y0, x0, y1, x1 = boxes[j]
    crop = to_float(images[m : m + 1, y0:y1, x0:x1])
    x = model.normalize(gaussian_blur(crop, model.blur.sigma_px))
    with torch.inference_mode():
        fmap = record_outputs(model.backbone, ["layer2.0"], x)["layer2.0"]
    np.testing.assert_allclose(scores[m, j], fmap[0, neurons].mean(dim=(1, 2)).numpy(), rtol=1e-5, atol=1e-6)
    # without normalisation (VITAL's bug) the score would differ
    with torch.inference_mode():
        raw = record_outputs(model.backbone, ["layer2.0"], gaussian_blur(crop, model.blur.sigma_px))["layer2.0"]
    assert not np.allclose(scores[m, j], raw[0, neurons].mean(dim=(1, 2)).numpy(), atol=1e-3)


def test_vital_patches_pick_best_window_and_rank() -> None:
    model, images = _model(), _images()
    topk = extract_topk(model, images, ["layer3.0"], k=6, neurons_per_layer=4, batch_size=8)["layer3.0"]
    ps = vital_patches(model, images, topk, "layer3.0", n_show=4, batch_size=32)
    w, starts = vital_geometry(SIZE, 64, 0.5)
    boxes = window_boxes(w, starts)
    assert ps.patches.shape == (4, 4, w, w, 3) and ps.patches.dtype == np.uint8
    # brute force: score every window of every top image of every neuron
    for a, neuron in enumerate(topk.neurons):
        cand = []
        for r, img in enumerate(topk.image_index[a]):
            s = window_scores(model, images[img : img + 1], "layer3.0", [neuron], w, starts, 64)[0, :, 0]
            cand.append((-s.max(), r, int(s.argmax()), img, s.max()))
        cand.sort()
        for p, (_neg, r, j, img, best) in enumerate(cand[:4]):
            assert ps.topk_rank[a, p] == r and ps.image_index[a, p] == img
            np.testing.assert_allclose(ps.activations[a, p], best, rtol=1e-5, atol=1e-6)
            assert ps.boxes[a, p].tolist() == boxes[j].tolist()
            y0, x0, y1, x1 = boxes[j]
            np.testing.assert_array_equal(ps.patches[a, p], images[img, y0:y1, x0:x1])  # raw pixels
        assert np.all(np.diff(ps.activations[a]) <= 0)
        np.testing.assert_array_equal(ps.image_activations[a], topk.values[a, ps.topk_rank[a]])


@pytest.mark.parametrize("fill", ["reflect", "mean"])
def test_rf_patches_crop_exact_field(fill: str) -> None:
    model, images = _model(), _images()
    layer = "layer1.0"  # 27 px field at 32 px: interior units unclipped, border units clipped
    topk = extract_topk(model, images, [layer], k=5, neurons_per_layer=4, batch_size=8)[layer]
    rf = receptive_field(model, layer, SIZE)
    ps = rf_patches(images, topk, rf, n_show=5, fill=fill)
    p = rf.size[0]
    assert p == 27 and ps.patches.shape == (4, 5, p, p, 3)
    for a in range(4):
        for s in range(5):
            img, (y, x) = ps.image_index[a, s], ps.positions[a, s]
            y0, x0, y1, x1 = rf.box(y, x)
            assert ps.boxes[a, s].tolist() == [y0, x0, y1, x1]
            vy0, vx0, vy1, vx1 = ps.valid[a, s]
            assert (vy1 - vy0, vx1 - vx0) == (y1 - y0, x1 - x0)
            np.testing.assert_array_equal(ps.patches[a, s, vy0:vy1, vx0:vx1], images[img, y0:y1, x0:x1])
            ty0, tx0, _, _ = rf.theoretical_box(y, x)
            assert (vy0, vx0) == (y0 - ty0, x0 - tx0)  # placed where it sits in the theoretical field
            outside = np.ones((p, p), bool)
            outside[vy0:vy1, vx0:vx1] = False
            if fill == "mean":
                assert (ps.patches[a, s][outside] == IMAGENET_MEAN_UINT8).all()
            elif vy0 > 0:  # mirrored about the top edge: row vy0-1 repeats row vy0
                np.testing.assert_array_equal(ps.patches[a, s, vy0 - 1, vx0:vx1], ps.patches[a, s, vy0, vx0:vx1])
    np.testing.assert_array_equal(ps.activations, topk.values)


def test_rf_patches_large_field_capped_at_image() -> None:
    model, images = _model(), _images()
    topk = extract_topk(model, images, ["layer4.0"], k=3, neurons_per_layer=2, batch_size=8)["layer4.0"]
    rf = receptive_field(model, "layer4.0", SIZE)
    ps = make_patches("receptive_field", model, images, topk, "layer4.0", 2, rf=rf)
    assert rf.size[0] > SIZE and ps.patches.shape[2:4] == (SIZE, SIZE)
    np.testing.assert_array_equal(ps.patches[0, 0], images[ps.image_index[0, 0]])  # the whole image


def test_table_and_arrays() -> None:
    model, images = _model(), _images()
    topk = extract_topk(model, images, ["layer2.0"], k=4, neurons_per_layer=3, batch_size=8)["layer2.0"]
    ps = make_patches("vital", model, images, topk, "layer2.0", 2, batch_size=64)
    ids = np.arange(len(images)) + 100
    arrays = patch_arrays(ps, ids)
    df = patch_table(ps, ids, "sigma0", "layer2.0")
    assert list(df.columns) == TSV_COLUMNS and len(df) == 3 * 2
    np.testing.assert_array_equal(df["image_id"].to_numpy(), arrays["image_ids"].ravel())
    np.testing.assert_array_equal(df["neuron"].to_numpy(), np.repeat(topk.neurons, 2))
    assert (df["clipped"] == 0).all() and (df["patch_size"] == 9).all()
    with pytest.raises(ValueError, match="patches.method 'gradcam' is not one of vital, receptive_field"):
        make_patches("gradcam", model, images, topk, "layer2.0", 2)
    with pytest.raises(ValueError, match=r"topk.n_show=5 must be between 1 and topk.k=4"):
        make_patches("vital", model, images, topk, "layer2.0", 5)


def test_mosaic_normalises_each_patch_for_display_only() -> None:
    from blurscope.features.plot import mosaic

    p = np.zeros((16, 5, 5, 3), np.uint8)
    p[0, 0, 0] = 10  # dim patch: stretched to full range on its own
    p[1] = 200  # constant patch: mid grey
    p[2, :, :2] = 255
    raw = p.copy()
    m = mosaic(p)
    assert m.shape == (4 * 6 - 1, 4 * 6 - 1, 3)
    assert m[0, 0].tolist() == [1.0, 1.0, 1.0] and m[1, 1].tolist() == [0.0, 0.0, 0.0]
    assert np.allclose(m[0:5, 6:11], 0.5)
    assert m[0, 5].tolist() == [1.0, 1.0, 1.0]  # white gap
    np.testing.assert_array_equal(p, raw)  # input untouched


def test_representative_neurons_largest_hf_drop() -> None:
    from blurscope.features.plot import patch_hf, representative_neurons

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(3, 4, 16, 16, 3)).astype(np.uint8)  # white noise: HF-rich
    yy = np.linspace(0, 255, 16)[None, None, :, None, None]
    smooth = np.broadcast_to(yy, noise.shape).astype(np.uint8)  # ramp: LF only
    first = noise.copy()
    last = noise.copy()
    last[2] = smooth[2]  # neuron 2 loses its HF power at the largest sigma
    last[0] = (0.5 * noise[0] + 0.5 * smooth[0]).astype(np.uint8)  # neuron 0 loses some
    hf0, hf1 = patch_hf(first, 0.25, "hann"), patch_hf(last, 0.25, "hann")
    assert hf1[2] < hf1[0] < hf1[1]
    assert representative_neurons(hf0, hf1, 1).tolist() == [2]
    assert representative_neurons(hf0, hf1, 2).tolist() == [0, 2]
    assert representative_neurons(np.zeros(3), np.zeros(3), 2).tolist() == [0, 1]  # ties: lower position


def test_window_too_small_for_model_names_key() -> None:
    torch.manual_seed(0)
    model = BlurscopeNet(build_model("resnet_narrow", 5, True), 0.0).eval()  # BlurPool: reflect pads
    images = _images(2)
    w, starts = vital_geometry(SIZE, 64, 0.5)  # 9 px windows: too small for 4 stride-2 BlurPools
    with pytest.raises(ValueError, match=r"cannot run on 9x9 px VITAL windows.*patches\.window_224"):
        window_scores(model, images, "layer4.0", np.array([0]), w, starts, batch_size=8)
