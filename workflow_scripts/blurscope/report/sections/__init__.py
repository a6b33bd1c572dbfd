"""The report's sections in order: the ONE list that numbers both reports.

:data:`PARTS` is the ordered list of the report's parts. A part is one numbered
section of ``report.html`` / ``report.md`` (or several, numbered ``3.1``,
``3.2``) and, for a stage, one category of Snakemake's own report: the rules
register their figures and tables with ``report(..., category="3. Spectra and
complexity")``, and ``tests/report/test_report_numbering.py`` checks every
``category=`` in ``rules/*.smk`` against this list. To add a stage's section,
write ``sections/<stage>.py`` (``section(src, ctx) -> Section``), add a
:class:`Part` here and use its :meth:`Part.category` in the stage's rules.

Snakemake sorts categories as strings, so only parts numbered below 10 carry
their number there (``category="numbered"``); Reproducibility is registered
under its bare name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..document import Heading, Section
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

Builder = Callable[[Sources, Context], Section]

# the category of the pipeline's own report file (results/report/report.html) in Snakemake's report
REPORT_CATEGORY = "Report"


@dataclass(frozen=True)
class Part:
    """One numbered part of the report: its name, its section builders, its Snakemake category.

    ``snakemake``: how the part appears in Snakemake's report — ``"numbered"``
    (category ``"<number>. <name>"``), ``"name"`` (category ``"<name>"``) or
    ``None`` (no output registered). ``appendix``: lettered A, B, … after the
    numbered parts.
    """

    name: str
    builders: tuple[Builder, ...]
    snakemake: Literal["numbered", "name"] | None = "numbered"
    appendix: bool = False

    def category(self, number: str) -> str | None:
        """The ``category=`` of this part's outputs in ``rules/*.smk`` (None: not in Snakemake's report)."""
        if self.snakemake == "numbered":
            return f"{number}. {self.name}"
        return self.name if self.snakemake == "name" else None


PARTS: tuple[Part, ...] = (
    Part("Models and accuracy", (models.section,)),
    Part("Feature visualisations", (features.section, featvis.section)),
    Part("Spectra and complexity", (spectra.section_spectra, spectra.section_complexity)),
    Part("Statistics", (statistics.section,)),
    Part("Aliasing and shift stability", (aliasing.section,)),
    Part("Band interventions", (bands.section,)),
    Part("Frequency preference", (frequency.section,)),
    Part("Saliency", (saliency.section,)),
    Part("Methods", (methods.section,), snakemake=None),
    Part("Reproducibility", (reproducibility.section,), snakemake="name"),
    Part("Detailed tables", (appendix.section_tables,), snakemake=None, appendix=True),
    Part("Data sources", (appendix.section_sources,), snakemake=None, appendix=True),
    Part("Glossary", (appendix.section_glossary,), snakemake=None, appendix=True),
)


def part_numbers(parts: tuple[Part, ...] = PARTS) -> list[tuple[str, Part]]:
    """``(number, part)`` in order: numbered parts 1, 2, …; appendices A, B, …."""
    out, n, letters = [], 0, iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    for part in parts:
        if part.appendix:
            out.append((next(letters), part))
        else:
            n += 1
            out.append((str(n), part))
    return out


def categories(parts: tuple[Part, ...] = PARTS) -> dict[str, str]:
    """``{Snakemake category: part number}`` of every part that registers outputs."""
    return {c: number for number, part in part_numbers(parts) if (c := part.category(number)) is not None}


def build_sections(src: Sources, ctx: Context, parts: tuple[Part, ...] = PARTS) -> list[Section]:
    """Every part's sections in order, numbered: ``"3"`` for a part of one section, ``"3.1"``, ``"3.2"``
    for a part of several, ``"A"`` for an appendix."""
    out: list[Section] = []
    for number, part in part_numbers(parts):
        built = [builder(src, ctx) for builder in part.builders]
        for k, sec in enumerate(built, 1):
            sec.number = number if len(built) == 1 else f"{number}.{k}"
            if sec.key == appendix.TABLES_KEY:  # the long tables of every section before it, by section
                for earlier in out:
                    if earlier.appendix:
                        sec.add(Heading(f"{earlier.number}. {earlier.title}"), *earlier.appendix)
            out.append(sec)
    return out


# report(<path or expand(path, ...)>, caption="../report/<name>.rst", category="<category>", ...) in a .smk file
_REPORT_CALL = re.compile(
    r'\breport\((?P<head>(?:(?!\breport\().)*?)\bcaption="(?:\.\./)?report/(?P<caption>[\w.-]+)\.rst",'
    r'\s*category="(?P<category>[^"]+)"',
    re.S,
)
_PATH = re.compile(r'f?"([^"]+)"')


def registered_outputs(smk_files: Iterable[str | os.PathLike]) -> list[dict[str, str]]:
    """The outputs the rules register for Snakemake's report, read statically from ``.smk`` files.

    One dict per ``report(...)`` call: ``path`` (the first string in it, as
    written, e.g. ``{RESULTS}/figures/all_neurons_grid_{{layer}}.png``, also
    inside ``expand(...)``), ``caption`` (the rst
    file's stem), ``category`` and ``file`` (the .smk file). Raises ValueError
    when a file has a ``category=`` this reader cannot attribute to a call
    (the call must give the path, then ``caption=`` and ``category=``, in that order).
    """
    out = []
    for smk in smk_files:
        text = Path(smk).read_text()
        found = []
        for m in _REPORT_CALL.finditer(text):
            path = _PATH.search(m.group("head"))
            if path is None:
                raise ValueError(f"{smk}: a report() call with caption {m.group('caption')}.rst names no path")
            found.append(
                {
                    "path": path.group(1),
                    "caption": m.group("caption"),
                    "category": m.group("category"),
                    "file": str(smk),
                }
            )
        n_categories = len(re.findall(r"\bcategory=", text))
        if n_categories != len(found):
            raise ValueError(
                f"{smk}: {n_categories} category= but {len(found)} report(path, caption=, category=) calls read"
            )
        out += found
    return out
