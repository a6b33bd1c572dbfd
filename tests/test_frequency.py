"""Tests for blurscope.frequency.preference: hybrids, f_rev, f_0.5 (PGD), shape bias."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from blurscope import freq
from blurscope.blur import GaussianBlur
from blurscope.frequency import preference as frequency

H = W = 32


def smooth_images(n: int, h: int = H, w: int = W, seed: int = 0) -> torch.Tensor:
    """Random natural-ish images in [0.1, 0.9]: a few random low-frequency sinusoids + mild noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    imgs = torch.full((n, 3, h, w), 0.5)
    for _ in range(4):
        fy, fx = torch.randint(-4, 5, (2, n, 3, 1, 1), generator=g).float()
        ph = torch.rand(n, 3, 1, 1, generator=g) * 2 * math.pi
        imgs = imgs + 0.07 * torch.cos(2 * math.pi * (fy * yy / h + fx * xx / w) + ph)
    imgs = imgs + 0.03 * torch.randn(n, 3, h, w, generator=g)
    return imgs.clamp(0.1, 0.9)


# --------------------------------------------------------------------------- hybrids


def test_f_mix_grid_covers_corners() -> None:
    f = frequency.f_mix_grid(10)
    assert f.shape == (10,) and f[0] > 0 and np.isclose(f[-1], math.sqrt(2)) and np.all(np.diff(f) > 0)
    with pytest.raises(ValueError, match="n_f_mix"):
        frequency.f_mix_grid(1)


def test_hybrid_with_itself_is_identity() -> None:
    a = smooth_images(3)
    out = frequency.hybrid_images(a, a, [0.01, 0.3, 0.7, 1.0, 1.4142])
    assert out.shape == (5, 3, 3, H, W)
    assert torch.equal(out, a[None].expand_as(out))


@pytest.mark.parametrize("f_mix", [math.sqrt(2), 1.5, 10.0])
def test_hybrid_above_corner_is_low_source(f_mix: float) -> None:
    a, b = smooth_images(4, seed=1), smooth_images(4, seed=2)
    out = frequency.hybrid_images(a, b, f_mix)
    assert out.shape == a.shape
    torch.testing.assert_close(out, a, atol=1e-5, rtol=0)


