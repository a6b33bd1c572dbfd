"""Fixtures of the report tests: a small results folder with every stage's tables and figures.

``results`` writes tables with known values (written so that some effects are
significant and some are not) for every stage the report reads, one PNG per
figure the rules register, the resolved config and pipeline_info; ``inputs``
maps them to the report rule's input names, as rules/report.smk does.
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
    "aliasing_summary": "aliasing/stats/summary.tsv",
    "aliasing_paired": "aliasing/stats/paired.tsv",
    "band_summary": "bands/band_summary.tsv",
    "band_trend": "bands/band_trend.tsv",
    "frequency_summary": "frequency/summary.tsv",
    "frequency_trends": "frequency/trends.tsv",
    "saliency_stats": "saliency/stats.tsv",
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
    """One row of stats/patch_trends.tsv (mean ``hi`` at σ = 0, ``lo`` at σ = 6, CIs ±0.01)."""
    return {
        "layer": layer,
        "metric": metric,
        "rho": rho,
        "p_perm": p_holm / 2,
        "p_bonferroni": p_holm,
        "p_holm": p_holm,
        "sigma_min": 0,
        "mean_sigma_min": hi,
        "ci_sigma_min_low": hi - 0.01,
        "ci_sigma_min_high": hi + 0.01,
        "sigma_max": 6,
        "mean_sigma_max": lo,
        "ci_sigma_max_low": lo - 0.01,
        "ci_sigma_max_high": lo + 0.01,
    }


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
    for layer in ("layer2.0", "4.2"):
        for m in ("sigma0", "sigma2", "sigma6", "blurpool", "baseline"):
            for b, f in enumerate((0.1, 0.3, 0.47)):
                r = 1.0 if m == "baseline" else 1.5 - 0.1 * b
                spec.append(
                    {
                        "model": m,
                        "sigma": 0,
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
                    "sigma": 0,
                    "layer": layer,
                    "metric": "hf_fraction",
                    "mean": 0.3,
                    "sem": 0.01,
                    "ci_low": 0.28,
                    "ci_high": 0.32,
                    "n_neurons": 6,
                    "n_patches": 24,
                }
            )
        eff.append(
            {
                "layer": layer,
                "metric": "hf_fraction",
                "model": "blurpool",
                "sigma": 0,
                "cohens_d": 1.9,
                "diff": 0.072,
                "diff_sem": 0.01,
                "diff_ci_low": 0.047,
                "diff_ci_high": 0.09,
                "n_neurons": 6,
            }
        )
    _tsv(res / "stats" / "patch_spectra.tsv", spec)
    _tsv(res / "stats" / "patch_summary.tsv", summ)
    _tsv(res / "stats" / "patch_effects.tsv", eff)
    # aliasing: BlurPool lowers SIS significantly
    _tsv(
        res / "aliasing" / "stats" / "summary.tsv",
        [
            {
                "model": m,
                "sigma": 0,
                "antialiased": int(m == "blurpool"),
                "point": "output",
                "layer": "output",
                "metric": "sis",
                "n": 120,
                "mean": v,
                "sd": 0.001,
                "sem": 0.0001,
                "ci_low": v * 0.8,
                "ci_high": v * 1.2,
            }
            for m, v in (("sigma0", 0.0023), ("blurpool", 0.0013))
        ],
    )
    _tsv(
        res / "aliasing" / "stats" / "paired.tsv",
        [
            {
                "model": "blurpool",
                "sigma": 0,
                "antialiased": 1,
                "reference": "sigma0",
                "point": "output",
                "ref_layer": "output",
                "layer": "output",
                "metric": "sis",
                "n": 120,
                "mean_ref": 0.0023,
                "mean_treat": 0.0013,
                "mean_diff": -0.001,
                "diff_ci_low": -0.002,
                "diff_ci_high": -0.0002,
                "rel_change": -0.43,
                "p_wilcoxon_holm": 0.0019,
                "p_t_holm": 0.003,
            },
            {
                "model": "blurpool",
                "sigma": 0,
                "antialiased": 1,
                "reference": "sigma0",
                "point": "maxpool",
                "ref_layer": "maxpool",
                "layer": "maxpool.1",
                "metric": "avr_radial",
                "n": 120,
                "mean_ref": 0.031,
                "mean_treat": 0.014,
                "mean_diff": -0.017,
                "diff_ci_low": -0.019,
                "diff_ci_high": -0.015,
                "rel_change": -0.55,
                "p_wilcoxon_holm": 1e-9,
                "p_t_holm": 1e-9,
            },
        ],
    )
    # saliency: the classifier effect differs from the noise floor (distance up, IoU down) but does not
    # exceed the input effect
    sal = dict(unit="px", n_images=8, d_z=1.0, rank_biserial=0.5, statistic=30.0, significant=True)
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
                "mean_reference": 1.0,
                "mean_diff": 2.0,
                "ci_low": 1.2,
                "ci_high": 2.8,
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
                "mean_reference": 0.5,
                "mean_diff": -0.2,
                "ci_low": -0.3,
                "ci_high": -0.1,
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
                "mean_reference": 1.7,
                "mean_diff": 0.3,
                "ci_low": -0.2,
                "ci_high": 0.8,
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
    _tsv(
        res / "bands" / "band_trend.tsv",
        [
            {
                "layer": "layer2.0",
                "head": "own",
                "statistic": "centroid_acc",
                "spearman_rho": -1.0,
                "rho_ci_low": -1.0,
                "rho_ci_high": -0.5,
                "boot_defined": 1.0,
            }
        ],
    )
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
        [{"x": "sigma", "y": "f_rev_cpp", "spearman_rho": -1.0, "p_permutation": 0.02}],
    )
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
def report_inputs():
    """``(res, drop=()) -> {name: path}``: the report rule's named inputs for a results folder."""
    return _report_inputs


@pytest.fixture
def build_report():
    """``(res, drop=()) -> Document``: the report of a results folder, as rule report builds it."""
    return _build_report
