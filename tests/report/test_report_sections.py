"""The report's sections on a small results folder (tests/report/conftest.py): each sentence
follows from its table, a missing stage says so, bad tables name the file.

The rendered report of the real smoke run is checked in tests/workflow/test_report_workflow.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from blurscope import report as R
from blurscope.report.sections import common, features, methods, statistics


def _text(doc: R.Document, key: str) -> str:
    """Paragraph and bullet text of section ``key``."""
    sec = next(s for s in doc.sections if s.key == key)
    return " ".join(
        b.text if isinstance(b, R.Para) else " ".join(b.items) for b in sec.blocks if isinstance(b, (R.Para, R.Bullets))
    )


def test_document_sentences_follow_the_tables(results: Path, build_report) -> None:
    doc = build_report(results)
    md = R.render_markdown(doc, results / "report")
    text = _text(doc, "spectra")
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
    assert [s.split("**")[1] for s in doc.summary] == [
        "Protocol.",
        "Accuracy.",
        "Feature visualisation.",
        "Preferred patches.",
        "Aliasing and shift stability.",
        "Band interventions.",
        "Frequency preference.",
        "Saliency.",
    ]
    # accuracy: σ = 6 is lower than σ = 0 on clear images (disjoint CIs)
    assert "the σ = 6 model has a lower accuracy than the σ = 0 model" in md
    assert (
        "Classifier effect (naive vs expert, blurred input), nearest-neighbour focus distance: the foci differ "
        "more than the noise floor (3 vs 1 px; Δ = 2 [95 % CI 1.2, 2.8]; p (Holm) = 0.001)"
    ) in md
    assert (
        "Classifier effect (naive vs expert, blurred input), focus IoU: the foci differ more than the noise floor" in md
    )
    assert (
        "Nearest-neighbour focus distance: the classifier effect does not significantly exceed the input effect on "
        "the naive model"
        in md
    )
    assert "2 of 3 focus-distance tests are significant" in summary
    # methods and reproducibility from config and pipeline_info
    assert "σ ∈ {0, 2, 6}" in md and "git commit `abc123`" in md and "no uncommitted changes" in md
    assert "| train_baseline | 1 | 35.2 | 35.2 | 690 | 63.8 % |" in md
    assert "Rule graph: 2 rules (`all`, `report`)" in md
    # every figure the document references is a real file, numbered in order within its section
    figs = [f for _, f in doc.figures]
    assert [f.number for f in figs][:12] == ["1.1", "1.2", "2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.1.5", "2.1.6",
                                             "2.2.1", "2.2.2", "2.2.3", "2.2.4"]
    assert len(figs) == 30 and all(Path(f.path).is_file() for f in figs)
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", md):
        assert (results / "report" / link).resolve().is_file(), link


def test_findings_table_says_which_effect_is_learned_and_which_is_the_filter(results: Path, build_report) -> None:
    """The executive summary leads with one row per headline measure: learned (clear input, network
    alone; trained − reference) or filter (reference − σ 0), σ 0 → σ max with CIs, and a verdict that
    states a null result as one. Known answers from the fixture tables."""
    doc = build_report(results)
    rows = {(r[0], r[1].split(":")[0]): r for r in doc.findings.rows}
    hf = rows[("HF power of preferred patches, layer2.0", "learned (clear input, network alone)")]
    assert hf[2] == "0.31 [0.3, 0.32]" and hf[3] == "0.18 [0.17, 0.19]" and hf[5] == "2 / 1"
    assert hf[6].startswith("falls with σ (ρ = −0.83") and "endpoint CIs disjoint" in hf[6]
    assert rows[("HF power of preferred patches, layer 4.2", "learned (clear input, network alone)")][6].startswith(
        "no significant trend")
    assert rows[("HF power of optimised stimuli, layer2.0", "learned (dataset-free, network alone)")][6].startswith(
        "falls with σ")
    assert "lower after training" in rows[("stem-kernel energy above the HF cutoff (first-layer filters)",
                                           "learned (the weights)")][6]
    # the blur filter alone lowers f_0.5, training does not change it; training raises the shape bias
    assert rows[("f_0.5 of PGD perturbations (cyc/px)", "filter")][6] == "the filter lowers f_0.5 of PGD perturbations"
    assert rows[("f_0.5 of PGD perturbations (cyc/px)", "learned")][6] == "training changes nothing measurable"
    assert rows[("shape bias (cue conflict)", "learned")][6] == "training raises shape bias"
    assert rows[("shape bias (cue conflict)", "filter")][6] == "the filter changes nothing measurable"
    md = R.render_markdown(doc, results / "report")
    assert md.index("| finding | effect | from | to |") < md.index("**Protocol.**")
    # a filter effect is never worded as learned
    assert not any("learn" in r[6] for r in doc.findings.rows)


def test_sections_are_numbered_by_the_parts(results: Path, build_report) -> None:
    """One number per part; a part of two sections (patches + feature visualisation, spectra + complexity)
    numbers them 2.1, 2.2 and 3.1, 3.2."""
    doc = build_report(results)
    assert [(s.number, s.key) for s in doc.sections] == [
        ("1", "models"),
        ("2.1", "features"),
        ("2.2", "featvis"),
        ("3.1", "spectra"),
        ("3.2", "complexity"),
        ("4", "statistics"),
        ("5", "aliasing"),
        ("6", "bands"),
        ("7", "frequency"),
        ("8", "saliency"),
        ("9", "methods"),
        ("10", "reproducibility"),
        ("A", "appendix-sources"),
        ("B", "appendix-glossary"),
    ]


def test_features_list_the_representative_neurons(results: Path, build_report) -> None:
    text = _text(build_report(results), "features")
    # sorted by the HF drop (0.3 before 0.05)
    assert (
        "neuron 3: HF power fraction 0.4 (σ = 0) → 0.1 (σ = 6) neuron 7: HF power fraction 0.3 (σ = 0) → 0.25" in text
    )


def test_bands_say_which_band_carries_information(results: Path, build_report) -> None:
    doc = build_report(results)
    text = _text(doc, "bands")
    assert "(low: [0, 0.25), mid: [0.25, 0.5), high: [0.5, 1) in normalised radius" in text
    # low (0.6 [0.5, 0.7]) is above chance 0.25; mid's CI [0.2, 0.4] includes it
    assert (
        "σ = 0, layer2.0, own head: unmodified accuracy 0.8 [95 % CI 0.7, 0.85]; bands above chance (0.25) on "
        "their own: low (0.6 [0.5, 0.7])."
    ) in text
    # the model-level permutation p and the CI of ρ agree; the models and training runs behind the trend are named
    assert (
        "In layer2.0 (own head), the accuracy centroid of the informative bands falls (information moves to lower "
        "bands) with training σ (Spearman ρ = −1; 95 % CI [−1, −0.5]; model-level permutation p = 0.017); "
        "4 models at 3 σ, 1–2 training runs per σ."
    ) in text
    # an undefined centroid says why (band_summary's note)
    assert "layer2.0 mlp head accuracy centroid: no centroid: band(s) ['high'] hold no frequency sample" in text
    tables = [b for b in next(s for s in doc.sections if s.key == "bands").blocks if isinstance(b, R.Table)]
    table = tables[0]
    assert table.columns == ["model", "layer", "head", "unmodified", "low", "mid", "high"]
    assert table.rows[0] == ["sigma0", "layer2.0", "own", "0.8 [0.7, 0.85]", "0.6 [0.5, 0.7]", "0.3 [0.2, 0.4]", "∅"]
    # band_shift: the filter alone (ref-sigma6 − σ = 0) and training (σ = 6 − ref-sigma6), never mixed up
    assert "Its band centroid against σ = 0 is what the blur filter alone does" in text
    ref = tables[1]
    assert ref.columns[3:] == [
        "σ",
        "σ = 0",
        "filter-only reference",
        "trained",
        "filter alone: reference − σ = 0",
        "training: trained − reference",
        "training runs (trained / reference)",
    ]
    assert ref.rows == [
        [
            "layer2.0",
            "own",
            "accuracy centroid",
            "σ = 6",
            "0.4",
            "0.3",
            "0.2",
            "−0.1 [−0.14, −0.06]",
            "−0.1 [−0.13, −0.07]",
            "1 / 1",
        ]
    ]


def test_aliasing_separates_the_filter_from_training(results: Path, build_report) -> None:
    """Rows against the filter-only reference get their own paragraph: the reference alone is what the blur
    filter does, trained − reference what training changed; replicate counts stand beside the numbers."""
    doc = build_report(results)
    text = _text(doc, "aliasing")
    # σ = 0 has two training runs: its level is their mean, and the runs are counted on both sides
    assert (
        "BlurPool lowers shift instability (SIS) relative to σ = 0, from 0.0024 (mean of 2 training runs) to "
        "0.0013 [95 % CI 0.00104, 0.00156]: Δ = −0.0011 [95 % CI −0.002, −0.0002]; −46 %; training runs: 1 vs 2; "
        "Wilcoxon p (Holm) = 0.0019."
    ) in text
    assert "SIS falls with training σ (Spearman ρ = −0.6; Holm-adjusted permutation p = 0.002)" in text
    assert "4 models at 3 σ, 1–2 training runs per σ; σ = 0: 0.0024 (mean of 2 training runs), σ = 6: 0.0012" in text
    assert (
        "The σ = 6 blur filter alone (the σ = 0 network behind it) lowers shift instability (SIS) relative to "
        "σ = 0: Δ = −0.0008 [95 % CI −0.0012, −0.0004]; −33 %; training runs: 1 vs 2; Wilcoxon p (Holm) = 0.003."
    ) in text
    assert (
        "Training with the σ = 6 blur does not significantly change shift instability (SIS) relative to its "
        "filter-only reference: Δ = −0.0004 [95 % CI −0.0007, 0.0001]"
    ) in text
    assert "learn" not in text, "a filter effect is never called learned"
    assert "maxpool: positive correlation, r = 0.4 [95 % CI 0.25, 0.55], p (Holm) < 0.001" in text
    sec = next(s for s in doc.sections if s.key == "aliasing")
    ref = [b for b in sec.blocks if isinstance(b, R.Table)][1]
    # the σ = 0 self-comparison (difference 0 by construction) is no row of its own
    assert ref.rows == [
        [
            "σ = 6",
            "shift instability (SIS)",
            "0.0024",
            "0.0016",
            "0.0012",
            "−0.0008 [−0.0012, −0.0004], p = 0.003",
            "−0.0004 [−0.0007, 0.0001], p = 0.2",
            "1 / 1",
        ]
    ]


def test_patch_statistics_name_runs_pairing_and_references(results: Path, build_report) -> None:
    doc = build_report(results)
    stats_text = _text(doc, "statistics")
    assert "(4 models at 3 σ, 1–2 training runs per σ), permutation p (24 permutations; whole models' σ labels" in (
        stats_text
    )
    sec = next(s for s in doc.sections if s.key == "statistics")
    trends, effects, refs = [b for b in sec.blocks if isinstance(b, R.Table)]
    assert trends.columns[2:7] == [
        "ρ [CI]",
        "p (perm.)",
        "p (Holm)",
        "σ = 0 (2 training runs)",
        "σ = 6 (1 training run)",
    ]
    assert trends.rows[0][2:7] == ["−0.83 [−0.93, −0.73]", "0.001", "0.002", "0.31 [0.3, 0.32]", "0.18 [0.17, 0.19]"]
    # only the rows against σ = 0; BlurPool and the scratch-trained σ = 6 have their own neurons
    assert [r[2] for r in effects.rows] == ["BlurPool", "σ = 6", "BlurPool", "σ = 6"]
    assert effects.rows[0][4:] == ["0.072 [0.047, 0.09]", "each model its own neurons", "1 / 2", "higher"]
    assert refs.rows == [
        [
            "layer2.0",
            "high-frequency (HF) power fraction",
            "σ = 6",
            "−0.05 [−0.07, −0.03]",
            "−0.02 [−0.04, 0.01]",
            "not significant",
            "1 / 1",
        ]
    ]
    spectra = _text(doc, "spectra")
    assert "σ = 0: 0.31 [95 % CI 0.3, 0.32] (2 training runs), σ = 6: 0.18 [95 % CI 0.17, 0.19] (1 training run)" in (
        spectra
    )
    assert (
        "In layer2.0, the σ = 6 blur filter alone (σ = 0 network behind it, untrained for it) lowers the HF power "
        "fraction relative to σ = 0: Δ = −0.05 [95 % CI −0.07, −0.03]; training runs: 1 vs 2."
    ) in spectra
    assert "Training with the σ = 6 blur does not significantly change the HF power fraction relative to its" in spectra
    complexity = next(s for s in doc.sections if s.key == "complexity")
    table = next(b for b in complexity.blocks if isinstance(b, R.Table))
    assert table.columns[:3] == ["model", "σ", "training runs"]
    assert [r[:3] for r in table.rows] == [["sigma0", "0", "2"], ["sigma6", "6", "1"], ["baseline", "–", "–"]]


def test_replicate_counts_read_as_words() -> None:
    assert (statistics.runs(1), statistics.runs(2.0), statistics.runs(float("nan"))) == (
        "1 training run",
        "2 training runs",
        "",
    )
    assert statistics.runs_range(1, 1) == "1 training run per σ"
    assert statistics.runs_range(1, 3) == "1–3 training runs per σ"
    assert common.runs_vs(1, 2) == "training runs: 1 vs 2"
    assert common.runs_vs(1, float("nan")) == ""
    assert statistics.single_run_caveat(2) == ""
    assert "not the spread between training runs" in statistics.single_run_caveat(1)
    assert statistics.is_reference("ref-sigma6") and not statistics.is_reference("sigma6")


def test_frequency_states_trends_overlaps_and_censoring(results: Path, build_report) -> None:
    text = _text(build_report(results), "frequency")
    assert "The reversal frequency f_rev falls with training σ (Spearman ρ = −1; permutation p = 0.02)." in text
    assert (
        "BlurPool has a lower f_0.5 (cycles/pixel) than σ = 0: 0.1 [95 % CI 0.08, 0.12] vs 0.2 [95 % CI 0.18, 0.22]"
    ) in text
    assert "BlurPool and σ = 0 are not distinguishable in mean accuracy under corruptions" in text
    assert "f_rev is censored or undefined for σ = 6 (the low-frequency image never wins: f_rev undefined)." in text


def test_a_stage_without_inputs_says_so(results: Path, build_report) -> None:
    drop = ("band_summary", "band_trend", "bands_accuracy", "bands_gt_rank", "bands_shift")
    doc = build_report(results, drop)
    assert _text(doc, "bands") == (
        "The bands stage is not part of this workflow run: none of its outputs (e.g. the report input "
        "`band_summary`) is an input of the report, so this section is empty."
    )
    assert not any(s.startswith("**Band interventions.**") for s in doc.summary)
    assert not any("bands" in f.source for _, f in doc.figures)
    assert next(s for s in doc.sections if s.key == "bands").number == "6", "numbering does not depend on the data"


def test_sources_lists_every_file_read(results: Path, build_report) -> None:
    src = build_report(results).sources
    assert list(src.columns) == ["path", "kind", "rows", "columns"]
    assert src["path"].is_unique
    trends = src[src.path == str(results / "stats" / "patch_trends.tsv")].iloc[0]
    assert (trends.kind, trends.rows, trends.columns) == ("table", 4, 26)
    assert sorted(Path(p).name for p in src.loc[src.kind == "json", "path"]) == [
        "blurpool.json",
        "sigma0.json",
        "sigma2.json",
        "sigma6.json",
    ]
    assert (src.kind == "figure").sum() == 30
    assert (src.loc[src.kind == "table", "rows"] > 0).all()


def test_missing_column_or_empty_table_names_the_file(results: Path, build_report) -> None:
    t = results / "stats" / "patch_trends.tsv"
    pd.read_csv(t, sep="\t").drop(columns=["p_holm"]).to_csv(t, sep="\t", index=False)
    with pytest.raises(R.ReportInputError, match=r"patch_trends\.tsv lacks columns \['p_holm'\]"):
        build_report(results)
    pd.read_csv(t, sep="\t").head(0).to_csv(t, sep="\t", index=False)
    src = R.Sources({"patch_trends": t})
    with pytest.raises(R.ReportInputError, match="patch_trends.tsv has no rows"):
        src.table("patch_trends")


def test_inputs_are_addressed_by_name(tmp_path: Path) -> None:
    src = R.Sources({"one": tmp_path / "a.tsv", "many": [tmp_path / "b.json", tmp_path / "c.json"]})
    assert src.has("one") and not src.has("a.tsv")
    assert src.path("one") == f"{tmp_path}/a.tsv" and src.paths("one") == [f"{tmp_path}/a.tsv"]
    assert src.paths("many") == [f"{tmp_path}/b.json", f"{tmp_path}/c.json"]
    with pytest.raises(
        R.ReportInputError, match=r"'missing' is not a named input of the report rule \(rules/report.smk\)"
    ):
        src.table("missing")
    with pytest.raises(R.ReportInputError, match="input 'many' is a list of 2 files, expected one file"):
        src.path("many")
    assert src.figure("missing", "title") is None, "a figure the stage did not make is left out"
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(R.ReportInputError, match=r"figure .*empty\.png is missing or empty"):
        R.Sources({"fig": tmp_path / "empty.png"}).figure("fig", "title")


def test_config_is_a_required_input(results: Path, build_report) -> None:
    with pytest.raises(R.ReportInputError, match="'config' is not a named input"):
        build_report(results, ("config",))


def test_identifier_columns_stay_strings(tmp_path: Path) -> None:
    p = tmp_path / "t.tsv"
    pd.DataFrame([{"layer": "4.2", "model": "sigma0", "value": 1.5}]).to_csv(p, sep="\t", index=False)
    df = R.read_table(p)
    assert df["layer"].tolist() == ["4.2"] and df["value"].dtype.kind == "f"


def test_features_section_states_which_input_the_models_saw() -> None:
    """The sentence follows ``analysis.own_blur`` (default false: clear images to the network alone)
    and says what each condition measures; fine-tuned models get their caveat."""
    learned = features.analysis_blur_sentence({})
    assert "without its training blur" in learned and "what training changed" in learned
    assert features.analysis_blur_sentence({"own_blur": False}) == learned
    assert "fine-tuned" in features.analysis_blur_sentence({}, {"mode": "finetune"})
    filtered = features.analysis_blur_sentence({"own_blur": True})
    assert "`analysis.own_blur: true`" in filtered and "even for an untrained network" in filtered
    assert "ref-sigma" in filtered


def test_methods_state_the_embedded_texture_coverage() -> None:
    """The data line names the generator's texture coverage (the knob the feature results depend on)."""
    cfg = {"dataset": {"kind": "embedded", "image_size": 64, "embedded": {"n_classes": 10, "seed": 0}}}

    def data_line() -> str:
        sec = methods.section(R.Sources({}), R.Context(config=cfg))
        table = next(b for b in sec.blocks if isinstance(b, R.Table))
        return table.rows[0][1]

    assert "class texture on" not in data_line()
    cfg["dataset"]["embedded"]["texture_coverage"] = 0.6
    assert "generator seed 0, class texture on 60 % of each object's surface" in data_line()