def test_hybrid_near_zero_is_high_source_with_low_dc() -> None:
    a, b = smooth_images(4, seed=3), smooth_images(4, seed=4)
    out = frequency.hybrid_images(a, b, 1e-6)
    expect = (b - b.mean((-2, -1), keepdim=True) + a.mean((-2, -1), keepdim=True)).clamp(0, 1)
    torch.testing.assert_close(out, expect, atol=1e-5, rtol=0)
    # f_mix exactly 0 keeps only DC of A too (radius 0 <= 0).
    torch.testing.assert_close(frequency.hybrid_images(a, b, 0.0), expect, atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape", [(16, 16), (15, 17)])
def test_hybrid_matches_full_fft_definition(shape: tuple[int, int]) -> None:
    """Low frequencies of A (radius <= f on blurscope.freq's grid) + rest of B, clipped."""
    h, w = shape
    a, b = smooth_images(2, h, w, seed=5).double(), smooth_images(2, h, w, seed=6).double()
    b = b * 1.4 - 0.2  # values outside [0,1] after mixing: exercises the clip
    for f_mix in (0.2, 0.55, 1.0, 1.3):
        mask = freq.normalized_radius(h, w) <= f_mix
        fa, fb = np.fft.fft2(a.numpy()), np.fft.fft2(b.numpy())
        ref = np.clip(np.fft.ifft2(np.where(mask, fa, fb)).real, 0, 1)
        out = frequency.hybrid_images(a, b, f_mix).numpy()
        np.testing.assert_allclose(out, ref, atol=1e-10)
        assert out.min() >= 0 and out.max() <= 1


def test_hybrid_rejects_bad_input() -> None:
    a = smooth_images(2)
    with pytest.raises(ValueError, match="one shape"):
        frequency.hybrid_images(a, a[:1], 0.5)
    with pytest.raises(ValueError, match="f_mix"):
        frequency.hybrid_images(a, a, -0.1)


def test_make_pairs_deterministic_and_cross_class() -> None:
    labels = np.repeat(np.arange(4), 10)
    lo, hi = frequency.make_pairs(labels, 25, seed=7)
    lo2, hi2 = frequency.make_pairs(labels, 25, seed=7)
    assert np.array_equal(lo, lo2) and np.array_equal(hi, hi2)
    assert np.all(labels[lo] != labels[hi])
    assert len(set(lo.tolist())) == 25  # without replacement while n_pairs <= N
    lo3, _ = frequency.make_pairs(labels, 25, seed=8)
    assert not np.array_equal(lo, lo3)
    lo4, hi4 = frequency.make_pairs(labels, 95, seed=1)  # more pairs than images
    assert lo4.size == 95 and np.all(labels[lo4] != labels[hi4])
    with pytest.raises(ValueError, match="2 classes"):
        frequency.make_pairs(np.zeros(5, dtype=int), 3, 0)


# --------------------------------------------------------------------------- low-frequency-only models

K = 4
PROTO_CYCLES = [(1, 0), (0, 1), (1, 1), (2, 0)]  # (fy, fx) cycles per image: normalised radius <= 0.18


def prototypes() -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    p = torch.stack([torch.cos(2 * math.pi * (fy * yy / H + fx * xx / W)) for fy, fx in PROTO_CYCLES])
    return 0.15 * p[:, None].expand(K, 3, H, W)  # [K, 3, H, W], zero-mean


def class_images(n_per_class: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """Images = 0.5 + class prototype (low frequency) + per-image high-frequency noise (radius > 0.6)."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(K * n_per_class, 3, H, W, generator=g, dtype=torch.float64)
    keep = freq.as_tensor(freq.normalized_radius(H, W) > 0.6, noise)
    noise = torch.fft.ifft2(torch.fft.fft2(noise) * keep).real
    noise = 0.12 * noise / noise.abs().amax(dim=(1, 2, 3), keepdim=True)
    labels = np.repeat(np.arange(K), n_per_class)
    imgs = 0.5 + prototypes()[labels] + noise
    assert imgs.min() > 0 and imgs.max() < 1  # no clipping anywhere in the sweep
    return imgs.float(), labels


class IdealLowPass(nn.Module):
    """Keeps normalised radius <= cutoff (blurscope.freq grid)."""

    def __init__(self, cutoff: float) -> None:
        super().__init__()
        self.cutoff = cutoff

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = frequency.lowpass_masks(h, w, [self.cutoff], x)[0]
        return torch.fft.irfft2(torch.fft.rfft2(x) * m, s=(h, w))


class TemplateClassifier(nn.Module):
    """Matched filter against the (zero-mean) class prototypes."""

    def __init__(self, front: nn.Module) -> None:
        super().__init__()
        self.front = front
        self.register_buffer("templates", front(prototypes().float() + 0.5) - 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.front(x) - 0.5
        return torch.einsum("bchw,kchw->bk", z, self.templates)


@pytest.mark.parametrize(
    ("front", "cutoff"),
    [(IdealLowPass(0.3), 0.3), (GaussianBlur(2.0), 0.75)],
    ids=["ideal_lowpass", "gaussian_blur_layer"],
)
def test_low_frequency_model_prefers_low_source(front: nn.Module, cutoff: float) -> None:
    """A model that only sees low frequencies reports A's class once f_mix passes its cutoff."""
    imgs, labels = class_images(6, seed=11)
    model = TemplateClassifier(front).eval()
    assert (frequency.predict(model, imgs) == labels).all()  # clean images: perfect
    lo, hi = frequency.make_pairs(labels, 24, seed=3)
    f = frequency.f_mix_grid(32)  # first point 0.044 < smallest prototype radius 0.0625
    preds = frequency.hybrid_predictions(model, imgs, lo, hi, f, batch_size=50)
    hl, hh = frequency.preference_curves(preds, labels[lo], labels[hi])
    p_low, p_high = hl.mean(1), hh.mean(1)
    assert np.all(p_low[f >= cutoff] == 1.0)
    assert np.all(p_high[f >= cutoff] == 0.0)
    assert p_high[0] == 1.0  # below every prototype's radius: the hybrid is B for this model
    s = frequency.reversal_summary(f, hl, hh, iterations=200, seed=0)
    assert s["f_rev_status"] == "crossed"
    # Prototype radii are 0.0625-0.125 normalised: f_rev lies below the cutoff, in cycles/pixel.
    assert 0 < s["f_rev_cpp"] <= cutoff / 2
    assert s["f_rev_ci_low_cpp"] <= s["f_rev_cpp"] <= s["f_rev_ci_high_cpp"]


def test_hybrid_predictions_match_direct_hybrids() -> None:
    imgs, labels = class_images(3, seed=2)
    model = TemplateClassifier(GaussianBlur(1.0)).eval()
    lo, hi = frequency.make_pairs(labels, 7, seed=0)
    f = np.array([0.1, 0.2, 0.5, 1.4])
    preds = frequency.hybrid_predictions(model, imgs, lo, hi, f, batch_size=5)
    direct = model(frequency.hybrid_images(imgs[lo], imgs[hi], f).flatten(0, 1)).argmax(1).reshape(4, 7)
    assert np.array_equal(preds, direct.numpy())
    # uint8 images work the same as float ones
    u8 = (imgs * 255).round().to(torch.uint8)
    p8 = frequency.hybrid_predictions(model, u8, lo, hi, f, batch_size=64)
    assert p8.shape == (4, 7)


# --------------------------------------------------------------------------- f_rev


def test_reversal_frequency_non_monotone() -> None:
    f = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    d = np.array([-0.4, -0.1, 0.2, -0.1, 0.3])
    frev, status = frequency.reversal_frequency(f, d)
    assert frev == pytest.approx(2 + 0.1 / 0.3) and status == "crossed"
    # np.interp on this non-monotone curve would be meaningless; we only use the bracketing pair.
    d2 = np.array([-0.2, 0.0, -0.1, 0.5, 0.5])  # touches 0 exactly at f=2
    assert frequency.reversal_frequency(f, d2)[0] == pytest.approx(2.0)
    d3 = np.array([-0.2, -0.3, -0.05, -0.4, 0.6])  # dips again before crossing
    assert frequency.reversal_frequency(f, d3)[0] == pytest.approx(4 + 0.4 / 1.0)


def test_reversal_frequency_special_cases_and_batch() -> None:
    f = np.array([0.1, 0.2, 0.3])
    d = np.array([[-0.5, -0.2, -0.1], [0.1, -0.2, 0.3], [-1.0, 1.0, -1.0], [0.0, 0.0, 0.0]])
    frev, status = frequency.reversal_frequency(f, d)
    assert np.isnan(frev[0]) and status[0] == "never"
    assert frev[1] == 0.1 and status[1] == "low_from_start"
    assert frev[2] == pytest.approx(0.15) and status[2] == "crossed"
    assert frev[3] == 0.1 and status[3] == "low_from_start"
    with pytest.raises(ValueError, match="increasing"):
        frequency.reversal_frequency(np.array([0.2, 0.1, 0.3]), d)
    with pytest.raises(ValueError, match="NaN"):
        frequency.reversal_frequency(f, np.array([np.nan, 0, 1]))


def test_reversal_summary_ci_and_units() -> None:
    rng = np.random.default_rng(0)
    f = frequency.f_mix_grid(8)  # normalised
    p_true = np.clip((f - 0.5) * 1.5, 0, 1)  # p_low rises, crosses p_high near f = 0.5 + 1/3
    hl = rng.random((8, 400)) < p_true[:, None]
    hh = rng.random((8, 400)) < (1 - p_true)[:, None]
    s = frequency.reversal_summary(f, hl, hh, iterations=300, seed=1)
    assert s["n_pairs"] == 400 and s["f_rev_status"] == "crossed"
    assert s["f_rev_cpp"] == pytest.approx((0.5 + 1 / 3) / 2, abs=0.05)  # cycles/pixel = normalised / 2
    assert s["f_rev_ci_low_cpp"] < s["f_rev_cpp"] < s["f_rev_ci_high_cpp"]
    assert s["f_rev_ci_high_cpp"] - s["f_rev_ci_low_cpp"] < 0.1
    s2 = frequency.reversal_summary(f, hl, hh, iterations=300, seed=1)
    assert s == s2


# --------------------------------------------------------------------------- f_0.5


def sinusoid(cy: int, cx: int, h: int = H, w: int = W, amp: float = 1.0) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return amp * torch.cos(2 * math.pi * (cy * yy / h + cx * xx / w))


@pytest.mark.parametrize(("cy", "cx"), [(0, 3), (3, 4), (8, 8), (16, 0)])
def test_half_power_of_single_sinusoid(cy: int, cx: int) -> None:
    delta = torch.stack([sinusoid(cy, cx) + 0.3] * 3)[None]  # DC offset must not matter
    radii, power = frequency.radial_power_profile(delta)
    f_true = math.hypot(cy / H, cx / W)
    assert frequency.half_power_frequency(radii, power)[0] == pytest.approx(f_true)
    assert np.all(np.diff(radii) > 0) and power.sum() == pytest.approx(1.0)


def test_half_power_two_sinusoids_and_odd_size() -> None:
    h, w = 15, 20
    lo = sinusoid(0, 2, h, w, amp=math.sqrt(0.6))
    hi = sinusoid(3, 0, h, w, amp=math.sqrt(0.4))
    radii, p = frequency.radial_power_profile((lo + hi)[None, None])
    assert frequency.half_power_frequency(radii, p)[0] == pytest.approx(2 / 20)
    lo = sinusoid(0, 2, h, w, amp=math.sqrt(0.4))
    hi = sinusoid(3, 0, h, w, amp=math.sqrt(0.6))
    radii, p = frequency.radial_power_profile((lo + hi)[None, None])
    assert frequency.half_power_frequency(radii, p)[0] == pytest.approx(3 / 15)


def test_half_power_summary_pooled_with_ci() -> None:
    d = torch.stack([torch.stack([sinusoid(0, 2 + i % 3)] * 3) for i in range(30)])  # radii 2,3,4 /32
    radii, p = frequency.radial_power_profile(d)
    s = frequency.half_power_summary(radii, p, iterations=200, seed=0)
    assert s["f_half_cpp"] == pytest.approx(3 / 32)
    assert 2 / 32 <= s["f_half_ci_low_cpp"] <= s["f_half_cpp"] <= s["f_half_ci_high_cpp"] <= 4 / 32
    assert s["n_pgd_images"] == 30 and s["n_pgd_zero"] == 0
    p0 = np.vstack([p, np.full((1, p.shape[1]), np.nan)])  # a zero perturbation is left out and counted
    assert frequency.half_power_summary(radii, p0, 50, 0)["n_pgd_zero"] == 1


class SmallNet(nn.Module):
    def __init__(self, front: nn.Module) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.front = front
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, K))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.front(x))


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_bounds_and_blur_lowers_f_half(norm: str) -> None:
    imgs = smooth_images(8, seed=9)
    y = torch.arange(8) % K
    eps = 0.01
    res = {}
    for name, front in (("sharp", nn.Identity()), ("blur", GaussianBlur(2.0))):
        model = SmallNet(front).eval()
        delta, fooled = frequency.pgd_perturbations(model, imgs, y, eps=eps, steps=5, step_size=eps / 2, norm=norm)
        assert delta.shape == imgs.shape and fooled.shape == (8,)
        x_adv = imgs + delta
        assert x_adv.min() >= 0 and x_adv.max() <= 1
        if norm == "linf":
            assert delta.abs().max() <= eps + 1e-6
        else:
            assert torch.all(delta.flatten(1).norm(dim=1) <= eps * math.sqrt(3 * H * W) + 1e-5)
        radii, p = frequency.radial_power_profile(delta)
        res[name] = frequency.half_power_summary(radii, p, 100, 0)["f_half_cpp"]
    # The gradient through a blur layer is blurred: its perturbations have lower frequencies.
    assert res["blur"] < 0.6 * res["sharp"]


