"""Known-answer tests for blurscope.featvis.optimise (feature visualisation by optimisation).

Tiny hand-built models (one conv + ReLU whose kernels are known filters), one
thread (tests/conftest.py), small images: each render takes about a second.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from blurscope import stats
from blurscope.features import plot as plot_features
from blurscope.features.topk import sample_neurons
from blurscope.featvis import optimise as fv
from blurscope.freq import radius_cpp
from blurscope.models.network import BlurscopeNet, build_model
from blurscope.spectra.spectrum import patch_spectra, periodogram

REPO = Path(__file__).resolve().parents[1]

# --- tiny models ------------------------------------------------------------------------------------


def _hann(k: int) -> np.ndarray:
    """Symmetric Hann window of length k without its zero end points."""
    return np.hanning(k + 2)[1:-1]


def cosine_kernel(k: int, f0: float, theta: float) -> np.ndarray:
    """Hann-windowed cosine at ``f0`` cycles/pixel along direction ``theta`` (rad), zero-mean, L1 = 1."""
    r = np.arange(k) - (k - 1) / 2
    y, x = np.meshgrid(r, r, indexing="ij")
    w = np.outer(_hann(k), _hann(k))
    c = np.cos(2 * np.pi * f0 * (x * np.cos(theta) + y * np.sin(theta)))
    ker = w * (c - (w * c).sum() / w.sum())  # windowed and exactly zero-mean
    return ker / np.abs(ker).sum()


def gaussian_kernel(k: int, sigma: float) -> np.ndarray:
    r = np.arange(k) - (k - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def conv_relu(kernels: list[np.ndarray]) -> nn.Module:
    """``Conv2d(3, n, k)`` + ReLU; channel i applies ``kernels[i]`` to the grey level (mean RGB)."""
    k = kernels[0].shape[0]
    conv = nn.Conv2d(3, len(kernels), k, bias=False)
    with torch.no_grad():
        for i, ker in enumerate(kernels):
            conv.weight[i] = torch.as_tensor(ker, dtype=torch.float32)[None].repeat(3, 1, 1) / 3
    return nn.Sequential(conv, nn.ReLU()).eval()


class _Grey(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True)


class _FFTConv(nn.Module):
    """``Conv2d(1, n, k, bias=False)`` (valid cross-correlation) computed by FFT: large kernels at no cost."""

    def __init__(self, kernels: list[np.ndarray]) -> None:
        super().__init__()
        self.register_buffer("weight", torch.as_tensor(np.stack(kernels), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        k = self.weight.shape[-1]
        spec = torch.fft.rfft2(torch.flip(self.weight, dims=(-2, -1)), s=(h, w))
        return torch.fft.irfft2(torch.fft.rfft2(x, s=(h, w)) * spec, s=(h, w))[..., k - 1:, k - 1:]


def grey_conv_relu(kernels: list[np.ndarray]) -> nn.Module:
    """Layer ``"2"``: channel i = ReLU(``kernels[i]`` ⋆ grey level), the same map as :func:`conv_relu`."""
    return nn.Sequential(_Grey(), _FFTConv(kernels), nn.ReLU()).eval()


def kernel_band(ker: np.ndarray, size: int) -> tuple[float, float]:
    """Half-power band of a kernel: min/max radius (cycles/pixel) of the 2-D samples with
    ``|K(f)|² >= max/2`` on the ``size × size`` frequency grid."""
    power = np.abs(np.fft.fft2(ker, s=(size, size))) ** 2
    r = radius_cpp(size, size)[power >= power.max() / 2]
    return float(r.min()), float(r.max())


def peak_2d(image: torch.Tensor) -> float:
    """Radius (cycles/pixel) of the largest sample of the image's 2-D periodogram (library definition)."""
    p2 = periodogram(fv.grey_levels(image[None]), "hann")[0]
    p2[0, 0] = 0.0  # DC
    return float(radius_cpp(*p2.shape).ravel()[np.argmax(p2)])


# --- parameterisation -------------------------------------------------------------------------------


def test_fourier_scale_is_one_over_f_with_lucid_floor() -> None:
    s = fv.fourier_scale(8)
    assert s.shape == (8, 5)
    assert s[0, 0] == pytest.approx(8.0)  # DC: floored at f = 1/8
    assert s[0, 1] == pytest.approx(8.0)  # f = 1/8
    assert s[0, 2] == pytest.approx(4.0)  # f = 2/8
    assert s[0, 4] == pytest.approx(2.0)  # f = 0.5 (Nyquist column of the half plane)
    assert s[4, 4] == pytest.approx(1 / np.sqrt(0.5))  # corner, f = 0.5·√2
    assert s[3, 1] == pytest.approx(1 / np.hypot(3 / 8, 1 / 8))


