"""The run-level design (blurscope.stats.runs, docs/statistics.md "The design"): known answers against scipy,
the verdict vocabulary, Holm over the primary family, and the acceptance of issue 28 — a planted model-level
effect in simulated training runs, and a null, through the pipeline's own table functions at the default's
run count: size at about its nominal rate, power as docs/statistics.md states, interval coverage at about 95 %.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from blurscope import stats

REPO = Path(__file__).resolve().parents[1]


def _default_design() -> tuple[list[float], int, int]:
    """σ levels, runs per σ and the primary family's size of the embedded default (config/config.yaml)."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    sigmas = sorted(float(s) for s in cfg["sigmas"])
    seeds = int(cfg["training"]["seeds"])
    assert {float(s) for s in cfg["training"]["seed_sigmas"]} == set(sigmas), "the default replicates every σ"
    family = len(cfg["analysis"]["layers"]) * (len(stats.PRIMARY_PATCH_METRICS) + len(stats.PRIMARY_FEATVIS_METRICS))
    return sigmas, seeds, family


def _documented_power() -> dict[float, float]:
    """The power per effect size d that docs/statistics.md states for the default design (its table row)."""
    text = (REPO / "docs" / "statistics.md").read_text()
    m = re.search(r"<!-- default-power -->\s*\n\|[^\n]*\n\|[^\n]*\n\|([^\n]*)\|", text)
    assert m, "docs/statistics.md must hold the default design's power row after <!-- default-power -->"
    cells = [c.strip() for c in m.group(1).split("|")]
    head = re.search(r"<!-- default-power -->\s*\n\|([^\n]*)\|", text).group(1)
    ds = [float(h.split("=")[1]) for h in head.split("|") if h.strip().startswith("d =")]
    values = [float(c) for c in cells[1:1 + len(ds)]]
    return dict(zip(ds, values))


# --------------------------------------------------------------------------- known answers


def test_contrast_of_two_levels_is_students_t() -> None:
    a, b = np.array([0.22, 0.21, 0.25]), np.array([0.14, 0.15, 0.12])
    res = stats.sigma_contrast([0, 0, 0, 6, 6, 6], [*a, *b])
    ref = sps.ttest_ind(b, a, equal_var=True)
    assert res["diff"] == pytest.approx(b.mean() - a.mean())
    assert res["p"] == pytest.approx(ref.pvalue) and res["df"] == 4
    lo, hi = ref.confidence_interval(0.95)
    assert (res["diff_ci_low"], res["diff_ci_high"]) == pytest.approx((lo, hi))
    assert res["n_runs_sigma_min"] == 3 and res["n_runs_sigma_max"] == 3 and res["note"] == ""


def test_contrast_pools_the_variance_of_every_level() -> None:
    rng = np.random.default_rng(0)
    sig = np.repeat([0.0, 3.0, 6.0], 3)
    y = rng.normal(0, 1, 9) - sig / 6
    res = stats.sigma_contrast(sig, y)
    groups = [y[sig == s] for s in (0, 3, 6)]
    sd = math.sqrt(sum(((g - g.mean()) ** 2).sum() for g in groups) / 6)
    se = sd * math.sqrt(2 / 3)
    t = (groups[2].mean() - groups[0].mean()) / se
    assert res["df"] == 6 and res["sd_between"] == pytest.approx(sd)
    assert res["t"] == pytest.approx(t) and res["p"] == pytest.approx(2 * sps.t.sf(abs(t), 6))
    q = sps.t.ppf(0.975, 6)
    assert res["diff_ci_high"] - res["diff_ci_low"] == pytest.approx(2 * q * se)
    # the interval excludes 0 exactly when p < 0.05
    assert (res["p"] < 0.05) == (res["diff_ci_low"] > 0 or res["diff_ci_high"] < 0)
    mid = stats.sigma_contrast(sig, y, level=3.0)
    assert mid["diff"] == pytest.approx(groups[1].mean() - groups[0].mean()) and mid["df"] == 6


