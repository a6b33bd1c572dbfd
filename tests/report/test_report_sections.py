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
from blurscope.report.sections import features, methods, statistics

DEPLOYED = "σ = 0 → σ = 6 as deployed: training with its blur"
"""How a deployed-model σ trend is labelled (training and its own blur together)."""


def _text(doc: R.Document, key: str) -> str:
    """Paragraph and bullet text of section ``key``."""
    sec = next(s for s in doc.sections if s.key == key)
    return " ".join(
        b.text if isinstance(b, R.Para) else " ".join(b.items) for b in sec.blocks if isinstance(b, (R.Para, R.Bullets))
    )


def test_document_sentences_follow_the_tables(results: Path, build_report, n_figures: int) -> None:
    doc = build_report(results)
    md = R.render_markdown(doc, results / "report")
    text = _text(doc, "spectra")
    # the primary σ contrast over training runs: layer2.0's HF power is lower at σ 6 (Holm), layer 4.2's is not
    assert ("HF power of preferred patches, layer2.0 (σ = 0 → σ = 6, primary): **lower** (Δ = −0.12 [95 % CI "
            in text)
    assert "HF power of preferred patches, layer 4.2 (σ = 0 → σ = 6, primary): **no detectable change**" in text
    assert "training runs 2 vs 2" in text
    # the first screen: at most five sentences, learned / filter / unchanged / runs / models
    assert [s.split("**")[1] for s in doc.summary] == [
        "What blur training changed (learned).",
        "What the blur filter alone does",
        "What did not change.",
        "Training runs.",
        "Models.",
    ]
    summary = " ".join(doc.summary)
    assert "2 of the 8 primary tests are findings after Holm (α = 0.05)" in summary
    assert "HF power of preferred patches, layer2.0: lower (Δ = −0.12, Holm p = " in summary
    assert "HF power of optimised stimuli, layer2.0: lower (Δ = −0.13, Holm p = " in summary
    assert "uninformative: shape bias (cue conflict) (at its ceiling" in summary
    # accuracy over training runs, not over the test images of one network
    assert f"Clear-test accuracy ({DEPLOYED}, exploratory): **lower**" in md
    assert (
        "Classifier effect (naive vs expert, blurred input), nearest-neighbour focus distance: the foci differ "
        "more than the noise floor (3 vs 1 px; Δ = 2 [95 % CI 1.2, 2.8]; p (Holm) = 0.001)"
    ) in md
    # methods and reproducibility from config and pipeline_info
    assert "σ ∈ {0, 2, 6}" in md and "git commit `abc123`" in md and "no uncommitted changes" in md
    assert "| train_baseline | 1 | 35.2 | 35.2 | 690 | 63.8 % |" in md
    assert "Rule graph: 2 rules (`all`, `report`)" in md
    # every figure the document references is a real file, numbered in order within its section
    figs = [f for _, f in doc.figures]
    assert [f.number for f in figs][:12] == ["1.1", "1.2", "2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.1.5", "2.1.6",
                                             "2.2.1", "2.2.2", "2.2.3", "2.2.4"]
    assert len(figs) == n_figures and all(Path(f.path).is_file() for f in figs)
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", md):
        assert (results / "report" / link).resolve().is_file(), link
    # the summary's sentences come before the findings table, the table before the sections
    assert md.index("**Training runs.**") < md.index("| finding | comparison | family |") < md.index("## 1. Models")


def test_findings_table_has_one_verdict_vocabulary(results: Path, build_report) -> None:
    """Every primary row, then the headline exploratory rows; one verdict vocabulary; known answers."""
    doc = build_report(results)
    assert doc.findings.columns == ["finding", "comparison", "family", "from", "to", "change [95 % CI]", "p", "runs",
                                    "verdict"]
    rows = {(r[0], r[1]): r for r in doc.findings.rows}
    assert [r[2] for r in doc.findings.rows][:8] == ["primary"] * 8
    hf = rows[("HF power of preferred patches, layer2.0", "σ = 0 → σ = 6")]
    assert hf[3:5] == ["0.305", "0.185"] and hf[5].startswith("−0.12 [") and hf[7] == "2 / 2" and hf[8] == "lower"
    assert hf[6].startswith("Holm p = ")
    filt = "σ 0 network alone → behind the σ = 6 blur (the filter)"
    learned = "filter-only reference → trained σ = 6 model (learned)"
    assert rows[("f_0.5 of PGD perturbations (cyc/px)", filt)][8] == "lower"
    assert rows[("f_0.5 of PGD perturbations (cyc/px)", learned)][8] == "no detectable change"
    assert rows[("shape bias (cue conflict)", learned)][8].startswith("uninformative: at its ceiling in every model")
    assert rows[("f_rev (hybrid-image reversal, cyc/px)", learned)][8].startswith("not testable: 1 training run")
    verdicts = {r[8].split(":")[0] for r in doc.findings.rows}
    assert verdicts <= {"lower", "higher", "no detectable change", "not testable", "uninformative"}
    # the full table is in the appendix
    tables = [b for b in next(s for s in doc.sections if s.key == "appendix-tables").blocks if isinstance(b, R.Table)]
    assert len(tables[0].rows) > len(doc.findings.rows)


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
        ("A", "appendix-tables"),
        ("B", "appendix-sources"),
        ("C", "appendix-glossary"),
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
    # the band centroid's σ contrast over training runs (findings), with the runs behind it
    assert ("layer2.0, band centroid of accuracy (own head) of the informative bands (σ = 0 → σ = 6, exploratory): "
            "**lower**") in text
    # the long tables (accuracy per band, the image-level reference table) are in the appendix
    sec = next(s for s in doc.sections if s.key == "bands")
    table, ref = sec.appendix
    assert table.columns == ["model", "layer", "head", "unmodified", "low", "mid", "high"]
    assert table.rows[0] == ["sigma0", "layer2.0", "own", "0.8 [0.7, 0.85]", "0.6 [0.5, 0.7]", "0.3 [0.2, 0.4]", "∅"]
    assert "conditional on these networks" in ref.caption
    assert ref.rows[0][7:9] == ["−0.1 [−0.14, −0.06]", "−0.1 [−0.13, −0.07]"]
    appendix = next(s for s in doc.sections if s.key == "appendix-tables")
    assert any(b is ref for b in appendix.blocks) and any(b is table for b in appendix.blocks)


