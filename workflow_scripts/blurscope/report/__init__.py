"""The blurscope report: every number and every direction word comes from a result table.

:func:`build` turns the report rule's named inputs into a :class:`Document`;
:func:`write_html` and :func:`write_md` render it through the Jinja2 templates
in ``templates/`` (``page.html.j2`` + ``style.css``, ``report.md.j2``). The
package, one module per concern:

* ``claims`` — number formatting and :func:`judge`: a direction word only when
  the test and the CI agree; the sentence builders.
* ``document`` — the document model (:class:`Section` with :class:`Para`,
  :class:`Bullets`, :class:`Heading`, :class:`Figure`, :class:`Table`) and its
  rendering.
* ``sources`` — :class:`Sources`: the named inputs, read, checked and recorded
  (``results/report/sources.tsv``).
* ``captions`` — figure captions from ``report/*.rst``, the files Snakemake's
  own report shows for the same outputs.
* ``runlevel`` — one row of ``results/stats/findings.tsv`` (every claim about
  training σ, tested over training runs) as a sentence, a table cell, a summary
  clause: the one wording, so summary, findings table and sections agree.
* ``findings`` — the first screen: at most five sentences and the findings table.
* ``parts`` — :data:`PARTS`, the one ordered list of the report's parts that
  numbers both reports, and :func:`category`, a part's category in Snakemake's
  report (what ``report_category`` in ``rules/common.smk`` returns).
* ``sections/`` — one module per stage (``models``, ``features``, ``spectra``,
  ``statistics``, ``aliasing``, ``bands``, ``frequency``, ``saliency``,
  ``methods``, ``reproducibility``, ``appendix``); ``sections.BUILDERS`` holds
  each part's section builders.

The public names below are imported lazily, so ``import blurscope.report``
stays cheap.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blurscope._lazy import lazy_getattr

if TYPE_CHECKING:
    from .document import Document
    from .sources import InputPaths

_EXPORTS = {
    **dict.fromkeys(
        (
            "MINUS",
            "Claim",
            "Verdict",
            "against_value_sentence",
            "as_float",
            "capitalize",
            "ci_name",
            "compact_trend",
            "compare_sentence",
            "fmt_ci",
            "fmt_interval",
            "fmt_num",
            "fmt_p",
            "fmt_pct",
            "fmt_pval",
            "intervals_disjoint",
            "judge",
            "layer_label",
            "model_label",
            "model_sort_key",
            "order_models",
            "overlap_sentence",
            "sigma_label",
            "trend_sentence",
        ),
        "claims",
    ),
    **dict.fromkeys(
        (
            "Bullets",
            "Document",
            "Figure",
            "Heading",
            "Para",
            "ReportInputError",
            "Section",
            "Table",
            "render_html",
            "render_markdown",
        ),
        "document",
    ),
    **dict.fromkeys(("ID_COLUMNS", "Sources", "read_table"), "sources"),
    **dict.fromkeys(("Captions", "rst_to_inline"), "captions"),
    **dict.fromkeys(("PARTS", "Part", "REPORT_CATEGORY", "categories", "category", "part_numbers"), "parts"),
    "build_sections": "sections",
    "Context": "sections.common",
}

__all__ = sorted([*_EXPORTS, "build", "write_html", "write_md"])
__getattr__ = lazy_getattr(__name__, _EXPORTS)


def build(inputs: InputPaths, params: Mapping[str, Any], generated: str | None = None) -> Document:
    """The whole report from the report rule's named inputs: sections, executive summary, numbering.

    ``inputs``: ``{name: path or [paths]}`` (``snakemake.input.items()``); it
    must hold ``config`` (the resolved ``results/pipeline_info/config.yaml``)
    and may hold ``captions`` (``report/*.rst``) and every stage's tables and
    figures (see the section modules for their names). ``params``: ``cfg`` (the
    ``report`` config: title, author, alpha, max_table_rows, n_representative)
    and ``sources`` (where ``sources.tsv`` is written). ``generated``: the time
    stamp shown (default: now, UTC). The files read are in ``Document.sources``.
    """
    import yaml

    from .captions import Captions
    from .claims import fmt_num
    from .document import Document
    from .sections import build_sections
    from .sections.common import Context
    from .sources import Sources

    src = Sources(inputs)
    config = yaml.safe_load(Path(src.path("config")).read_text()) or {}
    src.captions = Captions(src.paths("captions") if src.has("captions") else [], config)
    rc = {**(config.get("report") or {}), **(params.get("cfg") or {})}
    ctx = Context(
        config=config,
        alpha=float(rc.get("alpha", 0.05)),
        max_rows=int(rc.get("max_table_rows", 60)),
        n_representative=int(rc.get("n_representative", 3)),
        sources_file=str(params.get("sources") or "results/report/sources.tsv"),
    )
    from .findings import findings_table, summary_sentences

    findings = findings_table(src, ctx)
    sections = build_sections(src, ctx)
    models = next((s for s in sections if s.key == "models"), None)
    summary = summary_sentences(src, ctx, {"sentence": models.headlines[0] if models and models.headlines else ""})
    doc = Document(
        title=str(rc.get("title") or "blurscope report"),
        author=str(rc.get("author") or ""),
        generated=generated or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
        summary=summary,
        subtitle=(
            f"{len(ctx.sigmas)} training blur levels (σ = {', '.join(fmt_num(s) for s in ctx.sigmas)}) and "
            f"BlurPool; {protocol_phrase(config)}; layers {', '.join(ctx.layers)}."
        ),
        sources=src.used_table(),
        findings=findings,
    )
    doc.number_figures()
    return doc


def protocol_phrase(config: Mapping[str, Any]) -> str:
    """How the models were trained and probed, as a phrase for the subtitle."""
    tr, an = config.get("training", {}) or {}, config.get("analysis", {}) or {}
    mode = ("every σ model trained from scratch on its blurred images" if tr.get("mode", "scratch") == "scratch"
            else "σ > 0 models fine-tuned behind a fixed blur layer (weights close to their parent)")
    probe = ("preferences probed with clear images, network alone" if not an.get("own_blur", False)
             else "preferences probed through each model's blur layer (filter and training mixed)")
    return f"{mode}; {probe}"


def write_html(doc: Document, path: str | os.PathLike) -> str:
    """Render ``doc`` as one self-contained HTML page and write it atomically to ``path``; returns the text."""
    from blurscope import io

    from .document import render_html

    text = render_html(doc)
    with io.atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return text


def write_md(doc: Document, path: str | os.PathLike) -> str:
    """Render ``doc`` as markdown (figures linked relative to ``path``'s folder), write it atomically.

    Returns the text."""
    from blurscope import io

    from .document import render_markdown

    text = render_markdown(doc, Path(path).parent)
    with io.atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return text
