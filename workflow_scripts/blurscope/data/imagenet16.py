"""16-class ImageNet: Geirhos et al.'s cue-conflict stimuli and the 1000 → 16 class aggregation.

Geirhos et al. (2019, "ImageNet-trained CNNs are biased towards texture; increasing shape
bias improves accuracy and robustness") measure shape bias on 1 280 cue-conflict images
(shape of one of 16 entry-level categories, texture of another, made by style transfer),
stored as ``<root>/<shape category>/<shape><k>-<texture><m>.png``. A 1000-class ImageNet
model's decision among the 16 categories is the category whose ImageNet classes have the
highest **mean softmax probability**; the classes of each category are the WordNet
hyponyms chosen by the authors. The index lists below are the ones of their
model-vs-human benchmark (Geirhos et al. 2021, ``modelvshuman/helper/human_categories.py``,
used by its ``ImageNetProbabilitiesTo16ClassesMapping``), so shape-bias numbers compare with
that benchmark's. Indices are positions in the standard ILSVRC-2012 class order (sorted
WNIDs, torchvision's order); :func:`check_imagenet_classes` verifies a dataset has it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

CATEGORIES = ("airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock", "dog",
              "elephant", "keyboard", "knife", "oven", "truck")
"""The 16 categories, sorted (the benchmark's order; labels are indices into this)."""

IMAGENET_INDICES: dict[str, tuple[int, ...]] = {
    "airplane": (404,),
    "bear": (294, 295, 296, 297),
    "bicycle": (444, 671),
    "bird": (8, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 24, 80, 81, 82, 83, 87, 88, 89, 90, 91, 92, 93, 94,
             95, 96, 98, 99, 100, 127, 128, 129, 130, 131, 132, 133, 135, 136, 137, 138, 139, 140, 141, 142, 143,
             144, 145),
    "boat": (472, 554, 625, 814, 914),
    "bottle": (440, 720, 737, 898, 899, 901, 907),
    "car": (436, 511, 817),
    "cat": (281, 282, 283, 284, 285, 286),
    "chair": (423, 559, 765, 857),
    "clock": (409, 530, 892),
    "dog": (152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172,
            173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 193, 194,
            195, 196, 197, 198, 199, 200, 201, 202, 203, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216,
            217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238,
            239, 240, 241, 243, 244, 245, 246, 247, 248, 249, 250, 252, 253, 254, 255, 256, 257, 259, 261, 262, 263,
            265, 266, 267, 268),
    "elephant": (385, 386),
    "keyboard": (508, 878),
    "knife": (499,),
    "oven": (766,),
    "truck": (555, 569, 656, 675, 717, 734, 864, 867),
}
"""ImageNet class indices aggregated into each category (model-vs-human's lists)."""

N_IMAGENET = 1000

ANCHOR_WNIDS = {404: "n02690373", 385: "n02504013", 386: "n02504458", 444: "n02835271", 671: "n03792782",
                499: "n03041632", 508: "n03085013", 878: "n04505470", 281: "n02123045", 294: "n02132136",
                152: "n02085782", 8: "n01514859", 766: "n04111531"}
"""WNIDs of some of these indices (airliner, Indian/African elephant, tandem, mountain bike,
cleaver, computer/typewriter keyboard, tabby, brown bear, Japanese spaniel, hen, rotisserie):
a dataset whose class folders are WNIDs must have them at these positions."""

STIMULUS_NAME = re.compile(r"^(?P<shape>[a-z]+)\d+-(?P<texture>[a-z]+)\d+$")
"""File stem of a cue-conflict stimulus, e.g. ``airplane1-bicycle2``."""


def check_imagenet_classes(class_names: Sequence[str], key: str = "dataset.cue_conflict_root") -> None:
    """Raise unless ``class_names`` are the 1000 ILSVRC-2012 WNIDs in the standard (sorted) order.

    Raises:
        ValueError: naming ``key`` and what differs.
    """
    names = list(class_names)
    if len(names) != N_IMAGENET or names != sorted(names) or not all(re.fullmatch(r"n\d{8}", c) for c in names):
        raise ValueError(f"config key '{key}': the 16-class cue-conflict stimuli need a model of the 1000 ImageNet "
                         f"classes, i.e. dataset class folders named by the 1000 ILSVRC-2012 WNIDs "
                         f"(got {len(names)} classes, e.g. {names[:3]})")
    wrong = {i: (names[i], w) for i, w in ANCHOR_WNIDS.items() if names[i] != w}
    if wrong:
        raise ValueError(f"config key '{key}': dataset classes are not the ILSVRC-2012 classes in the standard "
                         f"order (index: found vs expected WNID) {wrong}")


def parse_stimulus(stem: str) -> tuple[int, int] | None:
    """``(shape, texture)`` category indices of a stimulus file stem, or None if it is not one."""
    m = STIMULUS_NAME.match(stem)
    if not m or m["shape"] not in CATEGORIES or m["texture"] not in CATEGORIES:
        return None
    return CATEGORIES.index(m["shape"]), CATEGORIES.index(m["texture"])


def aggregation_matrix(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``[1000, 16]`` matrix whose column c averages the probabilities of category c's classes."""
    m = torch.zeros(N_IMAGENET, len(CATEGORIES), dtype=dtype)
    for c, name in enumerate(CATEGORIES):
        idx = torch.tensor(IMAGENET_INDICES[name])
        m[idx, c] = 1.0 / len(idx)
    return m


def decisions(logits: torch.Tensor) -> torch.Tensor:
    """16-class decisions ``[N]`` (indices into :data:`CATEGORIES`) from 1000-class logits ``[N, 1000]``:
    the category with the highest mean softmax probability over its ImageNet classes."""
    if logits.ndim != 2 or logits.shape[1] != N_IMAGENET:
        raise ValueError(f"16-class aggregation needs 1000-class ImageNet logits [N, 1000], got {tuple(logits.shape)}")
    probs = torch.softmax(logits.float(), dim=1)
    return (probs @ aggregation_matrix(probs.dtype).to(probs.device)).argmax(1)


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 256,
            device: torch.device | str = "cpu") -> np.ndarray:
    """16-class decisions of a 1000-class ImageNet model on float ``[N, 3, H, W]`` in [0, 1]: int64 ``[N]``."""
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].to(device)
        out.append(decisions(model(x)).cpu())
    return torch.cat(out).numpy().astype(np.int64) if out else np.empty(0, np.int64)