def test_aliasing_separates_the_filter_from_training(results: Path, build_report) -> None:
    """SIS over training runs: the σ contrast, BlurPool, the filter alone (each reference run against its own σ 0
    run, paired) and what training changed; the image-level tables go to the appendix, marked conditional."""
    doc = build_report(results)
    text = _text(doc, "aliasing")
    assert f"shift instability (SIS) ({DEPLOYED}, exploratory): **lower** (Δ = −0.0012 [95 % CI" in text
    assert "shift instability (SIS) (σ = 0 → BlurPool, exploratory): **lower**" in text
    assert ("shift instability (SIS) (σ 0 network alone → behind the σ = 6 blur (the filter), exploratory): "
            "**lower**") in text
    assert "(filter-only reference → trained σ = 6 model (learned), exploratory): **lower**" in text
    assert "say nothing about another training run" in text
    assert "maxpool: positive correlation, r = 0.4 [95 % CI 0.25, 0.55], p (Holm) < 0.001" in text
    sec = next(s for s in doc.sections if s.key == "aliasing")
    assert not any(isinstance(b, R.Table) for b in sec.blocks), "the image-level tables are in the appendix"
    assert all("conditional on these networks" in t.caption for t in sec.appendix)
    ref = sec.appendix[1]
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


def test_patch_statistics_state_the_design_and_every_test(results: Path, build_report) -> None:
    doc = build_report(results)
    stats_text = _text(doc, "statistics")
    assert "every claim about σ is a test over training runs" in stats_text
    assert "The **primary family** — 8 tests" in stats_text
    sec = next(s for s in doc.sections if s.key == "statistics")
    (trends,) = [b for b in sec.blocks if isinstance(b, R.Table)]
    assert trends.columns == ["finding", "layer", "family", "from", "to", "change [95 % CI]", "p", "runs", "verdict"]
    assert len(trends.rows) == 6 and trends.rows[0][2] == "primary" and trends.rows[0][-1] == "lower"
    assert "BlurPool, exploratory): **higher**" in stats_text  # layer2.0 HF power: BlurPool over 2 runs each
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


def test_frequency_states_tests_over_runs_confounds_and_censoring(results: Path, build_report) -> None:
    text = _text(build_report(results), "frequency")
    assert f"f_0.5 of PGD perturbations (cyc/px) ({DEPLOYED}, exploratory): **lower**" in text
    assert (f"corruption accuracy relative to clean accuracy ({DEPLOYED}, exploratory): **higher**") in text
    assert "relative to clean accuracy (corruption accuracy / clean accuracy)" in text
    assert (f"shape bias (cue conflict) ({DEPLOYED}, exploratory): **uninformative: at its ceiling in every "
            "model") in text
    assert "f_rev is censored or undefined for σ = 6 (the low-frequency image never wins: f_rev undefined)." in text


def test_a_stage_without_inputs_says_so(results: Path, build_report) -> None:
    drop = ("band_summary", "band_trend", "bands_accuracy", "bands_gt_rank", "bands_shift")
    doc = build_report(results, drop)
    assert _text(doc, "bands") == (
        "The bands stage is not part of this workflow run: none of its outputs (e.g. the report input "
        "`band_summary`) is an input of the report, so this section is empty."
    )
    assert not any("bands" in f.source for _, f in doc.figures)
    assert next(s for s in doc.sections if s.key == "bands").number == "6", "numbering does not depend on the data"


def test_sources_lists_every_file_read(results: Path, build_report, n_figures: int) -> None:
    src = build_report(results).sources
    assert list(src.columns) == ["path", "kind", "rows", "columns"]
    assert src["path"].is_unique
    found = src[src.path == str(results / "stats" / "findings.tsv")].iloc[0]
    assert found.kind == "table" and found.rows > 30 and found.columns == 28
    assert sorted(Path(p).name for p in src.loc[src.kind == "json", "path"]) == [
        "blurpool.json",
        "sigma0.json",
        "sigma2.json",
        "sigma6.json",
    ]
    assert (src.kind == "figure").sum() == n_figures
    assert (src.loc[src.kind == "table", "rows"] > 0).all()


def test_missing_column_or_empty_table_names_the_file(results: Path, build_report) -> None:
    t = results / "stats" / "findings.tsv"
    pd.read_csv(t, sep="\t").drop(columns=["p_holm"]).to_csv(t, sep="\t", index=False)
    with pytest.raises(R.ReportInputError, match=r"findings\.tsv lacks columns \['p_holm'\]"):
        build_report(results)
    t = results / "stats" / "patch_trends.tsv"
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
