"""blurscope.report.captions: report/*.rst, Snakemake's captions, rendered for the pipeline's report.

The rst subset becomes the report's inline marks; the Jinja2 step sees the
same ``snakemake.wildcards`` / ``snakemake.config`` as in Snakemake's report;
anything the two reports would render differently is refused with the file's name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from blurscope import report as R

REPO = Path(__file__).resolve().parents[2]
CAPTIONS = sorted((REPO / "report").glob("*.rst"))


def test_rst_subset_to_inline_marks() -> None:
    assert R.rst_to_inline("Layer ``layer2.0``: *rows* are\nmodels, **bold** (1 = Nyquist).\n") == (
        "Layer `layer2.0`: rows are models, **bold** (1 = Nyquist)."
    )
    # a literal may span lines (accuracy_matrix.rst); a paragraph break becomes a space
    assert R.rst_to_inline("Table: ``model train_sigma\n  test_sigma``.\n\nSecond.") == (
        "Table: `model train_sigma test_sigma`. Second."
    )
    assert R.rst_to_inline("2 * 3 and a*b") == "2 * 3 and a*b", "a lone asterisk is text, not emphasis"


@pytest.mark.parametrize(
    "rst",
    ["see :ref:`x`", "a `link <https://x>`_", "the |sub| text", "text\n\n.. note:: x", "`title`"],
)
def test_rst_the_report_cannot_render_is_refused(rst: str) -> None:
    with pytest.raises(ValueError, match="unsupported reStructuredText"):
        R.rst_to_inline(rst)


def test_captions_render_wildcards_and_config(tmp_path: Path) -> None:
    (tmp_path / "grid.rst").write_text(
        'Layer ``{{ snakemake.wildcards.layer }}``, expert σ = {{ snakemake.config["saliency"]["expert_sigma"] }}.\n'
    )
    caps = R.Captions([tmp_path / "grid.rst"], {"saliency": {"expert_sigma": 2}})
    assert caps.names() == ["grid"]
    assert caps.text("grid", layer="4.2") == "Layer `4.2`, expert σ = 2."
    with pytest.raises(R.ReportInputError, match=r"caption .*grid\.rst \(wildcards \{\}\): .*layer"):
        caps.text("grid")
    with pytest.raises(
        R.ReportInputError, match=r"caption missing\.rst is not among the report's caption files \(grid\)"
    ):
        caps.text("missing")
    with pytest.raises(
        R.ReportInputError,
        match=r"caption grid\.rst is needed but the report was given no caption files .*report/\*\.rst",
    ):
        R.Captions([], {}).text("grid")
    (tmp_path / "bad.rst").write_text("see :ref:`x`\n")
    with pytest.raises(R.ReportInputError, match=r"bad\.rst .*unsupported reStructuredText on line 1"):
        R.Captions([tmp_path / "bad.rst"], {}).text("bad")


def test_every_caption_file_renders() -> None:
    """All of report/*.rst render with the default config and a layer (what both reports need)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    caps = R.Captions(CAPTIONS, config)
    assert len(caps.names()) == len(CAPTIONS) > 20
    for name in caps.names():
        text = caps.text(name, layer="layer3.2")
        assert text and "{{" not in text and "``" not in text and "\n" not in text, name
    # per-layer figures of one job (all layers) share one caption: it may not depend on a layer wildcard
    assert caps.text("all_neurons_grid", layer="layer3.2") == caps.text("all_neurons_grid")
    assert caps.text("all_neurons_grid").startswith("One figure per analysed layer")
    assert f"the expert (σ = {config['saliency']['expert_sigma']}) model" in caps.text("saliency_overlays")
