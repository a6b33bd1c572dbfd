"""Fixtures of the report tests: a small results folder with every stage's tables and figures.

``results`` writes tables with known values (written so that some effects are
significant and some are not) for every stage the report reads, one PNG per
figure the rules register, the resolved config and pipeline_info; ``inputs``
maps them to the report rule's input names, as rules/report.smk does.

The tables have the columns of docs/statistics.md. σ = 0 has two training runs
(``sigma0``, ``sigma0-seed1``: group ``sigma0``), every other model one; σ = 6 has a
filter-only reference ``ref-sigma6`` (the σ = 0 network behind the σ = 6 blur), so the
tables hold the rows of a trained model against its reference and of the reference
against σ = 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from blurscope import report as R

REPO = Path(__file__).resolve().parents[2]
CAPTIONS = sorted((REPO / "report").glob("*.rst"))
LAYERS = ["layer2.0", "4.2"]  # "4.2": a layer name that must stay a string
PER_LAYER_FIGURES = (
    "all_neurons_grid",
    "representative_neurons_grid",
    "patch_methods",
    "featvis_grid",
    "featvis_spectra",
    "models_relative_to_baseline",
    "models_complexity_comparison",
)
FIGURES = (
    "accuracy_matrix",
    "stem_hf",
    "aliasing_layers",
    "aliasing_sis_sigma",
    "aliasing_avr_sis",
    "aliasing_sweep",
    "bands_accuracy",
    "bands_gt_rank",
    "bands_shift",
    "frequency_preference",
    "frequency_shape_bias",
    "frequency_corruption_vs_frev",
    "frequency_corruption_heatmap",
    "saliency_overlays",
    "saliency_distances",
    "saliency_activations",
)
# input name -> path below results/ (as rules/report.smk names them)
TABLES = {
    "accuracy_table": "evaluation/accuracy_matrix.tsv",
    **{f"representative/{layer}": f"patches/representative_{layer}.tsv" for layer in LAYERS},
    "patch_summary": "stats/patch_summary.tsv",
    "patch_spectra": "stats/patch_spectra.tsv",
    "patch_trends": "stats/patch_trends.tsv",
    "patch_effects": "stats/patch_effects.tsv",
    "complexity_table": "stats/complexity_table.tsv",
    "aliasing_summary": "aliasing/stats/summary.tsv",
    "aliasing_paired": "aliasing/stats/paired.tsv",
    "aliasing_sigma_trend": "aliasing/stats/sigma_trend.tsv",
    "aliasing_correlation": "aliasing/stats/correlation.tsv",
    "band_summary": "bands/band_summary.tsv",
    "band_trend": "bands/band_trend.tsv",
    "band_shift": "bands/band_shift.tsv",
    "frequency_summary": "frequency/summary.tsv",
    "frequency_trends": "frequency/trends.tsv",
    "frequency_reference": "frequency/reference.tsv",
    "saliency_stats": "saliency/stats.tsv",
    "training": "evaluation/training.tsv",
    "stem_table": "evaluation/stem_hf.tsv",
    "featvis_summary": "featvis/summary.tsv",
    "featvis_trends": "featvis/trends.tsv",
    "featvis_effects": "featvis/effects.tsv",
    "featvis_runs": "featvis/runs.tsv",
    "findings": "stats/findings.tsv",
    "config": "pipeline_info/config.yaml",
    "git": "pipeline_info/git.txt",
    "versions": "pipeline_info/versions.tsv",
    "rulegraph": "pipeline_info/rulegraph.dot",
    "benchmarks": "pipeline_info/benchmarks.tsv",
}


def _png(path: Path, w: int = 40, h: int = 30) -> None:
    """A small random RGB PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _tsv(path: Path, rows: list[dict]) -> None:
    """``rows`` as a TSV table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)


CONFIG = {
    "sigmas": [0, 2, 6],
    "analysis": {"layers": LAYERS, "n_images": 120, "split": "val", "seed": 0},
    "dataset": {"kind": "embedded", "image_size": 32, "embedded": {"n_classes": 4, "seed": 0}},
    "model": {"arch": "resnet_narrow"},
    "stats": {"ci": 0.95, "bootstrap_iterations": 200, "n_permutations": 199},
    "spectra": {"hf_cutoff": 0.25},
    "bands": {"names": ["low", "mid", "high"], "edges": [0, 0.25, 0.5, 1.0], "reference_model": "sigma0"},
    "saliency": {"expert_sigma": 2, "top_k_pixels": 10},
    "report": {"title": "Test report", "alpha": 0.05, "author": "A. Tester"},
}


def _trend(layer: str, metric: str, rho: float, p_holm: float, lo: float, hi: float) -> dict:
    """One row of stats/patch_trends.tsv (mean ``hi`` at σ = 0 over its 2 runs, ``lo`` at σ = 6, CIs ±0.01;
    4 models at 3 σ, model-level permutation p; CI of ρ ±0.1)."""
    return {
        "layer": layer,
        "metric": metric,
        "rho": rho,
        "rho_ci_low": rho - 0.1,
        "rho_ci_high": rho + 0.1,
        "p": p_holm / 2,
        "p_bonferroni": p_holm,
        "p_holm": p_holm,
        "permutation_unit": "model",
        "n_sigma": 3,
        "n_models": 4,
        "n_replicates_min": 1,
        "n_replicates_max": 2,
        "n_neurons": 6,
        "n_permutations": 24,
        "sigma_min": 0,
        "mean_sigma_min": hi,
        "mean_sigma_min_ci_low": hi - 0.01,
        "mean_sigma_min_ci_high": hi + 0.01,
        "n_replicates_sigma_min": 2,
        "sigma_max": 6,
        "mean_sigma_max": lo,
        "mean_sigma_max_ci_low": lo - 0.01,
        "mean_sigma_max_ci_high": lo + 0.01,
        "n_replicates_sigma_max": 1,
        "cis_disjoint": True,
    }


def _effect(layer: str, model: str, reference: str, diff: float, lo: float, hi: float, paired: bool, **kw) -> dict:
    """One hf_fraction row of stats/patch_effects.tsv: ``model`` − ``reference`` = ``diff`` [lo, hi]."""
    ref_mean = 0.3
    return {
        "layer": layer,
        "metric": kw.pop("metric", "hf_fraction"),
        "model": model,
        "sigma": kw.pop("sigma", 0),
        "reference": reference,
        "mean": ref_mean + diff,
        "ci_low": ref_mean + diff - 0.02,
        "ci_high": ref_mean + diff + 0.02,
        "reference_mean": ref_mean,
        "reference_ci_low": ref_mean - 0.02,
        "reference_ci_high": ref_mean + 0.02,
        "diff": diff,
        "diff_sem": 0.01,
        "diff_ci_low": lo,
        "diff_ci_high": hi,
        "rel_change": diff / ref_mean,
        "cohens_d": kw.pop("cohens_d", 1.0),
        "paired": paired,
        "n_neurons": 6,
        "n_neurons_reference": 6,
        "n_replicates": kw.pop("n_replicates", 1),
        "n_replicates_reference": kw.pop("n_replicates_reference", 2),
    }


def _paired(
    model: str,
    reference: str,
    point: str,
    metric: str,
    ref_mean: float,
    mean: float,
    lo: float,
    hi: float,
    p_holm: float,
    n_replicates: int = 1,
    n_replicates_reference: int = 2,
    layer: str | None = None,
) -> dict:
    """One row of aliasing/stats/paired.tsv: ``mean`` − ``ref_mean`` with its CI [lo, hi], over 120 images."""
    diff = mean - ref_mean
    return {
        "model": model,
        "sigma": 6 if "sigma6" in model else 0,
        "antialiased": int(model == "blurpool"),
        "reference": reference,
        "point": point,
        "ref_layer": point,
        "layer": layer or point,
        "metric": metric,
        "n_images": 120,
        "n_replicates": n_replicates,
        "n_replicates_reference": n_replicates_reference,
        "mean": mean,
        "reference_mean": ref_mean,
        "diff": diff,
        "diff_sem": abs(hi - lo) / 4,
        "diff_ci_low": lo,
        "diff_ci_high": hi,
        "rel_change": diff / ref_mean if ref_mean else float("nan"),
        "d_z": 0.8,
        "rank_biserial": 0.5,
        "w": 100.0,
        "p": p_holm / 2,
        "p_holm": p_holm,
    }


# the run-level tables (docs/statistics.md "The design"): every claim about σ is a test over training runs.
# Runs: σ 0, σ 6 and BlurPool twice, σ 2 once; a filter-only reference on each σ 0 run.
RUN_MODELS = {"sigma0": 0.0, "sigma0-seed1": 0.0, "sigma2": 2.0, "sigma6": 6.0, "sigma6-seed1": 6.0,
              "blurpool": 0.0, "blurpool-seed1": 0.0, "ref-sigma6": 6.0, "ref-sigma6-seed1": 6.0}
GROUP_OF = {m: m.split("-seed")[0] for m in RUN_MODELS}
SERIES = ["sigma0", "sigma2", "sigma6"]
ORDER = ["sigma0", "sigma0-seed1", "sigma2", "sigma6", "sigma6-seed1", "blurpool", "blurpool-seed1", "ref-sigma6",
         "ref-sigma6-seed1"]
# run values per (layer, metric), in ORDER: layer2.0 HF power and edge density fall with σ (primary findings),
# entropy and every layer-"4.2" measure do not move
PATCH_RUNS = {
    ("layer2.0", "hf_fraction"): [0.31, 0.30, 0.25, 0.18, 0.19, 0.37, 0.38],
    ("layer2.0", "edge_density"): [0.60, 0.58, 0.50, 0.45, 0.40, 0.60, 0.62],
    ("layer2.0", "entropy"): [5.50, 5.60, 5.50, 5.52, 5.58, 5.50, 5.55],
    ("4.2", "hf_fraction"): [0.22, 0.20, 0.21, 0.21, 0.22, 0.21, 0.20],
    ("4.2", "edge_density"): [0.56, 0.58, 0.57, 0.58, 0.55, 0.57, 0.56],
    ("4.2", "entropy"): [5.40, 5.50, 5.45, 5.42, 5.49, 5.44, 5.46],
}
FEATVIS_RUNS = {("layer2.0", "hf_fraction"): [0.20, 0.21, 0.15, 0.08, 0.07, 0.2, 0.19],
                ("4.2", "hf_fraction"): [0.15, 0.16, 0.16, 0.155, 0.165, 0.15, float("nan")]}
# deployed measures (every model, references included), in ORDER: SIS falls with σ and under BlurPool; the
# filter alone lowers f_0.5, training does not change it further; the shape bias sits at its ceiling
DEPLOYED_RUNS = {
    "sis": [0.0024, 0.0025, 0.0018, 0.0012, 0.0013, 0.0013, 0.0012, 0.0016, 0.0017],
    "consistency": [0.90, 0.91, 0.92, 0.95, 0.94, 0.97, 0.96, 0.93, 0.92],
    "f_rev_cpp": [0.30, 0.29, 0.20, float("nan"), 0.12, 0.25, 0.26, 0.20, 0.21],
    "f_half_cpp": [0.20, 0.21, 0.15, 0.11, 0.112, 0.10, 0.11, 0.11, 0.111],
    "shape_bias": [0.97, 0.975, 0.98, 0.985, 0.98, 0.97, 0.975, 0.98, 0.978],
    "clean_acc": [0.80, 0.81, 0.78, 0.60, 0.62, 0.81, 0.80, 0.55, 0.56],
    "corruption_acc": [0.50, 0.52, 0.50, 0.45, 0.46, 0.51, 0.50, 0.40, 0.41],
}


def _long(values: dict, models: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{"model": m, "layer": k[0], "metric": k[1], "value": v}
                         for k, vals in values.items() for m, v in zip(models, vals)])


def _run_level_tables(res: Path) -> None:
    """The run-level stage tables and results/stats/findings.tsv, made by the pipeline's own functions."""
    from blurscope import stats
    from blurscope.stats import findings as F

    sig_group = {g: RUN_MODELS[g] for g in set(GROUP_OF.values())}
    trained = ORDER[:7]
    patch = _long(PATCH_RUNS, trained)
    primary = {(la, m) for la in LAYERS for m in stats.PRIMARY_PATCH_METRICS}
    trends = stats.sigma_table(patch, ["layer", "metric"], SERIES, sig_group, GROUP_OF, primary=primary)
    trends["n_neurons"] = 6
    effects = pd.concat([stats.sigma_effects(patch, ["layer", "metric"], SERIES, sig_group, GROUP_OF),
                         stats.comparison_table(patch, ["layer", "metric"], [("blurpool", "blurpool", "sigma0", False)],
                                                GROUP_OF, sig_group)], ignore_index=True)
    _tsv(res / "stats" / "patch_trends.tsv", trends.to_dict("records"))
    _tsv(res / "stats" / "patch_effects.tsv", effects.to_dict("records"))
    fv = _long(FEATVIS_RUNS, trained)
    fv_trends = stats.sigma_table(fv, ["layer", "metric"], SERIES, sig_group, GROUP_OF,
                                  primary={(la, "hf_fraction") for la in LAYERS})
    fv_effects = stats.sigma_effects(fv, ["layer", "metric"], SERIES, sig_group, GROUP_OF)
    _tsv(res / "featvis" / "trends.tsv", fv_trends.to_dict("records"))
    _tsv(res / "featvis" / "effects.tsv", fv_effects.to_dict("records"))
    _tsv(res / "featvis" / "runs.tsv", fv.assign(group=fv["model"].map(GROUP_OF),
                                                 n_units=[0 if np.isnan(v) else 12 for v in fv["value"]])
         .to_dict("records"))
    dep = pd.DataFrame([{"model": m, "metric": k, "value": v} for k, vals in DEPLOYED_RUNS.items()
                        for m, v in zip(ORDER, vals)])
    al = dep[dep["metric"].isin(["sis", "consistency"])].assign(point="output")
    al = pd.concat([al, pd.DataFrame([{"model": m, "metric": "avr_radial", "point": "maxpool",
                                       "value": 0.03 + 0.001 * i} for i, m in enumerate(ORDER)])], ignore_index=True)
    al_std = al[al["model"].map(GROUP_OF).isin(SERIES)]
    al_trend = stats.sigma_table(al_std, ["point", "metric"], SERIES, sig_group, GROUP_OF)
    al_trend.insert(2, "sigmas", "0,2,6")
    al_trend["mean_blurpool"] = 0.0013
    _tsv(res / "aliasing" / "stats" / "sigma_trend.tsv", al_trend.to_dict("records"))
    _tsv(res / "aliasing" / "stats" / "runs.tsv", al.to_dict("records"))
    freq = dep[~dep["metric"].isin(["sis", "consistency"])].pivot(index="model", columns="metric", values="value")
    freq["corruption_rel"] = freq["corruption_acc"] / freq["clean_acc"]
    freq = freq.reset_index()
    freq["sigma"] = freq["model"].map(RUN_MODELS)
    freq_trends = stats.sigma_table(
        freq[freq["model"].str.startswith("sigma")].melt(id_vars=["model"], value_vars=[
            "f_rev_cpp", "f_half_cpp", "shape_bias", "corruption_acc", "corruption_rel", "clean_acc"],
            var_name="y", value_name="value"), ["y"], SERIES, sig_group, GROUP_OF)
    freq_trends.insert(0, "x", "sigma")
    _tsv(res / "frequency" / "trends.tsv", freq_trends.to_dict("records"))
    band = pd.DataFrame([{"model": m, "layer": "layer2.0", "key": "centroid_acc_own", "value": v}
                         for m, v in zip(trained[:5], [0.5, 0.48, 0.4, 0.3, 0.31])])
    band_trend = stats.sigma_table(band, ["layer", "key"], SERIES, sig_group, GROUP_OF)
    band_trend = band_trend.drop(columns="key").assign(head="own", statistic="centroid_acc", sigmas="0,0,2,6,6")
    _tsv(res / "bands" / "band_trend.tsv", band_trend.to_dict("records"))
    stem = pd.DataFrame([{"model": m, "group": GROUP_OF[m], "sigma": RUN_MODELS[m], "weights": "trained",
                          "n_channels": 16, "hf_cutoff": 0.25, "mean": v, "sem": 0.01, "ci_low": v - 0.02,
                          "ci_high": v + 0.02} for m, v in zip(trained, [0.32, 0.34, 0.25, 0.19, 0.2, 0.3, 0.31])]
                        + [{"model": "sigma0", "group": "sigma0", "sigma": 0.0, "weights": "init", "n_channels": 16,
                            "hf_cutoff": 0.25, "mean": 0.81, "sem": 0.01, "ci_low": 0.79, "ci_high": 0.83}])
    _tsv(res / "evaluation" / "stem_hf.tsv", stem.to_dict("records"))
    table = F.findings(
        patch_trends=trends, patch_effects=effects, featvis_trends=fv_trends, featvis_effects=fv_effects,
        aliasing_trend=al_trend, aliasing_runs=al, frequency_trends=freq_trends, frequency_summary=freq,
        band_trend=band_trend, stem=stem, sigma_of=RUN_MODELS, group_of=GROUP_OF, series=SERIES,
        references={"ref-sigma6": "sigma6"}, blurpool=["blurpool"], sources={"patch_trends": "stats/patch_trends.tsv"})
    _tsv(res / "stats" / "findings.tsv", table.to_dict("records"))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A results folder with every stage's tables (known values), one PNG per figure, pipeline_info."""
    res = tmp_path / "results"
    acc = []
    for m, s, a in (("sigma0", 0, 0.8), ("sigma2", 2, 0.78), ("sigma6", 6, 0.6), ("blurpool", 0, 0.81)):
        for t, drop in ((0, 0.0), (2, 0.1), (6, 0.4)):
            v = a - (drop if s < t else 0)
            acc.append(
                {
                    "model": m,
                    "train_sigma": s,
                    "test_sigma": t,
                    "test_sigma_px": t * 32 / 224,
                    "accuracy": v,
                    "n": 500,
                    "ci_low": v - 0.03,
                    "ci_high": v + 0.03,
                }
            )
        (res / "models").mkdir(parents=True, exist_ok=True)
        (res / "models" / f"{m}.json").write_text(
            json.dumps(
                {
                    "model_id": m,
                    "sigma": s,
                    "sigma_px": s * 32 / 224,
                    "antialiased": m == "blurpool",
                    "num_classes": 4,
                    "arch": "resnet_narrow",
                    "image_size": 32,
                    "parent": "sigma0" if s else None,
                }
            )
        )
    _tsv(res / "evaluation" / "accuracy_matrix.tsv", acc)
    # layer2.0: HF fraction falls significantly; layer "4.2" (a name that must stay a string): not significant
    _tsv(
        res / "stats" / "patch_trends.tsv",
        [
            _trend("layer2.0", "hf_fraction", -0.83, 0.002, 0.18, 0.31),
            _trend("layer2.0", "edge_density", -0.5, 0.04, 0.4, 0.6),
            _trend("4.2", "hf_fraction", -0.09, 0.62, 0.2, 0.22),
            _trend("4.2", "edge_density", 0.14, 0.44, 0.58, 0.56),
        ],
    )
    spec, summ, eff = [], [], []
    groups = {"sigma0-seed1": "sigma0"}
    for layer in ("layer2.0", "4.2"):
        for m in ("sigma0", "sigma0-seed1", "sigma2", "sigma6", "ref-sigma6", "blurpool", "baseline"):
            for b, f in enumerate((0.1, 0.3, 0.47)):
                r = 1.0 if m == "baseline" else 1.5 - 0.1 * b
                spec.append(
                    {
                        "model": m,
                        "group": groups.get(m, m),
                        "sigma": 6 if "sigma6" in m else 0,
                        "layer": layer,
                        "bin": b,
                        "freq": f,
                        "mean": 10.0,
                        "sem": 1,
                        "ci_low": 8,
                        "ci_high": 12,
                        "ratio": r,
                        "ratio_sem": 0.1,
                        "ratio_ci_low": r - 0.2,
                        "ratio_ci_high": r + 0.2,
                    }
                )
            summ.append(
                {
                    "model": m,
                    "group": groups.get(m, m),
                    "sigma": 6 if "sigma6" in m else 0,
                    "layer": layer,
                    "metric": "hf_fraction",
                    "mean": 0.3,
                    "sem": 0.01,
                    "ci_low": 0.28,
                    "ci_high": 0.32,
                    "n_neurons": 6,
                    "n_patches": 24,
                    "n_replicates": 1,
                }
            )
        # BlurPool (1 run, its own neurons) raises the HF fraction against σ = 0 (2 runs); in layer2.0 the σ = 6
        # blur filter alone lowers it, and training with the blur changes it no further (CI includes 0)
        eff += [
            _effect(layer, "blurpool", "sigma0", 0.072, 0.047, 0.09, False, cohens_d=1.9),
            _effect(layer, "sigma6", "sigma0", -0.07, -0.09, -0.05, False, sigma=6, cohens_d=-2.1),
        ]
        if layer == "layer2.0":
            eff += [
                _effect(layer, "sigma0", "sigma0", 0.0, 0.0, 0.0, False, n_replicates=2),
                _effect(layer, "sigma6", "ref-sigma6", -0.02, -0.04, 0.01, False, sigma=6, n_replicates_reference=1),
                _effect(layer, "ref-sigma6", "sigma0", -0.05, -0.07, -0.03, True, sigma=6),
            ]
    _tsv(res / "stats" / "patch_spectra.tsv", spec)
    _tsv(res / "stats" / "patch_summary.tsv", summ)
    _tsv(res / "stats" / "patch_effects.tsv", eff)
    # the complexity table: one row per replicate group (σ = 0: 2 runs) and the random-patch baseline
    _tsv(
        res / "stats" / "complexity_table.tsv",
        [
            {
                "model": g,
                "sigma": s,
                "layer": "layer2.0",
                "n_replicates": n,
                "entropy_mean": e,
                "entropy_sem": 0.05,
                "hf_fraction_mean": h,
                "hf_fraction_sem": 0.01,
            }
            for g, s, n, e, h in (
                ("sigma0", 0, 2, 6.1, 0.31),
                ("sigma6", 6, 1, 5.2, 0.18),
                ("baseline", None, 1, 6.4, 0.35),
            )
        ],
    )
    # aliasing: BlurPool lowers SIS significantly; the σ = 6 blur filter alone lowers SIS, training with it
    # changes SIS no further (CI includes 0, p > α)
    summary_rows = []
    for m, g, v in (
        ("sigma0", "sigma0", 0.0023),
        ("sigma0-seed1", "sigma0", 0.0025),
        ("blurpool", "blurpool", 0.0013),
        ("sigma6", "sigma6", 0.0012),
        ("ref-sigma6", "ref-sigma6", 0.0016),
    ):
        summary_rows.append(
            {
                "model": m,
                "group": g,
                "sigma": 6 if "sigma6" in m else 0,
                "antialiased": int(m == "blurpool"),
                "point": "output",
                "layer": "output",
                "metric": "sis",
                "mean": v,
                "sd": 0.001,
                "sem": 0.0001,
                "ci_low": v * 0.8,
                "ci_high": v * 1.2,
                "n_images": 120,
            }
        )
    _tsv(res / "aliasing" / "stats" / "summary.tsv", summary_rows)
    _tsv(
        res / "aliasing" / "stats" / "paired.tsv",
        [
            _paired("blurpool", "sigma0", "output", "sis", 0.0024, 0.0013, -0.002, -0.0002, 0.0019),
            _paired(
                "blurpool", "sigma0", "maxpool", "avr_radial", 0.031, 0.014, -0.019, -0.015, 1e-9, layer="maxpool.1"
            ),
            _paired("sigma6", "sigma0", "output", "sis", 0.0024, 0.0012, -0.0016, -0.0008, 0.001),
            _paired("ref-sigma6", "sigma0", "output", "sis", 0.0024, 0.0016, -0.0012, -0.0004, 0.003),
            _paired("sigma0", "sigma0", "output", "sis", 0.0024, 0.0024, 0.0, 0.0, 1.0, n_replicates=2),
            _paired("sigma6", "ref-sigma6", "output", "sis", 0.0016, 0.0012, -0.0007, 0.0001, 0.2, 1, 1),
        ],
    )
    _tsv(
        res / "aliasing" / "stats" / "sigma_trend.tsv",
        [
            {
                "point": p,
                "metric": met,
                "sigmas": "0,2,6",
                "rho": rho,
                "rho_ci_low": rho - 0.1,
                "rho_ci_high": min(rho + 0.1, 1.0),
                "p": ph / 2,
                "permutation_unit": "unit",
                "n_models": 4,
                "n_sigma": 3,
                "n_replicates_min": 1,
                "n_replicates_max": 2,
                "n_permutations": 999,
                "mean_sigma_min": lo,
                "n_replicates_sigma_min": 2,
                "mean_sigma_max": hi,
                "n_replicates_sigma_max": 1,
                "mean_blurpool": 0.0013,
                "p_holm": ph,
            }
            for p, met, rho, ph, lo, hi in (
                ("output", "sis", -0.6, 0.002, 0.0024, 0.0012),
                ("maxpool", "avr_radial", -0.1, 0.5, 0.031, 0.03),
            )
        ],
    )
    _tsv(
        res / "aliasing" / "stats" / "correlation.tsv",
        [
            {
                "model": "sigma0",
                "group": "sigma0",
                "sigma": 0,
                "antialiased": 0,
                "point": "maxpool",
                "layer": "maxpool",
                "region": "radial",
                "n_images": 120,
                "rho": 0.35,
                "p": 0.001,
                "rho_ci_low": 0.2,
                "rho_ci_high": 0.5,
                "pearson_r": 0.4,
                "pearson_p": 0.0005,
                "pearson_r_ci_low": 0.25,
                "pearson_r_ci_high": 0.55,
                "r2": 0.16,
                "n_permutations": 999,
                "p_holm": 0.001,
                "pearson_p_holm": 0.0005,
            }
        ],
    )
    # saliency: the classifier effect differs from the noise floor (distance up, IoU down) but does not
    # exceed the input effect
    sal = dict(unit="px", n_images=8, diff_sem=0.2, d_z=1.0, rank_biserial=0.5, w=30.0, significant=True)
    _tsv(
        res / "saliency" / "stats.tsv",
        [
            {
                **sal,
                "test": "vs_noise_floor",
                "comparison": "naive_vs_expert_blurred",
                "reference": "noise_floor",
                "metric": "nn_distance",
                "alternative": "greater",
                "mean": 3.0,
                "reference_mean": 1.0,
                "diff": 2.0,
                "rel_change": 2.0 / 1.0,
                "diff_ci_low": 1.2,
                "diff_ci_high": 2.8,
                "p": 0.0005,
                "p_holm": 0.001,
            },
            {
                **sal,
                "unit": "1",
                "test": "vs_noise_floor",
                "comparison": "naive_vs_expert_blurred",
                "reference": "noise_floor",
                "metric": "iou",
                "alternative": "less",
                "mean": 0.3,
                "reference_mean": 0.5,
                "diff": -0.2,
                "rel_change": -0.2 / 0.5,
                "diff_ci_low": -0.3,
                "diff_ci_high": -0.1,
                "p": 0.002,
                "p_holm": 0.004,
            },
            {
                **sal,
                "test": "classifier_vs_input_naive",
                "comparison": "naive_vs_expert_blurred",
                "reference": "naive_clear_vs_blurred",
                "metric": "nn_distance",
                "alternative": "greater",
                "mean": 2.0,
                "reference_mean": 1.7,
                "diff": 0.3,
                "rel_change": 0.3 / 1.7,
                "diff_ci_low": -0.2,
                "diff_ci_high": 0.8,
                "p": 0.15,
                "p_holm": 0.3,
                "significant": False,
            },
        ],
    )
    # features: the representative neurons of each layer
    for layer in LAYERS:
        _tsv(
            res / "patches" / f"representative_{layer}.tsv",
            [
                {
                    "neuron": n,
                    "hf_first": a,
                    "hf_last": b,
                    "hf_drop": a - b,
                    "first_model": "sigma0",
                    "last_model": "sigma6",
                }
                for n, a, b in ((3, 0.4, 0.1), (7, 0.3, 0.25))
            ],
        )
    # bands: in layer2.0 only the low band is above chance on its own; the accuracy centroid falls with σ
    bands = []
    for model in ("sigma0", "sigma6"):
        for band, kind, acc, n_freqs in (
            ("unmodified", "control", 0.8, 99),
            ("low", "band", 0.6, 10),
            ("mid", "band", 0.3, 20),
            ("high", "band", 0.25, 0),
        ):
            bands.append(
                {
                    "model": model,
                    "layer": "layer2.0",
                    "band": band,
                    "kind": kind,
                    "head": "own",
                    "accuracy": acc,
                    "accuracy_ci_low": acc - 0.1,
                    "accuracy_ci_high": acc + 0.1 if band != "unmodified" else acc + 0.05,
                    "chance_accuracy": 0.25,
                    "n_freqs": n_freqs,
                }
            )
    _tsv(res / "bands" / "band_summary.tsv", bands)
    # the accuracy centroid falls over 4 models at 3 σ (model-level p and CI agree); the MLP head's centroid is
    # undefined (a band holds nothing beyond DC)
    trend = {
        "n_models": 4,
        "n_sigma": 3,
        "n_replicates_min": 1,
        "n_replicates_max": 2,
        "n_permutations": 24,
        "sigmas": "0,2,6",
        "boot_defined": 1.0,
    }
    _tsv(
        res / "bands" / "band_trend.tsv",
        [
            {
                **trend,
                "layer": "layer2.0",
                "head": "own",
                "statistic": "centroid_acc",
                "rho": -1.0,
                "rho_ci_low": -1.0,
                "rho_ci_high": -0.5,
                "p": 0.017,
                "note": "",
            },
            {
                **trend,
                "layer": "layer2.0",
                "head": "mlp",
                "statistic": "centroid_acc",
                "rho": float("nan"),
                "rho_ci_low": float("nan"),
                "rho_ci_high": float("nan"),
                "p": float("nan"),
                "boot_defined": float("nan"),
                "note": "no centroid: band(s) ['high'] hold no frequency sample beyond DC at 2x2 px",
            },
        ],
    )
    # band centroids: the σ = 6 blur filter alone lowers the accuracy centroid, training with it lowers it further
    shift = []
    for model, reference, value, ref_value, lo, hi, n, n_ref in (
        ("sigma0", "sigma0", 0.4, 0.4, 0.0, 0.0, 2, 2),
        ("sigma6", "sigma0", 0.2, 0.4, -0.25, -0.15, 1, 2),
        ("ref-sigma6", "sigma0", 0.3, 0.4, -0.14, -0.06, 1, 2),
        ("sigma6", "ref-sigma6", 0.2, 0.3, -0.13, -0.07, 1, 1),
    ):
        shift.append(
            {
                "model": model,
                "sigma": 6 if "sigma6" in model else 0,
                "antialiased": False,
                "layer": "layer2.0",
                "head": "own",
                "statistic": "centroid_acc",
                "band": "all",
                "value": value,
                "ci_low": value - 0.03,
                "ci_high": value + 0.03,
                "reference": reference,
                "reference_value": ref_value,
                "diff": value - ref_value,
                "diff_ci_low": lo,
                "diff_ci_high": hi,
                "boot_defined": 1.0,
                "n_images": 120,
                "n_replicates": n,
                "n_replicates_reference": n_ref,
                "note": "",
            }
        )
    _tsv(res / "bands" / "band_shift.tsv", shift)
    # frequency: f_rev falls with σ; BlurPool's f_0.5 is below σ = 0's (disjoint CIs); σ = 6 never reverses
    freq = []
    for model, sigma, f_rev, status, f_half in (
        ("sigma0", 0, 0.3, "crossed", 0.2),
        ("sigma2", 2, 0.2, "crossed", 0.15),
        ("sigma6", 6, float("nan"), "never", 0.1),
        ("blurpool", 0, 0.25, "crossed", 0.1),
    ):
        freq.append(
            {
                "model": model,
                "sigma": sigma,
                "f_rev_cpp": f_rev,
                "f_rev_ci_low_cpp": f_rev - 0.05,
                "f_rev_ci_high_cpp": f_rev + 0.05,
                "f_rev_status": status,
                "f_half_cpp": f_half,
                "f_half_ci_low_cpp": f_half - 0.02,
                "f_half_ci_high_cpp": f_half + 0.02,
                "clean_acc": 0.8,
                "corruption_acc": 0.5,
                "corruption_acc_ci_low": 0.45,
                "corruption_acc_ci_high": 0.55,
            }
        )
    _tsv(res / "frequency" / "summary.tsv", freq)
    _tsv(
        res / "frequency" / "trends.tsv",
        [
            {
                "x": "sigma",
                "y": "f_rev_cpp",
                "rho": -1.0,
                "p": 0.02,
                "permutation_unit": "model",
                "n_models": 4,
                "n_sigma": 3,
                "n_replicates_min": 1,
                "n_replicates_max": 2,
                "n_permutations": 24,
            }
        ],
    )
    # training table and the stem diagnostic (sigma 6's stem lost HF energy: disjoint CIs)
    _tsv(res / "evaluation" / "training.tsv", [
        {"model": m, "group": m, "sigma": sg, "role": role, "epochs": 12, "batch_size": 64, "weight_decay": 0.005,
         "threads": 1, "own_sigma_accuracy": acc, "clear_accuracy": acc, "train_seconds": 40.0}
        for m, sg, role, acc in (("sigma0", 0, "baseline", 0.9), ("sigma2", 2, "scratch", 0.88),
                                 ("sigma6", 6, "scratch", 0.86), ("blurpool", 0, "blurpool", 0.91))])
    _tsv(res / "evaluation" / "stem_hf.tsv", [
        {"model": m, "group": m, "sigma": sg, "weights": w, "n_channels": 16, "hf_cutoff": 0.25, "mean": v,
         "sem": 0.01, "ci_low": v - 0.02, "ci_high": v + 0.02}
        for m, sg, w, v in (("sigma0", 0, "trained", 0.32), ("sigma0", 0, "init", 0.81), ("sigma2", 2, "trained", 0.25),
                            ("sigma2", 2, "init", 0.81), ("sigma6", 6, "trained", 0.19), ("sigma6", 6, "init", 0.81))])
    # feature visualisation: HF power of the renders falls at layer2.0 (as the patches' does), flat at "4.2"
    _tsv(res / "featvis" / "trends.tsv", [_trend("layer2.0", "hf_fraction", -0.9, 0.004, 0.07, 0.2),
                                          _trend("4.2", "hf_fraction", 0.1, 0.9, 0.15, 0.16)])
    _tsv(res / "featvis" / "summary.tsv", [{"model": "sigma0", "sigma": 0, "layer": "layer2.0", "metric": "hf_fraction",
                                            "mean": 0.2, "sem": 0.01, "ci_low": 0.18, "ci_high": 0.22,
                                            "n_neurons": 12, "n_active": 12, "n_replicates": 2}])
    _tsv(res / "featvis" / "effects.tsv", [
        {"layer": "layer2.0", "metric": "hf_fraction", "model": "sigma6", "sigma": 6, "reference": "sigma0",
         "mean": 0.07, "ci_low": 0.05, "ci_high": 0.09, "reference_mean": 0.2, "reference_ci_low": 0.18,
         "reference_ci_high": 0.22, "diff": -0.13, "diff_ci_low": -0.16, "diff_ci_high": -0.1}])
    # deployed models against their filter-only reference: the filter lowers f_0.5, training changes nothing;
    # training raises the shape bias, the filter does not
    ref_rows = []
    for metric, filt, learned in (("f_half_cpp", (0.30, 0.11, -0.19, -0.23, -0.15), (0.11, 0.112, 0.002, -0.02, 0.02)),
                                  ("shape_bias", (0.35, 0.37, 0.02, -0.05, 0.09), (0.37, 0.6, 0.23, 0.15, 0.31))):
        for kind, (a, b, d, lo, hi) in (("filter", filt), ("learned", learned)):
            ref_rows.append({"sigma": 6.0, "metric": metric, "comparison": kind,
                             "model": "ref-sigma6" if kind == "filter" else "sigma6",
                             "reference": "sigma0" if kind == "filter" else "ref-sigma6", "value": b,
                             "ci_low": b - 0.01, "ci_high": b + 0.01, "reference_value": a,
                             "reference_ci_low": a - 0.01, "reference_ci_high": a + 0.01, "diff": d,
                             "diff_ci_low": lo, "diff_ci_high": hi, "boot_defined": 1.0, "n": 64,
                             "n_replicates": 1, "n_replicates_reference": 2 if kind == "filter" else 1})
    _tsv(res / "frequency" / "reference.tsv", ref_rows)
    _run_level_tables(res)
    # one PNG per figure
    for name in FIGURES:
        _png(res / "figures" / f"{name}.png")
    for name in PER_LAYER_FIGURES:
        for layer in LAYERS:
            _png(res / "figures" / f"{name}_{layer}.png")
    # pipeline_info
    info = res / "pipeline_info"
    info.mkdir(parents=True)
    (info / "config.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    (info / "git.txt").write_text(
        "commit: abc123\nbranch: main\ndirty: false\ncommand_line: snakemake --cores 2\n"
        "workdir: /w\nsnakemake: 9.27.1\npython: 3.11.7\n"
    )
    _tsv(
        info / "versions.tsv",
        [
            {"name": "python", "version": "3.11.7", "kind": "runtime"},
            {"name": "numpy", "version": "2.4.6", "kind": "package"},
        ],
    )
    (info / "rulegraph.dot").write_text('digraph snakemake_dag {\n 0[label = "all"];\n 1[label = "report"];\n}\n')
    _tsv(
        info / "benchmarks.tsv",
        [
            {"rule": "train_baseline", "wildcards": "sigma0", "file": "x", "repeat": 0, "s": 35.2, "max_rss": 690.0},
            {"rule": "evaluate", "wildcards": "sigma0", "file": "y", "repeat": 0, "s": 20.0, "max_rss": 800.0},
        ],
    )
    return res


