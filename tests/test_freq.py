"""Tests for blurscope.freq: the one frequency grid and the one radial binning that the patch spectra,
the perturbation spectra (f_0.5) and the band intervention share.

The pinned numbers ("before") were computed with the separate binnings these replaced (before issue 29:
spectra._binning, frequency.radial_power_profile's own grouping, bands.band_table's masks); the shared
binning must reproduce them.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from blurscope import freq
from blurscope.bands import intervention as bands
from blurscope.features import plot as plot_features
from blurscope.featvis import optimise as featvis
from blurscope.frequency import preference as frequency
from blurscope.spectra import spectrum as spectra

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- radial_bins


def test_left_closed_bins_partition_the_grid_and_close_the_last_edge() -> None:
    # 4x4 normalised radii: 0, 0.5 (4 axis samples), 0.71 (4), 1 (2 Nyquist samples), 1.12 (4), 1.41 (corner)
    b = freq.radial_bins(4, 4, [0.0, 0.5, 1.0, math.sqrt(2)], normalized=True, closed="left", tol=1e-9)
    assert b.counts.tolist() == [1, 8, 7]  # r = 0.5 opens bin 1, r = 1 opens bin 2, the corner closes it
    assert b.index[0] == 0 and (b.index >= 0).all()
    assert b.radius[0] == 0.0 and b.radius[2] == pytest.approx((2 * 1.0 + 4 * math.sqrt(1.25) + math.sqrt(2)) / 7)
    open_top = freq.radial_bins(4, 4, [0.0, 0.5, 1.0, math.sqrt(2) - 1e-6], normalized=True, closed="left")
    assert open_top.counts.tolist() == [1, 8, 6]  # no tolerance: the corner beyond the last edge is in no bin
    masks = b.masks()
    assert masks.shape == (3, 4, 4) and masks.sum(0).tolist() == np.ones((4, 4), int).tolist()


def test_right_closed_bins_leave_dc_out_and_keep_edge_radii_below() -> None:
    b = freq.radial_bins(8, 8, [0.0, 0.125, 0.25], closed="right")  # cycles/pixel; 1/8 and 2/8 on the axes
    r = freq.radius_cpp(8, 8).ravel()
    assert b.index[0] == -1  # DC: radius 0 is not in (0, 0.125]
    assert np.array_equal(b.index == 0, (r > 0) & (r <= 0.125))
    assert np.array_equal(b.index == 1, (r > 0.125) & (r <= 0.25))
    assert b.counts.tolist() == [4, 8]  # (±1, 0), (0, ±1); then the 4 diagonals (√2/8) and (±2, 0), (0, ±2)
    # a radius a hair above an edge stays below it within tol, and moves up without it
    nudged = freq.radial_bins(8, 8, [0.0, 0.125 - 1e-12, 0.25], closed="right")
    assert nudged.counts.tolist() == [0, 12]
    assert freq.radial_bins(8, 8, [0.0, 0.125 - 1e-12, 0.25], closed="right", tol=1e-9).counts.tolist() == [4, 8]


def test_dc_flag_and_empty_bins() -> None:
    with_dc = freq.radial_bins(8, 8, [0.0, 0.1, 0.11, 0.2])  # [0.11, 0.2): 1/8 on the axes, √2/8 diagonal
    assert with_dc.counts.tolist() == [1, 0, 8] and np.isnan(with_dc.radius[1])
    no_dc = freq.radial_bins(8, 8, [0.0, 0.1, 0.11, 0.2], dc=False)
    assert no_dc.counts.tolist() == [0, 0, 8] and no_dc.index[0] == -1


def test_sums_equal_per_bin_sums_and_zero_for_empty_bins() -> None:
    rng = np.random.default_rng(3)
    for h, w in [(8, 8), (7, 10), (16, 9)]:
        b = freq.radial_bins(h, w, [0.0, 0.2, 0.21, 0.4, 0.45], closed="right")
        v = rng.standard_normal((3, 2, h * w))
        got = b.sums(v)
        want = np.stack([v[..., b.index == k].sum(-1) for k in range(b.n_bins)], axis=-1)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        assert got.shape == (3, 2, b.n_bins) and (got[..., b.counts == 0] == 0).all()
    with pytest.raises(ValueError, match=r"\[\.\.\., 64\]"):
        freq.radial_bins(8, 8, [0.0, 0.5]).sums(np.zeros((2, 8, 8)))


@pytest.mark.parametrize(
    "edges,kw,match",
    [([0.5], {}, "strictly increasing"), ([0.0, 0.3, 0.3], {}, "strictly increasing"),
     ([0.0, np.nan], {}, "finite"), ([0.0, 0.5], {"closed": "both"}, "closed"), ([0.0, 0.5], {"tol": -1.0}, "tol")],
)
def test_bad_bin_arguments_are_errors(edges, kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        freq.radial_bins(8, 8, edges, **kw)


def test_uniform_spectrum_bins_equal_the_closed_form_assignment() -> None:
    """spectra's bins through radial_bins against their closed form, bin k = ((k+½)Δ, (k+1½)Δ] with (0, ½Δ] in
    bin 0 (the assignment before the shared binning), for every patch size to 48 px and every n_bins."""
    for h in range(2, 49):
        for w in (h, h + 1, max(2, h - 3)):
            n = min(h, w)
            r = freq.radius_cpp(h, w).ravel()
            for n_bins in range(1, n // 2 + 1):
                width = (n // 2) / n / n_bins
                idx = np.ceil(r / width - 0.5 - 1e-9).astype(np.int64) - 1
                idx = np.where((r > 0) & (idx < 0), 0, idx)
                idx = np.where((r > 0) & (idx < n_bins), idx, -1)
                bins = spectra._binning(h, w, n_bins)
                assert np.array_equal(bins.index, idx), (h, w, n_bins)
                labels = np.bincount(idx[idx >= 0], weights=r[idx >= 0], minlength=n_bins) / bins.counts
                assert np.array_equal(bins.radius, labels), (h, w, n_bins)


def test_distinct_radii_group_equal_radii_and_leave_dc_out() -> None:
    radii, bins = freq.distinct_radii(12, 12)
    r = freq.radius_cpp(12, 12).ravel()
    assert radii[0] == pytest.approx(1 / 12) and radii[-1] == pytest.approx(math.sqrt(0.5))
    assert np.all(np.diff(radii) > 1e-6) and bins.n_bins == radii.size == 26
    assert bins.index[0] == -1 and bins.counts.sum() == 143
    for k in (0, 4, radii.size - 1):
        np.testing.assert_allclose(r[bins.index == k], radii[k], rtol=0, atol=1e-12)
    assert freq.distinct_radii(5, 3, normalized=True)[0][-1] == pytest.approx(2 * math.hypot(2 / 5, 1 / 3))
    with pytest.raises(ValueError, match="no frequency beyond DC"):
        freq.distinct_radii(1, 1)


def test_rfft_multiplicity() -> None:
    assert freq.rfft_multiplicity(8).tolist() == [1, 2, 2, 2, 1]
    assert freq.rfft_multiplicity(7).tolist() == [1, 2, 2, 2]
    assert freq.rfft_multiplicity(1).tolist() == [1]
    x = np.random.default_rng(0).standard_normal((5, 9))
    half = (np.abs(np.fft.rfft2(x)) ** 2 * freq.rfft_multiplicity(9)).sum()
    assert half == pytest.approx((np.abs(np.fft.fft2(x)) ** 2).sum(), rel=1e-12)


# --------------------------------------------------------------------------- known answers before/after


def test_patch_spectra_reproduce_the_numbers_before_the_shared_binning() -> None:
    x = np.random.default_rng(29).integers(0, 256, size=(2, 18, 18, 3)).astype(np.uint8)
    f, p, hf = spectra.patch_spectra(x, 9, hf_cutoff=0.25, window="hann")
    before_f = [0.06706148784369707, 0.11985436953702923, 0.16879142284837434, 0.22669601666167882,
                0.2854632431861474, 0.3385535678628811, 0.39228908989451194, 0.44480916867335446,
                0.5010288707792308]
    before_p0 = [595.9188809414034, 888.548438674293, 955.9482373135048, 1291.6760418658682, 1079.5728690779265,
                 1420.9189386734452, 1861.5186596251478, 1419.6577526078993, 825.3701318482613]
    np.testing.assert_allclose(f, before_f, rtol=1e-13)
    np.testing.assert_allclose(p[0], before_p0, rtol=1e-12)
    np.testing.assert_allclose(hf, [0.8246474023398117, 0.8055226045852], rtol=1e-12)
    f4, p4 = spectra.radial_power_spectrum(x[:1], 4, window="none")
    np.testing.assert_allclose(f4, [0.12987241952133102, 0.2541207223730977, 0.3759345462034071,
                                    0.4939544732193124], rtol=1e-13)
    np.testing.assert_allclose(p4[0], [1341.086036555895, 1596.7213022027365, 2115.5322858407367,
                                       1857.6661828456145], rtol=1e-12)


def test_perturbation_profile_reproduces_the_numbers_before_the_shared_binning() -> None:
    d = torch.as_tensor(np.random.default_rng(29).standard_normal((2, 3, 12, 12)))
    radii, power = frequency.radial_power_profile(d)
    assert radii.size == 26 and power.shape == (2, 26)
    np.testing.assert_allclose(radii[[0, 1, 5, 17, 25]], [1 / 12, math.sqrt(2) / 12, 0.25, 0.5, math.sqrt(0.5)],
                               rtol=1e-15)
    before = {0: 0.023797022178780616, 1: 0.027907589469775868, 6: 0.07512627381040247, 12: 0.09701637510197307,
              17: 0.004637725668250258, 25: 0.0018252111414763304}
    np.testing.assert_allclose(power[0, list(before)], list(before.values()), rtol=1e-12)
    np.testing.assert_allclose(power.sum(1), 1.0, rtol=1e-12)
    assert frequency.half_power_frequency(radii, power).tolist() == [0.41666666666666663, 0.41666666666666663]


def test_band_table_reproduces_the_numbers_before_the_shared_binning() -> None:
    t = bands.band_table(8, 8, bands.DEFAULT_EDGES)
    assert t["n_freqs"].tolist() == [1, 8, 36, 19]
    np.testing.assert_allclose(t["mean_radius"], [0.0, 0.30177669529663687, 0.7176728041947364, 1.1185313594794535],
                               rtol=1e-14)


# --------------------------------------------------------------------------- one window default, the schema's


def test_the_window_default_and_names_are_the_schema_s() -> None:
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    window = schema["properties"]["spectra"]["properties"]["window"]
    assert tuple(window["enum"]) == spectra.WINDOWS
    # the contract's radial_power_spectrum windows by default (DESIGN.md), with the schema's default ...
    assert inspect.signature(spectra.radial_power_spectrum).parameters["window"].default == window["default"]
    # ... and every other spectrum function takes the window from its caller (config spectra.window)
    for fn in (spectra.patch_window, spectra.periodogram, spectra.patch_spectra, spectra.hf_power_fraction,
               featvis.featvis_metrics, featvis.render_layers, plot_features.patch_hf):
        assert inspect.signature(fn).parameters["window"].default is inspect.Parameter.empty, fn.__name__
    with pytest.raises(ValueError, match=r"spectra.window must be one of \('hann', 'none'\), got 'hamming'"):
        spectra.hf_power_fraction(np.zeros((1, 8, 8)), 0.25, "hamming")
