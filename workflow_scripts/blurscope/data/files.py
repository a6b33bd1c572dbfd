"""Image data: ImageFolder manifests, decoding, resizing and analysis subsets.

Every file is decoded by :func:`open_rgb`: EXIF orientation applied, any PIL mode a
user may have (1, L, LA, P, RGB(A), CMYK, 16-bit, 32-bit integer, float) brought to
8-bit RGB by its real bit depth, transparency composited over white. Images enter
the library as uint8 ``[N, H, W, 3]`` arrays (RGB) and are turned
into float ``[N, 3, H, W]`` tensors in ``[0, 1]`` by :func:`to_float`; the
models do their own blur and normalisation (:mod:`blurscope.models.network`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from blurscope.io import save_npz

if TYPE_CHECKING:  # torch is imported where a tensor is made (to_float): data-only jobs never pay its import
    import torch

log = logging.getLogger("blurscope.data.files")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".JPEG")
MANIFEST_COLUMNS = ["path", "split", "label", "class_name"]


class CorruptImageError(ValueError):
    """An image file that cannot be decoded (the message names the file)."""


def scan_imagefolder(root: str | os.PathLike, splits: dict[str, str]) -> pd.DataFrame:
    """Build a manifest from an ImageFolder tree ``root/<split dir>/<class>/<image>``.

    Class indices are the sorted class folder names of the first split (as
    torchvision's ImageFolder); every split must have the same classes.

    Args:
        root: dataset root (config ``dataset.root``).
        splits: manifest split name → folder name, e.g. ``{"train": "train", "val": "val"}``.

    Returns:
        Manifest with columns ``path`` (relative to ``root``), ``split``, ``label``, ``class_name``.

    Raises:
        FileNotFoundError / ValueError naming the missing or empty folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset.root {root} does not exist or is not a directory")
    classes: list[str] | None = None
    rows = []
    canonical = ("train", "val", "test")
    order = sorted(splits, key=lambda k: (canonical.index(k) if k in canonical else len(canonical), k))
    for split in order:  # train first, whatever order the config mapping has
        folder = splits[split]
        split_dir = root / folder
        if not split_dir.is_dir():
            raise FileNotFoundError(
                f"dataset split {split!r}: folder {split_dir} does not exist (dataset.splits.{split})"
            )
        found = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
        if not found:
            raise ValueError(f"dataset split folder {split_dir} has no class sub-folders (ImageFolder layout expected)")
        if classes is None:
            classes = found
        elif found != classes:
            extra = sorted(set(found) ^ set(classes))
            raise ValueError(f"classes of {split_dir} differ from the first split's: {extra[:10]}")
        for label, name in enumerate(classes):
            files = sorted(
                p
                for p in (split_dir / name).rglob("*")
                if p.suffix in IMAGE_EXTENSIONS or p.suffix.lower() in IMAGE_EXTENSIONS
            )
            if not files:
                raise ValueError(
                    f"class folder {split_dir / name} contains no images ({', '.join(IMAGE_EXTENSIONS[:4])} ...)"
                )
            rows.extend((str(p.relative_to(root)), split, label, name) for p in files)
    return pd.DataFrame(rows, columns=MANIFEST_COLUMNS)


def tree_state(roots: Sequence[str | os.PathLike]) -> str:
    """A short fingerprint of every image file below ``roots`` (count, bytes, newest mtime, digest).

    Snakemake compares a rule's params between runs, so passing this string as
    a param reruns the data stage when an image is touched, replaced, added or
    removed anywhere in an ImageFolder tree, which a directory input cannot see
    (a folder's mtime changes only when its own entries change). One ``stat``
    per file: about 1-3 s per million local files.

    Returns:
        e.g. ``"files=1300 bytes=5231100 newest=1763900000123456789 sha1=3f9a0c1e2d4b"``;
        the digest covers every (relative path, size, mtime) triple.
    """
    import hashlib

    digest = hashlib.sha1()
    n = size = newest = 0
    for root in roots:
        stack = [Path(root)]
        entries = []
        while stack:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=True):
                        stack.append(Path(e.path))
                    elif e.name.endswith(IMAGE_EXTENSIONS) or e.name.lower().endswith(IMAGE_EXTENSIONS):
                        st = e.stat()
                        entries.append((os.path.relpath(e.path, root), st.st_size, st.st_mtime_ns))
        for rel, sz, mt in sorted(entries):
            digest.update(f"{rel}\0{sz}\0{mt}\n".encode())
            n, size, newest = n + 1, size + sz, max(newest, mt)
    return f"files={n} bytes={size} newest={newest} sha1={digest.hexdigest()[:12]}"


