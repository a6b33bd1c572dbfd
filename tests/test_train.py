"""Training settings: precision (auto → native bfloat16 or float32) and a real tiny training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blurscope.models import BlurscopeNet, build_model
from blurscope.train import MemoryImages, TrainSettings, _augment, native_bfloat16, resolve_precision, train_model


def test_resolve_precision() -> None:
    assert resolve_precision("float32", "cpu") == "float32"
    assert resolve_precision("bfloat16", "cpu") == "bfloat16"
    assert resolve_precision("auto", "cpu") == ("bfloat16" if native_bfloat16("cpu") else "float32")
    assert resolve_precision("auto", "meta") == "float32"  # no bfloat16 kernels known there
    with pytest.raises(ValueError, match="training.precision 'fp16'"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError, match="training.precision"):
        TrainSettings(epochs=1, precision="half")
    assert TrainSettings(epochs=1, precision="auto").precision == "auto"


def _stripes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes a network separates in a few steps: horizontal vs vertical stripes (uint8 [n, 32, 32, 3])."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    yy, xx = np.mgrid[0:32, 0:32]
    images = np.empty((n, 32, 32, 3), np.uint8)
    for i, lab in enumerate(labels):
        phase = rng.uniform(0, 2 * np.pi)
        g = np.cos(2 * np.pi * 0.125 * (yy if lab else xx) + phase)
        images[i] = (127.5 + 100 * g)[..., None].astype(np.uint8)
    return images, labels


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_training_learns_under_each_precision_and_is_deterministic(precision: str) -> None:
    tr, va = MemoryImages(*_stripes(256, 0)), MemoryImages(*_stripes(128, 1))
    settings = TrainSettings(epochs=3, lr=0.05, batch_size=32, seed=0, augment=False, precision=precision)

    def run() -> tuple[dict, torch.Tensor]:
        torch.manual_seed(0)
        model = BlurscopeNet(build_model("resnet_narrow", 2, False, widths=(8, 8, 16, 16)), 0.0)
        metrics = train_model(model, tr, va, settings, torch.device("cpu"))
        return metrics, model.backbone.conv1.weight.detach().clone()

    metrics, w = run()
    assert metrics["val_accuracy"] >= 0.9, metrics["history"]  # learnt (chance is 0.5)
    assert w.dtype == torch.float32  # master weights stay float32 under autocast
    again, w2 = run()
    assert torch.equal(w, w2) and again["val_accuracy"] == metrics["val_accuracy"]


def test_augment_is_a_reflect_padded_random_crop_and_flip() -> None:
    """Each image is its own crop of the reflect-padded image (pad S/16) at the drawn offset,
    mirrored where the drawn flip says so: checked against numpy's reflect pad."""
    gen_ref = torch.Generator().manual_seed(7)
    b, s = 12, 32
    x = torch.rand(b, 3, s, s, generator=torch.Generator().manual_seed(1))
    pad = s // 16
    off = torch.randint(0, 2 * pad + 1, (b, 2), generator=gen_ref).numpy()
    flip = (torch.rand(b, generator=gen_ref) < 0.5).numpy()
    out = _augment(x, torch.Generator().manual_seed(7)).numpy()
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="reflect")
    assert 0 < flip.sum() < b and len({tuple(o) for o in off}) > 1  # the draw exercises both branches
    for i in range(b):
        want = xp[i, :, off[i, 0] : off[i, 0] + s, off[i, 1] : off[i, 1] + s]
        np.testing.assert_array_equal(out[i], want[..., ::-1] if flip[i] else want)
