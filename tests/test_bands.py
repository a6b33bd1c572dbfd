"""Band intervention (the band-isolation study, docs/references.md): masks, isolation, controls,
strategies, ViT path, MLP head."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from reference_impl import isolate_band
from timm.models.resnet import BasicBlock, ResNet
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from blurscope import freq
from blurscope.bands import intervention as bands
from blurscope.bands import stats as band_stats

SIZES = [(1, 1), (2, 2), (3, 5), (4, 4), (7, 8), (8, 8), (9, 9), (16, 16), (15, 12)]


# --------------------------------------------------------------------------
# fixtures: a tiny ResNet that really classifies oriented gratings


def gratings(n: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """4 balanced classes of oriented cosine gratings (0°, 45°, 90°, 135°), random phase, noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    ang = y.double() * math.pi / 4
    phase = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
    yy, xx = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    arg = 2 * math.pi * (4 / size) * (xx * torch.cos(ang)[:, None, None] + yy * torch.sin(ang)[:, None, None])
    img = (
        0.5
        + 0.3 * torch.cos(arg + phase[:, None, None])
        + 0.1 * torch.randn(n, size, size, generator=g, dtype=torch.float64)
    )
    return img[:, None].expand(n, 3, size, size).clamp(0, 1).float().contiguous(), y


