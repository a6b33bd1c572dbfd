"""The appendices: "Detailed tables" (the full findings table and every section's long tables), "Data
sources" (every file the report read) and "Glossary"."""

from __future__ import annotations

import pandas as pd

from .. import runlevel as rl
from ..claims import as_float
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context

TABLES_KEY = "appendix-tables"
"""Key of the "Detailed tables" appendix: :func:`blurscope.report.sections.build_sections` appends every
earlier section's ``appendix`` blocks to it."""


def section_tables(src: Sources, ctx: Context) -> Section:
    """The full findings table (every run-level row); the sections' long tables follow it."""
    sec = Section(TABLES_KEY, "Detailed tables")
    tab = rl.findings(src)
    if tab is not None and len(tab):
        sec.para(
            "Every claim about training σ of this run, tested over training runs (`results/stats/findings.tsv`; "
            "docs/statistics.md). Primary rows are judged by their Holm-adjusted p, exploratory rows by their own p; "
            "both need the t interval on the same side. Below it, each section's long tables, among them the "
            "image-level tests: those are conditional on the trained networks (their p-values count images, not "
            "training runs) and are not evidence about training."
        )
        sec.add(Table(pd.DataFrame(rl.table_rows(tab)), "All run-level findings.", src.source("findings")))
    return sec


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
                "**Training run**: one trained network; the unit of every claim about training σ.",
                "**Run-level value**: a run's mean over its neurons, renders or images.",
                "**CI**: confidence interval; brackets [a, b] are CIs at the level stated in the caption (t "
                "intervals over training runs for every claim about σ; percentile bootstrap over neurons or images "
                "where a caption says so).",
                "**Primary family**: HF power, edge density and entropy of preferred patches and HF power of "
                "optimised stimuli at each analysed layer, σ max vs σ 0; Holm-adjusted together; the only rows "
                "that may be called findings.",
                "**Holm adjustment**: step-down correction of p-values for the number of tests in a family.",
                "**Verdicts**: lower / higher (test rejects at α and the interval agrees), no detectable change, "
                "not testable (the design cannot compute the test), uninformative (at ceiling or floor).",
                "**HF power fraction**: power above the cutoff frequency over all non-DC power of a patch.",
                "**AVR / SIS**: alias violation ratio / shift instability score (section on aliasing).",
                "**f_rev / f_0.5**: hybrid-image reversal frequency / half-power frequency of adversarial "
                "perturbations, cycles/pixel.",
            ]
        )
    )
    return sec