def test_pgd_is_deterministic_and_rejects_bad_config() -> None:
    imgs = smooth_images(4, seed=1)
    y = torch.zeros(4, dtype=torch.long)
    model = SmallNet(nn.Identity()).eval()
    d1, _ = frequency.pgd_perturbations(model, imgs, y, 0.02, 3, 0.01, "linf", random_start=True, seed=3)
    d2, _ = frequency.pgd_perturbations(model, imgs, y, 0.02, 3, 0.01, "linf", random_start=True, seed=3)
    assert torch.equal(d1, d2)
    with pytest.raises(ValueError, match="pgd_norm"):
        frequency.pgd_perturbations(model, imgs, y, 0.02, 3, 0.01, "l1")


# --------------------------------------------------------------------------- shape bias


def test_shape_bias_counts_and_excludes_agreeing_labels() -> None:
    shape = np.array([0, 1, 2, 3, 0, 1, 2, 3, 1, 2])
    tex = np.array([1, 2, 3, 0, 2, 3, 0, 1, 1, 2])  # last two agree: excluded
    preds = np.array([0, 1, 2, 3, 2, 3, 0, 2, 1, 2])  # 4 shape hits, 3 texture hits, 1 neither
    s = frequency.shape_bias_summary(preds, shape, tex, iterations=500, seed=0)
    assert s["n_conflict"] == 8 and s["n_excluded_same"] == 2
    assert s["shape_bias"] == pytest.approx(4 / 7)
    assert s["shape_acc"] == pytest.approx(4 / 8) and s["texture_acc"] == pytest.approx(3 / 8)
    assert 0 <= s["shape_bias_ci_low"] <= s["shape_bias"] <= s["shape_bias_ci_high"] <= 1
    with pytest.raises(ValueError, match="differ in length"):
        frequency.shape_bias_summary(preds[:3], shape, tex, 10, 0)