def _is_image(p: Path) -> bool:
    return p.is_file() and (p.suffix in IMAGE_EXTENSIONS or p.suffix.lower() in IMAGE_EXTENSIONS)


def scan_cue_conflict(root: str | os.PathLike, class_names: Sequence[str]) -> pd.DataFrame:
    """Index a cue-conflict tree, in one of two layouts:

    * ``root/<shape class>/<texture class>/<image>`` with dataset classes (the embedded
      dataset's layout): labels are dataset class indices, ``label_space`` ``dataset``;
    * Geirhos et al.'s 16-class stimuli ``root/<category>/<shape><k>-<texture><m>.png``
      (folders: the 16 categories of :mod:`blurscope.data.imagenet16`): labels are indices into
      :data:`blurscope.data.imagenet16.CATEGORIES`, ``label`` is −1 and ``label_space``
      ``imagenet16``; the dataset must have the 1000 ImageNet classes in the standard order.

    Returns manifest rows (split ``cue_conflict``, absolute paths) with ``shape_label``,
    ``texture_label`` and ``label_space``.

    Raises:
        FileNotFoundError / ValueError naming the folder or file (config key ``dataset.cue_conflict_root``).
    """
    from blurscope.data import imagenet16

    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"dataset.cue_conflict_root {root} does not exist")
    index = {c: i for i, c in enumerate(class_names)}
    shape_dirs = sorted(d for d in root.iterdir() if d.is_dir())
    rows = []
    if shape_dirs and all(d.name in imagenet16.CATEGORIES for d in shape_dirs) and not any(
            d.name in index for d in shape_dirs):
        imagenet16.check_imagenet_classes(class_names)
        for shape_dir in shape_dirs:
            for p in sorted(filter(_is_image, shape_dir.iterdir())):
                parsed = imagenet16.parse_stimulus(p.stem)
                if parsed is None or imagenet16.CATEGORIES[parsed[0]] != shape_dir.name:
                    raise ValueError(f"dataset.cue_conflict_root: {p} is not named <shape><k>-<texture><m> with shape "
                                     f"{shape_dir.name!r} and a texture among the 16 categories "
                                     f"(Geirhos et al.'s naming, e.g. {shape_dir.name}1-cat2.png)")
                rows.append((str(p), "cue_conflict", -1, shape_dir.name, parsed[0], parsed[1], "imagenet16"))
    else:
        for shape_dir in shape_dirs:
            for tex_dir in sorted(d for d in shape_dir.iterdir() if d.is_dir()):
                for name in (shape_dir.name, tex_dir.name):
                    if name not in index:
                        raise ValueError(f"cue-conflict folder {tex_dir}: class {name!r} is not a dataset class")
                for p in sorted(filter(_is_image, tex_dir.iterdir())):
                    s, t = index[shape_dir.name], index[tex_dir.name]
                    rows.append((str(p), "cue_conflict", s, shape_dir.name, s, t, "dataset"))
    if not rows:
        raise ValueError(f"dataset.cue_conflict_root {root} holds no images in <shape>/<texture>/ folders "
                         f"(nor Geirhos et al.'s <category>/<shape><k>-<texture><m>.png stimuli)")
    return pd.DataFrame(rows, columns=[*MANIFEST_COLUMNS, "shape_label", "texture_label", "label_space"])