def test_contrast_states_what_the_design_cannot_test() -> None:
    one = stats.sigma_contrast([0, 2, 6], [0.3, 0.2, 0.1])  # one run per level
    assert math.isnan(one["p"]) and one["diff"] == pytest.approx(-0.2)
    assert one["note"].startswith("not testable: one training run per sigma level")
    single = stats.sigma_contrast([0, 0], [0.3, 0.2])
    assert math.isnan(single["diff"]) and "sigma level" in single["note"]
    assert stats.verdict(one["diff"], one["p"], note=one["note"]) == "not testable"


def test_run_difference_welch_and_paired_equal_scipy() -> None:
    a, b = np.array([1.0, 1.4, 0.9]), np.array([0.2, 0.5, 0.1, 0.4])
    w = stats.run_difference(a, b, paired=False)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert w["p"] == pytest.approx(ref.pvalue) and w["df"] == pytest.approx(ref.df)
    assert (w["diff_ci_low"], w["diff_ci_high"]) == pytest.approx(ref.confidence_interval(0.95))
    c = np.array([0.3, 0.6, 0.2])
    pr = stats.run_difference(a, c, paired=True)
    assert pr["p"] == pytest.approx(sps.ttest_rel(a, c).pvalue) and pr["test"] == "paired t over runs"
    lone = stats.run_difference([1.0], b, paired=False)
    assert math.isnan(lone["p"]) and lone["note"].startswith("not testable")


def test_verdict_vocabulary_and_holm_over_the_primary_family() -> None:
    assert stats.verdict(-0.1, 0.01, -0.2, -0.05) == "lower"
    assert stats.verdict(0.1, 0.01, 0.05, 0.2) == "higher"
    assert stats.verdict(0.1, 0.2, -0.05, 0.2) == "no detectable change"
    assert stats.verdict(0.1, 0.01, -0.05, 0.2) == "no detectable change"  # test and interval disagree
    assert stats.verdict(0.0, math.nan) == "not testable"
    assert stats.verdict(0.01, 0.5, note="uninformative: ceiling") == "uninformative"
    assert set(stats.VERDICTS) == {"lower", "higher", "no detectable change", "not testable", "uninformative"}
    rows = pd.DataFrame({"family": ["primary"] * 3 + ["exploratory"], "p": [0.01, 0.02, 0.04, 0.03],
                         "diff": [-1.0, -1.0, -1.0, -1.0], "diff_ci_low": [-2.0] * 4, "diff_ci_high": [-0.1] * 4,
                         "note": [""] * 4})
    out = stats.primary_family(rows)
    np.testing.assert_allclose(out["p_holm"][:3], [0.03, 0.04, 0.04])
    assert math.isnan(out["p_holm"][3])
    assert list(out["verdict"]) == ["lower", "lower", "lower", "lower"]
    rows.loc[2, "p"] = 0.3
    out = stats.primary_family(rows)
    assert list(out["verdict"]) == ["lower", "lower", "no detectable change", "lower"]


def test_tables_pair_references_with_their_own_sigma0_run() -> None:
    runs = pd.DataFrame({
        "model": ["sigma0", "sigma0-seed1", "sigma0-seed2", "ref-sigma6", "ref-sigma6-seed1", "ref-sigma6-seed2",
                  "sigma6", "sigma6-seed1", "sigma6-seed2", "blurpool", "blurpool-seed1"],
        "key": "m",
        "value": [1.0, 1.5, 0.7, 0.8, 1.3, 0.5, 0.2, 0.3, 0.25, 0.9, 1.1],
    })
    group_of = {m: m.split("-seed")[0] for m in runs["model"]}
    comparisons = [("filter", "ref-sigma6", "sigma0", True), ("learned", "sigma6", "ref-sigma6", False),
                   ("blurpool", "blurpool", "sigma0", False)]
    tab = stats.comparison_table(runs, ["key"], comparisons, group_of).set_index("comparison")
    # the filter on the same weights: every run drops by 0.2 whatever its seed, so the paired difference is exact
    assert tab.loc["filter", "diff"] == pytest.approx(-0.2) and tab.loc["filter", "n_runs"] == 3
    assert tab.loc["filter", "test"] == "paired t over runs"
    assert tab.loc["learned", "test"] == "Welch t over runs" and tab.loc["blurpool", "n_runs"] == 2
    sig = stats.sigma_table(runs[runs["model"].str.startswith("sigma")], ["key"], ["sigma0", "sigma6"],
                            {"sigma0": 0.0, "sigma6": 6.0}, group_of, primary={("m",)})
    assert sig.iloc[0]["family"] == "primary" and sig.iloc[0]["n_runs"] == 6