# --------------------------------------------------------------------------- aggregation and figures


def fake_tables() -> tuple:
    import pandas as pd

    models = ["sigma0", "sigma1", "sigma2", "sigma4", "blurpool"]
    sig = [0.0, 1.0, 2.0, 4.0, 0.0]
    pref = pd.DataFrame({
        "model": models, "sigma": sig,
        "f_rev_cpp": [0.30, 0.25, 0.2, 0.1, 0.28], "f_rev_ci_low_cpp": [0.28, 0.22, 0.18, 0.08, 0.26],
        "f_rev_ci_high_cpp": [0.32, 0.27, 0.22, 0.12, 0.3], "f_rev_status": "crossed",
        "f_half_cpp": [0.2, 0.15, 0.1, 0.05, 0.18], "f_half_ci_low_cpp": [0.18, 0.13, 0.09, 0.04, 0.16],
        "f_half_ci_high_cpp": [0.22, 0.17, 0.11, 0.06, 0.2], "pgd_success_rate": 0.5,
    })
    rows = []
    for m, acc in zip(models, [0.4, 0.5, 0.55, 0.6, 0.45]):
        rows.append(
            {"model": m, "corruption": "clean", "severity": 0, "accuracy": 0.9, "ci_low": 0.85, "ci_high": 0.95}
        )
        for c in ("gaussian_noise", "jpeg"):
            for s in (1, 3, 5):
                rows.append({"model": m, "corruption": c, "severity": s, "accuracy": acc - 0.05 * s,
                             "ci_low": acc - 0.1, "ci_high": acc})
        rows.append({"model": m, "corruption": "mean", "severity": 0, "accuracy": acc, "ci_low": acc - 0.05,
                     "ci_high": acc + 0.05})
    corr = pd.DataFrame(rows)
    shape = pd.DataFrame({"model": models, "shape_bias": [0.3, 0.4, 0.5, 0.7, 0.35],
                          "shape_bias_ci_low": [0.25, 0.35, 0.45, 0.65, 0.3],
                          "shape_bias_ci_high": [0.35, 0.45, 0.55, 0.75, 0.4], "shape_acc": 0.3, "texture_acc": 0.3})
    f = frequency.f_mix_grid(6)
    curves = pd.concat(
        [
            pd.DataFrame(
                {"model": m, "f_mix_cpp": f / 2, "p_low": np.clip(f - fr, 0, 1), "p_high": np.clip(1 - f + fr, 0, 1)}
            )
            for m, fr in zip(models, pref["f_rev_cpp"])
        ]
    )
    return pref, corr, shape, curves


