"""Statistics of band-intervention results: the per-layer summary, the band centroid,
per-image files, the comparison across σ and its figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from blurscope.bands import intervention as bands
from blurscope.bands import stats as band_stats

# --------------------------------------------------------------------------
# summaries and the band centroid


def test_band_centroid() -> None:
    radius = np.array([0.0, 0.4, 0.8, 1.2])
    assert band_stats.band_centroid(np.array([1.0, 0, 0, 0]), radius) == 0.0
    assert band_stats.band_centroid(np.array([0, 0, 1.0, 1.0]), radius) == pytest.approx(1.0)
    assert np.isnan(band_stats.band_centroid(np.array([-0.1, 0, 0, 0]), radius))
    # empty band (NaN radius) gets no weight; vectorised over trailing axes
    got = band_stats.band_centroid(
        np.array([[1.0, 0.0], [5.0, 1.0], [1.0, 1.0], [0.0, 0.0]]), np.array([0.0, np.nan, 0.8, 1.2])
    )
    np.testing.assert_allclose(got, [0.4, 0.8])


def test_summary_ci_is_the_library_bootstrap_over_images() -> None:
    from blurscope import stats

    rng = np.random.default_rng(0)
    correct = rng.random((3, 50)) < np.array([[0.2], [0.5], [0.9]])
    rank = np.where(correct, 1.0, 3.0)
    run = bands.BandRun(["unmodified", "union", "empty"], {"own": correct}, {"own": rank}, (4, 4), 4, "repeat")
    table = band_stats.summarize(run, bands.band_table(4, 4, bands.DEFAULT_EDGES), iterations=500, seed=1)
    ref = stats.bootstrap_statistic(lambda m: m, correct.T.astype(float), 500, 1)
    np.testing.assert_allclose(table["accuracy"], correct.mean(1))
    np.testing.assert_allclose(table["accuracy_ci_low"], ref["ci_low"])
    np.testing.assert_allclose(table["accuracy_ci_high"], ref["ci_high"])
    assert (table["accuracy_ci_low"] < table["accuracy"]).all() and (
        table["accuracy"] < table["accuracy_ci_high"]
    ).all()
    assert table.equals(band_stats.summarize(run, bands.band_table(4, 4, bands.DEFAULT_EDGES), iterations=500, seed=1))


# --------------------------------------------------------------------------
# per-image files, comparison across σ, figures


def fake_run(n: int, low_acc: float, high_acc: float, seed: int) -> bands.BandRun:
    """A BandRun whose bands' accuracies fall (or rise) from low to high band."""
    rng = np.random.default_rng(seed)
    rows = list(bands.CONTROL_ROWS) + list(bands.DEFAULT_BAND_NAMES)
    p = [1.0, 1.0, 0.25, low_acc, (2 * low_acc + high_acc) / 3, (low_acc + 2 * high_acc) / 3, high_acc]
    correct = np.stack([rng.random(n) < pi for pi in p])
    rank = np.where(correct, 1.0, rng.integers(2, 5, size=correct.shape).astype(float))
    # 16x16: every default band holds samples beyond DC (check_band_layers)
    return bands.BandRun(rows, {"own": correct}, {"own": rank}, (16, 16), 4, "expand")


