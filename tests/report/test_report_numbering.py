"""Both reports number their parts the same way and show the same captions.

Snakemake's report groups the outputs a rule registers with
``report(..., caption=, category="N. Name")`` (rules/*.smk, read statically
here); the pipeline's report numbers its sections from
``blurscope.report.sections.PARTS``. Each registered figure must sit in the
HTML section numbered N (or N.k) and carry the caption of the same rst file.
"""

from __future__ import annotations

import re
from pathlib import Path

from blurscope import report as R
from blurscope.report.sections import registered_outputs

REPO = Path(__file__).resolve().parents[2]
RULES = sorted((REPO / "rules").glob("*.smk"))


def figure_sections(html: str) -> dict[str, str]:
    """``{figure source path: number of the HTML section it is in}``."""
    out = {}
    for number, body in re.findall(r'<section id="[^"]+"><h2>([0-9A-Z.]+)\. .*?</h2>(.*?)</section>', html, re.S):
        for source in re.findall(r'<img [^>]*data-source="([^"]+)"', body):
            out[source] = number
    return out


def registered_figures(layers: list[str]) -> list[dict[str, str]]:
    """The figures of rules/*.smk with ``{layer}`` expanded, each with ``file`` = its file name."""
    out = []
    for reg in registered_outputs(RULES):
        name = reg["path"].replace("{RESULTS}/", "")
        if not name.startswith("figures/"):
            continue
        for layer in layers if "{{layer}}" in name else [None]:
            file = Path(name.replace("{{layer}}", layer or "")).name
            out.append({**reg, "file_name": file, "layer": layer})
    return out


def test_snakemake_categories_are_the_report_parts() -> None:
    used = {reg["category"] for reg in registered_outputs(RULES)}
    parts = R.categories()
    assert used - {R.REPORT_CATEGORY} == set(parts), (
        f"categories in rules/*.smk but not in blurscope.report.sections.PARTS: {sorted(used - set(parts))}; "
        f"parts no rule uses: {sorted(set(parts) - used)}"
    )
    for category, number in parts.items():
        m = re.match(r"(\d+)\. ", category)
        if m:
            assert m.group(1) == number, f"Snakemake category {category!r} is part {number} of the report"
    assert parts["3. Spectra and complexity"] == "3" and parts["5. Aliasing and shift stability"] == "5"


def test_every_figure_sits_in_the_section_of_its_category(results: Path, build_report) -> None:
    doc = build_report(results)
    where = figure_sections(R.render_html(doc))
    numbers = R.categories()
    figures = registered_figures(["layer2.0", "4.2"])
    registered = {str(results / "figures" / fig["file_name"]) for fig in figures}
    assert registered == set(where), (
        f"registered in rules/*.smk but not in the report: {sorted(Path(p).name for p in registered - set(where))}; "
        f"in the report but not registered: {sorted(Path(p).name for p in set(where) - registered)}"
    )
    for fig in figures:
        source = str(results / "figures" / fig["file_name"])
        number = numbers[fig["category"]]
        assert where[source] == number or where[source].startswith(
            number + "."
        ), f"{fig['file_name']}: category {fig['category']!r} in {fig['file']}, section {where[source]} in the report"


def test_every_figure_has_the_caption_its_rule_registers(results: Path, build_report, report_inputs) -> None:
    doc = build_report(results)
    captions = R.Captions(report_inputs(results)["captions"], doc_config(results))
    shown = {f.source: f.caption for _, f in doc.figures}
    for fig in registered_figures(["layer2.0", "4.2"]):
        wildcards = {"layer": fig["layer"]} if fig["layer"] else {}
        expected = captions.text(fig["caption"], **wildcards)
        assert shown[str(results / "figures" / fig["file_name"])] == expected, fig["file_name"]


def test_the_report_rule_reads_every_registered_figure() -> None:
    """rules/report.smk names every figure of the other rules as an input (its file stem)."""
    text = (REPO / "rules" / "report.smk").read_text()
    names = set()
    for var in ("REPORT_FIGURES", "REPORT_FIGURES_PER_LAYER"):
        block = re.search(rf"^{var} = \[\n(.*?)^\]", text, re.M | re.S)
        assert block, f"rules/report.smk has no {var} list"
        names |= set(re.findall(r'"(\w+)"', block.group(1)))
    stems = {Path(r["path"]).name.replace("_{{layer}}", "").removesuffix(".png") for r in registered_figures(["x"])}
    assert (
        stems == names
    ), f"registered but not read: {sorted(stems - names)}; read but not registered: {sorted(names - stems)}"


def doc_config(res: Path) -> dict:
    """The resolved config of the fixture results."""
    import yaml

    return yaml.safe_load((res / "pipeline_info" / "config.yaml").read_text())