def test_summary_seed_variance_and_trends() -> None:
    pref, corr, shape, _ = fake_tables()
    s = frequency.summary_table(pref, corr, shape)
    assert list(s["model"][:2]) == ["blurpool", "sigma0"]  # sorted by sigma, then name
    row = s.set_index("model").loc["sigma2"]
    assert row["corruption_acc"] == 0.55 and row["clean_acc"] == 0.9 and row["shape_bias"] == 0.5
    assert row["shape_bias_status"] == "ok"
    s0 = frequency.summary_table(pref, corr, None, "no cue-conflict split (dataset.kind=imagefolder)")
    assert s0["shape_bias"].isna().all() and s0["shape_bias_status"].str.contains("imagefolder").all()
    v = frequency.seed_variance(s, {"sigma0": ["sigma0", "blurpool"], "sigma4": ["sigma4"]})
    f_rev = v[(v["model"] == "sigma0") & (v["metric"] == "f_rev_cpp")].iloc[0]
    assert f_rev["n_replicates"] == 2 and f_rev["sd"] == pytest.approx(np.std([0.30, 0.28], ddof=1))
    assert np.isnan(v[(v["model"] == "sigma4")]["sd"]).all()
    assert row["corruption_rel"] == pytest.approx(0.55 / 0.9)  # robustness relative to clean accuracy
    t = frequency.trends(s).set_index(["x", "y"])
    assert list(t.reset_index().columns) == frequency.TREND_COLUMNS
    # one run per sigma: the contrast is stated (sigma max - sigma 0), its test is not computable
    f_rev = t.loc[("sigma", "f_rev_cpp")]
    by_model = s.set_index("model")
    assert f_rev["diff"] == pytest.approx(by_model.loc[f"sigma{f_rev['sigma_max']:g}", "f_rev_cpp"]
                                          - by_model.loc["sigma0", "f_rev_cpp"])
    assert f_rev["n_runs"] == 4 and np.isnan(f_rev["p"]) and f_rev["note"].startswith("not testable")
    assert np.isnan(frequency.trends(s0).set_index(["x", "y"]).loc[("sigma", "shape_bias"), "diff"])
    # a training replicate is one more run at its sigma: with two at sigma 4 the contrast is tested (df 1)
    import pandas as pd

    rep = pd.concat([s, s[s["model"] == "sigma4"].assign(model="sigma4-seed1", f_rev_cpp=0.11),
                     s[s["model"] == "sigma0"].assign(model="sigma0-seed1", f_rev_cpp=0.31)], ignore_index=True)
    tr = frequency.trends(rep).set_index(["x", "y"]).loc[("sigma", "f_rev_cpp")]
    assert tr["n_runs"] == 6 and tr["n_sigma"] == 4 and tr["n_runs_max"] == 2 and tr["n_runs_min"] == 1
    assert tr["df"] == 2 and np.isfinite(tr["p"]) and tr["n_runs_sigma_max"] == 2
    with pytest.raises(ValueError, match="'mean' row"):
        frequency.summary_table(pref, corr[corr["model"] != "sigma1"], shape)


