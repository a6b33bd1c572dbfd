"""Both reports number their parts the same way, show the same captions, and read the same outputs.

Snakemake's report groups the outputs a rule registers with
``report(..., caption=, category=report_category("<part>"))``; the pipeline's report
numbers its sections from ``blurscope.report.parts.PARTS``. Each registered figure must
be a named input of the report rule, sit in the HTML section numbered as its category
and carry the caption of the same rst file. The rules are read as Snakemake parses them
(the session fixture ``parsed_workflow``, tests/conftest.py).
"""

from __future__ import annotations

import re

import pytest
import smokerun

from blurscope import report as R
from blurscope.report.sections import BUILDERS


def figure_sections(html: str) -> dict[str, str]:
    """``{figure source path: number of the HTML section it is in}``."""
    out = {}
    for number, body in re.findall(r'<section id="[^"]+"><h2>([0-9A-Z.]+)\. .*?</h2>(.*?)</section>', html, re.S):
        for source in re.findall(r'<img [^>]*data-source="([^"]+)"', body):
            out[source] = number
    return out


def registered_figures(parsed: dict, inputs: dict, layers: list[str]) -> list[dict]:
    """The figures the rules register, one per report input of the fixture results (``source``), with
    ``category``, ``caption`` and ``layer`` (one of the fixture's ``layers`` for a per-layer figure)."""
    kinds = {(f["name"], f["layer"] is not None): f for f in smokerun.reported_figures(parsed) if f["name"]}
    out = []
    for (name, per_layer), fig in sorted(kinds.items()):
        for layer in layers if per_layer else [None]:
            key = f"{name}/{layer}" if per_layer else name
            if key in inputs:  # frequency_shape_bias only with cue-conflict images
                out.append({**fig, "layer": layer, "source": inputs[key]})
    return out


def test_categories_come_from_the_parts() -> None:
    assert R.category("spectra") == "3. Spectra and complexity"
    assert R.category("aliasing") == "5. Aliasing and shift stability"
    assert R.category("reproducibility") == "Reproducibility" and R.category("report") == R.REPORT_CATEGORY
    with pytest.raises(ValueError, match=r"'methods' \(Methods\) registers no outputs in Snakemake's report"):
        R.category("methods")
    with pytest.raises(ValueError, match=r"'spectrum' is not a part of the report; parts with outputs: \['models'"):
        R.category("spectrum")
    assert list(BUILDERS) == [part.key for part in R.PARTS]


def test_snakemake_categories_are_the_report_parts(parsed_workflow: dict) -> None:
    used = {reg["category"] for reg in parsed_workflow["reported"]}
    parts = R.categories()
    assert used - {R.REPORT_CATEGORY} == set(parts), (
        f"categories of registered outputs but not in blurscope.report.parts.PARTS: {sorted(used - set(parts))}; "
        f"parts no rule uses: {sorted(set(parts) - used)}"
    )
    for category, number in parts.items():
        m = re.match(r"(\d+)\. ", category)
        if m:
            assert m.group(1) == number, f"Snakemake category {category!r} is part {number} of the report"
    assert parts["3. Spectra and complexity"] == "3" and parts["5. Aliasing and shift stability"] == "5"


def test_every_figure_sits_in_the_section_of_its_category(results, build_report, report_inputs, parsed_workflow):
    where = figure_sections(R.render_html(build_report(results)))
    numbers = R.categories()
    figures = registered_figures(parsed_workflow, report_inputs(results), fixture_layers(results))
    registered = {fig["source"] for fig in figures}
    assert registered == set(where), (
        f"registered but not in the report: {sorted(registered - set(where))}; "
        f"in the report but not registered: {sorted(set(where) - registered)}"
    )
    for fig in figures:
        number = numbers[fig["category"]]
        assert where[fig["source"]] == number or where[fig["source"]].startswith(
            number + "."
        ), f"{fig['path']}: category {fig['category']!r} (rule {fig['rule']}), section {where[fig['source']]}"


def test_every_figure_has_the_caption_its_rule_registers(results, build_report, report_inputs, parsed_workflow):
    doc = build_report(results)
    captions = R.Captions(report_inputs(results)["captions"], doc_config(results))
    shown = {f.source: f.caption for _, f in doc.figures}
    for fig in registered_figures(parsed_workflow, report_inputs(results), fixture_layers(results)):
        wildcards = {"layer": fig["layer"]} if fig["layer"] else {}
        assert shown[fig["source"]] == captions.text(fig["caption"], **wildcards), fig["path"]


def test_the_report_rule_reads_every_registered_figure(parsed_workflow: dict) -> None:
    """Every figure registered for Snakemake's report is a named input of rule report, named as its
    caption (report/<name>.rst), and every figure the report rule reads is registered."""
    figures = smokerun.reported_figures(parsed_workflow)
    unread = [f["path"] for f in figures if f["name"] is None]
    assert not unread, f"registered for Snakemake's report but not read by rule report: {unread}"
    for fig in figures:
        assert fig["name"] == fig["caption"], f"{fig['path']}: report input {fig['name']!r}, caption {fig['caption']}"
    read = {p for v in parsed_workflow["report_inputs"].values() for p in ([v] if isinstance(v, str) else v)
            if "/figures/" in p}
    assert read == {f["path"] for f in figures}


def test_the_fixture_names_the_report_rules_inputs(results, report_inputs, parsed_workflow: dict) -> None:
    """tests/report/conftest.py gives the report the inputs rule report gives it, by name."""
    def kinds(names):
        return {name.split("/")[0] + ("/<layer>" if "/" in name else "") for name in names}

    rule = kinds(parsed_workflow["report_inputs"])
    fixture = kinds(report_inputs(results))
    assert fixture <= rule, f"the fixture names inputs rule report does not have: {sorted(fixture - rule)}"
    # two tables the fixture does not write
    left_out = rule - fixture
    assert left_out <= {"aliasing_timing", "patch_runs"}, f"inputs the fixture leaves out: {sorted(left_out)}"


def doc_config(res) -> dict:
    """The resolved config of the fixture results."""
    import yaml

    return yaml.safe_load((res / "pipeline_info" / "config.yaml").read_text())


def fixture_layers(res) -> list[str]:
    return [str(layer) for layer in doc_config(res)["analysis"]["layers"]]
