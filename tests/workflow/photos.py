"""A small ImageNet-layout folder of real photographs, for the ImageNet preset's end-to-end tests.

Classes are wnids (``n01440764`` …), one source photograph each from scikit-image's
sample images (shipped in the wheel: no download), cut into random crops of several
sizes (300–500 px on the longer side) and aspect ratios (3:4 to 16:9), saved as JPEG
(quality 85–95) in ``<root>/train/<wnid>/`` and ``<root>/val/<wnid>/`` — ImageNet's
layout. With ImageNet's own quirks: a greyscale JPEG, a CMYK JPEG and a PNG file named
``.JPEG`` (ImageNet's train set has each).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# (wnid, scikit-image sample): colour photographs of distinct content, so that a class is learnable
SOURCES = (
    ("n01440764", "astronaut"),
    ("n01443537", "coffee"),
    ("n01484850", "rocket"),
    ("n01491361", "chelsea"),
    ("n01494475", "immunohistochemistry"),
    ("n01496331", "hubble_deep_field"),
)


def _photo(name: str) -> np.ndarray:
    import skimage.data

    return np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)[..., :3]


def _crop(photo: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A random crop of random aspect ratio, resized so its longer side is 300–500 px."""
    h, w = photo.shape[:2]
    aspect = float(rng.choice([0.75, 1.0, 4 / 3, 1.5, 16 / 9]))
    ch = int(rng.integers(int(0.6 * min(h, w / aspect)), int(min(h, w / aspect)) + 1))
    cw = min(w, max(1, round(ch * aspect)))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    im = Image.fromarray(photo[top : top + ch, left : left + cw])
    longer = int(rng.integers(300, 501))
    scale = longer / max(im.size)
    return im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.BICUBIC)


def make_imagenet_folder(root: Path, n_classes: int = 4, n_train: int = 8, n_val: int = 4, seed: int = 0) -> Path:
    """Write ``root/{train,val}/<wnid>/*.JPEG``; returns ``root``.

    The first class's first training image is greyscale (mode L), its second a CMYK JPEG, the
    second class's first training image a PNG file named ``.JPEG``.
    """
    if not 1 <= n_classes <= len(SOURCES):
        raise ValueError(f"n_classes must be 1..{len(SOURCES)}, got {n_classes}")
    rng = np.random.default_rng(seed)
    for c, (wnid, source) in enumerate(SOURCES[:n_classes]):
        photo = _photo(source)
        for split, n in (("train", n_train), ("val", n_val)):
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                im = _crop(photo, rng)
                path = folder / f"{wnid}_{split}_{i:04d}.JPEG"
                quality = int(rng.integers(85, 96))
                if split == "train" and c == 0 and i == 0:
                    im.convert("L").save(path, "JPEG", quality=quality)
                elif split == "train" and c == 0 and i == 1:
                    im.convert("CMYK").save(path, "JPEG", quality=quality)
                elif split == "train" and c == 1 and i == 0:
                    im.save(path, "PNG")  # a PNG under a .JPEG name
                else:
                    im.save(path, "JPEG", quality=quality)
    return root