ALPHA_BACKGROUND = (255, 255, 255)
"""Colour (uint8 RGB) that transparent pixels are composited over (modes LA, PA, RGBA, P with transparency)."""

SUPPORTED_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
                   "I;16", "I;16B", "I;16L", "I;16N", "I", "F")
"""PIL modes :func:`to_rgb8` reads; any other mode is refused with the file's name."""

_logged_rules: set[tuple[str, str]] = set()


def _high_depth_to_uint8(arr: np.ndarray, mode: str, name: str) -> np.ndarray:
    """Scale a 16-bit, 32-bit integer or float single-channel image ``[H, W]`` to uint8 ``[H, W]``.

    * ``I;16`` (any byte order): by the 16-bit range, ``v / 65535 · 255``;
    * ``I`` (32-bit signed): by the smallest bit depth that holds it, 8 (max ≤ 255) or 16
      (max ≤ 65535); negative or larger values are min–max stretched (logged);
    * ``F`` (float): ``[0, 1]`` data × 255, ``[0, 255]`` data as is, anything else min–max
      stretched (logged).

    Values are rounded to the nearest level, never clipped.

    Raises:
        CorruptImageError: for NaN or infinite values, naming the file.
    """
    a = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(a).all():
        raise CorruptImageError(f"image {name} (mode {mode}) has NaN or infinite pixel values")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if mode.startswith("I;16"):
        rule, full, offset = "16-bit range 0-65535", 65535.0, 0.0
    elif mode == "I" and lo >= 0 and hi <= 255:
        rule, full, offset = "8-bit range 0-255", 255.0, 0.0
    elif mode == "I" and lo >= 0 and hi <= 65535:
        rule, full, offset = "16-bit range 0-65535", 65535.0, 0.0
    elif mode == "F" and lo >= 0 and hi <= 1:
        rule, full, offset = "float range 0-1", 1.0, 0.0
    elif mode == "F" and lo >= 0 and hi <= 255:
        rule, full, offset = "float range 0-255", 255.0, 0.0
    else:
        rule, full, offset = "min-max stretch", max(hi - lo, 1e-12), lo
        log.warning("image %s (mode %s) has values %g..%g outside the mode's usual range: "
                    "stretched min-max to 0-255", name, mode, lo, hi)
    if (mode, rule) not in _logged_rules:
        _logged_rules.add((mode, rule))
        log.info("reading mode %s images scaled by the %s to 8 bits (first: %s)", mode, rule, name)
    return np.rint((a - offset) * (255.0 / full)).astype(np.uint8)


