"""The embedded default dataset: procedurally generated, natural-image-like scenes.

Each image is a scene on a 1/f ("pink") noise background with smooth blobs and
distractor textures at several scales, holding one large object. The class is
carried by two independent cues:

* **shape** (coarse, low spatial frequency): one of 10 silhouettes, randomly
  rotated, scaled and placed, filled with a colour that contrasts with the
  local background (lighter or darker at random);
* **texture** (fine, high spatial frequency, radial 0.22–0.45 cycles/pixel): a
  class-specific pattern modulating the object's fill. It is the easier but
  less reliable cue: in ``1 - texture_reliability`` (20 %) of the images the
  object wears a random class's texture, so shape alone is fully reliable.

The texture covers only part of the object's surface (``texture_coverage``,
default 60 %), as surface markings: a smooth random field thresholded per
image decides where it is printed, the rest of the object is plain fill. On
natural objects fine texture rarely covers the whole surface; if it did here,
every crop of an object would carry the fine texture whatever drew a neuron to
it, and the complexity of the patches a blur-trained network prefers (its
coarse, silhouette-driven windows) could not differ from a clear-trained
network's (docs/spectra.md has the measured effect of this choice). A weak
fine grain covers the whole image, object included (a sensor property).

A clear-trained network can therefore classify from texture alone, while a
network behind a strong blur (σ = 6 at 224 px is σ ≈ 1.7 px at 64 px, which
leaves < 3 % of the texture's amplitude) must use the silhouette. The
cue-conflict split pairs the shape of one class with the texture of another.

Everything is vectorised over a chunk of images and deterministic: the same
seed gives byte-identical PNG files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
from PIL import Image

log = logging.getLogger("blurscope.data.embedded")

SHAPES = ("disk", "square", "triangle", "cross", "ring", "star", "ellipse", "crescent", "ell", "dumbbell")
TEXTURES = (
    "hgrating",
    "vgrating",
    "dgrating",
    "agrating",
    "checker",
    "dots",
    "finehgrating",
    "crosshatch",
    "radial",
    "noise",
)
CLASS_NAMES = tuple(f"{s}-{t}" for s, t in zip(SHAPES, TEXTURES))


@dataclass(frozen=True)
class EmbeddedSpec:
    """Sizes and seed of the embedded dataset (config ``dataset.embedded``)."""

    image_size: int = 64
    n_classes: int = 10
    n_train: int = 5000
    n_val: int = 1000
    n_test: int = 1000
    n_cue_conflict: int = 500
    seed: int = 0
    texture_contrast: float = 0.16
    texture_reliability: float = 0.8
    max_rotation_deg: float = 20.0
    background_contrast: float = 0.05
    background_alpha: float = 2.2
    grain: float = 0.004
    texture_coverage: float = 0.6
    marking_alpha: float = 2.0


_MARKING_EDGE = 0.3
"""Width of the soft edge of the texture markings, in units of the marking field's std."""


