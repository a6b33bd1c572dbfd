"""Tests for blurscope.aliasing.measure: AVR, SIS, the frequency sweep and statistics (see also test_stride_points.py).

The AVR tests of Kashyap's aliasing study (docs/references.md) come first, then the sampling-theory checks
(sinusoids, diagonal vs separable region, odd sizes), SIS (with real BlurPool networks),
the frequency sweep and the statistics.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from blurscope.aliasing import measure as A
from blurscope.aliasing.stride_points import discover_stride_points
from blurscope.models.network import BlurscopeNet, build_model

torch.manual_seed(0)


def checkerboard(h: int = 32, w: int = 32, c: int = 3) -> torch.Tensor:
    """±1 pixel checkerboard (zero mean): all power at the (Nyquist, Nyquist) corner."""
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return (2.0 * ((yy + xx) % 2) - 1.0).float().expand(1, c, h, w).clone()


def sinusoid_map(h: int, w: int, ky: int, kx: int, c: int = 2) -> torch.Tensor:
    """Zero-mean periodic sinusoid with ``ky``/``kx`` integer cycles, ``[1, c, h, w]`` float64."""
    y = torch.arange(h, dtype=torch.float64).view(-1, 1) / h
    x = torch.arange(w, dtype=torch.float64).view(1, -1) / w
    return torch.sin(2 * math.pi * (ky * y + kx * x)).expand(1, c, h, w).clone()


def numpy_avr(fm: np.ndarray, stride: int, region: str, remove_mean: bool = True) -> np.ndarray:
    """Independent reference: full complex FFT, fftshift, per-axis normalised grid from first principles."""
    b, c, h, w = fm.shape
    if remove_mean:
        fm = fm - fm.mean(axis=(-2, -1), keepdims=True)
    p = np.abs(np.fft.fftshift(np.fft.fft2(fm), axes=(-2, -1))) ** 2
    p = p.mean(axis=1)
    fy = np.fft.fftshift(np.fft.fftfreq(h))[:, None] / 0.5
    fx = np.fft.fftshift(np.fft.fftfreq(w))[None, :] / 0.5
    grid = np.sqrt(fy**2 + fx**2) if region == "radial" else np.maximum(np.abs(fy), np.abs(fx))
    mask = grid > 1.0 / stride + 1e-9
    total = p.sum(axis=(-2, -1))
    return np.where(total > 0, (p * mask).sum(axis=(-2, -1)) / np.where(total > 0, total, 1.0), 0.0)


# --------------------------------------------------------------- the aliasing study's AVR tests


def test_avr_constant_is_low():
    for remove_mean in (True, False):
        assert A.avr(torch.full((2, 4, 16, 16), 3.0), remove_mean=remove_mean).max() < 1e-6


def test_avr_checkerboard_is_high():
    for region in A.REGIONS:
        assert A.avr(checkerboard(), 2, region)[0] == pytest.approx(1.0, abs=1e-6)
        # a 0/1 board: the mean is removed by default, so it is as aliased as the ±1 board ...
        assert A.avr((checkerboard() + 1) / 2, 2, region)[0] == pytest.approx(1.0, abs=1e-6)
        # ... and with the DC term kept in the total (the original AVR definition) it reads 0.5
        assert A.avr((checkerboard() + 1) / 2, 2, region, remove_mean=False)[0] == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_avr_is_unchanged_by_a_constant_offset(dtype):
    fm = sinusoid_map(16, 16, 0, 7).to(dtype)  # 7 cycles in 16 px: 0.875 Nyquist, fully aliased at stride 2
    low = sinusoid_map(16, 16, 2, 1).to(dtype)  # 0.28 Nyquist: not aliased
    mix = fm + low
    for region in A.REGIONS:
        for offset in (0.0, 1.0, 3.0, 100.0):
            assert A.avr(fm + offset, 2, region)[0] == pytest.approx(1.0, abs=1e-5)
            assert A.avr(mix + offset, 2, region)[0] == pytest.approx(0.5, abs=1e-5)
        # DC-inclusive: the offset dilutes the ratio, 0.5 / (0.5 + 3^2) = 0.0526 for +3
        assert A.avr(fm + 3.0, 2, region, remove_mean=False)[0] == pytest.approx(0.5 / 9.5, abs=1e-5)
    # per channel: an offset that differs between channels is removed as well
    per_channel = fm + torch.tensor([0.5, 7.0], dtype=dtype).view(1, 2, 1, 1)
    assert A.avr(per_channel)[0] == pytest.approx(1.0, abs=1e-5)
    both = A.avr_regions(fm + 3.0, 2, remove_mean=False)
    assert both["radial"][0] == pytest.approx(0.5 / 9.5, abs=1e-5)


def test_avr_of_a_map_with_no_power_left_is_zero():
    # constant channels (different constants, awkward values) have no power once the mean is gone
    fm = torch.tensor([3.7, -0.1, 1e4], dtype=torch.float32).view(1, 3, 1, 1).expand(2, 3, 9, 11).contiguous()
    for method in ("dft", "fft"):
        for region in A.REGIONS:
            assert torch.equal(A.AvrKernel((region,), method=method)(fm, 2)[0], torch.zeros(2))
    assert torch.equal(A.remove_channel_mean(fm), torch.zeros_like(fm))
    assert torch.equal(A.avr(torch.zeros(1, 2, 8, 8)), torch.zeros(1))
    with pytest.raises(TypeError, match="remove_mean"):
        A.AvrKernel(remove_mean="yes")


def test_avr_range():
    fm = torch.cat([torch.randn(4, 3, 16, 16), torch.rand(4, 3, 16, 16), checkerboard(16, 16).expand(4, -1, -1, -1)])
    for region in A.REGIONS:
        v = A.avr(fm, 2, region)
        assert v.shape == (12,)
        assert ((v >= 0) & (v <= 1)).all()
    # white noise: aliased share = share of grid outside the pass region (±sampling noise)
    noise = torch.randn(64, 8, 32, 32)
    expected = A.alias_mask(32, 32, 2, "radial").mean()
    assert A.avr(noise).mean().item() == pytest.approx(expected, abs=0.01)


# --------------------------------------------------------------------------- sampling theory


@pytest.mark.parametrize("ky,kx", [(0, 3), (3, 0), (0, 6)])
def test_sinusoid_below_half_nyquist_is_not_aliased(ky, kx):
    fm = sinusoid_map(32, 32, ky, kx)  # 2k/32 <= 0.375 normalised
    for region in A.REGIONS:
        assert A.avr(fm, 2, region)[0] < 1e-9


@pytest.mark.parametrize("ky,kx", [(0, 11), (11, 0), (0, 14)])
def test_sinusoid_above_half_nyquist_is_aliased(ky, kx):
    fm = sinusoid_map(32, 32, ky, kx)  # 2k/32 >= 0.6875 normalised
    for region in A.REGIONS:
        assert A.avr(fm, 2, region)[0] == pytest.approx(1.0, abs=1e-9)


def test_diagonal_sinusoid_separable_vs_radial():
    # 6 cycles per axis in 32 px: 0.375 Nyquist per axis, radius 0.53 > 0.5
    fm = sinusoid_map(32, 32, 6, 6)
    assert A.avr(fm, 2, "separable")[0] < 1e-9
    assert A.avr(fm, 2, "radial")[0] == pytest.approx(1.0, abs=1e-9)
    both = A.avr_regions(fm, 2)
    assert both["separable"][0] < 1e-9 and both["radial"][0] > 0.999


def test_stride_sets_the_cutoff():
    fm = sinusoid_map(48, 48, 0, 10)  # 0.4167 normalised: > 1/3, < 1/2
    assert A.avr(fm, 2)[0] < 1e-9
    assert A.avr(fm, 3)[0] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("h,w", [(15, 15), (17, 9), (31, 33), (1, 7), (16, 15)])
def test_odd_sized_maps_match_full_fft_reference(h, w):
    fm = torch.randn(3, 4, h, w, dtype=torch.float64)
    for region in A.REGIONS:
        got = A.avr(fm, 2, region).numpy()
        ref = numpy_avr(fm.numpy(), 2, region)
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_odd_sized_periodic_sinusoid():
    # 15 px, 2 cycles → 0.267 normalised (clean); 6 cycles → 0.8 (aliased)
    assert A.avr(sinusoid_map(15, 15, 0, 2), 2)[0] < 1e-9
    assert A.avr(sinusoid_map(15, 15, 6, 0), 2)[0] == pytest.approx(1.0, abs=1e-9)


def test_avr_float32_path_agrees_with_float64():
    fm = torch.randn(2, 16, 24, 24)
    np.testing.assert_allclose(A.avr(fm).numpy(), A.avr(fm.double()).numpy(), rtol=1e-4)


def test_avr_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        A.avr(torch.randn(3, 16, 16))
    with pytest.raises(ValueError, match="region"):
        A.avr(torch.randn(1, 1, 8, 8), 2, "circular")
    with pytest.raises(ValueError, match="stride"):
        A.avr(torch.randn(1, 1, 8, 8), 0)


# --------------------------------------------------------------------------- SIS


def shift_invariant_model() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 6, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


def strided_model() -> nn.Module:
    torch.manual_seed(2)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 6, 1), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten())
    with torch.no_grad():
        m[2].weight.mul_(20)  # sharpen the softmax so shifts matter
    return m.eval()


def test_sis_of_shift_invariant_model_is_zero():
    x = torch.rand(5, 3, 17, 16)
    res = A.shift_metrics(shift_invariant_model(), x)
    assert res["sis"].shape == (5,)
    assert res["sis"].max() < 1e-6
    assert (res["consistency"] == 1).all()
    assert A.sis(shift_invariant_model(), x).max() < 1e-6


def test_sis_matches_explicit_loop_and_detects_strided_model():
    model = strided_model()
    x = torch.rand(6, 3, 16, 16)
    got = A.sis(model, x)
    with torch.no_grad():
        p0 = torch.softmax(model(x), 1)
        ref = torch.zeros(6)
        for s, d in [(-1, 2), (1, 2), (-1, 3), (1, 3)]:
            pd_ = torch.softmax(model(torch.roll(x, s, d)), 1)
            ref += 1 - torch.nn.functional.cosine_similarity(p0, pd_, dim=1)
        ref /= 4
    np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=1e-6)
    assert got.mean() > 1e-3  # stride 2 without blur is not shift invariant
    assert ((got >= 0) & (got <= 1)).all()


def test_circular_shifts_layout():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    s = A.circular_shifts(x)
    assert s.shape == (10, 3, 4, 5)
    assert torch.equal(s[:2], x)
    assert torch.equal(s[2:4], torch.roll(x, -1, 2)) and torch.equal(s[8:10], torch.roll(x, 1, 3))


def test_shift_metrics_hooks_compute_avr_of_the_originals():
    model = strided_model()
    x = torch.rand(3, 3, 16, 16)
    res = A.shift_metrics(model, x, {"0": 2})
    expect = A.avr_regions(x, 2)  # the first conv sees the raw images
    for r in A.REGIONS:
        np.testing.assert_allclose(res["avr"]["0"][r].numpy(), expect[r].numpy(), rtol=1e-5)
    assert res["pred"].shape == (3,)


def test_shift_metrics_rejects_training_mode_and_unknown_layer():
    model = strided_model().train()
    with pytest.raises(ValueError, match="eval"):
        A.shift_metrics(model, torch.rand(1, 3, 8, 8))
    with pytest.raises(KeyError, match="valid layer names"):
        A.shift_metrics(model.eval(), torch.rand(1, 3, 8, 8), {"nope": 2})


def test_narrow_net_end_to_end_blurpool_lowers_aliasing_at_the_blur_input():
    # Through a BlurPool the *output* of each point is low-passed; at the point's
    # input the two nets see the same image at conv1.
    torch.manual_seed(0)
    std = BlurscopeNet(build_model("resnet_narrow", 10), 0.0).eval()
    aa = BlurscopeNet(build_model("resnet_narrow", 10, antialiased=True), 0.0).eval()
    x = torch.rand(4, 3, 64, 64)
    rs = A.shift_metrics(std, x, discover_stride_points(std, 64))
    ra = A.shift_metrics(aa, x, discover_stride_points(aa, 64))
    for r in A.REGIONS:
        np.testing.assert_allclose(rs["avr"]["conv1"][r].numpy(), ra["avr"]["conv1"][r].numpy(), rtol=1e-5)
    assert len(rs["avr"]) == len(ra["avr"]) == 8


# --------------------------------------------------------------------------- sweep


def test_sweep_cycles_and_direct_step():
    k = A.sweep_cycles(64, 0.05, 0.95, 19)
    assert k.min() >= 1 and k.max() <= 31 and np.all(np.diff(k) > 0)
    df = A.frequency_sweep_direct(64, k)
    assert set(df["orientation"]) == set(A.ORIENTATIONS)
    hv = df[df["orientation"] != "diagonal"]
    assert (hv.loc[hv["freq_axis"] <= 0.5, "avr_radial"] < 1e-9).all()
    assert (hv.loc[hv["freq_axis"] > 0.5, "avr_radial"] > 1 - 1e-9).all()
    dg = df[df["orientation"] == "diagonal"]
    assert (dg.loc[dg["freq_axis"] <= 0.5, "avr_separable"] < 1e-9).all()
    assert (dg.loc[(dg["freq_radial"] > 0.5) & (dg["freq_axis"] < 0.5), "avr_radial"] > 1 - 1e-9).all()
    with pytest.raises(ValueError, match="freq_min"):
        A.sweep_cycles(64, 0.0, 0.95, 5)


def test_sweep_through_network_sees_the_step_at_conv1():
    model = BlurscopeNet(build_model("resnet_narrow", 10), 0.0).eval()
    pts = discover_stride_points(model, 32)
    k = np.array([3, 13])  # 0.1875 and 0.8125 normalised at 32 px
    df = A.frequency_sweep_network(model, 32, k, pts, orientations=("horizontal",), amplitude=1.0)
    assert len(df) == 2 * len(pts)
    c1 = df[df["layer"] == "conv1"].set_index("cycles")
    # conv1 input = normalised image: DC (small) + sinusoid
    assert c1.loc[3, "avr_radial"] < 0.01
    assert c1.loc[13, "avr_radial"] > 0.9


# --------------------------------------------------------------------------- statistics


def test_paired_rows_use_the_library_paired_test():
    from blurscope import stats

    rng = np.random.default_rng(0)
    a = rng.random(200)
    same = stats.paired_test(a, a, 200, 0)
    assert same["p"] == 1.0 and same["diff"] == 0 and same["diff_ci_low"] == same["diff_ci_high"] == 0
    b = a * 0.6 + rng.normal(0, 0.01, 200)
    r = stats.paired_test(b, a, 500, 0)  # treatment b against reference a
    assert r["diff"] < 0 and r["diff_ci_high"] < 0
    assert r["rel_change"] == pytest.approx((b.mean() - a.mean()) / a.mean())
    assert r["p"] < 1e-10 and r["d_z"] < -1 and -1 <= r["rank_biserial"] < -0.9
    nan = a.copy()
    nan[:5] = np.nan  # images without a value in one model are left out of the pair
    assert stats.paired_test(b, nan, 50, 0)["n"] == 195


def test_avr_sis_correlation_matches_scipy_and_brackets_estimate():
    from scipy import stats as sps

    from blurscope import stats

    rng = np.random.default_rng(1)
    x = rng.random(150)
    y = x + rng.normal(0, 0.3, 150)
    r = stats.correlation(x, y, 400, 999, 3)
    assert r["pearson_r"] == pytest.approx(sps.pearsonr(x, y).statistic)
    assert r["rho"] == pytest.approx(sps.spearmanr(x, y).statistic)
    assert r["pearson_r_ci_low"] < r["pearson_r"] < r["pearson_r_ci_high"]
    assert r["rho_ci_low"] < r["rho"] < r["rho_ci_high"]
    assert r["p"] == pytest.approx(1 / 1000)  # strong correlation: no permuted pairing reaches it
    assert r == stats.correlation(x, y, 400, 999, 3)  # deterministic
    assert math.isnan(stats.correlation(np.ones(10), y[:10], 50, 99, 0)["pearson_r"])


def _fake_table(n: int, avr_scale: float, sis_scale: float, seed: int, layers: dict[str, str]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.random(n)
    sis = sis_scale * (base + rng.normal(0, 0.1, n)).clip(0)
    rows = []
    for order, (layer, point) in enumerate(layers.items()):
        rows.append(pd.DataFrame({
            "image": np.arange(n), "image_id": np.arange(n) + 100, "label": 0, "pred": 0, "correct": 1,
            "layer": layer, "point": point, "order": order, "op": "Conv2d", "kind": "conv", "stride": 2,
            "avr_radial": avr_scale * base, "avr_separable": 0.8 * avr_scale * base,
            "sis": sis, "consistency": 1.0,
        }))
    return pd.concat(rows, ignore_index=True)


def _fake_tables(n: int, scales: dict[str, tuple[float, float]]) -> dict[str, pd.DataFrame]:
    """One :func:`_fake_table` per model from ``{model: (avr_scale, sis_scale)}``: the same images (seed 0),
    the standard layers conv1 and maxpool."""
    layers = {"conv1": "conv1", "maxpool": "maxpool"}
    return {m: _fake_table(n, avr, sis, 0, layers) for m, (avr, sis) in scales.items()}


def test_aliasing_statistics_tables():
    tables = _fake_tables(60, {"sigma0": (0.4, 0.02), "sigma2": (0.3, 0.015), "sigma4": (0.2, 0.01)})
    tables["blurpool"] = _fake_table(60, 0.4, 0.01, 0, {"conv1": "conv1", "maxpool.1": "maxpool"})
    sig = {"sigma0": 0.0, "sigma2": 2.0, "sigma4": 4.0, "blurpool": 0.0}
    aa = {m: m == "blurpool" for m in tables}
    out = A.aliasing_statistics(tables, sig, aa, "sigma0", iterations=100, permutations=200, seed=0)
    summ = out["summary"].set_index(["model", "point", "metric"])
    assert summ.loc[("sigma4", "conv1", "avr_radial"), "mean"] < summ.loc[("sigma0", "conv1", "avr_radial"), "mean"]
    assert summ.loc[("blurpool", "maxpool", "avr_radial"), "layer"] == "maxpool.1"
    assert (out["summary"]["n_images"] == 60).all()
    paired = out["paired"]
    bp = paired[(paired["model"] == "blurpool") & (paired["metric"] == "sis")].iloc[0]
    assert bp["rel_change"] == pytest.approx(-0.5, abs=1e-6) and bp["p_holm"] < 1e-6 and bp["reference"] == "sigma0"
    assert bp["n_replicates"] == 1 and bp["n_replicates_reference"] == 1
    same = paired[(paired["model"] == "blurpool") & (paired["point"] == "conv1")]
    assert (same["p"] == 1.0).all()
    corr = out["correlation"]
    assert (corr["pearson_r"] > 0.8).all() and set(corr["region"]) == {"radial", "separable"}
    np.testing.assert_allclose(corr["p"], 1 / 201)  # no permuted pairing of images reaches it
    assert (corr["rho_ci_low"] > 0.5).all()
    trend = out["sigma_trend"].set_index(["point", "metric"])
    sis = trend.loc[("output", "sis")]
    # each run's mean over the images is one value; one run per sigma: the contrast is stated, not tested
    runs = out["runs"].set_index(["model", "point", "metric"])["value"]
    assert sis["diff"] == pytest.approx(runs[(f"sigma{sis['sigma_max']:g}", "output", "sis")]
                                        - runs[("sigma0", "output", "sis")]) and sis["diff"] < 0
    assert np.isnan(sis["p"]) and sis["note"].startswith("not testable")
    assert sis["mean_blurpool"] == pytest.approx(tables["blurpool"]["sis"].iloc[:60].mean())
    other = dict(tables)
    other["sigma2"] = other["sigma2"].assign(image_id=other["sigma2"]["image_id"] + 1)
    with pytest.raises(ValueError, match="different images"):
        A.aliasing_statistics(other, sig, aa, "sigma0", 10, 10, 0)


def test_aliasing_statistics_with_replicates_and_filter_references():
    scales = {"sigma0": (0.4, 0.02), "sigma4": (0.2, 0.01), "sigma4-seed1": (0.24, 0.012), "ref-sigma4": (0.3, 0.016)}
    tables = _fake_tables(40, scales)
    sig = {"sigma0": 0.0, "sigma4": 4.0, "sigma4-seed1": 4.0, "ref-sigma4": 4.0}
    aa = dict.fromkeys(tables, False)
    group_of = {"sigma4-seed1": "sigma4"}
    references = {"sigma0": "sigma0", "sigma4": "ref-sigma4"}
    out = A.aliasing_statistics(tables, sig, aa, "sigma0", 100, 200, 0, group_of=group_of, references=references)
    p = out["paired"].set_index(["model", "reference", "point", "metric"])
    vs0 = p.loc[("sigma4", "sigma0", "output", "sis")]
    assert vs0["n_replicates"] == 2 and vs0["mean"] == pytest.approx(np.mean([0.01, 0.012]) / 0.02 *
                                                                      tables["sigma0"]["sis"].iloc[:40].mean())
    vs_ref = p.loc[("sigma4", "ref-sigma4", "output", "sis")]  # trained minus filter-only reference
    assert vs_ref["diff"] < 0 and vs_ref["diff_ci_high"] < 0 and vs_ref["n_replicates_reference"] == 1
    self_ref = p.loc[("sigma0", "sigma0", "output", "sis")]  # at sigma 0 the reference is the model itself
    assert self_ref["diff"] == 0 and self_ref["diff_ci_low"] == 0 and self_ref["diff_ci_high"] == 0
    assert self_ref["p"] == 1.0
    trend = out["sigma_trend"].set_index(["point", "metric"]).loc[("output", "sis")]
    assert trend["n_runs"] == 3 and trend["n_sigma"] == 2 and trend["n_runs_max"] == 2  # reference left out
    assert trend["n_runs_sigma_max"] == 2 and trend["mean_sigma_max"] == pytest.approx(
        np.mean([tables[m]["sis"].iloc[:40].mean() for m in ("sigma4", "sigma4-seed1")]))
    assert trend["df"] == 1 and np.isfinite(trend["p"])


def test_analyse_images_table_and_uint8_input():
    model = BlurscopeNet(build_model("resnet_narrow", 4), 0.0).eval()
    pts = discover_stride_points(model, 32)
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 0])
    done = []
    df, timing = A.analyse_images(model, u8, pts, batch_size=2, labels=labels, image_ids=np.arange(5) + 10,
                                  progress=done.append)
    assert done == [2, 2, 1] and timing["images_per_s"] > 0
    assert len(df) == 5 * len(pts)
    assert list(df.columns[:6]) == ["image", "image_id", "label", "pred", "correct", "layer"]
    assert df.groupby("image")["sis"].nunique().max() == 1  # one SIS per image
    # same numbers as a direct call on the float images
    from blurscope.data.files import to_float

    ref = A.shift_metrics(model, to_float(u8), pts)
    got = df[df["layer"] == "maxpool"].sort_values("image")
    np.testing.assert_allclose(got["avr_separable"], ref["avr"]["maxpool"]["separable"].numpy(), rtol=1e-5)
    np.testing.assert_allclose(got["sis"], ref["sis"].numpy(), rtol=1e-4, atol=1e-7)
    assert (got["correct"].to_numpy() == (ref["pred"].numpy() == labels)).all()
    with pytest.raises(ValueError, match="batch_size"):
        A.analyse_images(model, u8, pts, batch_size=0)


@pytest.mark.parametrize("chunks", [2, 5])
def test_shift_metrics_chunked_forward_matches_one_batch(chunks):
    model = BlurscopeNet(build_model("resnet_narrow", 4), 0.0).eval()
    pts = discover_stride_points(model, 32)
    x = torch.rand(3, 3, 32, 32)
    one = A.shift_metrics(model, x, pts)
    many = A.shift_metrics(model, x, pts, chunks=chunks)
    np.testing.assert_allclose(many["sis"].numpy(), one["sis"].numpy(), rtol=1e-4, atol=1e-7)
    assert torch.equal(many["consistency"], one["consistency"]) and torch.equal(many["pred"], one["pred"])
    for p in pts:
        for r in A.REGIONS:
            assert many["avr"][p.name][r].shape == (3,)
            np.testing.assert_allclose(many["avr"][p.name][r].numpy(), one["avr"][p.name][r].numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="chunks"):
        A.shift_metrics(model, x, pts, chunks=6)


@pytest.mark.parametrize(
    "h,w,stride", [(32, 32, 2), (15, 17, 2), (16, 9, 3), (7, 7, 2), (1, 5, 2), (8, 8, 1), (4, 4, 2)]
)
@pytest.mark.parametrize("remove_mean", [True, False])
def test_dft_and_fft_evaluations_agree(h, w, stride, remove_mean):
    fm = torch.randn(3, 5, h, w, dtype=torch.float64) + 0.3
    dft = A.AvrKernel(method="dft", remove_mean=remove_mean)(fm, stride).numpy()
    fft = A.AvrKernel(method="fft", remove_mean=remove_mean)(fm, stride).numpy()
    np.testing.assert_allclose(dft, fft, rtol=1e-9, atol=1e-12)
    for i, region in enumerate(A.REGIONS):
        ref = numpy_avr(fm.numpy(), stride, region, remove_mean=remove_mean)
        np.testing.assert_allclose(dft[i], ref, rtol=1e-9, atol=1e-12)
    f32 = A.AvrKernel(method="dft", remove_mean=remove_mean)(fm.float(), stride).numpy()
    np.testing.assert_allclose(f32, fft, atol=1e-5)


def test_avr_channels_last_maps_give_the_same_numbers():
    fm = torch.randn(2, 6, 12, 10, dtype=torch.float64)
    cl = fm.contiguous(memory_format=torch.channels_last)
    assert not cl.is_contiguous()
    for method in ("dft", "fft"):
        k = A.AvrKernel(method=method)
        np.testing.assert_allclose(k(cl, 2).numpy(), k(fm, 2).numpy(), rtol=1e-12)


def test_points_sharing_one_input_get_one_avr_and_equal_values() -> None:
    """A block's conv1 and downsample see the same tensor: AVR is computed once and reported for both."""
    import blurscope.aliasing.measure as A
    from blurscope.models.network import build_model

    torch.manual_seed(0)
    model = build_model("resnet_narrow", 10, False).eval()
    pts = {p.name: p.stride for p in discover_stride_points(model, 64)}
    assert {"layer2.0.conv1", "layer2.0.downsample.0"} <= set(pts)
    calls = []
    kern = A.AvrKernel()
    orig = kern.__call__

    class Counting(A.AvrKernel):
        def __call__(self, fm, stride):  # noqa: ANN001
            calls.append(tuple(fm.shape))
            return orig(fm, stride)

    out = A.shift_metrics(model, torch.rand(3, 3, 64, 64), pts, kernel=Counting(), chunks=5)
    a, d = out["avr"]["layer2.0.conv1"], out["avr"]["layer2.0.downsample.0"]
    for r in a:
        torch.testing.assert_close(a[r], d[r])
    n_distinct_inputs = len(pts) - sum(1 for p in pts if p.endswith("downsample.0"))
    assert len(calls) == n_distinct_inputs, (calls, sorted(pts))