# --------------------------------------------------------------------------- acceptance: planted effect and null


def _simulated_runs(rng: np.random.Generator, sigmas: list[float], seeds: int, effect: float, tau: float,
                    n_neurons: int = 64, sd_neuron: float = 0.05) -> pd.DataFrame:
    """Neuron means of simulated training runs: run mean = effect·σ/σ_max + N(0, τ²), neurons around it."""
    models = [f"sigma{s:g}" + (f"-seed{k}" if k else "") for s in sigmas for k in range(seeds)]
    sig = np.repeat(np.asarray(sigmas, dtype=float), seeds)
    means = effect * sig / max(sigmas) + tau * rng.standard_normal(sig.size)
    values = means[:, None] + sd_neuron * rng.standard_normal((sig.size, n_neurons))
    return pd.DataFrame({"model": np.repeat(models, n_neurons), "layer": "layer4.0", "metric": "hf_fraction",
                         "neuron": np.tile(np.arange(n_neurons), sig.size), "value": values.ravel()})


def _pipeline_p(means: pd.DataFrame, sigmas: list[float]) -> dict:
    """The pipeline's path: run values (mean over neurons) → the σ table of the primary family."""
    runs = stats.run_values(means, ["layer", "metric"])
    group_of = {m: m.split("-seed")[0] for m in runs["model"]}
    series = [f"sigma{s:g}" for s in sigmas]
    tab = stats.sigma_table(runs, ["layer", "metric"], series, {g: float(g[5:]) for g in series}, group_of,
                            primary={("layer4.0", "hf_fraction")})
    return tab.iloc[0].to_dict()


def test_planted_effect_and_null_through_the_pipeline_at_the_default_design() -> None:
    sigmas, seeds, family = _default_design()
    power_doc = _documented_power()
    rng = np.random.default_rng(2028)
    tau, n_exp, d = 0.02, 400, 5.0
    sd_run = math.sqrt(tau**2 + 0.05**2 / 64)  # the between-run sd of a run's mean: training + neuron sampling
    null_rej = cover_null = planted_rej = cover_planted = 0
    for _ in range(n_exp):
        r0 = _pipeline_p(_simulated_runs(rng, sigmas, seeds, 0.0, tau), sigmas)
        null_rej += r0["p"] < 0.05
        cover_null += r0["diff_ci_low"] <= 0 <= r0["diff_ci_high"]
        eff = -d * sd_run
        r1 = _pipeline_p(_simulated_runs(rng, sigmas, seeds, eff, tau), sigmas)
        planted_rej += r1["p"] < 0.05 / family and r1["diff"] < 0
        cover_planted += r1["diff_ci_low"] <= eff <= r1["diff_ci_high"]
    se = math.sqrt(0.05 * 0.95 / n_exp)
    assert abs(null_rej / n_exp - 0.05) < 3 * se  # nominal size
    assert abs(cover_null / n_exp - 0.95) < 3 * se and abs(cover_planted / n_exp - 0.95) < 3 * se
    p_doc = power_doc[d]  # the power docs/statistics.md states at d = 5 (Holm's smallest threshold α/m)
    assert abs(planted_rej / n_exp - p_doc) < 3 * math.sqrt(p_doc * (1 - p_doc) / n_exp) + 0.01


def test_simulated_design_reproduces_the_documented_power_and_coverage() -> None:
    sigmas, seeds, family = _default_design()
    power_doc = _documented_power()
    ds = sorted(power_doc)
    res = stats.simulate_design(sigmas, seeds, ds, 1.0, n_sim=20000, seed=7, family_size=family)
    for d, got in zip(ds, res["reject"]):
        assert got == pytest.approx(power_doc[d], abs=0.015), f"power at d = {d}"
    null = stats.simulate_design(sigmas, seeds, 0.0, 1.0, n_sim=20000, seed=8)
    assert null["reject_alpha"] == pytest.approx(0.05, abs=0.005) and null["coverage"] == pytest.approx(0.95, abs=0.005)
    assert min(res["coverage"]) > 0.94
