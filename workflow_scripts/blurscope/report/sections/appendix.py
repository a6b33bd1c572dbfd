"""The appendices: "Data sources" (every file the report read) and "Glossary"."""

from __future__ import annotations

from ..claims import as_float
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context


def section_sources(src: Sources, ctx: Context) -> Section:
    """Every table and figure the sections read so far (build this appendix after them)."""
    sec = Section("appendix-sources", "Data sources")
    t = src.used_table()
    t = t.assign(rows=t["rows"].map(lambda x: "–" if as_float(x) is None else str(int(x))))
    sec.para(
        "Every table and figure this report read. Numbers in the text are taken from these files; "
        "`results/README.md` documents their columns and units."
    )
    sec.add(Table(t[["path", "kind", "rows"]], "Inputs of this report.", ctx.sources_file))
    return sec


def section_glossary(src: Sources, ctx: Context) -> Section:
    """The terms and abbreviations of the report (fixed text)."""
    sec = Section("appendix-glossary", "Glossary")
    sec.add(
        Bullets(
            [
                "**σ (training blur)**: standard deviation of the Gaussian blur applied to training images, in "
                "pixels at 224 px.",
                "**CI**: percentile bootstrap confidence interval; brackets [a, b] in tables are CIs at the level "
                "stated in the caption.",
                "**Spearman ρ**: rank correlation; here between training σ and a per-unit value; its p from a "
                "permutation test.",
                "**Holm adjustment**: step-down correction of p-values for the number of tests in a table.",
                "**Cohen's d**: standardised mean difference (pooled SD); 0.2 small, 0.5 medium, 0.8 large.",
                "**HF power fraction**: power above the cutoff frequency over all non-DC power of a patch.",
                "**AVR / SIS**: alias violation ratio / shift instability score (section on aliasing).",
                "**f_rev / f_0.5**: hybrid-image reversal frequency / half-power frequency of adversarial "
                "perturbations, cycles/pixel.",
            ]
        )
    )
    return sec
