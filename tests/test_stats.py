"""Known-answer tests for blurscope.stats (neuron bootstrap, trends, effect sizes, adjustment)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from blurscope import stats


def test_bootstrap_sem_of_iid_neuron_means_is_sd_over_sqrt_n() -> None:
    rng = np.random.default_rng(0)
    n, sd = 400, 3.0
    values = rng.normal(10.0, sd, size=(n, 1))
    res = stats.neuron_bootstrap(values, iterations=4000, seed=1)
    assert res["mean"] == pytest.approx(values.mean())
    assert res["sem"] == pytest.approx(sd / np.sqrt(n), rel=0.08)
    assert res["ci_low"] < res["mean"] < res["ci_high"]
    # 95 % percentile interval of a normal mean: about ±1.96 SEM
    assert (res["ci_high"] - res["ci_low"]) / (2 * res["sem"]) == pytest.approx(1.96, rel=0.08)


def test_bootstrap_is_neuron_level_not_patch_level() -> None:
    # 16 identical patches per neuron: the uncertainty is that of 50 neurons, not 800 patches
    rng = np.random.default_rng(2)
    neuron = rng.normal(0.0, 1.0, size=(50, 1))
    values = np.repeat(neuron, 16, axis=1)
    res = stats.neuron_bootstrap(values, iterations=3000, seed=3)
    expected = neuron.std(ddof=0) / np.sqrt(50)
    assert res["sem"] == pytest.approx(expected, rel=0.1)
    assert res["sem"] > 3 * neuron.std() / np.sqrt(800)


def test_bootstrap_deterministic_and_seed_dependent() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(size=(30, 8, 3))
    a = stats.neuron_bootstrap(values, 500, seed=7)
    b = stats.neuron_bootstrap(values, 500, seed=7)
    c = stats.neuron_bootstrap(values, 500, seed=8)
    for key in ("mean", "sem", "ci_low", "ci_high"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["sem"], c["sem"])


def test_trailing_axes_bootstrap_like_separate_calls() -> None:
    rng = np.random.default_rng(5)
    spectra = rng.gamma(2.0, size=(20, 16, 2, 5))  # [neurons, patches, metric, bin]
    joint = stats.neuron_bootstrap(spectra, 300, seed=9, return_samples=True)
    assert joint["mean"].shape == (2, 5)
    assert joint["samples"].shape == (300, 2, 5)
    single = stats.neuron_bootstrap(spectra[:, :, 1, 3], 300, seed=9)
    for key in ("mean", "sem", "ci_low", "ci_high"):
        assert joint[key][1, 3] == pytest.approx(single[key])
    np.testing.assert_allclose(joint["mean"], spectra.mean(axis=(0, 1)))


def test_bootstrap_matches_explicit_resampling_loop() -> None:
    rng = np.random.default_rng(6)
    values = rng.normal(size=(12, 4))
    counts = stats.bootstrap_counts(12, 200, seed=11)
    assert counts.shape == (200, 12)
    assert (counts.sum(axis=1) == 12).all()
    means = values.mean(axis=1)
    loop = np.array([np.repeat(means, c).mean() for c in counts])
    res = stats.neuron_bootstrap(values, 200, seed=11, return_samples=True)
    np.testing.assert_allclose(res["samples"], loop)
    np.testing.assert_allclose(res["sem"], loop.std(ddof=1))
    np.testing.assert_allclose([res["ci_low"], res["ci_high"]], np.percentile(loop, [2.5, 97.5]))


def test_bootstrap_nan_patches_pool_remaining_patches() -> None:
    values = np.array([[1.0, 3.0], [5.0, np.nan]])
    res = stats.neuron_bootstrap(values, 50, seed=0)
    assert res["mean"] == pytest.approx(3.0)  # (1 + 3 + 5) / 3
    with pytest.raises(ValueError, match="n_neurons, n_patches"):
        stats.neuron_bootstrap(np.ones(5), 10, 0)
    with pytest.raises(ValueError, match="iterations"):
        stats.neuron_bootstrap(np.ones((5, 2)), 1, 0)


def test_spearman_matches_scipy_and_strong_trend_hits_floor() -> None:
    rng = np.random.default_rng(12)
    sigmas = [0, 0.5, 1, 2, 4]
    y = rng.normal(size=(5, 40)) - 0.8 * np.arange(5)[:, None]
    res = stats.spearman_trend(sigmas, y, n_permutations=999, seed=0)
    ref = spearmanr(np.repeat(sigmas, 40), y.ravel()).statistic
    assert res["rho"] == pytest.approx(ref)
    assert res["rho"] < -0.5
    assert res["p"] == pytest.approx(1 / 1000)  # no permutation reaches it


def test_spearman_permutation_p_is_calibrated_under_null() -> None:
    rng = np.random.default_rng(13)
    ps = []
    for k in range(200):
        y = rng.normal(size=(4, 10))
        ps.append(stats.spearman_trend([0, 1, 2, 3], y, n_permutations=199, seed=k)["p"])
    ps = np.array(ps)
    assert 0.01 <= (ps <= 0.05).mean() <= 0.10
    assert 0.4 <= np.median(ps) <= 0.6


def test_spearman_paired_permutation_has_more_power_with_neuron_offsets() -> None:
    # large between-neuron spread, small consistent within-neuron decrease
    rng = np.random.default_rng(14)
    offsets = rng.normal(0, 5, size=(1, 30))
    y = offsets - 0.3 * np.arange(4)[:, None] + rng.normal(0, 0.05, size=(4, 30))
    paired = stats.spearman_trend([0, 1, 2, 3], y, 999, seed=1, paired=True)
    free = stats.spearman_trend([0, 1, 2, 3], y, 999, seed=1, paired=False)
    assert paired["rho"] == free["rho"]
    assert paired["p"] == pytest.approx(0.001)
    assert free["p"] > 0.05


def test_spearman_bad_inputs() -> None:
    with pytest.raises(ValueError, match="n_sigma=3"):
        stats.spearman_trend([0, 1, 2], np.zeros((2, 5)), 10, 0)
    with pytest.raises(ValueError, match="two distinct"):
        stats.spearman_trend([1, 1], np.zeros((2, 5)), 10, 0)
    with pytest.raises(ValueError, match="NaN"):
        stats.spearman_trend([0, 1], np.full((2, 5), np.nan), 10, 0)


def test_cohens_d_known_values() -> None:
    assert stats.cohens_d([4, 5, 6], [1, 2, 3]) == pytest.approx(3.0)
    # unequal sizes: pooled variance ((2*1) + (3*(5/3)))/(3+4-2) = 7/5
    a, b = [1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]
    assert stats.cohens_d(a, b) == pytest.approx((2.0 - 3.5) / np.sqrt(7 / 5))
    assert stats.cohens_d([1, 1], [1, 1]) == 0.0
    assert np.isnan(stats.cohens_d([1, 1], [2, 2]))


def test_bonferroni_and_holm_known_values() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(stats.bonferroni(p), [0.04, 0.16, 0.12, 0.02])
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*.005, 3*.01, 2*.03, 1*.04 -> running max 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, 0.06, 0.02])
    big = np.array([0.5, 0.9, np.nan])
    np.testing.assert_allclose(stats.bonferroni(big), [1.0, 1.0, np.nan])
    np.testing.assert_allclose(stats.holm(big), [1.0, 1.0, np.nan])
    assert np.all(stats.holm(p) <= stats.bonferroni(p))


def test_tidy_bootstrap_table() -> None:
    rng = np.random.default_rng(15)
    values = rng.normal(size=(10, 4, 2)) + np.array([0.0, 100.0])
    df = stats.tidy_bootstrap(values, ["a", "b"], 200, seed=0)
    assert list(df.columns) == ["metric", "mean", "sem", "ci_low", "ci_high", "n_neurons", "n_patches"]
    assert df["mean"][1] == pytest.approx(values[:, :, 1].mean())
    assert (df["n_neurons"] == 10).all() and (df["n_patches"] == 40).all()


def test_spearman_many_sigmas_uses_sorting_path() -> None:
    # 10 sigma levels exceed the 8! permutation table: argsort-based permutations
    rng = np.random.default_rng(16)
    sigmas = np.arange(10) / 2
    trend = rng.normal(size=(10, 12)) - 0.5 * np.arange(10)[:, None]
    res = stats.spearman_trend(sigmas, trend, 499, seed=2)
    assert res["rho"] == pytest.approx(spearmanr(np.repeat(sigmas, 12), trend.ravel()).statistic)
    assert res["p"] == pytest.approx(1 / 500)
    null = stats.spearman_trend(sigmas, rng.normal(size=(10, 12)), 499, seed=3)
    assert null["p"] > 0.01


def test_spectrum_table_ratio_and_baseline_rows() -> None:
    rng = np.random.default_rng(17)
    freqs = np.array([0.1, 0.2, 0.3])
    base = rng.gamma(50.0, size=(40, 4, 3)) * np.array([4.0, 2.0, 1.0]) / 50
    model = rng.gamma(50.0, size=(30, 16, 3)) * np.array([4.0, 1.0, 0.25]) / 50  # less HF than baseline
    table = stats.spectrum_table(freqs, model, base, iterations=500, seed=0)
    assert list(table.columns) == ["bin", "freq", "mean", "sem", "ci_low", "ci_high", "ratio", "ratio_sem",
                                   "ratio_ci_low", "ratio_ci_high"]
    np.testing.assert_allclose(table["ratio"], model.mean(axis=(0, 1)) / base.mean(axis=(0, 1)))
    np.testing.assert_allclose(table["ratio"], [1.0, 0.5, 0.25], rtol=0.05)
    assert (table["ratio_ci_low"] < table["ratio"]).all() and (table["ratio"] < table["ratio_ci_high"]).all()
    self_table = stats.spectrum_table(freqs, base, None, iterations=500, seed=0)
    np.testing.assert_allclose(self_table["ratio"], 1.0)
    assert (self_table["ratio_ci_low"] < 1).all() and (self_table["ratio_ci_high"] > 1).all()


def _means_frame(rng: np.random.Generator, slope: float, n: int = 25) -> pd.DataFrame:
    rows = []
    for model, sigma in [("sigma0", 0.0), ("sigma1", 1.0), ("sigma2", 2.0), ("blurpool", 0.0)]:
        values = rng.normal(0, 1, n) + slope * sigma
        for layer in ("l1", "l2"):
            for metric, sign in (("edge_density", 1.0), ("noise", 0.0)):
                for neuron, v in enumerate(values):
                    rows.append({"layer": layer, "model": model, "neuron": neuron, "metric": metric,
                                 "value": v * (sign if sign else 0.0) + (rng.normal() if not sign else 0.0)})
    return pd.DataFrame(rows)


def test_trend_and_effects_tables() -> None:
    rng = np.random.default_rng(18)
    means = _means_frame(rng, slope=-1.5)
    summary_rows = []
    for (layer, model, metric), grp in means.groupby(["layer", "model", "metric"]):
        b = stats.neuron_bootstrap(grp["value"].to_numpy()[:, None], 300, 0)
        summary_rows.append({"layer": layer, "model": model, "metric": metric, "mean": b["mean"],
                             "ci_low": b["ci_low"], "ci_high": b["ci_high"]})
    trends = stats.trend_table(means, ["sigma0", "sigma1", "sigma2"], [0, 1, 2], 999, 0,
                               summary=pd.DataFrame(summary_rows))
    assert len(trends) == 4
    edge = trends[trends["metric"] == "edge_density"]
    assert (edge["rho"] < -0.5).all()
    np.testing.assert_allclose(edge["p_perm"], 0.001)
    np.testing.assert_allclose(edge["p_bonferroni"], 0.004)
    assert edge["cis_disjoint"].all()
    noise = trends[trends["metric"] == "noise"]
    assert (noise["p_holm"] >= noise["p_perm"]).all()
    effects = stats.effects_table(means, "sigma0", {"sigma0": 0.0, "sigma1": 1.0, "sigma2": 2.0, "blurpool": 0.0},
                                  300, 0)
    assert set(effects["model"]) == {"sigma1", "sigma2", "blurpool"}
    e2 = effects[(effects["metric"] == "edge_density") & (effects["model"] == "sigma2")]
    assert (e2["diff"] < 0).all() and (e2["diff_ci_high"] < 0).all() and (e2["cohens_d"] < -1).all()


def test_seed_table_formatting() -> None:
    assert stats.format_mean_sem(2.834, 0.13) == "2.83 ± 0.13"
    assert stats.format_mean_sem(20.5, 1.5) == "20.5 ± 1.5"
    assert stats.format_mean_sem(0.2712, 0.0213) == "0.271 ± 0.021"
    assert stats.format_mean_sem(0.999999974, 0.000000041) == "1.000 ± 0.000"
    summary = pd.DataFrame({"model": ["sigma0", "sigma0", "sigma6", "sigma6"], "metric": ["a", "b", "a", "b"],
                            "mean": [1.0, 2.0, 3.0, 4.0], "sem": [0.1, 0.2, 0.3, 0.4]})
    table = stats.seed_table(summary, ["sigma0", "sigma6"], ["a", "b"], labels={"sigma0": "0", "sigma6": "6"})
    assert table.to_dict("records") == [{"model": "0", "a": "1.00 ± 0.10", "b": "2.00 ± 0.20"},
                                        {"model": "6", "a": "3.00 ± 0.30", "b": "4.00 ± 0.40"}]
    md = stats.to_markdown(table)
    assert md.splitlines()[0] == "| model | a | b |"
    assert md.splitlines()[2] == "| 0 | 1.00 ± 0.10 | 2.00 ± 0.20 |"
    with pytest.raises(ValueError, match="lacks metric 'c'"):
        stats.seed_table(summary, ["sigma0"], ["c"])


def test_patch_matrix_reshapes_and_rejects_ragged() -> None:
    table = pd.DataFrame({"neuron": [7, 3, 7, 3], "patch": [1, 0, 0, 1], "a": [4.0, 1.0, 3.0, 2.0]})
    values, units = stats.patch_matrix(table, ["a"])
    np.testing.assert_array_equal(units, [3, 7])
    np.testing.assert_array_equal(values[..., 0], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="x.tsv: rows do not form a full"):
        stats.patch_matrix(table.iloc[:3], ["a"], source="x.tsv")
    with pytest.raises(ValueError, match="missing columns \\['b'\\]"):
        stats.patch_matrix(table, ["b"])
    lopsided = pd.DataFrame({"neuron": [3, 3, 3, 7], "patch": [0, 1, 2, 0], "a": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="full neuron x patch grid"):
        stats.patch_matrix(lopsided, ["a"])


def _run_script(name: str, tmp, input: dict, output: dict | list, params: dict, wildcards: dict | None = None) -> None:  # type: ignore[no-untyped-def]
    """Run a rule script with a stand-in for Snakemake's ``snakemake`` object."""
    import runpy
    import types
    from pathlib import Path

    class Files(list):
        pass

    def files(obj):  # type: ignore[no-untyped-def]
        out = Files(obj.values() if isinstance(obj, dict) else obj)
        for k, v in (obj.items() if isinstance(obj, dict) else []):
            setattr(out, k, v)
        return out

    sm = types.SimpleNamespace(input=files(input), output=files(output), params=types.SimpleNamespace(**params),
                               wildcards=types.SimpleNamespace(**(wildcards or {})),
                               log=[str(tmp / "logs" / f"{name}.log")], threads=1)
    script = Path(__file__).resolve().parents[1] / "workflow_scripts" / f"{name}.py"
    runpy.run_path(str(script), init_globals={"snakemake": sm})