def _pink_noise(rng: np.random.Generator, n: int, size: int, channels: int, alpha: float = 1.0) -> np.ndarray:
    """Noise with amplitude spectrum ∝ 1/f^alpha, unit std per image, ``[n, c, size, size]``."""
    white = rng.standard_normal((n, channels, size, size))
    f = np.fft.fftfreq(size)
    r = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    r[0, 0] = 1.0
    filt = 1.0 / np.maximum(r, 1.0 / size) ** alpha
    filt[0, 0] = 0.0
    # real input, filter even in f: the half-plane transform gives the same field in 1/8 of the time
    out = np.fft.irfft2(np.fft.rfft2(white) * filt[:, : size // 2 + 1], s=(size, size))
    out -= out.mean(axis=(-2, -1), keepdims=True)
    out /= out.std(axis=(-2, -1), keepdims=True) + 1e-12
    return out


def _shape_mask(kind: int, u: np.ndarray, v: np.ndarray, rad: np.ndarray) -> np.ndarray:
    """Soft silhouette in [0,1] for one shape class.

    ``u, v`` are object-centred, rotated coordinates in pixels ``[n, H, W]``;
    ``rad`` the object radius in pixels ``[n, 1, 1]``. Edges are anti-aliased
    over about one pixel.
    """
    a = u / rad
    b = v / rad
    name = SHAPES[kind]
    if name == "disk":
        d = np.sqrt(a**2 + b**2) - 0.85
    elif name == "square":
        d = np.maximum(np.abs(a), np.abs(b)) - 0.75
    elif name == "triangle":
        # equilateral triangle, circumradius 1
        k = np.sqrt(3.0)
        d = np.maximum(np.abs(a) * k / 2 + b / 2, -b) - 0.5
    elif name == "cross":
        arm = 0.28
        d = np.minimum(
            np.maximum(np.abs(a) - 0.95, np.abs(b) - arm), np.maximum(np.abs(b) - 0.95, np.abs(a) - arm)
        )
    elif name == "ring":
        r = np.sqrt(a**2 + b**2)
        d = np.abs(r - 0.7) - 0.25
    elif name == "star":
        r = np.sqrt(a**2 + b**2)
        th = np.arctan2(b, a)
        d = r - (0.62 + 0.33 * np.cos(5 * th))
    elif name == "ellipse":
        d = np.sqrt((a / 1.0) ** 2 + (b / 0.42) ** 2) - 1.0
        d = d * 0.42
    elif name == "crescent":
        d1 = np.sqrt(a**2 + b**2) - 0.9
        d2 = np.sqrt((a - 0.45) ** 2 + b**2) - 0.72
        d = np.maximum(d1, -d2)
    elif name == "ell":
        d = np.minimum(
            np.maximum(np.abs(a + 0.55) - 0.27, np.abs(b) - 0.9),
            np.maximum(np.abs(a) - 0.82, np.abs(b - 0.63) - 0.27),
        )
    elif name == "dumbbell":
        d1 = np.sqrt((a - 0.55) ** 2 + b**2) - 0.42
        d2 = np.sqrt((a + 0.55) ** 2 + b**2) - 0.42
        bar = np.maximum(np.abs(a) - 0.55, np.abs(b) - 0.14)
        d = np.minimum(np.minimum(d1, d2), bar)
    else:  # pragma: no cover - guarded by SHAPES
        raise ValueError(name)
    # signed distance in units of rad -> pixels; ~1 px anti-aliased edge
    return np.clip(0.5 - d * rad, 0.0, 1.0)


def _texture(kind: int, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """Class texture in [-1, 1], ``[n, H, W]``, fine scale (lowest radial component 0.22–0.33 cycles/pixel).

    ``x, y`` are object-centred *unrotated* pixel coordinates ``[n, H, W]``;
    frequency (±8 %), phase and orientation (±8°) are jittered per image.
    """
    jit = 1.0 + rng.uniform(-0.08, 0.08, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    dth = np.deg2rad(rng.uniform(-8, 8, (n, 1, 1)))
    name = TEXTURES[kind]

    def grating(freq: float, theta_deg: float) -> np.ndarray:
        th = np.deg2rad(theta_deg) + dth
        return np.cos(2 * np.pi * freq * jit * (x * np.cos(th) + y * np.sin(th)) + phase)

    if name == "hgrating":
        return grating(0.25, 90.0)
    if name == "vgrating":
        return grating(0.25, 0.0)
    if name == "dgrating":
        return grating(0.24, 45.0)
    if name == "agrating":
        return grating(0.24, 135.0)
    if name == "checker":
        return np.sign(grating(0.17, 0.0) * grating(0.17, 90.0) + 1e-9)
    if name == "dots":
        g = (grating(0.25, 0.0) + 1) * (grating(0.25, 90.0) + 1) / 2
        return g - 1.0
    if name == "finehgrating":
        return grating(0.33, 90.0)
    if name == "crosshatch":
        return 0.5 * (grating(0.24, 30.0) + grating(0.24, 150.0))
    if name == "radial":
        r = np.sqrt(x**2 + y**2)
        return np.cos(2 * np.pi * 0.25 * jit * r + phase)
    if name == "noise":
        white = rng.standard_normal(x.shape)
        f = np.fft.fftfreq(x.shape[-1])
        rr = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
        band = ((rr > 0.22) & (rr < 0.45)).astype(float)
        out = np.fft.ifft2(np.fft.fft2(white) * band).real
        return np.clip(out / (out.std(axis=(-2, -1), keepdims=True) + 1e-12) / 1.6, -1, 1)
    raise ValueError(name)  # pragma: no cover


def render(
    shape_labels: np.ndarray, texture_labels: np.ndarray, spec: EmbeddedSpec, rng: np.random.Generator
) -> np.ndarray:
    """Render scenes for given shape and texture classes.

    Args:
        shape_labels, texture_labels: int ``[n]`` in ``[0, n_classes)``.
        spec: sizes and contrasts.
        rng: the only source of randomness.

    Returns:
        uint8 images ``[n, S, S, 3]``.
    """
    n = len(shape_labels)
    s = spec.image_size
    scale = s / 64.0
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
    # --- background: colour pink noise + smooth blobs + distractor textures at mid scales
    # smooth 1/f^alpha luminance and chroma fields plus a weak fine 1/f grain:
    # natural images have power ∝ 1/f^2..1/f^3 and mostly smooth pixel neighbourhoods
    lum = _pink_noise(rng, n, s, 1, alpha=spec.background_alpha)[:, 0]
    chroma = _pink_noise(rng, n, s, 3, alpha=spec.background_alpha + 0.3)
    grain = _pink_noise(rng, n, s, 1, alpha=1.0)
    base = rng.uniform(0.38, 0.62, (n, 1, 1, 1))
    tint = rng.uniform(-0.06, 0.06, (n, 3, 1, 1))
    img = base + tint + spec.background_contrast * (lum[:, None] + 0.35 * chroma)
    n_blobs = 3
    for _ in range(n_blobs):
        cx = rng.uniform(0, s, (n, 1, 1))
        cy = rng.uniform(0, s, (n, 1, 1))
        rb = rng.uniform(5, 14, (n, 1, 1)) * scale
        soft = np.clip((rb - np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)) / (2.5 * scale), 0, 1)
        amp = rng.uniform(-0.14, 0.14, (n, 3, 1, 1))
        img = img + amp * soft[:, None]
    # distractor texture patches at coarser scales than the class textures (0.06-0.12 c/px)
    for _ in range(2):
        cx = rng.uniform(0, s, (n, 1, 1))
        cy = rng.uniform(0, s, (n, 1, 1))
        rb = rng.uniform(5, 11, (n, 1, 1)) * scale
        soft = np.clip((rb - np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)) / (1.5 * scale), 0, 1)
        fq = rng.uniform(0.06, 0.12, (n, 1, 1)) / scale
        th = rng.uniform(0, np.pi, (n, 1, 1))
        ph = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        tex = np.cos(2 * np.pi * fq * (xx * np.cos(th) + yy * np.sin(th)) + ph)
        amp = rng.uniform(0.03, 0.08, (n, 1, 1))
        img = img + (amp * tex * soft)[:, None]
    # --- the object
    rad = rng.uniform(15, 22, (n, 1, 1)) * scale
    margin = 0.55 * rad
    cx = rng.uniform(margin, s - margin)
    cy = rng.uniform(margin, s - margin)
    # objects keep a roughly canonical orientation, as most natural objects do
    ang = np.deg2rad(rng.uniform(-spec.max_rotation_deg, spec.max_rotation_deg, (n, 1, 1)))
    x = xx - cx
    y = yy - cy
    u = x * np.cos(ang) + y * np.sin(ang)
    v = -x * np.sin(ang) + y * np.cos(ang)
    mask = np.zeros((n, s, s))
    tex = np.zeros((n, s, s))
    for k in range(spec.n_classes):
        sel = np.flatnonzero(shape_labels == k)
        if sel.size:
            mask[sel] = _shape_mask(k, u[sel], v[sel], rad[sel])
        sel = np.flatnonzero(texture_labels == k)
        if sel.size:
            tex[sel] = _texture(k, x[sel] / scale, y[sel] / scale, rng, sel.size)
    # fill contrasts with the background: lighter or darker at random, random hue
    bg_mean = img.mean(axis=(1, 2, 3), keepdims=True)
    sign = np.where(rng.random((n, 1, 1, 1)) < 0.5, -1.0, 1.0)
    fill = bg_mean + sign * rng.uniform(0.16, 0.28, (n, 1, 1, 1)) + rng.uniform(-0.07, 0.07, (n, 3, 1, 1))
    tex_amp = spec.texture_contrast * rng.uniform(0.8, 1.2, (n, 1, 1, 1))
    # surface markings: the texture is printed where a smooth unit-std field
    # exceeds the quantile that leaves `texture_coverage` of the surface textured
    marking = _pink_noise(rng, n, s, 1, alpha=spec.marking_alpha)[:, 0]
    thr = -np.inf if spec.texture_coverage >= 1.0 else NormalDist().inv_cdf(1.0 - spec.texture_coverage)
    weight = np.clip((marking - thr) / _MARKING_EDGE + 0.5, 0.0, 1.0)
    obj = fill + tex_amp * (tex * weight)[:, None]
    img = img * (1 - mask[:, None]) + obj * mask[:, None] + spec.grain * grain
    img = np.clip(img, 0.0, 1.0)
    return np.round(img.transpose(0, 2, 3, 1) * 255.0).astype(np.uint8)


def _split_labels(n: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Balanced labels (round robin), shuffled: ``[n]`` int64."""
    labels = np.arange(n) % n_classes
    return rng.permutation(labels).astype(np.int64)


def _write_split(
    out_dir: Path, spec: EmbeddedSpec, split: str, n: int, seed: np.random.SeedSequence, chunk: int
) -> list[tuple]:
    """Render and write one split (its own random stream ``seed``); its manifest rows, in order."""
    rng = np.random.default_rng(seed)
    names = CLASS_NAMES[: spec.n_classes]
    shape = _split_labels(n, spec.n_classes, rng)
    if split == "cue_conflict":
        offset = rng.integers(1, spec.n_classes, n)
        texture = (shape + offset) % spec.n_classes
    else:
        # texture is a strong but imperfect cue (as in natural images): in a
        # fraction 1 - texture_reliability of the images the object carries
        # the texture of a random class, so shape must be learnt too
        texture = shape.copy()
        swap = rng.random(n) >= spec.texture_reliability
        texture[swap] = rng.integers(0, spec.n_classes, int(swap.sum()))
    for name in names:
        (out_dir / split / name).mkdir(parents=True, exist_ok=True)
    rows = []
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        images = render(shape[sl], texture[sl], spec, rng)
        for i, im in zip(range(sl.start, sl.stop), images):
            rel = f"{split}/{names[shape[i]]}/{split}_{i:06d}.png"
            # zlib level 1: 2.6x faster to write than 6, files 10 % larger, the same (lossless) pixels
            Image.fromarray(im).save(out_dir / rel, optimize=False, compress_level=1)
            rows.append((rel, split, int(shape[i]), names[shape[i]], int(shape[i]), int(texture[i])))
    log.info("embedded dataset: wrote %d %s images", n, split)
    return rows


def generate_embedded(out_dir: str | Path, spec: EmbeddedSpec, chunk: int = 500, workers: int = 1) -> pd.DataFrame:
    """Write the embedded dataset as PNGs in ImageFolder layout and return its manifest.

    Layout: ``out_dir/{train,val,test}/<class_name>/<index>.png`` and
    ``out_dir/cue_conflict/<shape-class>/<index>.png``. Each split draws from its own
    random stream, so ``workers > 1`` writes splits in parallel processes (the largest,
    train, in one; the rest in the others) with byte-identical files and manifest.

    Returns:
        Manifest with columns ``path split label class_name shape_label
        texture_label`` (paths relative to ``out_dir``).
    """
    if not 2 <= spec.n_classes <= len(SHAPES):
        raise ValueError(f"dataset.embedded.n_classes must be in [2, {len(SHAPES)}], got {spec.n_classes}")
    if not 0.0 < spec.texture_coverage <= 1.0:
        raise ValueError(f"dataset.embedded.texture_coverage must be in (0, 1], got {spec.texture_coverage}")
    out_dir = Path(out_dir)
    root = np.random.SeedSequence(spec.seed)
    splits = [("train", spec.n_train), ("val", spec.n_val), ("test", spec.n_test),
              ("cue_conflict", spec.n_cue_conflict)]
    jobs = [(out_dir, spec, split, n, seed, chunk) for (split, n), seed in zip(splits, root.spawn(4))]
    if workers <= 1:
        parts = [_write_split(*job) for job in jobs]
    else:
        import concurrent.futures
        import multiprocessing

        # fork: the children need nothing but numpy and PIL, and a Snakemake script cannot be re-imported
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as pool:
            parts = list(pool.map(_write_split, *zip(*jobs)))
    rows = [row for part in parts for row in part]
    return pd.DataFrame(rows, columns=["path", "split", "label", "class_name", "shape_label", "texture_label"])
