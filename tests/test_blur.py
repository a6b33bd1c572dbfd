"""The one Gaussian blur: transfer function, identity, borders, units."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from blurscope.blur import GaussianBlur, gaussian_blur, gaussian_kernel1d, sigma_to_px
from blurscope.freq import radius_cpp


@pytest.mark.parametrize("sigma", [0.7, 1.5, 2.5])
def test_power_transfer_matches_gaussian(sigma: float) -> None:
    """Measured |F(blurred)|²/|F(noise)|² follows exp(-4π²σ²f²) (periodic noise, no border effect)."""
    gen = torch.Generator().manual_seed(0)
    n = 256
    x = torch.randn(8, 1, n, n, generator=gen, dtype=torch.float64)
    # tile 3x3 so reflect padding sees a periodic signal and crop the centre
    big = x.repeat(1, 1, 3, 3)
    y = gaussian_blur(big, sigma)[..., n : 2 * n, n : 2 * n]
    X = np.abs(np.fft.fft2(x.numpy()[:, 0])) ** 2
    Y = np.abs(np.fft.fft2(y.numpy()[:, 0])) ** 2
    r = radius_cpp(n, n)
    for f in (0.03, 0.06, 0.1, 0.15):
        ring = np.abs(r - f) < 0.004
        measured = (Y[:, ring] / X[:, ring]).mean()
        expected = math.exp(-4 * math.pi**2 * sigma**2 * f**2)
        assert measured == pytest.approx(expected, abs=0.01 + 0.03 * expected), (f, measured, expected)


def test_sigma_zero_is_identity_and_shapes_kept() -> None:
    x = torch.rand(2, 3, 17, 9)
    assert gaussian_blur(x, 0.0) is x
    assert gaussian_blur(x, 1.2).shape == x.shape
    # a tiny map with a kernel wider than the map still works (repeated reflection)
    assert gaussian_blur(torch.rand(1, 1, 3, 3), 4.0).shape == (1, 1, 3, 3)


def test_kernel_radius_and_normalisation() -> None:
    k = gaussian_kernel1d(2.0, torch.float64)
    assert k.numel() == 2 * 6 + 1
    assert float(k.sum()) == pytest.approx(1.0)
    assert gaussian_kernel1d(0.1).numel() == 3  # radius at least 1


def test_constant_image_unchanged_and_mean_preserved() -> None:
    x = torch.full((1, 3, 20, 20), 0.3)
    assert torch.allclose(gaussian_blur(x, 2.0), x, atol=1e-6)
    y = torch.rand(1, 1, 64, 64, dtype=torch.float64)
    assert float(gaussian_blur(y, 1.0).mean()) == pytest.approx(float(y.mean()), abs=2e-3)


def test_module_has_no_parameters_and_units() -> None:
    m = GaussianBlur(1.0)
    assert list(m.parameters()) == []
    assert sigma_to_px(4, 64) == pytest.approx(4 * 64 / 224)
    with pytest.raises(ValueError, match="sigma"):
        sigma_to_px(-1, 64)
    with pytest.raises(ValueError, match="B, C, H, W"):
        gaussian_blur(torch.rand(3, 8, 8), 1.0)


@pytest.mark.parametrize("size", [(64, 64), (5, 9), (1, 7), (300, 40)])
@pytest.mark.parametrize("sigma", [0.4, 1.7, 3.0])
def test_matrix_path_equals_padded_convolution(size: tuple[int, int], sigma: float) -> None:
    """The matmul path (sides <= MATMUL_MAX_SIZE) and the reflect-pad + conv path give the same blur,
    including radii larger than the image (repeated reflection)."""
    import blurscope.blur as B

    x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(1))
    fast = B.gaussian_blur(x, sigma)
    old, B.MATMUL_MAX_SIZE = B.MATMUL_MAX_SIZE, 0
    try:
        conv = B.gaussian_blur(x, sigma)
    finally:
        B.MATMUL_MAX_SIZE = old
    torch.testing.assert_close(fast, conv, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(B.blur_matrix(size[0], sigma).sum(1), torch.ones(size[0]))


def test_blur_matrix_cached_in_inference_mode_still_supports_gradients() -> None:
    from blurscope.blur import blur_matrix

    blur_matrix.cache_clear()
    with torch.inference_mode():
        gaussian_blur(torch.rand(1, 3, 16, 16), 0.9)
    import blurscope.blur as B

    w = torch.rand(1, 3, 16, 16)
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    (gaussian_blur(x, 0.9) * w).sum().backward()  # raises if the cached matrix is an inference tensor
    x2 = x.detach().clone().requires_grad_(True)
    old, B.MATMUL_MAX_SIZE = B.MATMUL_MAX_SIZE, 0
    try:
        (gaussian_blur(x2, 0.9) * w).sum().backward()
    finally:
        B.MATMUL_MAX_SIZE = old
    torch.testing.assert_close(x.grad, x2.grad, atol=1e-6, rtol=1e-5)