def test_figures_are_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from blurscope.frequency import plot as plot_frequency

    pref, corr, shape, curves = fake_tables()
    s = frequency.summary_table(pref, corr, shape)
    outs = {n: tmp_path / f"{n}.png" for n in ("pref", "shape", "cvf", "heat")}
    plot_frequency.plot_preference(curves, s, outs["pref"])
    plot_frequency.plot_shape_bias(s, outs["shape"])
    plot_frequency.plot_corruption_vs_frev(s, corr, outs["cvf"])
    plot_frequency.plot_corruption_heatmap(s, corr, outs["heat"])
    for p in outs.values():
        assert p.stat().st_size > 10_000 and p.read_bytes()[:4] == b"\x89PNG"


def _units_of(rng, shift=0.0, n_pairs=60, n_f=8, n_img=40, radii=6):
    """Per-unit arrays of one synthetic model (see frequency.reference_comparison)."""
    f_mix = np.linspace(0.1, 1.4, n_f)
    p_low = np.clip(np.linspace(0.1, 0.9, n_f) + shift, 0, 1)
    hits_low = rng.random((n_f, n_pairs)) < p_low[:, None]
    hits_high = ~hits_low & (rng.random((n_f, n_pairs)) < 0.9)
    power = rng.random((n_img, radii)) * np.linspace(2, 0.5, radii)
    power /= power.sum(1, keepdims=True)
    labels_s = rng.integers(0, 4, n_img)
    labels_t = (labels_s + 1 + rng.integers(0, 3, n_img)) % 4
    pred = np.where(rng.random(n_img) < 0.6 + shift, labels_s, labels_t)
    names = np.array(["clean"] + ["noise"] * 3)
    hits = rng.random((4, n_img)) < np.array([0.9, 0.6 + shift, 0.6 + shift, 0.6 + shift])[:, None]
    return {"hits_low": hits_low, "hits_high": hits_high, "f_mix": f_mix, "pgd_power": power,
            "pgd_radii": np.arange(1, radii + 1) / (2 * radii), "shape_pred": pred, "shape_labels": labels_s,
            "texture_labels": labels_t, "corruption_hits": hits, "corruption_names": names}