def _report_inputs(res: Path, drop: tuple[str, ...] = ()) -> dict[str, str | list[str]]:
    """The report rule's named inputs for the results folder ``res`` (what exists), without ``drop``."""
    inputs: dict[str, str | list[str]] = {name: str(res / rel) for name, rel in TABLES.items() if (res / rel).is_file()}
    inputs["models"] = [str(p) for p in sorted((res / "models").glob("*.json"))]
    inputs["captions"] = [str(p) for p in CAPTIONS]
    inputs.update({name: str(res / "figures" / f"{name}.png") for name in FIGURES})
    inputs.update(
        {
            f"{name}/{layer}": str(res / "figures" / f"{name}_{layer}.png")
            for name in PER_LAYER_FIGURES
            for layer in LAYERS
        }
    )
    return {k: v for k, v in inputs.items() if k not in drop}


def _build_report(res: Path, drop: tuple[str, ...] = ()) -> R.Document:
    """The report document of ``res`` (time stamp fixed), as rule report builds it."""
    params = {"cfg": CONFIG["report"], "sources": str(res / "report" / "sources.tsv")}
    return R.build(_report_inputs(res, drop), params, generated="2026-01-01 00:00 UTC")


@pytest.fixture
def n_figures() -> int:
    """How many figures the fixture results give the report (every figure, per-layer ones per layer)."""
    return len(FIGURES) + len(PER_LAYER_FIGURES) * len(LAYERS)


@pytest.fixture
def report_inputs():
    """``(res, drop=()) -> {name: path}``: the report rule's named inputs for a results folder."""
    return _report_inputs


@pytest.fixture
def build_report():
    """``(res, drop=()) -> Document``: the report of a results folder, as rule report builds it."""
    return _build_report