def to_rgb8(im: Image.Image, name: str = "image") -> Image.Image:
    """Any supported PIL image → 8-bit ``RGB``, upright.

    The EXIF orientation (camera JPEGs) is applied first. Modes 1/L/P/CMYK/YCbCr
    convert as PIL does; transparent pixels (LA, PA, RGBA, P with a
    ``transparency`` entry) are composited over :data:`ALPHA_BACKGROUND`;
    16-bit, 32-bit integer and float images are scaled to 8 bits by
    :func:`_high_depth_to_uint8` (never clipped).

    Args:
        im: an opened image.
        name: used in error and log messages (the file path).

    Raises:
        CorruptImageError: for a mode outside :data:`SUPPORTED_MODES` or non-finite values.
    """
    if im.mode not in SUPPORTED_MODES:
        raise CorruptImageError(
            f"image {name}: unsupported image mode {im.mode!r} (supported: {', '.join(SUPPORTED_MODES)})")
    im = ImageOps.exif_transpose(im)
    mode = im.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        grey = _high_depth_to_uint8(np.asarray(im), mode, name)
        return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2), mode="RGB")
    if mode == "P" and "transparency" in im.info or mode in ("PA", "LA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        background = Image.new("RGBA", im.size, (*ALPHA_BACKGROUND, 255))
        return Image.alpha_composite(background, im).convert("RGB")
    return im.convert("RGB")


def open_rgb(path: str | os.PathLike, draft: int | None = None) -> Image.Image:
    """Decode a file into an 8-bit upright ``RGB`` image (:func:`to_rgb8`).

    Args:
        draft: the shorter side (px) the caller needs, or None (full decode). A JPEG is
            then decoded by libjpeg at the largest of 1/2, 1/4, 1/8 scale whose shorter
            side is still >= ``draft`` (PIL's draft mode: the scaled inverse DCT, 2-8x
            fewer pixels to decode and to resize); other formats decode fully. The pixels
            differ from a full decode (docs/training.md, "JPEG draft mode").

    Raises:
        CorruptImageError: naming the file (undecodable, unsupported mode, non-finite values).
    """
    try:
        with Image.open(path) as im:
            if draft and im.format == "JPEG":
                im.draft(None, (draft, draft))  # mode None: keep the file's colour mode
            im.load()
            return to_rgb8(im, str(path))
    except CorruptImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise CorruptImageError(f"cannot read image {path}: {err}") from err


def resize_side(size: int, crop_ratio: float = 1.0) -> int:
    """The shorter side (px) an image is resized to before its centre ``size``² crop:
    ``round(size / crop_ratio)`` (``dataset.crop_ratio``; 0.875 at 224 gives 256, the
    resize-256 / centre-crop-224 convention of torchvision and the VITAL study).

    Raises:
        ValueError: naming ``dataset.crop_ratio`` unless ``0 < crop_ratio <= 1``.
    """
    if not 0 < crop_ratio <= 1:
        raise ValueError(f"dataset.crop_ratio must be in (0, 1], got {crop_ratio}")
    return size if crop_ratio == 1 else round(size / crop_ratio)


def resize_crop(im: Image.Image, size: int, crop_ratio: float = 1.0) -> np.ndarray:
    """Resize the shorter side to :func:`resize_side` (bilinear, antialiased) and centre-crop
    ``size``²: uint8 ``[size, size, 3]``. An image already ``size``² with ``crop_ratio`` 1 is
    returned unresampled."""
    short = resize_side(size, crop_ratio)
    w, h = im.size
    if (w, h) != (size, size) or short != size:
        scale = short / min(w, h)
        nw, nh = max(short, round(w * scale)), max(short, round(h * scale))
        im = im.resize((nw, nh), Image.BILINEAR, reducing_gap=None)
        left, top = (nw - size) // 2, (nh - size) // 2
        im = im.crop((left, top, left + size, top + size))
    return np.asarray(im, dtype=np.uint8)


def read_image(
    path: str | os.PathLike, size: int, crop: bool = True, crop_ratio: float = 1.0, draft: bool = False
) -> np.ndarray:
    """Decode one image to uint8 ``[size, size, 3]`` RGB (:func:`open_rgb`: any mode, EXIF orientation).

    Resizes the shorter side to ``size / crop_ratio`` (bilinear, antialiased) and
    centre-crops ``size``² (:func:`resize_crop`), the usual evaluation transform; images
    already ``size``² are returned unresampled when ``crop_ratio`` is 1.

    Args:
        crop_ratio: ``dataset.crop_ratio`` (1: the crop spans the shorter side).
        draft: decode a JPEG at reduced resolution when the resize target is at most half
            its shorter side (:func:`open_rgb`).

    Raises:
        CorruptImageError: naming the file.
    """
    im = open_rgb(path, resize_side(size, crop_ratio) if draft else None)
    try:
        return resize_crop(im, size, crop_ratio)
    except (OSError, ValueError) as err:
        raise CorruptImageError(f"cannot read image {path}: {err}") from err


CROP_RATIO = (3 / 4, 4 / 3)
"""Aspect-ratio range (w/h) of the training crop (torchvision's ``RandomResizedCrop`` default)."""


def random_resized_crop_box(
    height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float], rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of a random crop covering an area fraction in ``scale`` with aspect ratio
    (w/h) log-uniform in ``ratio`` (Szegedy et al.'s Inception crop as torchvision draws it: 10 tries,
    then a centre crop of the clamped ratio)."""
    import math

    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def train_crop(
    path: str | os.PathLike, size: int, rng: np.random.Generator, scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = CROP_RATIO, draft: bool = True,
) -> np.ndarray:
    """Training view of one image: a random resized crop (:func:`random_resized_crop_box`: area
    fraction ``scale``, aspect ``ratio``) resized to ``size``² (bilinear, antialiased), then a
    horizontal flip with probability 0.5, both drawn from ``rng``: uint8 ``[size, size, 3]``.

    The box is drawn from the image's upright size, read from its header, before any pixel is
    decoded; with ``draft`` a JPEG is then decoded at the largest 1/2, 1/4, 1/8 scale that still
    leaves the box >= ``size`` px on both sides (:func:`open_rgb`), so a large photo or a large
    crop costs a fraction of a full decode, and the box is resampled with sub-pixel coordinates
    in the decoded image. Without ``draft`` (or when no reduction applies) the pixels are those of
    a full decode.

    Raises:
        CorruptImageError: naming the file.
    """
    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF orientation: a 90 degree turn
                w, h = h, w
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise CorruptImageError(f"cannot read image {path}: {err}") from err
    top, left, ch, cw = random_resized_crop_box(h, w, scale, ratio, rng)
    # draft mode picks the largest reduction s <= shorter side // request: request the shorter side
    # that makes the box's shorter side exactly `size` px
    im = open_rgb(path, -(-min(w, h) * size // min(cw, ch)) if draft else None)
    # the decode's reduction s (1, 2, 4 or 8; libjpeg gives ceil(w / s) pixels)
    f = next((s for s in (1, 2, 4, 8) if -(-w // s) == im.size[0] and -(-h // s) == im.size[1]), w / im.size[0])
    try:
        im = im.resize((size, size), Image.BILINEAR, box=(left / f, top / f, (left + cw) / f, (top + ch) / f),
                       reducing_gap=None)
    except (OSError, ValueError) as err:
        raise CorruptImageError(f"cannot read image {path}: {err}") from err
    arr = np.asarray(im, dtype=np.uint8)
    return arr[:, ::-1] if rng.random() < 0.5 else arr


def read_images(
    root: str | os.PathLike, paths: Sequence[str], size: int, skip_corrupt: bool = False,
    crop_ratio: float = 1.0, draft: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode many images (:func:`read_image`): returns uint8 ``[N, size, size, 3]`` and the kept indices ``[N]``.

    Args:
        skip_corrupt: log and drop unreadable files (config ``dataset.skip_corrupt``)
            instead of raising :class:`CorruptImageError`.
        crop_ratio, draft: as :func:`read_image`.
    """
    root = Path(root)
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    keep = []
    skipped = 0
    for i, rel in enumerate(paths):
        try:
            out[len(keep)] = read_image(root / rel, size, crop_ratio=crop_ratio, draft=draft)
            keep.append(i)
        except CorruptImageError as err:
            if not skip_corrupt:
                raise
            skipped += 1
            log.warning("skipping corrupt image (dataset.skip_corrupt=true): %s", err)
    if skipped:
        log.warning("skipped %d corrupt image(s) of %d", skipped, len(paths))
    return out[: len(keep)], np.asarray(keep, dtype=np.int64)


def verify_images(root: str | os.PathLike, paths: Sequence[str], skip_corrupt: bool = False) -> np.ndarray:
    """Check that every file decodes (``PIL.Image.verify``) and has a mode in
    :data:`SUPPORTED_MODES`; returns the indices that do.

    Raises:
        CorruptImageError: for the first bad file unless ``skip_corrupt``.
    """
    root = Path(root)
    ok = []
    bad = 0
    for i, rel in enumerate(paths):
        try:
            with Image.open(root / rel) as im:
                if im.mode not in SUPPORTED_MODES:
                    raise ValueError(f"unsupported image mode {im.mode!r} (supported: {', '.join(SUPPORTED_MODES)})")
                im.verify()
            ok.append(i)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            if not skip_corrupt:
                raise CorruptImageError(
                    f"cannot read image {root / rel}: {err} (set dataset.skip_corrupt: true to skip such files)"
                ) from err
            bad += 1
            log.warning("corrupt image skipped: %s (%s)", root / rel, err)
    if bad:
        log.warning("dataset.skip_corrupt: %d corrupt image(s) left out of %d", bad, len(paths))
    return np.asarray(ok, dtype=np.int64)


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``results/data/manifest.tsv`` (see CONTRIBUTING.md)."""
    return pd.read_csv(path, sep="\t", keep_default_na=False)


def select_split(manifest: pd.DataFrame, split: str) -> pd.DataFrame:
    """Rows of one split, keeping the manifest row number as ``id``.

    Raises:
        ValueError: if the split has no images.
    """
    rows = manifest.reset_index(names="id")
    rows = rows[rows["split"] == split]
    if rows.empty:
        have = sorted(manifest["split"].unique())
        raise ValueError(f"split {split!r} has no images in the manifest (splits present: {have})")
    return rows


def analysis_subset(
    manifest: pd.DataFrame, data_root: str | os.PathLike, split: str, n_images: int, size: int, seed: int,
    crop_ratio: float = 1.0,
) -> dict[str, np.ndarray]:
    """The first ``n_images`` of a seeded permutation of ``split``, decoded at full resolution,
    resized and centre-cropped (:func:`read_image`, ``crop_ratio`` = ``dataset.crop_ratio``).

    Returns:
        ``images`` uint8 ``[N,size,size,3]``, ``labels`` int64 ``[N]``, ``ids`` int64 ``[N]``
        (manifest rows); plus ``shape_labels``/``texture_labels`` and ``label_space`` (0-d str)
        when the manifest has them.
    """
    rows = select_split(manifest, split)
    order = np.random.default_rng(seed).permutation(len(rows))[: min(n_images, len(rows))]
    rows = rows.iloc[np.sort(order)]
    images, kept = read_images(data_root, rows["path"].tolist(), size, crop_ratio=crop_ratio)
    rows = rows.iloc[kept]
    out = {
        "images": images,
        "labels": rows["label"].to_numpy(np.int64),
        "ids": rows["id"].to_numpy(np.int64),
    }
    for col in ("shape_label", "texture_label"):
        if col in rows and (rows[col].astype(int) >= 0).all():
            out[col + "s"] = rows[col].to_numpy(np.int64)
    if "label_space" in rows and "shape_labels" in out:
        spaces = sorted(set(rows["label_space"].astype(str)))
        if len(spaces) != 1:
            raise ValueError(f"split {split!r} mixes cue-conflict label spaces {spaces}")
        out["label_space"] = np.asarray(spaces[0])  # "dataset" or "imagenet16" (blurscope.data.imagenet16)
    return out


def write_images_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write an image set (see :func:`analysis_subset`) as compressed ``.npz``, atomically."""
    save_npz(path, **arrays)


def load_images_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load an image set written by :func:`write_images_npz`.

    Raises:
        FileNotFoundError / ValueError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image set {path} does not exist")
    with np.load(path) as z:
        out = {k: z[k] for k in z.files}
    if "images" not in out or out["images"].dtype != np.uint8 or out["images"].ndim != 4:
        raise ValueError(f"{path}: expected uint8 'images' [N,H,W,3]")
    return out


def to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` → float32 ``[N, 3, H, W]`` in ``[0, 1]``."""
    import torch

    t = torch.as_tensor(images)
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"to_float expects uint8 [N,H,W,3], got {t.dtype} {tuple(t.shape)}")
    return t.permute(0, 3, 1, 2).float().div_(255.0)