def test_reference_comparison_is_exactly_zero_when_trained_is_the_reference():
    rng = np.random.default_rng(0)
    u = {"sigma0": _units_of(rng)}
    tab = frequency.reference_comparison(u, {0.0: ["sigma0"]}, {0.0: "sigma0"}, 200, 1)
    assert sorted(tab["metric"]) == sorted(frequency.REFERENCE_METRICS)
    assert (tab["diff"] == 0).all() and (tab["diff_ci_low"] == 0).all() and (tab["diff_ci_high"] == 0).all()
    assert (tab["value"] == tab["reference_value"]).all()


def test_reference_comparison_finds_what_training_changed_and_resamples_replicates():
    rng = np.random.default_rng(1)
    u = {"sigma6": _units_of(rng, 0.25), "sigma6-seed1": _units_of(rng, 0.25), "ref-sigma6": _units_of(rng, 0.0)}
    u["sigma0"] = u["ref-sigma6"]  # the reference is the sigma 0 network: here the filter changes nothing
    tab = frequency.reference_comparison(u, {0.0: ["sigma0"], 6.0: ["sigma6", "sigma6-seed1"]},
                                         {6.0: "ref-sigma6"}, 400, 1)
    assert set(tab["comparison"]) == {"learned", "filter"}
    assert (tab.loc[tab.comparison == "filter", "diff"] == 0).all()
    tab = tab[tab.comparison == "learned"]
    row = tab.set_index("metric").loc["corruption_acc"]
    assert row["n_replicates"] == 2 and row["n_replicates_reference"] == 1
    assert 0.15 < row["diff"] < 0.35 and row["diff_ci_low"] > 0  # trained is 0.25 better by construction
    sb = tab.set_index("metric").loc["shape_bias"]
    assert sb["diff"] > 0 and sb["diff_ci_low"] > 0
    with pytest.raises(ValueError, match="no trained model"):
        frequency.reference_comparison(u, {}, {6.0: "ref-sigma6"}, 50, 1)