def test_one_coefficient_gives_its_cosine() -> None:
    size, ky, kx, a = 16, 2, 3, 0.8
    spec = torch.zeros(1, 3, size, size // 2 + 1, 2)
    spec[0, 0, ky, kx, 0] = a
    amp = torch.as_tensor(fv.fourier_scale(size), dtype=torch.float32)
    img = fv.spectrum_to_image(spec, amp, decorrelate=False)
    y, x = np.mgrid[0:size, 0:size]
    # irfft2 with norm="ortho": a real coefficient a at (ky, kx) and its mirror → 2a/S·cos(...), then /4
    expected = 2 * a * fv.fourier_scale(size)[ky, kx] / size * np.cos(2 * np.pi * (ky * y + kx * x) / size) / 4
    np.testing.assert_allclose(torch.logit(img[0, 0].double()).numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(img[0, 1:].numpy(), 0.5)  # the other channels stay grey


def test_zero_spectrum_is_grey_and_colour_matrix_is_lucids() -> None:
    amp = torch.as_tensor(fv.fourier_scale(8), dtype=torch.float32)
    assert torch.equal(fv.spectrum_to_image(torch.zeros(2, 3, 8, 5, 2), amp), torch.full((2, 3, 8, 8), 0.5))
    np.testing.assert_allclose(np.linalg.norm(fv.COLOR_CORRELATION, axis=0).max(), 1.0)
    np.testing.assert_allclose(fv.COLOR_CORRELATION[:, 0] / fv.COLOR_CORRELATION[0, 0], [1, 0.27 / 0.26, 0.27 / 0.26])
    # the first decorrelated channel is (nearly) luminance: a grey, not a coloured, pattern
    spec = torch.zeros(1, 3, 8, 5, 2)
    spec[0, 0, 1, 1, 0] = 3.0
    img = torch.logit(fv.spectrum_to_image(spec, amp).double())
    np.testing.assert_allclose(img[0, 1].numpy(), img[0, 0].numpy() * 0.27 / 0.26, atol=1e-5)
    np.testing.assert_allclose(img[0, 2].numpy(), img[0, 1].numpy(), atol=1e-5)
    assert img.abs().max() > 0.1


def test_initial_image_has_a_one_over_f_squared_spectrum() -> None:
    from reference_impl import loglog_slope, mean_spectrum

    starts = fv.render(conv_relu([gaussian_kernel(3, 1.0)] * 16), "1", list(range(16)), 64, 0, 3)
    logits = torch.logit(starts.double()).mean(dim=1).numpy()  # grey logit images [16, 64, 64]
    freqs, power, _ = patch_spectra(logits, 32, window="hann")
    assert loglog_slope(freqs, mean_spectrum(power), fmin=0.03, fmax=0.45) == pytest.approx(-2.0, abs=0.2)


def test_transforms_integer_shift_is_exact_and_rotation_turns() -> None:
    img = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out = fv.transform_images(img, torch.tensor([[1.0, -2.0], [0.0, 3.0]]), torch.ones(2), torch.zeros(2), 3)
    expected = torch.full((2, 3, 14, 14), 0.5)
    expected[0, :, 4:12, 1:9] = img[0]
    expected[1, :, 3:11, 6:14] = img[1]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    quarter = fv.transform_images(img, torch.zeros(2, 2), torch.ones(2), torch.full((2,), np.pi / 2), 0)
    torch.testing.assert_close(quarter, torch.rot90(img, -1, dims=(2, 3)), atol=1e-5, rtol=0)  # clockwise on screen


# --- known answers of the optimisation --------------------------------------------------------------

F0 = (0.08, 0.16, 0.28, 0.44)  # cycles/pixel; 0.44 is near Nyquist (0.5)
THETA = (0.0, np.pi / 2, np.pi / 4, 0.0)  # vertical, horizontal, diagonal, vertical stripes


def test_cosine_channels_render_their_frequency() -> None:
    """Each channel's render has its 2-D spectral peak inside the kernel's own half-power band;
    the peaks are ordered like f0 (all channels in one batch, default transforms)."""
    size, k = 48, 15
    kernels = [cosine_kernel(k, f, t) for f, t in zip(F0, THETA)]
    model = conv_relu(kernels)
    images = fv.render(model, "1", [0, 1, 2, 3], size, 192, 0)
    peaks = [peak_2d(images[i]) for i in range(4)]
    for f0, ker, peak in zip(F0, kernels, peaks):
        lo, hi = kernel_band(ker, size)
        assert lo <= peak <= hi, f"f0={f0}: render peaks at {peak:.3f} c/px, kernel band [{lo:.3f}, {hi:.3f}]"
    assert peaks == sorted(peaks)
    # the optimisation raised every channel far above the start
    start = fv.render(model, "1", [0, 1, 2, 3], size, 0, 0)
    gain = fv.channel_objective(model, "1", images, range(4)) - fv.channel_objective(model, "1", start, range(4))
    assert (gain > 0.03).all()


def _default_featvis() -> tuple[dict, float]:
    """Config ``featvis`` and ``spectra.hf_cutoff`` of config/config.yaml (the embedded default)."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return cfg["featvis"], float(cfg["spectra"]["hf_cutoff"])


KNOWN_F0 = (0.0625, 0.125, 0.25, 0.375, 0.4375)  # cycles/pixel, 0.4375 = 7/8 of Nyquist


def test_default_render_finds_planted_frequencies_up_to_near_nyquist() -> None:
    """Windowed zero-mean cosine channels (41 px Hann window: a band about ±1 bin wide) at 0.0625–0.4375
    c/px, horizontal and diagonal, rendered at the default's settings (64 px, config featvis: steps,
    lr, seed, transforms): every render's 2-D spectral peak lies within one frequency bin (1/64 c/px)
    of its channel's frequency, and the HF power fraction (> spectra.hf_cutoff) orders the channels
    as the cutoff does. With scale and rotation in every step (p_scale_rotate 1, Lucent's transforms),
    the 0.25 and 0.4375 horizontal and 0.44 diagonal channels peak at 0.02 c/px instead."""
    cfg, hf_cutoff = _default_featvis()
    tf = fv.Transforms.from_config(cfg["transforms"])
    assert tf == fv.Transforms()  # the library's defaults are the config's
    size, k = 64, 41
    diag = [np.sqrt(2) * round(f / np.sqrt(2) * size) / size for f in KNOWN_F0]  # on the grid's diagonal
    planted = list(KNOWN_F0) + diag
    kernels = [cosine_kernel(k, f, 0.0) for f in KNOWN_F0] + [cosine_kernel(k, f, np.pi / 4) for f in diag]
    model = grey_conv_relu(kernels)
    x = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model(x), conv_relu(kernels)(x), atol=1e-5, rtol=0)  # the same channels
    channels = list(range(len(kernels)))
    images = fv.render(model, "2", channels, size, int(cfg["steps"]), int(cfg["seed"]), lr=float(cfg["lr"]),
                       objective=cfg["objective"], transforms=tf, decorrelate=bool(cfg["decorrelate"]),
                       init_sd=float(cfg["init_sd"]), redirect_relu=bool(cfg["redirect_relu"]))
    m = fv.featvis_metrics(images, hf_cutoff, window="hann")
    found = np.round(m["peak_freq"], 4).tolist()
    assert np.all(np.abs(m["peak_freq"] - planted) <= 1 / size + 1e-9), f"planted {planted}, found {found}"
    for hf in (m["hf_fraction"][:5], m["hf_fraction"][5:]):  # per orientation: below < at < above the cutoff
        assert hf[0] < hf[1] < hf[2] < min(hf[3], hf[4]), f"HF fractions {np.round(hf, 3)}"
    gain = fv.channel_objective(model, "2", images, channels, pad=tf.pad)
    start = fv.channel_objective(model, "2", fv.render(model, "2", channels, size, 0, 0), channels, pad=tf.pad)
    assert (gain > 2 * start).all()


def test_scale_and_rotation_apply_to_the_drawn_fraction_of_steps() -> None:
    """p_scale_rotate: the fraction of steps with a scale or rotation; 1 = every step; 0 = none (the
    other draws stay the same)."""
    draws = {p: fv._draws(0, "L", [3, 7], 8, 2000, 0.01, fv.Transforms(p_scale_rotate=p)) for p in (0.0, 0.5, 1.0)}
    for p, (spec, shift, scale, angle) in draws.items():
        on = (scale != 1.0) | (angle != 0.0)
        assert np.array_equal(on, scale != 1.0) and np.array_equal(on, angle != 0.0)
        assert on.mean() == pytest.approx(p, abs=0.03)
        np.testing.assert_array_equal(spec, draws[1.0][0])
        np.testing.assert_array_equal(shift, draws[1.0][1])
        np.testing.assert_array_equal(scale[on], draws[1.0][2][on])
    assert np.abs(draws[1.0][2] - 1).max() == pytest.approx(0.1, abs=1e-3)
    assert fv.Transforms(pad=0, jitter=0, p_scale_rotate=0.0).identity and not fv.Transforms().identity
    with pytest.raises(ValueError, match=r"featvis.transforms.p_scale_rotate must lie in \[0, 1\], got 1.5"):
        fv.Transforms(p_scale_rotate=1.5)


def test_lowpass_channel_renders_less_high_frequency_than_highpass() -> None:
    """A Gaussian (σ 2.5 px, mean removed so that brightening alone cannot excite it) vs a
    high-pass (delta − Gaussian σ 1 px): HF power fraction (> 0.25 c/px) below / above the
    1/f² start, the low-pass one far below the high-pass one."""
    k = 15
    low = gaussian_kernel(k, 2.5)
    low = low - low.mean()
    delta = np.zeros((k, k))
    delta[k // 2, k // 2] = 1.0
    high = delta - gaussian_kernel(k, 1.0)
    model = conv_relu([low / np.abs(low).sum(), high / np.abs(high).sum()])
    hf = fv.featvis_metrics(fv.render(model, "1", [0, 1], 32, 96, 0), 0.25, window="hann")["hf_fraction"]
    hf0 = fv.featvis_metrics(fv.render(model, "1", [0, 1], 32, 0, 0), 0.25, window="hann")["hf_fraction"]
    assert hf[0] < hf0[0] and hf0[1] < hf[1]
    assert hf[0] < 0.15 and hf[1] > 0.5


def test_center_objective_concentrates_the_pattern_on_the_centre_unit() -> None:
    size, k, pad = 32, 9, 4
    model = conv_relu([cosine_kernel(k, 0.25, 0.0)])
    tf = fv.Transforms(pad=pad, jitter=2, scale=0.0, rotate=0.0)

    def centre_share(img: torch.Tensor) -> float:
        dev = (img[0].mean(dim=0) - img[0].mean()).numpy() ** 2  # contrast energy per pixel
        # the centre unit's receptive field in image coordinates, widened by the jitter
        lo = (size + 2 * pad - k + 1) // 2 - pad - tf.jitter
        hi = lo + k + 2 * tf.jitter
        return float(dev[lo:hi, lo:hi].sum() / dev.sum())

    centre = centre_share(fv.render(model, "1", [0], size, 96, 0, objective="center", transforms=tf))
    mean = centre_share(fv.render(model, "1", [0], size, 96, 0, objective="mean", transforms=tf))
    box = ((k + 2 * tf.jitter) / size) ** 2
    assert centre > 0.6 and mean < 2 * box < centre


def test_redirected_relu_gradient_known_values_and_modules_restored() -> None:
    x = torch.tensor([[-1.0, 2.0], [-1.0, -2.0]], requires_grad=True)
    y = fv.RedirectedReLU()(x)
    assert torch.equal(y, torch.relu(x))
    (g,) = torch.autograd.grad(y, [x], torch.tensor([[-1.0, -1.0], [-1.0, 1.0]]))
    # image 0 has a unit on: plain ReLU gradient; image 1 has none: the gradient that would
    # raise a unit (loss gradient -1) passes, the one that would lower it (+1) does not
    assert torch.equal(g, torch.tensor([[0.0, -1.0], [-1.0, 0.0]]))
    model = conv_relu([gaussian_kernel(3, 1.0)])
    relu = model[1]
    with fv.redirected_relus(model) as n:
        assert n == 1 and isinstance(model[1], fv.RedirectedReLU)
    assert model[1] is relu


def test_redirected_relu_revives_a_channel_silent_for_the_start() -> None:
    """A cosine channel (0.25 c/px) behind a bias of -0.02 is off for the faint starting noise:
    with the plain ReLU gradient nothing moves; with Lucid's redirected gradient the render
    finds the grating."""
    size, k = 32, 9
    ker = cosine_kernel(k, 0.25, 0.0)
    model = conv_relu([ker])
    with torch.no_grad():
        model[0].bias = nn.Parameter(torch.tensor([-0.02]))
    start = fv.render(model, "1", [0], size, 0, 0)
    assert fv.channel_objective(model, "1", start, [0], pad=4).item() == 0.0
    frozen = fv.render(model, "1", [0], size, 128, 0, redirect_relu=False)
    assert torch.equal(frozen, start)
    revived = fv.render(model, "1", [0], size, 128, 0)
    assert fv.channel_objective(model, "1", revived, [0], pad=4).item() > 0.02
    lo, hi = kernel_band(ker, size)
    assert lo <= peak_2d(revived[0]) <= hi


def test_same_seed_same_images_bitwise_and_batching_does_not_matter() -> None:
    model = conv_relu([cosine_kernel(7, f, 0.0) for f in (0.1, 0.2, 0.3)])
    a = fv.render(model, "1", [0, 1, 2], 24, 20, 7)
    b = fv.render(model, "1", [0, 1, 2], 24, 20, 7)
    assert torch.equal(a, b)
    c = fv.render(model, "1", [0, 1, 2], 24, 20, 8)
    assert (a - c).abs().max() > 0.05
    one_by_one = fv.render(model, "1", [0, 1, 2], 24, 20, 7, batch_size=1)
    torch.testing.assert_close(one_by_one, a, atol=1e-4, rtol=0)
    alone = fv.render(model, "1", [2], 24, 20, 7)  # image of channel 2 depends on (seed, layer, channel) only
    torch.testing.assert_close(alone[0], a[2], atol=1e-4, rtol=0)


def test_shape_range_dtype_and_model_state() -> None:
    model = conv_relu([cosine_kernel(5, 0.2, 0.0), gaussian_kernel(5, 1.0)])
    model.train()
    out = fv.render(model, "1", [1, 0, 1], 16, 5, 0)
    assert out.shape == (3, 3, 16, 16) and out.dtype == torch.float32 and out.device.type == "cpu"
    assert out.min() >= 0 and out.max() <= 1
    assert model.training  # restored
    assert all(p.grad is None for p in model.parameters())  # only the image's gradient was computed


def test_blurscope_model_runs_without_its_training_blur() -> None:
    torch.manual_seed(0)
    backbone = build_model("resnet_narrow", 10).eval()
    blurred, clear = BlurscopeNet(backbone, sigma_px=2.0).eval(), BlurscopeNet(backbone, sigma_px=0.0).eval()
    a = fv.render(blurred, "layer2.0", [0, 5], 24, 4, 0)
    b = fv.render(clear, "layer2.0", [0, 5], 24, 4, 0)
    assert torch.equal(a, b)
    # ... whereas the same images through the blur layer excite the channels differently
    objective_blur = fv._select(fv.layer_output(blurred, "layer2.0", a), torch.tensor([0, 5]), "mean")
    assert not torch.allclose(objective_blur, fv.channel_objective(blurred, "layer2.0", a, [0, 5]))


def test_bad_layer_and_channel_fail_naming_them() -> None:
    model = conv_relu([gaussian_kernel(3, 1.0)] * 4)
    with pytest.raises(KeyError, match="'conv9'.*valid layer names: 0, 1"):
        fv.render(model, "conv9", [0], 16, 2, 0)
    with pytest.raises(ValueError, match=r"channel 4 is out of range for layer '1' with 4 channels \(valid 0..3\)"):
        fv.render(model, "1", [0, 4], 16, 2, 0)
    with pytest.raises(ValueError, match="channel -1"):
        fv.render(model, "1", [-1], 16, 2, 0)
    with pytest.raises(ValueError, match="featvis.objective must be one of"):
        fv.render(model, "1", [0], 16, 2, 0, objective="max")
    with pytest.raises(ValueError, match="featvis.transforms.jitter"):
        fv.Transforms(jitter=-1)
    with pytest.raises(ValueError, match="unknown keys"):
        fv.Transforms.from_config({"pad": 2, "zoom": 1})


# --- measures, neurons, files, statistics, figure ---------------------------------------------------


def test_metrics_use_the_patch_spectrum_definition() -> None:
    size = 32
    y, x = np.mgrid[0:size, 0:size]
    grating = 0.5 + 0.3 * np.cos(2 * np.pi * 12 * x / size)  # 0.375 c/px, vertical stripes
    blob = 0.5 + 0.4 * np.exp(-((y - 16.0) ** 2 + (x - 16.0) ** 2) / (2 * 5.0**2))
    images = torch.as_tensor(np.stack([grating, blob])[:, None].repeat(3, axis=1), dtype=torch.float32)
    m = fv.featvis_metrics(images, 0.25, window="hann")
    freqs, power, hf = patch_spectra(fv.grey_levels(images), 16, hf_cutoff=0.25, window="hann")
    np.testing.assert_allclose(m["freqs"], freqs)
    np.testing.assert_allclose(m["power"], power)
    np.testing.assert_allclose(m["hf_fraction"], hf)
    assert m["hf_fraction"][0] > 0.99 and m["hf_fraction"][1] < 0.01
    assert m["peak_freq"][0] == pytest.approx(0.375)
    assert m["peak_freq"][1] < 0.1
    # the stored uint8 form gives the same measures up to 8-bit rounding
    stored = fv.to_uint8(images)
    assert stored.dtype == np.uint8 and stored.shape == (2, size, size, 3)
    assert stored[0, 0, 0, 0] == 204 and stored[0, 0, 4, 0] == 51  # round(255·0.8), round(255·0.2)
    again = fv.featvis_metrics(stored, 0.25, window="hann")
    np.testing.assert_allclose(again["hf_fraction"], m["hf_fraction"], atol=2e-3)


def test_grid_channels_are_the_feature_grids_neurons() -> None:
    for c, n, g in ((128, 64, 12), (64, 64, 12), (32, 64, 12), (10, 64, 12), (256, 32, 5)):
        sampled = sample_neurons(c, n)
        grid = sampled[plot_features.even_subset(len(sampled), g)]  # what feature_grids shows
        np.testing.assert_array_equal(fv.grid_channels(c, n, g), grid)
    # layer4.0 of the narrow net: 128 channels, sampled 2i+1 (i < 64), grid positions (2j+1)·64 // 24
    np.testing.assert_array_equal(fv.grid_channels(128, 64, 12), [5, 17, 27, 37, 49, 59, 69, 81, 91, 101, 113, 123])


def test_render_layers_save_and_load_round_trip(tmp_path) -> None:
    model = conv_relu([cosine_kernel(5, 0.25, 0.0), gaussian_kernel(5, 1.0), cosine_kernel(5, 0.1, 1.0)])
    results, table = fv.render_layers(model, ["1"], 64, 2, 16, 6, 0, 0.25, window="hann",
                                      transforms=fv.Transforms(pad=2, jitter=1))
    assert list(table.columns) == ["layer", "neuron", "objective", "objective_init", "active", "hf_fraction",
                                   "peak_freq"]
    np.testing.assert_array_equal(table["neuron"], fv.grid_channels(3, 64, 2))
    assert results[0]["images"].shape == (2, 16, 16, 3) and results[0]["power"].shape == (2, 8)
    path = tmp_path / "m.npz"
    fv.save_featvis(str(path), ["1"], results, model="m", size=16)
    back = fv.load_featvis(str(path))
    for key in fv.FILE_KEYS:
        np.testing.assert_array_equal(back["1"][key], results[0][key])
    with np.load(path) as z:
        assert str(z["model"]) == "m" and int(z["size"]) == 16


def _table(hf: dict[str, list[float]], active: dict[str, list[bool]] | None = None) -> pd.DataFrame:
    rows = []
    for model, values in hf.items():
        for j, v in enumerate(values):
            rows.append({"model": model, "layer": "L", "neuron": 10 * j, "hf_fraction": v, "peak_freq": v / 2,
                         "active": True if active is None else active[model][j]})
    return pd.DataFrame(rows)


def test_summary_and_the_run_level_contrast_follow_the_library_statistics() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.5, size=12)
    hf = {"sigma0": list(base), "sigma0-seed1": list(base + 0.01), "sigma2": list(base - 0.05),
          "sigma6": list(base - 0.1), "sigma6-seed1": list(base - 0.12), "blurpool": list(base - 0.02)}
    sigma_of = {"sigma0": 0.0, "sigma0-seed1": 0.0, "sigma2": 2.0, "sigma6": 6.0, "sigma6-seed1": 6.0,
                "blurpool": 0.0}
    series = ["sigma0", "sigma2", "sigma6"]
    group_of = {"sigma0-seed1": "sigma0", "sigma6-seed1": "sigma6"}
    summary, trends, effects, runs = fv.featvis_summary(_table(hf), sigma_of, series, 200, 0, paired=False,
                                                        group_of=group_of)
    row = summary[(summary["model"] == "sigma2") & (summary["metric"] == "hf_fraction")].iloc[0]
    assert row["mean"] == pytest.approx(base.mean() - 0.05)
    boot = stats.neuron_bootstrap((base - 0.05)[:, None], 200, 0)
    assert row["ci_low"] == pytest.approx(boot["ci_low"]) and row["ci_high"] == pytest.approx(boot["ci_high"])
    assert row["n_neurons"] == 12 and row["n_active"] == 12 and row["sigma"] == 2.0
    tr = trends[trends["metric"] == "hf_fraction"].iloc[0]
    # one value per run (its mean over renders): σ 6 runs − σ 0 runs, between-run variance pooled (5 runs, 3 σ)
    ref = stats.sigma_contrast([0, 0, 2, 6, 6], [base.mean(), base.mean() + 0.01, base.mean() - 0.05,
                                                 base.mean() - 0.1, base.mean() - 0.12])
    assert tr["diff"] == pytest.approx(ref["diff"]) == pytest.approx(-0.115)
    assert tr["p"] == pytest.approx(ref["p"]) and tr["family"] == "primary" and tr["n_runs"] == 5
    assert trends[trends["metric"] == "peak_freq"].iloc[0]["family"] == "exploratory"
    eff = effects[(effects["model"] == "sigma6") & (effects["metric"] == "hf_fraction")].iloc[0]
    assert eff["diff"] == pytest.approx(tr["diff"]) and eff["n_runs_reference"] == 2
    assert set(effects["model"]) == {"sigma2", "sigma6", "blurpool"}
    assert set(runs["model"]) == set(hf) and (runs["n_units"] == 12).all()


def test_summary_leaves_out_renders_that_did_not_move_and_reports_silent_layers() -> None:
    hf = {"sigma0": [0.4, 0.5, 0.6, 0.9], "sigma0-seed1": [0.4, 0.5, 0.6, 0.9], "sigma6": [0.3, 0.4, 0.5, 0.1],
          "sigma6-seed1": [0.3, 0.4, 0.5, 0.1]}
    active = {"sigma0": [True] * 4, "sigma0-seed1": [False] * 4, "sigma6": [True, True, True, False],
              "sigma6-seed1": [True] * 4}
    sigma_of = {m: 6.0 if m.startswith("sigma6") else 0.0 for m in hf}
    group_of = {"sigma0-seed1": "sigma0", "sigma6-seed1": "sigma6"}
    summary, trends, _, runs = fv.featvis_summary(_table(hf, active), sigma_of, ["sigma0", "sigma6"], 100, 0,
                                                  paired=False, group_of=group_of)
    r = runs[runs["metric"] == "hf_fraction"].set_index("model")
    assert r.loc["sigma6", "value"] == pytest.approx(0.4) and r.loc["sigma6", "n_units"] == 3
    # a run where no render raised its objective is silent: a result (n_units 0), never an error
    assert r.loc["sigma0-seed1", "n_units"] == 0 and np.isnan(r.loc["sigma0-seed1", "value"])
    tr = trends[trends["metric"] == "hf_fraction"].iloc[0]
    assert tr["n_runs_sigma_min"] == 1 and tr["n_runs"] == 3  # the silent run has no value to test
    with pytest.raises(ValueError, match="no sigma for models"):
        fv.featvis_summary(_table(hf), {"sigma0": 0.0}, ["sigma0"], 100, 0, paired=True)
    dead = {m: [False] * 4 for m in hf}
    summary, trends, effects, _ = fv.featvis_summary(_table(hf, dead), sigma_of, ["sigma0", "sigma6"], 100, 0,
                                                     paired=False, group_of=group_of)
    assert (summary["n_active"] == 0).all() and trends.iloc[0]["note"].startswith("not testable")


def test_grid_figure_has_one_cell_per_model_and_neuron() -> None:
    from blurscope.featvis import plot as plot_featvis

    rng = np.random.default_rng(0)
    sets = [rng.integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8) for _ in range(2)]
    fig = plot_featvis.featvis_grid(sets, ["σ=0", "σ=6"], np.array([4, 14, 24]), "t",
                                    [["HF 0.1"] * 3, ["HF 0.2"] * 3])
    assert len(fig.axes) == 6
    shown = fig.axes[4].images[0].get_array()
    np.testing.assert_allclose(np.asarray(shown), sets[1][1] / 255.0)  # the render as it is, no stretch
    with pytest.raises(ValueError, match="expected \\[3, S, S, 3\\]"):
        plot_featvis.featvis_grid([sets[0][:2], sets[1]], ["a", "b"], np.array([4, 14, 24]), "t")


def _run_script(path, monkeypatch, **namespaces) -> None:  # type: ignore[no-untyped-def]
    """Run a rule script in-process with a stand-in ``snakemake`` object; the logging set-up
    and excepthook that :func:`blurscope.runlog.start` installs are undone afterwards."""
    import logging
    import runpy
    import sys
    from types import SimpleNamespace as NS

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    sm = NS(**{k: NS(**v) if isinstance(v, dict) else v for k, v in namespaces.items()}, threads=1)
    try:
        runpy.run_path(str(path), init_globals={"snakemake": sm}, run_name="__main__")
    finally:
        for h in root.handlers:
            if h not in handlers:
                h.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        torch.set_num_threads(1)


def test_rule_scripts_render_summarise_and_plot(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The three thin rule scripts end to end on untrained narrow ResNets (size 0 = the models'
    16 px, 24 steps)."""
    from pathlib import Path

    from blurscope.models.network import save_model

    repo = Path(__file__).resolve().parents[1]
    models = {"sigma0": (0.0, False), "sigma6": (6.0, False), "blurpool": (0.0, True)}
    for i, (mid, (sigma, aa)) in enumerate(models.items()):
        torch.manual_seed(i)
        net = BlurscopeNet(build_model("resnet_narrow", 10, aa), sigma_px=sigma * 16 / 224)
        meta = {"model_id": mid, "arch": "resnet_narrow", "arch_kwargs": {}, "antialiased": aa, "sigma": sigma,
                "sigma_px": sigma * 16 / 224, "num_classes": 10, "image_size": 16}
        save_model(net, tmp_path / f"{mid}.safetensors", meta)
    cfg = {"size": 0, "steps": 24, "lr": 0.05, "seed": 0, "objective": "mean", "decorrelate": True, "init_sd": 0.01,
           "redirect_relu": True, "transforms": {"pad": 4, "jitter": 1, "scale": 0.1, "rotate": 10},
           "batch_size": 0, "device": "cpu", "threads": 1}
    layers = ["layer2.0", "layer4.0"]
    scripts = repo / "workflow_scripts"
    for m in models:
        _run_script(scripts / "featvis.py", monkeypatch, input={"model": str(tmp_path / f"{m}.safetensors")},
                    output={"npz": str(tmp_path / f"{m}.npz"), "tsv": str(tmp_path / f"{m}.tsv")},
                    params={"cfg": cfg, "layers": layers, "neurons_per_layer": 64, "grid_neurons": 4,
                            "spectra": {"hf_cutoff": 0.25, "n_bins": 0, "window": "hann"}},
                    wildcards={"model": m}, log=[str(tmp_path / f"featvis_{m}.log")])
    _run_script(scripts / "featvis_stats.py", monkeypatch, input={"tsv": [str(tmp_path / f"{m}.tsv") for m in models]},
                output={k: str(tmp_path / f"{k}.tsv") for k in ("summary", "trends", "effects", "runs")},
                params={"cfg": {"bootstrap_iterations": 50, "ci": 0.95, "n_permutations": 20, "seed": 0},
                        "sigma_of": {m: s for m, (s, _) in models.items()}, "sigma_models": ["sigma0", "sigma6"],
                        "paired": False, "group_of": {}},
                wildcards={}, log=[str(tmp_path / "stats.log")])
    _run_script(scripts / "featvis_figures.py", monkeypatch,
                input={"npz": [str(tmp_path / f"{m}.npz") for m in models], "summary": str(tmp_path / "summary.tsv")},
                output={"grid": [str(tmp_path / f"grid_{layer}.png") for layer in ("layer2.0", "layer4.0")],
                        "spectra": [str(tmp_path / f"spectra_{layer}.png") for layer in ("layer2.0", "layer4.0")]},
                params={"models": list(models), "sigmas": [0.0, 6.0, None], "layers": ["layer2.0", "layer4.0"],
                        "plots": {"dpi": 40}},
                wildcards={}, log=[str(tmp_path / "figures.log")])
    table = pd.read_csv(tmp_path / "sigma6.tsv", sep="\t", dtype={"layer": str})
    assert list(table["layer"]) == ["layer2.0"] * 4 + ["layer4.0"] * 4
    np.testing.assert_array_equal(table["neuron"][:4], fv.grid_channels(32, 64, 4))
    assert (table["model"] == "sigma6").all() and (table["sigma"] == 6.0).all()
    data = fv.load_featvis(str(tmp_path / "sigma6.npz"))
    assert data["layer4.0"]["images"].shape == (4, 16, 16, 3)
    np.testing.assert_allclose(data["layer2.0"]["hf_fraction"], table["hf_fraction"][:4], rtol=1e-5)
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    assert set(summary["model"]) == set(models) and set(summary["metric"]) == set(fv.METRICS)
    trends = pd.read_csv(tmp_path / "trends.tsv", sep="\t")
    assert len(trends) == 2 * len(fv.METRICS)
    for layer in ("layer2.0", "layer4.0"):  # one job draws every layer's figures
        assert (tmp_path / f"grid_{layer}.png").stat().st_size > 1000
        assert (tmp_path / f"spectra_{layer}.png").stat().st_size > 1000
