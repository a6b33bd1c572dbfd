"""The embedded generator: determinism, layout, cues, natural-image statistics."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from blurscope.data.embedded import CLASS_NAMES, EmbeddedSpec, generate_embedded, render
from blurscope.freq import radius_cpp

SMALL = EmbeddedSpec(image_size=32, n_classes=4, n_train=16, n_val=8, n_test=8, n_cue_conflict=8, seed=3)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.png"))}


def test_generation_is_byte_identical_for_the_same_seed(tmp_path: Path) -> None:
    m1 = generate_embedded(tmp_path / "a", SMALL)
    m2 = generate_embedded(tmp_path / "b", SMALL)
    assert m1.equals(m2)
    d1, d2 = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert d1 == d2 and len(d1) == 40
    m_par = generate_embedded(tmp_path / "p", SMALL, workers=2)  # splits in parallel processes
    assert m_par.equals(m1) and _digest(tmp_path / "p") == d1
    m3 = generate_embedded(tmp_path / "c", EmbeddedSpec(**{**SMALL.__dict__, "seed": 4}))
    assert _digest(tmp_path / "c") != d1
    assert len(m3) == len(m1)


def test_layout_labels_and_cue_conflict(tmp_path: Path) -> None:
    m = generate_embedded(tmp_path, SMALL)
    assert set(m.split) == {"train", "val", "test", "cue_conflict"}
    assert m.groupby("split").size().to_dict() == {"cue_conflict": 8, "test": 8, "train": 16, "val": 8}
    for row in m.itertuples():
        assert (tmp_path / row.path).is_file()
        assert row.path.split("/")[1] == CLASS_NAMES[row.label]
    cc = m[m.split == "cue_conflict"]
    assert (cc.shape_label != cc.texture_label).all()
    tr = m[m.split == "train"]
    assert (tr.label == tr.shape_label).all()
    assert tr.label.value_counts().min() == 4  # balanced


def test_images_are_natural_like() -> None:
    """Power spectrum falls like 1/f^a with a in the natural range; not saturated; edges in a natural range."""
    spec = EmbeddedSpec()
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 10
    imgs = render(labels, labels, spec, rng).astype(np.float64)
    assert imgs.min() >= 0 and imgs.max() <= 255
    assert 0.02 < (imgs.std() / 255) < 0.3
    g = imgs.mean(-1)
    g -= g.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(g)) ** 2
    r = radius_cpp(64, 64)
    edges = np.geomspace(0.03, 0.45, 9)
    prof = [power[:, (r >= a) & (r < b)].mean() for a, b in zip(edges[:-1], edges[1:])]
    slope = np.polyfit(np.log(np.sqrt(edges[:-1] * edges[1:])), np.log(prof), 1)[0]
    assert -3.2 < slope < -1.5, slope


def test_texture_is_high_frequency_and_shape_low_frequency() -> None:
    """Swapping only the texture changes mostly high frequencies; only the shape, mostly low ones."""
    spec = EmbeddedSpec(background_contrast=0.0, grain=0.0)
    n = 64
    base = np.zeros(n, dtype=int)
    def grey(shape, tex):
        return render(shape, tex, spec, np.random.default_rng(7)).astype(float).mean(-1)
    ref = grey(base, base)
    tex_swap = grey(base, base + 1)
    shape_swap = grey(base + 1, base)
    r = radius_cpp(64, 64)
    def hf_share(diff):
        p = np.abs(np.fft.fft2(diff)) ** 2
        return p[:, r > 0.15].sum() / p.sum()
    assert hf_share(tex_swap - ref) > 0.8
    assert hf_share(shape_swap - ref) < hf_share(tex_swap - ref) - 0.3


def test_texture_markings_cover_the_configured_fraction_of_each_object() -> None:
    """The texture shows on ~texture_coverage of the surface where a fully textured object shows it, never elsewhere."""
    labels = np.arange(200) % 10

    def grey(**kw: float) -> np.ndarray:
        return render(labels, labels, EmbeddedSpec(**kw), np.random.default_rng(5)).astype(int)

    plain = grey(texture_contrast=0.0)  # same scene, no texture: same random draws
    everywhere = np.abs(grey(texture_coverage=1.0) - plain).max(-1) > 3
    shown = {c: np.abs(grey(texture_coverage=c) - plain).max(-1) > 3 for c in (0.3, 0.6)}
    for coverage, mask in shown.items():
        assert not (mask & ~everywhere).any()
        assert abs(mask.sum() / everywhere.sum() - coverage) < 0.05, coverage
    per_image = shown[0.6].sum((1, 2)) / everywhere.sum((1, 2))
    assert (per_image < 0.05).mean() < 0.05  # the texture cue stays visible in almost every image
    assert (per_image > 0.95).mean() < 0.5  # and most objects keep plain surface too


def test_bad_class_count() -> None:
    with pytest.raises(ValueError, match="n_classes"):
        generate_embedded("/tmp/never", EmbeddedSpec(n_classes=11))


@pytest.mark.parametrize("coverage", [0.0, 1.5])
def test_bad_texture_coverage(coverage: float) -> None:
    with pytest.raises(ValueError, match=r"dataset\.embedded\.texture_coverage must be in \(0, 1\]"):
        generate_embedded("/tmp/never", EmbeddedSpec(texture_coverage=coverage))


def test_pink_noise_equals_the_full_complex_filter() -> None:
    """The half-plane transform gives the field of the full complex FFT filter (1/f^alpha, DC removed)."""
    from blurscope.data.embedded import _pink_noise

    for size in (16, 17):
        white = np.random.default_rng(3).standard_normal((4, 2, size, size))
        f = np.fft.fftfreq(size)
        r = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
        r[0, 0] = 1.0
        filt = 1.0 / np.maximum(r, 1.0 / size) ** 1.5
        filt[0, 0] = 0.0
        want = np.fft.ifft2(np.fft.fft2(white) * filt).real
        want = (want - want.mean(axis=(-2, -1), keepdims=True)) / (want.std(axis=(-2, -1), keepdims=True) + 1e-12)
        got = _pink_noise(np.random.default_rng(3), 4, size, 2, alpha=1.5)
        np.testing.assert_allclose(got, want, atol=1e-12)
