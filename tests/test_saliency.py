"""SmoothGrad, focus sets, distances and the paired statistics (blurscope.saliency.smoothgrad)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from reference_impl import smoothgrad_captum, smoothgrad_loop
from torch import nn

from blurscope.blur import gaussian_blur
from blurscope.models.network import BlurscopeNet, build_model
from blurscope.saliency import smoothgrad as S


class RegionNet(nn.Module):
    """Logits depend only on pixels rows 10..17 × cols 20..29 of a 32×32 image (a 3×3 conv, then a head)."""

    ROWS, COLS = slice(10, 18), slice(20, 30)

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        mask = torch.zeros(1, 1, 32, 32)
        mask[..., self.ROWS, self.COLS] = 1.0
        self.register_buffer("mask", mask)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4 * 32 * 32, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the conv output is masked too, so pixels next to the region (inside the
        # 3x3 footprint) do not reach the logits either
        return self.head((torch.tanh(self.conv(x * self.mask)) * self.mask).flatten(1))


def tiny_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 4),
    ).eval()


# --------------------------------------------------------------------------- known answers


def test_focus_lies_inside_the_only_region_the_model_reads() -> None:
    model = RegionNet().eval()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    grad = S.smoothgrad(model, x, torch.tensor([0, 2, 4]), n_samples=8, noise_level=0.2, seed=5)
    maps = S.saliency_map(grad)
    assert maps[:, :10].abs().max() == 0 and maps[:, :, :20].abs().max() == 0  # outside: exactly zero
    focus = S.top_k_pixels(maps.numpy(), 20)
    assert focus.shape == (3, 20, 2)
    rows, cols = focus[..., 0], focus[..., 1]
    assert ((rows >= 10) & (rows < 18) & (cols >= 20) & (cols < 30)).all()
    # and the maps are not degenerate inside: 20 distinct non-zero pixels
    assert (np.take_along_axis(maps.numpy().reshape(3, -1), rows * 32 + cols, 1) > 0).all()


def test_noise_floor_of_a_deterministic_setting_is_zero() -> None:
    model = tiny_cnn()
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0, 1, 2, 3])
    focus = {}
    for role in S.ROLES:
        for cond in S.CONDITIONS:
            inp = gaussian_blur(x, 1.0) if cond == "blurred" else x
            for slot, seed in enumerate((11, 12)):  # different seeds, but n=1 and zero noise
                maps = S.saliency_map(S.smoothgrad(model, inp, t, n_samples=1, noise_level=0.0, seed=seed))
                focus[(role, cond, slot)] = S.top_k_pixels(maps.numpy(), 20)
    table = S.focus_comparisons(focus, np.arange(4))
    dist = table[table.metric != "iou"]
    assert (dist.noise_floor == 0).all()
    assert (table[table.metric == "iou"].noise_floor == 1).all()
    # same model on both sides of (3): the classifier "effect" is zero too
    comp3 = table[table.comparison == "naive_vs_expert_blurred"]
    assert (comp3.excess == 0).all()
    # ...while blurring does move the focus of this model
    comp1 = table[(table.comparison == "naive_clear_vs_blurred") & (table.metric == "nn_distance")]
    assert (comp1.value > 0).any()


def test_noise_floor_is_positive_with_noise() -> None:
    model = tiny_cnn()
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0, 1, 2, 3])
    m0 = S.top_k_pixels(S.saliency_map(S.smoothgrad(model, x, t, 4, 0.3, seed=1)).numpy(), 20)
    m1 = S.top_k_pixels(S.saliency_map(S.smoothgrad(model, x, t, 4, 0.3, seed=2)).numpy(), 20)
    assert S.nn_distance(m0, m1).mean() > 0
    assert S.iou(m0, m1).mean() < 1


# --------------------------------------------------------------------------- implementations agree


def test_captum_noise_tunnel_agrees_under_the_same_noise() -> None:
    model = tiny_cnn(2)
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([3, 0, 1])
    n = 6
    seen: list[torch.Tensor] = []

    def forward(z: torch.Tensor) -> torch.Tensor:
        seen.append(z.detach().clone())
        return model(z)

    torch.manual_seed(123)  # captum draws from the global RNG
    ref = smoothgrad_captum(forward, x, t, n, noise_level=0.2)
    assert len(seen) == 1 and seen[0].shape == (3 * n, 3, 16, 16)  # captum also batches all samples
    noise = (seen[0] - x.repeat_interleave(n, 0)).view(3, n, 3, 16, 16)
    assert 0.15 < noise.std().item() < 0.25
    ours = S.smoothgrad(model, x, t, n, noise_level=0.2, noise=noise, batch_size=2)
    assert ref.abs().max() > 0
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-7)


def test_batched_equals_per_sample_loop_and_is_batch_size_independent() -> None:
    model = BlurscopeNet(build_model("resnet_narrow", 4, widths=(4, 8, 8, 8)), 0.0).eval()
    fwd = S.without_blur(model)
    x = torch.rand(3, 3, 24, 24, generator=torch.Generator().manual_seed(6))
    t = torch.tensor([1, 2, 3])
    a = S.smoothgrad(fwd, x, t, 5, 0.1, seed=9, batch_size=3)
    b = S.smoothgrad(fwd, x, t, 5, 0.1, seed=9, batch_size=1)
    c = smoothgrad_loop(fwd, x, t, 5, 0.1, seed=9)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-6)
    d = S.smoothgrad(fwd, x, t, 5, 0.1, seed=10, batch_size=3)
    assert (a - d).abs().max() > 1e-6  # another seed, other noise


def test_image_noise_depends_only_on_seed_and_index() -> None:
    a = S.image_noise(3, 7, 4, (3, 8, 8), 0.5)
    assert torch.equal(a, S.image_noise(3, 7, 4, (3, 8, 8), 0.5))
    assert not torch.equal(a, S.image_noise(3, 8, 4, (3, 8, 8), 0.5))
    assert not torch.equal(a, S.image_noise(4, 7, 4, (3, 8, 8), 0.5))
    assert abs(a.std().item() - 0.5) < 0.1


def test_without_blur_drops_only_the_blur_layer() -> None:
    model = BlurscopeNet(build_model("resnet_narrow", 4, widths=(4, 8, 8, 8)), 1.5).eval()
    x = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(S.without_blur(model)(gaussian_blur(x, 1.5)), model(x))
    plain = tiny_cnn()
    assert S.without_blur(plain) is plain


def test_activation_maps_resolve_backbone_layer_names() -> None:
    model = BlurscopeNet(build_model("resnet_narrow", 4, widths=(4, 8, 8, 8)), 1.0).eval()
    acts = S.activation_maps(S.without_blur(model), torch.rand(2, 3, 32, 32), ["layer1", "layer3"])
    assert acts["layer1"].shape == (2, 4, 8, 8) and acts["layer3"].shape == (2, 8, 2, 2)
    with pytest.raises(KeyError, match="valid layer names"):
        S.activation_maps(S.without_blur(model), torch.rand(1, 3, 32, 32), ["layer9"])


# --------------------------------------------------------------------------- focus and distances


def test_top_k_pixels_order_and_ties() -> None:
    m = np.zeros((1, 4, 5))
    m[0, 3, 1], m[0, 0, 4], m[0, 2, 2] = 5.0, 4.0, 3.0
    assert S.top_k_pixels(m, 3).tolist() == [[[3, 1], [0, 4], [2, 2]]]
    # constant map: row-major order
    assert S.top_k_pixels(np.ones((1, 2, 3)), 4).tolist() == [[[0, 0], [0, 1], [0, 2], [1, 0]]]
    with pytest.raises(ValueError, match="top_k_pixels"):
        S.top_k_pixels(m, 21)


def test_distances_on_hand_made_sets() -> None:
    a = np.array([[[0, 0]], [[1, 1]]])
    b = np.array([[[3, 4]], [[1, 1]]])
    np.testing.assert_allclose(S.nn_distance(a, b), [5.0, 0.0])
    np.testing.assert_allclose(S.rank_distance(a, b), [5.0, 0.0])
    np.testing.assert_allclose(S.iou(a, b), [0.0, 1.0])

    a = np.array([[[0, 0], [0, 1]]])
    b = np.array([[[0, 1], [0, 5]]])
    # A→B: 1, 0 (mean 0.5); B→A: 0, 4 (mean 2) → 1.25
    np.testing.assert_allclose(S.nn_distance(a, b), [1.25])
    # rank-matched: |(0,0)-(0,1)| = 1, |(0,1)-(0,5)| = 4 → 2.5
    np.testing.assert_allclose(S.rank_distance(a, b), [2.5])
    np.testing.assert_allclose(S.iou(a, b), [1 / 3])

    # same set in another rank order: nn and IoU see no difference, rank distance does
    a = np.array([[[0, 0], [6, 8]]])
    b = np.array([[[6, 8], [0, 0]]])
    np.testing.assert_allclose(S.nn_distance(a, b), [0.0])
    np.testing.assert_allclose(S.iou(a, b), [1.0])
    np.testing.assert_allclose(S.rank_distance(a, b), [10.0])

    # duplicates count once in a set
    np.testing.assert_allclose(S.iou(np.array([[[0, 0], [0, 0]]]), np.array([[[0, 0], [2, 2]]])), [0.5])
    with pytest.raises(ValueError, match="focus sets"):
        S.nn_distance(np.zeros((1, 2, 2)), np.zeros((1, 3, 2)))


def test_focus_comparisons_pair_independent_seeds() -> None:
    p = lambda *pts: np.array([list(pts)])  # noqa: E731  one image, focus of k points
    focus = {
        ("naive", "clear", 0): p([0, 0]), ("naive", "clear", 1): p([0, 2]),
        ("naive", "blurred", 0): p([0, 10]), ("naive", "blurred", 1): p([0, 10]),
        ("expert", "clear", 0): p([5, 0]), ("expert", "clear", 1): p([5, 0]),
        ("expert", "blurred", 0): p([3, 4]), ("expert", "blurred", 1): p([0, 0]),
    }
    t = S.focus_comparisons(focus, np.array([7]), np.array([70]), np.array([1])).set_index(["comparison", "metric"])
    r = t.loc[("naive_clear_vs_blurred", "nn_distance")]
    # value = ½[d(nc0, nb1) + d(nc1, nb0)] = ½[10 + 8]; floor = ½[d(nc0, nc1) + d(nb0, nb1)] = ½[2 + 0]
    assert (r.value, r.noise_floor, r.excess) == (9.0, 1.0, 8.0)
    assert (r.image_index, r.image_id, r.label, r.unit) == (7, 70, 1, "px")
    r = t.loc[("naive_vs_expert_blurred", "nn_distance")]
    # ½[d(nb0, eb1) + d(nb1, eb0)] = ½[10 + sqrt(9+36)]; floor ½[0 + 5]
    assert r.value == pytest.approx(0.5 * (10 + np.sqrt(45)))
    assert r.noise_floor == pytest.approx(2.5)
    assert len(t) == 3 * 3
    with pytest.raises(KeyError, match="missing"):
        S.focus_comparisons({k: v for k, v in focus.items() if k[0] == "naive"}, np.array([0]))


# --------------------------------------------------------------------------- statistics


def test_holm_known_values() -> None:
    np.testing.assert_allclose(S.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(S.holm([0.2, 0.9]), [0.4, 0.9])
    np.testing.assert_allclose(S.holm([0.6, 0.9]), [1.0, 1.0])  # capped, monotone
    out = S.holm([np.nan, 0.02, 0.01])
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], [0.02, 0.02])


def test_focus_tests_use_the_library_paired_test() -> None:
    from blurscope import stats

    x = np.arange(1.0, 11.0) + 10
    y = np.full(10, 10.0)
    r = stats.paired_test(x, y, iterations=500, seed=0, alternative="greater")
    assert r["p"] == pytest.approx(1 / 2**10)  # exact: all 10 differences positive
    assert r["rank_biserial"] == 1.0 and r["diff"] == pytest.approx(5.5)
    assert 1 <= r["diff_ci_low"] < 5.5 < r["diff_ci_high"] <= 10
    assert r["d_z"] == pytest.approx(5.5 / np.std(np.arange(1.0, 11.0), ddof=1))
    assert stats.paired_test(x, y, 10, 0, alternative="less")["p"] == pytest.approx(1.0)
    z = stats.paired_test(y, y, 10, 0, alternative="greater")
    assert (z["p"], z["diff"], z["d_z"], z["diff_ci_low"], z["diff_ci_high"]) == (1.0, 0.0, 0.0, 0.0, 0.0)
    per_image = pd.DataFrame({"image_index": [0], "comparison": "naive_clear_vs_blurred", "metric": "nn_distance",
                              "value": [1.0], "noise_floor": [0.5], "excess": [0.5]})
    with pytest.raises(ValueError, match="at least 2 images"):
        S.focus_statistics(per_image)


def test_focus_statistics_detects_a_real_shift_and_not_a_null_one() -> None:
    rng = np.random.default_rng(0)
    n = 30
    rows = []
    for comp in S.COMPARISONS:
        for metric in S.METRICS:
            floor = rng.uniform(1, 2, n) if metric != "iou" else rng.uniform(0.4, 0.6, n)
            if comp == "naive_vs_expert_blurred":  # clear effect in the "more different" direction
                value = floor + 3 if metric != "iou" else floor - 0.3
            else:  # no effect: value is floor plus symmetric noise
                value = floor + rng.normal(0, 0.05, n)
            rows.append(pd.DataFrame({"image_index": np.arange(n), "comparison": comp, "metric": metric,
                                      "value": value, "noise_floor": floor, "excess": value - floor}))
    stats = S.focus_statistics(pd.concat(rows), iterations=300, seed=1).set_index(["test", "comparison", "metric"])
    assert len(stats) == 3 * (3 + 2)
    for metric in S.METRICS:
        hit = stats.loc[("vs_noise_floor", "naive_vs_expert_blurred", metric)]
        assert hit.significant and hit.p_holm < 1e-4
        assert not stats.loc[("vs_noise_floor", "naive_clear_vs_blurred", metric)].significant
        assert stats.loc[("classifier_vs_input_naive", "naive_vs_expert_blurred", metric)].significant
    d = stats.loc[("vs_noise_floor", "naive_vs_expert_blurred", "nn_distance")]
    assert d["diff"] == pytest.approx(3.0) and d["diff_ci_low"] == pytest.approx(3.0)
    assert d["mean"] == pytest.approx(d["reference_mean"] + 3.0) and d["n_images"] == n
    assert (stats.p_holm >= stats.p).all()


def test_expert_model_id_validates_sigma() -> None:
    assert S.expert_model_id(2, [0, 0.5, 2, 6]) == "sigma2"
    assert S.expert_model_id(0.5, [0, 0.5, 2]) == "sigma0.5"
    with pytest.raises(ValueError, match=r"saliency.expert_sigma = 3 is not one of .*0, 0.5, 2"):
        S.expert_model_id(3, [0, 0.5, 2])
    with pytest.raises(ValueError, match="must be > 0"):
        S.expert_model_id(0, [0, 2])


def test_bad_inputs_fail_clearly() -> None:
    model = tiny_cnn()
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="n_samples"):
        S.smoothgrad(model, x, torch.tensor([0, 1]), 0, 0.1)
    with pytest.raises(ValueError, match="targets"):
        S.smoothgrad(model, x, torch.tensor([0]), 2, 0.1)
    with pytest.raises(ValueError, match="out of range"):
        S.smoothgrad(model, x, torch.tensor([0, 9]), 2, 0.1)
    with pytest.raises(RuntimeError, match="inference_mode"), torch.inference_mode():
        S.smoothgrad(model, x, torch.tensor([0, 1]), 2, 0.1)


# --------------------------------------------------------------------------- figures


def test_figures_render_from_real_saliency_arrays(tmp_path) -> None:
    import matplotlib.pyplot as plt

    from blurscope.saliency import plot as P

    model = BlurscopeNet(build_model("resnet_narrow", 4, widths=(4, 8, 8, 8)), 0.0).eval()
    fwd = S.without_blur(model)
    x = torch.rand(3, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    xb = gaussian_blur(x, 1.0)
    t = torch.tensor([0, 1, 2])
    maps = np.zeros((2, 2, 2, 3, 24, 24), dtype=np.float32)
    for c, inp in enumerate((x, xb)):
        for s in (0, 1):
            maps[:, c, s] = S.saliency_map(S.smoothgrad(fwd, inp, t, 3, 0.1, seed=s)).numpy()
    focus = np.stack([np.stack([np.stack([S.top_k_pixels(maps[r, c, s], 5) for s in (0, 1)])
                                for c in (0, 1)]) for r in (0, 1)])
    hwc = lambda z: z.permute(0, 2, 3, 1).numpy()  # noqa: E731
    fig = P.saliency_overlays(hwc(x), hwc(xb), maps[:, :, 0], focus[:, :, 0], ["a", "b", "c"], {"naive": "sigma0",
                              "expert": "sigma2"})
    assert len(fig.axes) == 3 * 4
    fig.savefig(tmp_path / "o.png")
    plt.close(fig)

    acts = S.activation_maps(fwd, x[:2], ["layer1", "layer2"])
    means = [np.broadcast_to(acts[n].mean(1), (2, 2, *acts[n].mean(1).shape)) for n in acts]
    chans = [np.broadcast_to(acts[n][:, :2], (2, 2, *acts[n][:, :2].shape)) for n in acts]
    fig = P.activation_figure(hwc(x[:2]), hwc(xb[:2]), list(acts), means, chans, [np.array([0, 1])] * 2)
    assert len(fig.axes) == (2 * 4) * (1 + 2 * 3)
    fig.savefig(tmp_path / "a.png")
    plt.close(fig)

    fsets = {(r, c, s): focus[i, j, s].astype(np.int64) for i, r in enumerate(S.ROLES)
             for j, c in enumerate(S.CONDITIONS) for s in (0, 1)}
    per_image = S.focus_comparisons(fsets, np.arange(3))
    fig = P.distance_figure(per_image, S.focus_statistics(per_image, iterations=50))
    fig.savefig(tmp_path / "d.png")
    plt.close(fig)
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("o.png", "a.png", "d.png"))
    with pytest.raises(ValueError, match="do not match"):
        P.saliency_overlays(hwc(x), hwc(xb), maps[:, :, 0, :2], focus[:, :, 0], None)
