"""The report's sections: each part's builders, in the order of :data:`PARTS`.

:data:`PARTS` (:mod:`blurscope.report.parts`) is the ordered list of the report's
parts, the one list that numbers both reports: the rules register a stage's figures
and tables in Snakemake's report under ``report_category("<key>")`` of its part. A
part's sections are built by :data:`BUILDERS`. To add a stage's section, write
``sections/<stage>.py`` (``section(src, ctx) -> Section``), add a :class:`Part` to
``parts.py``, its builders here, and use ``report_category("<key>")`` in the stage's
rules.
"""

from __future__ import annotations

from collections.abc import Callable

from ..document import Heading, Section
from ..parts import PARTS, REPORT_CATEGORY, Part, categories, part_numbers
from ..sources import Sources
from . import (
    aliasing,
    appendix,
    bands,
    features,
    featvis,
    frequency,
    methods,
    models,
    reproducibility,
    saliency,
    spectra,
    statistics,
)
from .common import Context

__all__ = ["BUILDERS", "PARTS", "REPORT_CATEGORY", "Part", "build_sections", "categories", "part_numbers"]

Builder = Callable[[Sources, Context], Section]

BUILDERS: dict[str, tuple[Builder, ...]] = {
    "models": (models.section,),
    "features": (features.section, featvis.section),
    "spectra": (spectra.section_spectra, spectra.section_complexity),
    "statistics": (statistics.section,),
    "aliasing": (aliasing.section,),
    "bands": (bands.section,),
    "frequency": (frequency.section,),
    "saliency": (saliency.section,),
    "methods": (methods.section,),
    "reproducibility": (reproducibility.section,),
    "tables": (appendix.section_tables,),
    "sources": (appendix.section_sources,),
    "glossary": (appendix.section_glossary,),
}
"""Part key → the builders of its sections, in order."""


def build_sections(src: Sources, ctx: Context, parts: tuple[Part, ...] = PARTS) -> list[Section]:
    """Every part's sections in order, numbered: ``"3"`` for a part of one section, ``"3.1"``, ``"3.2"``
    for a part of several, ``"A"`` for an appendix."""
    out: list[Section] = []
    for number, part in part_numbers(parts):
        built = [builder(src, ctx) for builder in BUILDERS[part.key]]
        for k, sec in enumerate(built, 1):
            sec.number = number if len(built) == 1 else f"{number}.{k}"
            if sec.key == appendix.TABLES_KEY:  # the long tables of every section before it, by section
                for earlier in out:
                    if earlier.appendix:
                        sec.add(Heading(f"{earlier.number}. {earlier.title}"), *earlier.appendix)
            out.append(sec)
    return out
