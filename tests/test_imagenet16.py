"""blurscope.data.imagenet16: the 1000 → 16 class aggregation and Geirhos et al.'s cue-conflict layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from blurscope.data import imagenet16 as I16
from blurscope.data.files import analysis_subset, scan_cue_conflict


def imagenet_wnids() -> list[str]:
    """1000 sorted WNID-like names with the real WNIDs at the anchor positions."""
    anchors = sorted(I16.ANCHOR_WNIDS.items())
    points = [(-1, 1_000_000)] + [(i, int(w[1:])) for i, w in anchors] + [(1000, 9_999_999)]
    names = []
    for (i0, v0), (i1, v1) in zip(points, points[1:]):
        for i in range(i0 + 1, i1 + 1):
            names.append(f"n{v0 + (v1 - v0) * (i - i0) // (i1 - i0):08d}")
    return names[:1000]


def test_categories_and_indices() -> None:
    assert I16.CATEGORIES == tuple(sorted(I16.CATEGORIES)) and len(I16.CATEGORIES) == 16
    counts = {c: len(I16.IMAGENET_INDICES[c]) for c in I16.CATEGORIES}
    assert counts["dog"] == 109 and counts["bird"] == 49 and counts["knife"] == 1 and counts["truck"] == 8
    flat = [i for c in I16.CATEGORIES for i in I16.IMAGENET_INDICES[c]]
    assert len(flat) == len(set(flat)) == 207 and 0 <= min(flat) and max(flat) < 1000
    m = I16.aggregation_matrix()
    assert m.shape == (1000, 16)
    torch.testing.assert_close(m.sum(0), torch.ones(16))


def test_decisions_average_probabilities_within_a_category() -> None:
    logits = torch.full((3, 1000), -20.0)
    logits[0, 499] = 5.0  # cleaver -> knife
    logits[1, 404] = 5.0  # airliner -> airplane
    # image 2: probability spread over all 109 dog classes (sum large, mean small) vs one knife class
    dogs = torch.tensor(I16.IMAGENET_INDICES["dog"])
    logits[2, dogs] = 0.0
    logits[2, 499] = 2.0
    p = torch.softmax(logits[2], 0)
    assert p[dogs].sum() > p[499] and p[dogs].mean() < p[499]  # summing would say dog
    got = I16.decisions(logits).tolist()
    assert [I16.CATEGORIES[k] for k in got] == ["knife", "airplane", "knife"]
    with pytest.raises(ValueError, match=r"1000-class ImageNet logits \[N, 1000\]"):
        I16.decisions(torch.zeros(2, 10))


class Fixed(nn.Module):
    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(x.shape[0], 1000)
        out[:, self.index] = 10.0
        return out


def test_predict_batches() -> None:
    pred = I16.predict(Fixed(766), torch.rand(5, 3, 8, 8), batch_size=2)
    assert pred.tolist() == [I16.CATEGORIES.index("oven")] * 5 and pred.dtype == np.int64


def test_check_imagenet_classes_and_stimulus_names() -> None:
    names = imagenet_wnids()
    I16.check_imagenet_classes(names)
    with pytest.raises(ValueError, match="'dataset.cue_conflict_root'.*1000 ImageNet classes"):
        I16.check_imagenet_classes(["cat", "dog"])
    shifted = names[1:] + ["n99999999"]
    with pytest.raises(ValueError, match="standard order"):
        I16.check_imagenet_classes(shifted)
    assert I16.parse_stimulus("airplane1-bicycle2") == (0, 2)
    assert I16.parse_stimulus("truck10-truck3") == (15, 15)
    assert I16.parse_stimulus("airplane1") is None and I16.parse_stimulus("zebra1-cat2") is None


def make_stimuli(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for shape, textures in (("airplane", ("bicycle", "cat", "airplane")), ("knife", ("oven",))):
        (root / shape).mkdir(parents=True)
        for k, t in enumerate(textures, 1):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
                root / shape / f"{shape}{k}-{t}{k + 1}.png"
            )
    return root


def test_scan_geirhos_layout(tmp_path: Path) -> None:
    root = make_stimuli(tmp_path / "cue-conflict")
    m = scan_cue_conflict(root, imagenet_wnids())
    assert len(m) == 4 and set(m.label_space) == {"imagenet16"} and (m.label == -1).all()
    cat = I16.CATEGORIES.index
    assert m.shape_label.tolist() == [cat("airplane")] * 3 + [cat("knife")]
    assert m.texture_label.tolist() == [cat("bicycle"), cat("cat"), cat("airplane"), cat("oven")]
    sub = analysis_subset(m, "/", "cue_conflict", 10, 16, seed=0)
    assert str(sub["label_space"]) == "imagenet16" and sub["shape_labels"].tolist() == m.shape_label.tolist()
    with pytest.raises(ValueError, match="1000 ImageNet classes"):
        scan_cue_conflict(root, ["a", "b"])
    (root / "knife" / "knife9.png").write_bytes((root / "knife" / "knife1-oven2.png").read_bytes())
    with pytest.raises(ValueError, match=r"knife9.png is not named <shape><k>-<texture><m>"):
        scan_cue_conflict(root, imagenet_wnids())


def test_scan_dataset_layout_still_reads(tmp_path: Path) -> None:
    for shape, tex in (("cat", "dog"), ("dog", "cat")):
        d = tmp_path / shape / tex
        d.mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(d / "0.png")
    m = scan_cue_conflict(tmp_path, ["cat", "dog"])
    assert m.shape_label.tolist() == [0, 1] and m.texture_label.tolist() == [1, 0]
    assert set(m.label_space) == {"dataset"}