def test_rule_scripts_end_to_end_show_the_blur_effect(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """spectra → complexity → patch_stats → figures on patches whose blur grows with σ."""
    import torch

    from blurscope import io
    from blurscope.blur import gaussian_blur

    rng = np.random.default_rng(20)
    models = {"sigma0": 0.0, "sigma2": 2.0, "sigma6": 6.0, "blurpool": 0.0}
    pairs = []
    for model, sigma in [*models.items(), ("baseline", 0.0)]:
        noise = torch.as_tensor(rng.uniform(0, 255, size=(12 * 8, 3, 18, 18)))
        blurred = gaussian_blur(noise, 0.3 + sigma * 0.3).numpy()
        patches = np.clip(np.round(blurred), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
        patches = patches.reshape(12, 8, 18, 18, 3)
        src = tmp_path / "patches" / f"{model}.npz"
        if model == "baseline":
            io.save_npz(src, patches=patches, image_ids=np.arange(12) + 500)
        else:
            io.save_npz(src, patches=patches, neurons=np.arange(12) * 5)
        spec, comp = tmp_path / "spectra" / f"{model}.npz", tmp_path / "complexity" / f"{model}.tsv"
        _run_script("spectra", tmp_path, {"patches": str(src)}, [str(spec)], {"cfg": {"n_bins": 0, "hf_cutoff": 0.25}})
        _run_script("complexity", tmp_path, {"patches": str(src)}, [str(comp)],
                    {"cfg": {"jpeg_quality": 95, "edge_threshold": 30, "wavelet": "db4", "wavelet_levels": 3},
                     "sigma": None if model == "baseline" else sigma}, {"model": model, "layer": "layer4.0"})
        pairs.append((model, str(comp), str(spec)))
    out = {k: str(tmp_path / "stats" / f"{k}.{'md' if k == 'table_md' else 'tsv'}")
           for k in ("summary", "spectra", "neuron_means", "trends", "effects", "table_tsv", "table_md")}
    _run_script("patch_stats", tmp_path,
                {"complexity": [c for _, c, _ in pairs], "spectra": [s for _, _, s in pairs]}, out,
                {"cfg": {"bootstrap_iterations": 300, "ci": 0.95, "n_permutations": 499, "seed": 0},
                 "pairs": [[m, "layer4.0"] for m, _, _ in pairs], "sigma_of": models,
                 "sigma_models": ["sigma0", "sigma2", "sigma6"], "table_layer": "layer4.0"})
    trends = pd.read_csv(out["trends"], sep="\t").set_index("metric")
    for metric in ("hf_fraction", "edge_density", "entropy", "edge_strength"):
        assert trends.loc[metric, "rho"] < -0.5
        assert trends.loc[metric, "p_perm"] == pytest.approx(1 / 500)
        assert bool(trends.loc[metric, "cis_disjoint"])
    assert trends.loc["compression_ratio", "rho"] > 0.5
    summary = pd.read_csv(out["summary"], sep="\t")
    assert set(summary["model"]) == {*models, "baseline"}
    spectra_tab = pd.read_csv(out["spectra"], sep="\t")
    high = spectra_tab[(spectra_tab["model"] == "sigma6")].sort_values("freq")["ratio"].to_numpy()
    assert high[-1] < 0.1 < high[0]  # blur removes high-frequency power relative to the baseline
    effects = pd.read_csv(out["effects"], sep="\t")
    assert set(effects["model"]) == {"sigma2", "sigma6", "blurpool"}
    assert (effects.query("model == 'sigma6' and metric == 'hf_fraction'")["cohens_d"] < -2).all()
    table = (tmp_path / "stats" / "table_md.md").read_text()
    assert "| 6 |" in table and "baseline (random patches)" in table
    figs = {"relative": str(tmp_path / "fig" / "rel.png"), "complexity": str(tmp_path / "fig" / "comp.png")}
    _run_script("spectra_figures", tmp_path, {"spectra": out["spectra"], "summary": out["summary"]}, figs,
                {"layer": "layer4.0", "plots": {"palette": "viridis", "dpi": 50, "font_size": 9}})
    assert all((tmp_path / "fig" / f).stat().st_size > 10_000 for f in ("rel.png", "comp.png"))


def test_effects_relative_change() -> None:
    rows = [{"layer": "l", "model": m, "neuron": n, "metric": "x", "value": v}
            for m, scale in (("sigma0", 1.0), ("sigma6", 0.5)) for n, v in enumerate(np.array([2.0, 4.0, 6.0]) * scale)]
    eff = stats.effects_table(pd.DataFrame(rows), "sigma0", {"sigma0": 0.0, "sigma6": 6.0}, 100, 0)
    assert eff["reference_mean"][0] == pytest.approx(4.0)
    assert eff["diff"][0] == pytest.approx(-2.0)
    assert eff["rel_change"][0] == pytest.approx(-0.5)