@pytest.fixture(scope="module")
def trained_resnet() -> nn.Module:
    torch.manual_seed(0)
    model = ResNet(BasicBlock, [1, 1, 1, 1], channels=(8, 16, 32, 64), stem_width=8, num_classes=4)
    x, y = gratings(512, seed=0)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(60):
        idx = torch.randint(0, len(y), (32,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def test_set() -> tuple[torch.Tensor, torch.Tensor]:
    return gratings(64, seed=1)


def tiny_vit(num_classes: int = 4) -> nn.Module:
    torch.manual_seed(0)
    return VisionTransformer(
        img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=num_classes
    ).eval()


# --------------------------------------------------------------------------
# masks


@pytest.mark.parametrize("h,w", SIZES)
@pytest.mark.parametrize("edges", [bands.DEFAULT_EDGES, (0.0, 0.1, 0.3, 0.7, 1.2, 1.5), (0.0, math.sqrt(2))])
def test_band_masks_partition_the_spectrum(h: int, w: int, edges: tuple[float, ...]) -> None:
    masks = bands.band_masks(h, w, edges)
    assert masks.dtype == torch.bool and masks.shape == (len(edges) - 1, h, w)
    # every frequency bin, corners at sqrt(2) included, in exactly one band
    assert torch.equal(masks.sum(0), torch.ones(h, w, dtype=torch.long))
    assert int(masks[0, 0, 0]) == 1  # DC in the first band


def test_band_mask_is_half_open_and_last_band_closed() -> None:
    r = freq.normalized_radius(8, 8)
    m = bands.band_mask(8, 8, 0.25, 0.5)
    assert m[0, 1] and not m[0, 2]  # r = 0.25 in, r = 0.5 out
    assert np.array_equal(m.numpy(), (r >= 0.25) & (r < 0.5))
    assert bands.band_mask(8, 8, 0.0, math.sqrt(2)).sum() == 63  # open: corner (r = sqrt 2) excluded
    assert bands.band_mask(8, 8, 0.0, math.sqrt(2), closed=True).all()
    last = bands.band_masks(8, 8, bands.DEFAULT_EDGES)[-1]
    assert last[4, 4]  # the corner bin (-0.5, -0.5) cycles/pixel


def test_band_table_counts_bins_and_flags_empty_bands() -> None:
    t = bands.band_table(4, 4, bands.DEFAULT_EDGES)
    assert list(t["band"]) == list(bands.DEFAULT_BAND_NAMES)
    assert list(t["n_freqs"]) == [1, 0, 8, 7] and t["n_freqs"].sum() == 16
    assert t.loc[0, "mean_radius"] == 0.0 and np.isnan(t.loc[1, "mean_radius"])
    assert bands.band_table(16, 16, bands.DEFAULT_EDGES)["n_freqs"].tolist() == [9, 36, 148, 63]


@pytest.mark.parametrize(
    "edges,names,match",
    [
        ((0.1, 0.5, 1.5), None, "start at 0"),
        ((0.0, 0.5, 0.5, 1.5), None, "increase strictly"),
        ((0.0, 0.5, 1.0), None, "sqrt"),
        ((0.0, 0.5, 1.5), ["a"], "2 bands"),
        ((0.0, 0.5, 1.5), ["a", "empty"], "unique"),
        ("abc", None, "list of numbers"),
    ],
)
def test_bad_band_config_names_the_key(edges, names, match) -> None:
    with pytest.raises(ValueError, match=match) as err:
        bands.validate_bands(edges, names)
    assert "bands." in str(err.value)


# --------------------------------------------------------------------------
# isolation


def cosine(h: int, w: int, ky: int, kx: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    return torch.cos(2 * math.pi * (ky * yy / h + kx * xx / w) + 0.3)


@pytest.mark.parametrize("h,w", [(16, 16), (15, 12), (8, 8)])
def test_isolate_band_keeps_a_sinusoid_in_its_band_and_removes_it_elsewhere(h: int, w: int) -> None:
    masks = bands.band_masks(h, w, bands.DEFAULT_EDGES)
    r = freq.normalized_radius(h, w)
    checked = set()
    for ky in range(-(h // 2), h // 2 + 1):
        for kx in range(-(w // 2), w // 2 + 1):
            x = cosine(h, w, ky, kx)[None, None].expand(2, 3, h, w)
            rad = r[ky % h, kx % w]
            home = [i for i in range(len(masks)) if masks[i, ky % h, kx % w]]
            assert len(home) == 1
            for i in range(len(masks)):
                out = isolate_band(x, masks[i])
                assert out.dtype == x.dtype and out.shape == x.shape
                if i == home[0]:
                    torch.testing.assert_close(out, x, atol=1e-10, rtol=0)
                else:
                    assert out.abs().max() < 1e-10, (ky, kx, rad, i)
            checked.add(home[0])
    assert checked == {0, 1, 2, 3} or (h, w) == (8, 8)  # every band tested on a sinusoid


def test_isolate_many_matches_isolate_band_and_bands_sum_to_identity() -> None:
    g = torch.Generator().manual_seed(0)
    for h, w in [(16, 16), (7, 10), (2, 2), (1, 1)]:
        x = torch.randn(3, 5, h, w, generator=g, dtype=torch.float64)
        masks = bands.band_masks(h, w, bands.DEFAULT_EDGES)
        many = bands.isolate_many(x, masks)
        assert many.shape == (len(masks), 3, 5, h, w)
        for i, m in enumerate(masks):
            torch.testing.assert_close(many[i], isolate_band(x, m), atol=1e-12, rtol=0)
        torch.testing.assert_close(many.sum(0), x, atol=1e-12, rtol=0)
        assert isolate_band(x, torch.zeros(h, w, dtype=torch.bool)).abs().max() == 0


def test_isolate_many_rejects_a_wrong_mask_shape() -> None:
    with pytest.raises(ValueError, match="does not match"):
        bands.isolate_many(torch.zeros(1, 1, 4, 4), torch.ones(2, 4, 5, dtype=torch.bool))


# --------------------------------------------------------------------------
# controls on a trained model


def test_union_reproduces_unmodified_and_empty_band_gives_chance(trained_resnet, test_set) -> None:
    x, y = test_set
    with torch.inference_mode():
        plain = trained_resnet(x)
    plain_correct = (plain.argmax(1) == y).numpy()
    assert plain_correct.mean() > 0.9  # the model really classifies
    for layer in ["layer1", "layer2", "layer3.0", "layer4"]:
        run = bands.band_logits(trained_resnet, layer, x, y, batch_size=16)
        rows = {n: i for i, n in enumerate(run.rows)}
        c, rk = run.correct["own"], run.rank["own"]
        assert np.array_equal(c[rows["unmodified"]], plain_correct)
        assert np.array_equal(c[rows["union"]], c[rows["unmodified"]])
        assert np.array_equal(rk[rows["union"]], rk[rows["unmodified"]])
        assert run.control["logit_rel"]["own"] < 1e-4 and run.control["map_rel"] < 1e-5
        bands.check_controls(run, layer, 1e-3)
        # empty band: constant logits → one predicted class; balanced labels → chance exactly
        assert c[rows["empty"]].mean() == pytest.approx(1 / 4)
        assert rk[rows["empty"]].mean() == pytest.approx((4 + 1) / 2)


def test_band_results_are_informative_and_summarized(trained_resnet, test_set) -> None:
    x, y = test_set
    run = bands.band_logits(trained_resnet, "layer1", x, y, batch_size=32)
    assert run.map_hw == (8, 8)
    table = bands.band_table(*run.map_hw, bands.DEFAULT_EDGES)
    df = band_stats.summarize(run, table, iterations=200, seed=0)
    assert len(df) == len(run.rows)
    assert set(df["kind"]) == {"band", "control"}
    assert (df["accuracy_ci_low"] <= df["accuracy"] + 1e-12).all()
    assert (df["accuracy"] <= df["accuracy_ci_high"] + 1e-12).all()
    assert (df["gt_rank"].between(1, 4)).all()
    assert (df["chance_accuracy"] == 0.25).all() and (df["chance_gt_rank"] == 2.5).all()
    acc = df.set_index("band")["accuracy"]
    rank = df.set_index("band")["gt_rank"]
    assert acc["ultra-low"] > 0.4 and rank["ultra-low"] < 2.2  # DC + lowest bins carry orientation
    # a 1x1 map holds only the DC bin: "ultra-low" is the whole map, the other bands are empty
    run4 = bands.band_logits(trained_resnet, "layer4", x, y)
    assert run4.map_hw == (1, 1)
    c4 = dict(zip(run4.rows, run4.correct["own"]))
    assert np.array_equal(c4["ultra-low"], c4["unmodified"])
    for b in ["low", "mid", "high"]:
        assert np.array_equal(c4[b], c4["empty"])


def test_expand_equals_repeat_and_auto_falls_back_inside_a_residual_block(trained_resnet, test_set) -> None:
    x, y = test_set
    a = bands.band_logits(trained_resnet, "layer2", x, y, strategy="expand", batch_size=16)
    b = bands.band_logits(trained_resnet, "layer2", x, y, strategy="repeat", batch_size=16)
    assert a.strategy == "expand" and b.strategy == "repeat"
    assert np.array_equal(a.correct["own"], b.correct["own"])
    np.testing.assert_allclose(a.rank["own"], b.rank["own"])
    # conv1 inside a block: the shortcut bypasses it with the original batch
    auto = bands.band_logits(trained_resnet, "layer2.0.conv1", x, y, strategy="auto", batch_size=16)
    rep = bands.band_logits(trained_resnet, "layer2.0.conv1", x, y, strategy="repeat", batch_size=16)
    assert auto.strategy == "repeat"
    assert np.array_equal(auto.correct["own"], rep.correct["own"])
    with pytest.raises(RuntimeError):
        bands.band_logits(trained_resnet, "layer2.0.conv1", x, y, strategy="expand", batch_size=16)


def test_unknown_layer_and_bad_options_fail_clearly(trained_resnet, test_set) -> None:
    x, y = test_set
    with pytest.raises(KeyError, match="valid layer names"):
        bands.band_logits(trained_resnet, "layer9", x, y)
    with pytest.raises(ValueError, match="bands.strategy"):
        bands.band_logits(trained_resnet, "layer1", x, y, strategy="fast")
    with pytest.raises(ValueError, match="bands.prefix_tokens"):
        bands.band_logits(trained_resnet, "layer1", x, y, prefix_tokens="cls")
    with pytest.raises(ValueError, match="labels"):
        bands.band_logits(trained_resnet, "layer1", x, y[:3])


def test_nhwc_layout_matches_nchw() -> None:
    class ToNHWC(nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return t.permute(0, 2, 3, 1)

    class ToNCHW(nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return t.permute(0, 3, 1, 2)

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        ToNHWC(),
        ToNCHW(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(24, 5),
    ).eval()
    x, y = torch.rand(10, 3, 12, 12), torch.arange(10) % 5
    a = bands.band_logits(model, "1", x, y, layout="nchw")
    b = bands.band_logits(model, "2", x, y, layout="nhwc")
    assert a.map_hw == b.map_hw == (12, 12)
    np.testing.assert_allclose(a.rank["own"], b.rank["own"])
    with pytest.raises(ValueError, match="4-D"):
        bands.band_logits(model, "5", x, y, layout="nhwc")


# --------------------------------------------------------------------------
# ViT path


def test_vit_token_maps_are_filtered_on_the_patch_grid() -> None:
    vit = tiny_vit()
    x, y = gratings(24, seed=2)
    view = bands.grid_view(vit, "blocks.0", torch.zeros(2, 17, 32))
    assert (view.kind, view.prefix, view.grid) == ("tokens", 1, (4, 4))
    tokens = torch.randn(2, 17, 32)
    maps, prefix = view.split(tokens)
    assert maps.shape == (2, 32, 4, 4) and prefix.shape == (2, 1, 32)
    assert torch.equal(view.merge(maps, prefix), tokens)
    with torch.inference_mode():
        plain = vit(x)
    for policy in bands.PREFIX_POLICIES:
        run = bands.band_logits(vit, "blocks.0", x, y, prefix_tokens=policy, batch_size=8)
        rows = {n: i for i, n in enumerate(run.rows)}
        assert run.map_hw == (4, 4) and run.strategy == "expand"
        c = run.correct["own"]
        assert np.array_equal(c[rows["unmodified"]], (plain.argmax(1) == y).numpy())
        if policy != "zero":
            assert np.array_equal(c[rows["union"]], c[rows["unmodified"]])
            assert run.control["logit_rel"]["own"] < 1e-4
    # empty band with the "dc" policy zeroes the class token too: the block
    # output is all zero, so every image gets the same logits
    run = bands.band_logits(vit, "blocks.1", x, y, prefix_tokens="dc")
    empty = run.rank["own"][run.rows.index("empty")]
    labels = y.numpy()
    for k in range(4):  # constant logits → rank depends on the label only
        assert np.unique(empty[labels == k]).size == 1


def test_vit_with_mlp_head_runs() -> None:
    vit = tiny_vit()
    x, y = gratings(48, seed=3)
    feats = bands.layer_features(vit, "blocks.1", x[:32], grid=16, batch_size=16)
    assert feats.shape == (32, 32 * 16 + 32)  # 4x4 patch grid x 32 dims + class token
    head, info = bands.train_mlp_head(feats, y[:32], 4, hidden=16, epochs=30, lr=1e-2, seed=0)
    assert info["train_accuracy"] > 0.9
    run = bands.band_logits(vit, "blocks.1", x[32:], y[32:], probe=head, probe_grid=16)
    assert set(run.correct) == {"own", "mlp"}
    rows = {n: i for i, n in enumerate(run.rows)}
    assert run.correct["mlp"].shape == (len(run.rows), 16)
    assert np.array_equal(run.correct["mlp"][rows["union"]], run.correct["mlp"][rows["unmodified"]])
    assert run.control["logit_rel"]["mlp"] < 1e-3


# --------------------------------------------------------------------------
# MLP head on a CNN, readout, ranks


def test_mlp_head_on_cnn_features_controls_and_determinism(trained_resnet, test_set) -> None:
    xtr, ytr = gratings(128, seed=4)
    x, y = test_set
    feats = bands.layer_features(trained_resnet, "layer2", xtr, grid=16, batch_size=64)
    assert feats.shape == (128, 16 * 4 * 4)
    h1, info = bands.train_mlp_head(feats, ytr, 4, hidden=32, epochs=20, lr=3e-3, seed=7)
    h2, _ = bands.train_mlp_head(feats, ytr, 4, hidden=32, epochs=20, lr=3e-3, seed=7)
    for p1, p2 in zip(h1.parameters(), h2.parameters()):
        assert torch.equal(p1, p2)
    assert info["train_accuracy"] > 0.9
    run = bands.band_logits(trained_resnet, "layer2", x, y, probe=h1, probe_grid=16)
    rows = {n: i for i, n in enumerate(run.rows)}
    c = run.correct["mlp"]
    assert c[rows["unmodified"]].mean() > 0.8
    assert np.array_equal(c[rows["union"]], c[rows["unmodified"]])
    assert c[rows["empty"]].mean() == pytest.approx(0.25)


def test_probe_readout_pools_only_large_maps() -> None:
    maps = torch.randn(2, 3, 8, 8)
    assert bands.probe_readout(maps, None, 16).shape == (2, 3 * 64)
    assert torch.equal(bands.probe_readout(maps, None, 0), maps.flatten(1))
    assert bands.probe_readout(maps, None, 4).shape == (2, 3 * 16)
    torch.testing.assert_close(bands.probe_readout(maps, None, 1), maps.mean((2, 3)))
    assert bands.probe_readout(maps, torch.ones(2, 1, 3), 2).shape == (2, 3 * 4 + 3)


def test_gt_rank_counts_ties_half() -> None:
    logits = torch.tensor([[3.0, 1.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 5.0, 5.0, 1.0]])
    labels = torch.tensor([2, 0, 1])
    assert bands.gt_rank(logits, labels).tolist() == [2.0, 2.5, 1.5]


# --------------------------------------------------------------------------
# bands need frequency samples beyond DC (issue: empty bands on small maps)


def test_band_sample_counts_of_the_default_maps() -> None:
    e = bands.DEFAULT_EDGES
    # narrow ResNet at 64 px: layer2.0 8x8, layer3.0 4x4, layer4.0 2x2
    assert freq.band_sample_counts(8, 8, e) == [1, 8, 36, 19]
    assert freq.band_sample_counts(4, 4, e) == [1, 0, 8, 7]
    assert freq.band_sample_counts(2, 2, e) == [1, 0, 0, 3]
    assert freq.band_sample_counts(8, 8, e, exclude_dc=True) == [0, 8, 36, 19]
    # act1 32x32 and layer1.0 16x16 hold every band beyond DC
    assert freq.band_sample_counts(16, 16, e) == [9, 36, 148, 63]
    assert freq.band_sample_counts(32, 32, e) == [45, 148, 600, 231]
    for h, w in SIZES:
        assert sum(freq.band_sample_counts(h, w, e)) == h * w
    assert freq.bands_without_samples(8, 8, e) == [0]
    assert freq.bands_without_samples(4, 4, e) == [0, 1]
    assert freq.bands_without_samples(16, 16, e) == []
    # 2/9 < 0.25: a 9x9 map is the smallest square one whose ultra-low band holds more than DC
    assert freq.smallest_square_map(e) == 9
    assert freq.bands_without_samples(9, 9, e) == [] and freq.bands_without_samples(8, 8, e)


def test_check_band_layers_names_keys_layers_and_bands() -> None:
    e, names = bands.DEFAULT_EDGES, bands.DEFAULT_BAND_NAMES
    bands.check_band_layers({"act1": (32, 32), "layer1.0": (16, 16)}, e, names)  # the default: fine
    with pytest.raises(ValueError) as err:
        bands.check_band_layers({"layer1.0": (16, 16), "layer2.0": (8, 8), "layer4.0": (2, 2)}, e, names)
    msg = str(err.value)
    assert "bands.layers" in msg and "bands.edges" in msg
    assert "'layer2.0' (8x8 map): band(s) ['ultra-low']" in msg
    assert "'layer4.0' (2x2 map): band(s) ['ultra-low', 'low', 'mid']" in msg
    assert "layer1.0" not in msg
    assert "at least 9x9" in msg
    # other edges can make an 8x8 map usable: ultra-low [0, 0.3) then holds the 0.25 ring
    bands.check_band_layers({"layer2.0": (8, 8)}, [0.0, 0.3, 0.6, 1.0, math.sqrt(2)], names)
    with pytest.raises(ValueError, match="bands.names"):
        bands.check_band_layers({"layer1.0": (16, 16)}, e, ["a", "b"])


@pytest.mark.parametrize("edges", [bands.DEFAULT_EDGES, (0.0, 0.1, 0.3, 0.7, 1.2, 1.5), (0.0, math.sqrt(2))])
def test_torch_free_sample_counts_equal_the_band_masks(edges: tuple[float, ...]) -> None:
    """freq's radial bins (counts, masks) against the contract's one-band mask, band by band."""
    n = len(edges) - 1
    for h, w in SIZES + [(32, 32), (14, 14), (7, 7)]:
        one = torch.stack([bands.band_mask(h, w, edges[i], edges[i + 1], closed=i == n - 1) for i in range(n)])
        assert torch.equal(bands.band_masks(h, w, edges), one)
        assert freq.band_sample_counts(h, w, edges) == one.sum(dim=(-2, -1)).tolist()


def test_band_layer_check_runs_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from blurscope import freq\n"
        "freq.check_band_layers({'act1': (32, 32), 'layer1.0': (16, 16)}, [0, 0.25, 0.5, 1, 2 ** 0.5])\n"
        "try:\n    freq.check_band_layers({'layer3.0': (4, 4)}, [0, 0.25, 0.5, 1, 2 ** 0.5])\n"
        "except ValueError as e:\n    assert 'bands.layers' in str(e)\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_union_control_scales_to_resnet50_at_224_px_and_catches_a_dropped_band(monkeypatch) -> None:
    """The control is relative to what it protects: at layer3.2 of ResNet-50 at 224 px (14x14 maps) with
    an MLP probe on all 200 704 features it passes; with one band left out of the union it fails, at the
    layer, whatever the logits do."""
    from blurscope.models.network import BlurscopeNet, build_model

    torch.manual_seed(0)
    net = BlurscopeNet(build_model("resnet50", 10), 0.0).eval()
    x, y = torch.rand(4, 3, 224, 224), np.arange(4)
    feats = bands.layer_features(net, "layer3.2", x, grid=14, batch_size=4)
    assert feats.shape == (4, 200704)
    probe, _ = bands.train_mlp_head(feats, y, 10, hidden=32, epochs=3, lr=1e-3, seed=0)
    run = bands.band_logits(net, "layer3.2", x, y, batch_size=4, probe=probe, probe_grid=14)
    bands.check_controls(run, "layer3.2", 1e-3)
    assert run.control["map_rel"] < 1e-5 and max(run.control["logit_rel"].values()) < 1e-4

    real_spec = bands.row_spec

    def union_without_high(*args, **kwargs):
        spec = real_spec(*args, **kwargs)
        masks = spec.masks.clone()
        u = spec.names.index("union")
        masks[u] &= ~spec.masks[spec.names.index("high")]
        return bands.RowSpec(spec.names, masks, spec.identity, spec.has_dc)

    monkeypatch.setattr(bands, "row_spec", union_without_high)
    broken = bands.band_logits(net, "layer3.2", x, y, batch_size=4, probe=probe, probe_grid=14)
    with pytest.raises(RuntimeError, match=r"control failed at layer 'layer3.2': .* the bands do not cover"):
        bands.check_controls(broken, "layer3.2", 1e-3)