def test_save_load_and_shift_tables(tmp_path) -> None:
    table = bands.band_table(16, 16, bands.DEFAULT_EDGES)
    ids, labels = np.arange(200) + 1000, np.arange(200) % 4
    sig = {"sigma0": 0.0, "sigma2": 2.0, "sigma4": 4.0, "blurpool": 0.0}
    params = {"sigma0": (0.4, 0.9), "sigma2": (0.7, 0.5), "sigma4": (0.9, 0.3), "blurpool": (0.5, 0.5)}
    runs = {}
    for i, (model, (lo, hi)) in enumerate(params.items()):
        path = tmp_path / f"{model}.npz"
        band_stats.save_run(str(path), fake_run(200, lo, hi, seed=i), table, ids, labels)
        runs[(model, "layer1")] = band_stats.load_run(str(path))
    assert runs[("sigma0", "layer1")]["rows"][:3] == list(bands.CONTROL_ROWS)
    shift, trend = band_stats.shift_tables(
        runs, sig, reference="sigma0", antialiased={"blurpool": True}, iterations=300, seed=0
    )
    ref = shift[shift["model"] == "sigma0"]
    assert (ref["diff"] == 0).all() and (ref["diff_ci_low"] == 0).all() and (ref["reference"] == "sigma0").all()
    cen = shift[(shift["statistic"] == "centroid_rank")].set_index("model")["value"]
    assert cen["sigma0"] > cen["sigma2"] > cen["sigma4"]  # blur → lower bands
    d4 = shift[(shift["statistic"] == "centroid_acc") & (shift["model"] == "sigma4")].iloc[0]
    assert d4["diff_ci_high"] < 0 and d4["n_replicates"] == 1
    acc = shift[(shift["statistic"] == "accuracy") & (shift["band"] == "ultra-low")].set_index("model")
    assert acc.loc["sigma4", "diff"] > 0.3
    assert set(trend["statistic"]) == {"centroid_acc", "centroid_rank"}
    assert (trend["diff"] < 0).all() and (trend["n_runs"] == 3).all()
    assert list(trend.columns) == band_stats.TREND_COLUMNS
    # one run per σ: no between-run variance, so the contrast is stated, not tested (never an empty table)
    assert trend["p"].isna().all() and trend["note"].str.startswith("not testable: one training run").all()
    with pytest.raises(ValueError, match="reference_model"):
        band_stats.shift_tables(runs, sig, reference="sigma9")
    runs[("sigma2", "layer1")]["ids"] = ids[::-1].copy()
    with pytest.raises(ValueError, match="other images"):
        band_stats.shift_tables(runs, sig, reference="sigma0")
    np.savez(tmp_path / "bad.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="bad.npz"):
        band_stats.load_run(str(tmp_path / "bad.npz"))


def test_figures_are_written(tmp_path) -> None:
    from blurscope.bands import plot as plot_bands

    table = bands.band_table(16, 16, bands.DEFAULT_EDGES)
    frames, runs = [], {}
    for i, (model, s, lo, hi) in enumerate(
        [("sigma0", 0.0, 0.4, 0.9), ("sigma2", 2.0, 0.7, 0.5), ("sigma4", 4.0, 0.9, 0.3)]
    ):
        for layer in ["layer1", "layer2"]:
            run = fake_run(100, lo, hi, seed=i)
            run.correct["mlp"], run.rank["mlp"] = run.correct["own"], run.rank["own"]
            df = band_stats.summarize(run, table, iterations=50, seed=0)
            frames.append(df.assign(model=model, sigma=s, layer=layer))
            path = tmp_path / f"{model}_{layer}.npz"
            band_stats.save_run(str(path), run, table, np.arange(100), np.arange(100) % 4)
            runs[(model, layer)] = band_stats.load_run(str(path))
    summary = pd.concat(frames, ignore_index=True)
    for metric in ("accuracy", "gt_rank"):
        out = tmp_path / f"{metric}.png"
        plot_bands.band_sigma_figure(summary, metric, out)
        assert out.stat().st_size > 10_000
    shift, _ = band_stats.shift_tables(runs, {"sigma0": 0, "sigma2": 2, "sigma4": 4}, reference="sigma0", iterations=50)
    out = tmp_path / "shift.png"
    plot_bands.shift_figure(shift, out)
    assert out.stat().st_size > 10_000
    with pytest.raises(ValueError, match="metric"):
        plot_bands.band_sigma_figure(summary, "loss", tmp_path / "x.png")


def test_shift_tables_draw_no_centroid_from_bands_without_samples(tmp_path) -> None:
    ids, labels = np.arange(120), np.arange(120) % 4
    sig = {"sigma0": 0.0, "sigma2": 2.0, "sigma4": 4.0}
    runs = {}
    for layer, hw in (("layer1.0", (16, 16)), ("layer2.0", (8, 8))):
        table = bands.band_table(*hw, bands.DEFAULT_EDGES)
        for i, (model, (lo, hi)) in enumerate(zip(sig, [(0.4, 0.9), (0.7, 0.5), (0.9, 0.3)])):
            run = fake_run(120, lo, hi, seed=i)
            run.map_hw = hw
            path = tmp_path / f"{model}_{layer}.npz"
            band_stats.save_run(str(path), run, table, ids, labels)
            runs[(model, layer)] = band_stats.load_run(str(path))
    shift, trend = band_stats.shift_tables(runs, sig, reference="sigma0", iterations=100, seed=0)
    cen = shift[shift["statistic"].str.startswith("centroid")]
    ok, bad = cen[cen["layer"] == "layer1.0"], cen[cen["layer"] == "layer2.0"]
    assert ok["value"].notna().all() and (ok["note"] == "").all()
    assert bad["value"].isna().all() and bad["diff"].isna().all() and (bad["boot_defined"] == 0).all()
    assert bad["note"].str.contains(r"\['ultra-low'\] hold no frequency sample beyond DC at 8x8").all()
    # per-band accuracies stay (the summary flags the band by n_freqs); only the centroids go
    assert shift[(shift["layer"] == "layer2.0") & (shift["statistic"] == "accuracy")]["value"].notna().all()
    t = trend.set_index(["layer", "statistic"])
    assert np.isnan(t.loc[("layer2.0", "centroid_rank"), "diff"])
    assert "ultra-low" in t.loc[("layer2.0", "centroid_rank"), "note"]
    assert t.loc[("layer1.0", "centroid_rank"), "diff"] < 0
    assert "ultra-low" not in t.loc[("layer1.0", "centroid_rank"), "note"]


def test_shift_tables_resample_replicates_and_compare_with_filter_references(tmp_path) -> None:
    table = bands.band_table(16, 16, bands.DEFAULT_EDGES)
    ids, labels = np.arange(150), np.arange(150) % 4
    params = {"sigma0": (0.4, 0.9), "sigma0-seed1": (0.45, 0.85), "sigma2": (0.7, 0.5), "sigma4": (0.9, 0.3),
              "ref-sigma4": (0.6, 0.4)}
    sig = {"sigma0": 0.0, "sigma0-seed1": 0.0, "sigma2": 2.0, "sigma4": 4.0, "ref-sigma4": 4.0}
    runs = {}
    for i, (model, (lo, hi)) in enumerate(params.items()):
        path = tmp_path / f"{model}.npz"
        band_stats.save_run(str(path), fake_run(150, lo, hi, seed=i), table, ids, labels)
        runs[(model, "layer1")] = band_stats.load_run(str(path))
    shift, trend = band_stats.shift_tables(runs, sig, reference="sigma0", iterations=200, seed=0,
                                      group_of={"sigma0-seed1": "sigma0"},
                                      references={"sigma0": "sigma0", "sigma4": "ref-sigma4"})
    cen = shift[shift["statistic"] == "centroid_acc"].set_index(["model", "reference"])
    assert cen.loc[("sigma0", "sigma0"), "n_replicates"] == 2 and cen.loc[("sigma0", "sigma0"), "diff"] == 0
    assert cen.loc[("sigma0", "sigma0"), "diff_ci_low"] == 0 == cen.loc[("sigma0", "sigma0"), "diff_ci_high"]
    assert cen.loc[("sigma4", "ref-sigma4"), "diff"] < 0  # training moved the information lower than the filter did
    assert cen.loc[("sigma4", "sigma0"), "n_replicates_reference"] == 2
    one = [runs[(m, "layer1")] for m in ("sigma0", "sigma0-seed1")]
    assert cen.loc[("sigma0", "sigma0"), "value"] == pytest.approx(np.mean([
        band_stats.band_centroid(np.stack(list(band_stats._scores(d, "own", [3, 4, 5, 6])["centroid_acc"])).mean(-1),
                            d["mean_radius"][3:7]) for d in one]))
    t = trend.set_index("statistic").loc["centroid_acc"]
    assert t["n_runs"] == 4 and t["n_sigma"] == 3 and t["n_runs_max"] == 2  # the reference stays out
    assert t["diff"] < 0 and t["df"] == 1 and t["diff_ci_low"] <= t["diff"] <= t["diff_ci_high"]
