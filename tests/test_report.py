"""The report library: generated wording, number formatting, rendering, pipeline-info helpers.

No Snakemake here: the sentences are checked on single table rows, the whole
document on a small set of result tables written to a temporary results folder.
The rendered report of the real smoke run is checked in
tests/workflow/test_report_workflow.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from blurscope import report as R

# --------------------------------------------------------------------------- formatting


def test_fmt_num_significant_digits_minus_sign_and_missing() -> None:
    assert R.fmt_num(0.041234) == "0.0412"
    assert R.fmt_num(-1.5) == "−1.5"
    assert R.fmt_num(1234.4) == "1234"
    assert R.fmt_num(999.7) == "1000"
    assert R.fmt_num(2.5e-5) == "2.5e−5"
    assert R.fmt_num(0) == "0"
    assert R.fmt_num(float("nan")) == R.fmt_num(None) == R.fmt_num("x") == "n/a"


def test_fmt_p_and_ci() -> None:
    assert R.fmt_p(0.0123) == "p = 0.012"
    assert R.fmt_p(0.0004) == "p < 0.001"
    assert R.fmt_p(1.0, "Holm p") == "Holm p = 1"
    assert R.fmt_p(float("nan")) == "p n/a"
    assert R.fmt_pval(0.5) == "0.5" and R.fmt_pval(1e-6) == "< 0.001"
    assert R.fmt_ci(0.4123, 0.398, 0.4271) == "0.412 [95 % CI 0.398, 0.427]"
    assert R.fmt_ci(-0.0104, -0.0203, -0.00236, 0.9, "bits") == "−0.0104 bits [90 % CI −0.0203, −0.00236]"
    assert R.fmt_ci(1.0, float("nan"), 2) == "1 [CI n/a]"
    assert R.fmt_interval(0.5, 0.25, 0.75) == "0.5 [0.25, 0.75]"
    assert R.fmt_pct(-0.4) == "−40 %"


def test_labels_and_model_order() -> None:
    assert R.model_label("sigma0") == "σ = 0"
    assert R.model_label("sigma1.5") == "σ = 1.5"
    assert R.model_label("sigma2-seed1") == "σ = 2 (seed 1)"
    assert R.model_label("blurpool") == "BlurPool"
    assert R.order_models(["blurpool", "sigma6", "sigma0.5", "sigma2-seed1", "sigma2", "sigma0"]) == [
        "sigma0",
        "sigma0.5",
        "sigma2",
        "sigma2-seed1",
        "sigma6",
        "blurpool",
    ]
    assert R.layer_label("layer4.0") == "layer4.0" and R.layer_label("4.2") == "layer 4.2"


# --------------------------------------------------------------------------- claims


def test_judge_uses_p_and_ci_and_flags_disagreement() -> None:
    assert R.judge(-0.5, p=0.01) == R.Verdict(True, -1, False, "p")
    assert R.judge(0.5, low=0.1, high=0.9) == R.Verdict(True, 1, False, "ci")
    assert R.judge(0.5, p=0.2).significant is False
    v = R.judge(-0.06, p=0.13, low=-0.11, high=-0.01)  # CI excludes 0, p does not reject
    assert v.conflict and not v.significant and v.direction == 0
    assert R.judge(1.3, low=1.05, high=1.6, null=1.0).direction == 1
    assert R.judge(None).significant is None


def test_significant_negative_trend_says_falls_with_numbers() -> None:
    c = R.trend_sentence(
        "edge density", -0.83, 0.002, p_label="Holm-adjusted p", details="; σ = 0: " + R.fmt_ci(0.27, 0.25, 0.29)
    )
    assert c.verdict.significant and c.verdict.direction == -1
    assert c.text.startswith("Edge density falls with training σ")
    assert "Spearman ρ = −0.83" in c.text and "Holm-adjusted p = 0.002" in c.text
    assert "0.27 [95 % CI 0.25, 0.29]" in c.text


def test_significant_positive_trend_says_rises() -> None:
    c = R.trend_sentence("compression ratio", 0.61, 0.0001)
    assert "rises with training σ" in c.text and "p < 0.001" in c.text


def test_non_significant_trend_says_not_significant() -> None:
    c = R.trend_sentence("edge density", -0.24, 0.22)
    assert "no significant trend" in c.text
    assert "falls" not in c.text and "rises" not in c.text
    assert "ρ = −0.24" in c.text and "p = 0.22" in c.text


def test_trend_from_ci_only_and_undefined_rho() -> None:
    c = R.trend_sentence("the centroid", -1.0, None, -1.0, -0.31, falls="falls (to lower bands)")
    assert "falls (to lower bands)" in c.text and "95 % CI [−1, −0.31]" in c.text
    c = R.trend_sentence("the centroid", -0.87, None, -1.0, 1.0)
    assert "no significant trend" in c.text
    c = R.trend_sentence("f_rev", float("nan"), float("nan"))
    assert "no trend estimate" in c.text and c.verdict.significant is None


def test_compare_sentence_lowers_and_not_significant() -> None:
    c = R.compare_sentence(
        "BlurPool",
        "SIS",
        "σ = 0",
        -0.00104,
        -0.00203,
        -0.000236,
        0.0019,
        rel=-0.45,
        p_label="Wilcoxon p (Holm)",
        values=("0.00233", "0.00129"),
    )
    assert c.text.startswith("BlurPool lowers SIS relative to σ = 0, from 0.00233 to 0.00129")
    assert "Δ = −0.00104 [95 % CI −0.00203, −0.000236]" in c.text and "−45 %" in c.text
    c = R.compare_sentence("BlurPool", "SIS", "σ = 0", 0.0002, -0.0004, 0.0009, 0.41)
    assert "does not significantly change SIS" in c.text and "p = 0.41" in c.text
    c = R.compare_sentence("BlurPool", "consistency", "σ = 0", -0.06, -0.11, -0.01, 0.13)
    assert "no consistent effect" in c.text and "disagree" in c.text
    c = R.compare_sentence("σ = 6", "edge density", "σ = 0", 0.02, 0.01, 0.03)
    assert c.text.startswith("σ = 6 raises edge density")


def test_overlap_and_against_value_sentences() -> None:
    c = R.overlap_sentence("BlurPool", "f_0.5", "σ = 0", 0.113, 0.094, 0.137, 0.221, 0.14, 0.278)
    assert "has a lower f_0.5 than σ = 0" in c.text and "do not overlap" in c.text
    c = R.overlap_sentence("σ = 6", "accuracy", "σ = 0", 0.28, 0.2, 0.36, 0.25, 0.18, 0.33)
    assert "not distinguishable" in c.text and c.verdict.significant is False
    c = R.against_value_sentence("σ = 0", "ratio", 0.65, 0.33, 1.05, 1.0, "the baseline")
    assert "not distinguishable from the baseline" in c.text
    c = R.against_value_sentence("σ = 0", "ratio", 1.6, 1.04, 2.3, 1.0, "the baseline")
    assert "above the baseline" in c.text


# --------------------------------------------------------------------------- whole document


def _png(path: Path, w: int = 40, h: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _tsv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)


CONFIG = {
    "sigmas": [0, 2, 6],
    "analysis": {"layers": ["layer2.0", "4.2"], "n_images": 120, "split": "val", "seed": 0},
    "dataset": {"kind": "embedded", "image_size": 32, "embedded": {"n_classes": 4, "seed": 0}},
    "model": {"arch": "resnet_narrow"},
    "stats": {"ci": 0.95, "bootstrap_iterations": 200, "n_permutations": 199},
    "spectra": {"hf_cutoff": 0.25},
    "report": {"title": "Test report", "alpha": 0.05, "author": "A. Tester"},
}


def _trend(layer: str, metric: str, rho: float, p_holm: float, lo: float, hi: float) -> dict:
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
    """A results folder with the tables of the training, spectra and aliasing stages."""
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
    _png(res / "figures" / "accuracy_matrix.png")
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
        _png(res / "figures" / f"models_relative_to_baseline_{layer}.png")
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
    _png(res / "figures" / "aliasing_layers.png")
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
    # pipeline_info
    info = res / "pipeline_info"
    info.mkdir(parents=True)
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


def _document(res: Path) -> R.Document:
    files = [p for p in res.rglob("*") if p.is_file() and "pipeline_info" not in p.parts]
    src = R.Sources(files, res)
    info = {
        k: str(res / "pipeline_info" / f)
        for k, f in (
            ("git", "git.txt"),
            ("versions", "versions.tsv"),
            ("rulegraph", "rulegraph.dot"),
            ("benchmarks", "benchmarks.tsv"),
        )
    }
    return R.build_document(src, CONFIG, info, generated="2026-01-01 00:00 UTC"), src


def test_document_sentences_follow_the_tables(results: Path) -> None:
    doc, src = _document(results)
    md = R.render_markdown(doc, results / "report")
    spectra = next(s for s in doc.sections if s.key == "spectra")
    text = " ".join(
        b.text if isinstance(b, R.Para) else " ".join(b.items)
        for b in spectra.blocks
        if isinstance(b, (R.Para, R.Bullets))
    )
    # the significant negative trend (layer2.0) falls, the other one (layer "4.2") is not significant
    assert "In layer2.0, the HF power fraction of preferred patches falls with training σ" in text
    assert "Holm-adjusted p = 0.002" in text and "0.31 [95 % CI 0.3, 0.32]" in text
    assert "In layer 4.2, the HF power fraction of preferred patches shows no significant trend" in text
    # executive summary: the key metrics per layer and BlurPool's SIS, with their numbers
    summary = " ".join(doc.summary)
    assert "high-frequency (HF) power fraction falls (ρ = −0.83, Holm p = 0.002)" in summary
    assert "edge density: no significant trend (ρ = 0.14, Holm p = 0.44)" in summary
    assert "BlurPool lowers shift instability (SIS) relative to σ = 0" in summary
    assert "Wilcoxon p (Holm) = 0.0019" in summary
    # accuracy: σ = 6 is lower than σ = 0 on clear images (disjoint CIs)
    assert "the σ = 6 model has a lower accuracy than the σ = 0 model" in md
    # stages without tables say so instead of inventing text
    assert "The bands stage is not part of this workflow run" in md
    assert (
        "Classifier effect (naive vs expert, blurred input), nearest-neighbour focus distance: the foci differ "
        "more than the noise floor (3 vs 1 px; Δ = 2 [95 % CI 1.2, 2.8]; p (Holm) = 0.001)"
    ) in md
    assert (
        "Classifier effect (naive vs expert, blurred input), focus IoU: the foci differ more than the noise floor" in md
    )
    assert (
        "Nearest-neighbour focus distance: the classifier effect does not significantly exceed the input effect on the naive model"
        in md
    )
    assert "2 of 3 focus-distance tests are significant" in summary
    # methods and reproducibility from config and pipeline_info
    assert "σ ∈ {0, 2, 6}" in md and "git commit `abc123`" in md and "no uncommitted changes" in md
    assert "| train_baseline | 1 | 35.2 |" in md
    # every figure the document references is a real file, numbered in order
    figs = [f for _, f in doc.figures]
    assert [f.number for f in figs] == ["1.1", "3.1", "3.2", "6.1"]
    assert all(Path(f.path).is_file() for f in figs)
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", md):
        assert (results / "report" / link).resolve().is_file(), link
    used = src.used_table()
    assert (used.loc[used.kind == "table", "rows"] > 0).all()
    assert any(p.endswith("results/stats/patch_trends.tsv") for p in used.path)


def test_html_is_self_contained(results: Path) -> None:
    doc, _ = _document(results)
    html = R.render_html(doc)
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == 4
    for tag in imgs:
        src = re.search(r'src="([^"]+)"', tag).group(1)
        assert src.startswith("data:image/png;base64,")
        raw = __import__("base64").b64decode(src.split(",", 1)[1])
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert hrefs and all(h.startswith("#") for h in hrefs)
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert {h[1:] for h in hrefs} <= ids, "every internal link has a target"
    assert "<title>Test report</title>" in html and "By A. Tester" in html


def test_missing_column_or_empty_table_names_the_file(results: Path) -> None:
    t = results / "stats" / "patch_trends.tsv"
    pd.read_csv(t, sep="\t").drop(columns=["p_holm"]).to_csv(t, sep="\t", index=False)
    with pytest.raises(R.ReportInputError, match=r"patch_trends\.tsv lacks columns \['p_holm'\]"):
        _document(results)
    pd.read_csv(t, sep="\t").head(0).to_csv(t, sep="\t", index=False)
    src = R.Sources([t], results)
    with pytest.raises(R.ReportInputError, match="has no rows"):
        src.table("stats/patch_trends.tsv")


def test_identifier_columns_stay_strings(tmp_path: Path) -> None:
    p = tmp_path / "t.tsv"
    _tsv(p, [{"layer": "4.2", "model": "sigma0", "value": 1.5}])
    df = R.read_table(p)
    assert df["layer"].tolist() == ["4.2"] and df["value"].dtype.kind == "f"


# --------------------------------------------------------------------------- pipeline-info helpers


def test_aggregate_benchmarks_keeps_only_listed_jobs(tmp_path: Path) -> None:
    bench = tmp_path / "results" / "benchmarks"
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for rel, s in (
        ("evaluate/sigma0.tsv", 26.2),
        ("band_intervention/sigma0/layer2.0.tsv", 30.1),
        ("stale_rule/all.tsv", 99.0),
    ):
        (bench / rel).parent.mkdir(parents=True, exist_ok=True)
        (bench / rel).write_text(header + f"{s}\t0:00:26\t723.3\t3506\t410\t458\t0\t0.03\t10.9\t2.97\n")
    dry = (
        "rule evaluate:\n    benchmark: results/benchmarks/evaluate/sigma0.tsv\n"
        "rule band_intervention:\n    benchmark: results/benchmarks/band_intervention/sigma0/layer2.0.tsv\n"
    )
    keep = [str(tmp_path / p) for p in R.benchmark_paths_from_dryrun(dry)]
    assert len(keep) == 2
    df = R.aggregate_benchmarks(bench, keep=keep)
    assert sorted(df["rule"]) == ["band_intervention", "evaluate"]
    assert df.set_index("rule").loc["band_intervention", "wildcards"] == "sigma0/layer2.0"
    assert df["s"].sum() == pytest.approx(56.3)
    per = R.per_rule_runtimes(df)
    assert per.iloc[0]["rule"] == "band_intervention" and per.iloc[0]["jobs"] == 1
    assert len(R.aggregate_benchmarks(bench)) == 3
    assert set(R.aggregate_benchmarks(bench, exclude_rules=["stale_rule"])["rule"]) == {"evaluate", "band_intervention"}


def test_git_state_outside_a_repository(tmp_path: Path) -> None:
    g = R.git_state(tmp_path)
    assert g["commit"] == "unknown" and g["dirty"] == "unknown" and "not a git repository" in g["reason"]


def test_git_state_of_a_repository(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (repo / "a.txt").write_text("a")
    run("add", "a.txt")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x")
    g = R.git_state(repo)
    assert re.fullmatch(r"[0-9a-f]{40}", g["commit"]) and g["dirty"] == "false"
    (repo / "a.txt").write_text("b")
    assert R.git_state(repo)["dirty"] == "true"


def test_package_versions_of_the_running_environment() -> None:
    v = R.package_versions()
    names = set(v["name"].str.lower())
    assert {"python", "numpy", "pandas"} <= names
    assert v.loc[v["name"].str.lower() == "numpy", "version"].item() == np.__version__


def test_features_section_states_which_input_the_models_saw() -> None:
    """The sentence follows ``analysis.own_blur`` (default true: the model's own blur)."""
    deployed = R._analysis_blur_sentence({})
    assert "through its own training blur" in deployed and "`analysis.own_blur: true`" in deployed
    assert R._analysis_blur_sentence({"own_blur": True}) == deployed
    control = R._analysis_blur_sentence({"own_blur": False})
    assert control.startswith("Network-alone control") and "without its training blur" in control


def test_methods_state_the_embedded_texture_coverage() -> None:
    """The data line names the generator's texture coverage (the knob the feature results depend on)."""
    cfg = {"dataset": {"kind": "embedded", "image_size": 64, "embedded": {"n_classes": 10, "seed": 0}}}
    md = R.render_markdown(R.Document("t", "a", "now", [R.section_methods(cfg)], []), Path("."))
    assert "class texture on" not in md
    cfg["dataset"]["embedded"]["texture_coverage"] = 0.6
    md = R.render_markdown(R.Document("t", "a", "now", [R.section_methods(cfg)], []), Path("."))
    assert "generator seed 0, class texture on 60 % of each object's surface" in md
