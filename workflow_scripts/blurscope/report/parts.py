"""The report's parts in order: the ONE list that numbers blurscope's report and Snakemake's.

A part is one numbered section of ``report.html`` / ``report.md`` (or several,
numbered ``3.1``, ``3.2``) and, for a stage, one category of Snakemake's own report
(``snakemake --report``). The rules register a stage's figures and tables with
``report(..., category=report_category("<key>"))`` (``rules/common.smk``, from
:func:`category`); :mod:`blurscope.report.sections` builds each part's sections in
this order. Pure Python and cheap to import: the workflow reads it at parse time.

Snakemake sorts categories as strings, so only parts numbered below 10 carry their
number there (``snakemake="numbered"``); Reproducibility is registered under its
bare name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

REPORT_CATEGORY = "Report"
"""Category of the pipeline's own report file (``results/report/report.html``) in Snakemake's report."""


@dataclass(frozen=True)
class Part:
    """One part of the report: its key, its title, how it appears in Snakemake's report.

    ``key``: the name rules and section builders use (``report_category("spectra")``).
    ``snakemake``: ``"numbered"`` (category ``"<number>. <name>"``), ``"name"`` (category
    ``"<name>"``) or ``None`` (no output registered). ``appendix``: lettered A, B, … after
    the numbered parts.
    """

    key: str
    name: str
    snakemake: Literal["numbered", "name"] | None = "numbered"
    appendix: bool = False

    def category(self, number: str) -> str | None:
        """The ``category=`` of this part's outputs in Snakemake's report (None: not registered there)."""
        if self.snakemake == "numbered":
            return f"{number}. {self.name}"
        return self.name if self.snakemake == "name" else None


PARTS: tuple[Part, ...] = (
    Part("models", "Models and accuracy"),
    Part("features", "Feature visualisations"),
    Part("spectra", "Spectra and complexity"),
    Part("statistics", "Statistics"),
    Part("aliasing", "Aliasing and shift stability"),
    Part("bands", "Band interventions"),
    Part("frequency", "Frequency preference"),
    Part("saliency", "Saliency"),
    Part("methods", "Methods", snakemake=None),
    Part("reproducibility", "Reproducibility", snakemake="name"),
    Part("tables", "Detailed tables", snakemake=None, appendix=True),
    Part("sources", "Data sources", snakemake=None, appendix=True),
    Part("glossary", "Glossary", snakemake=None, appendix=True),
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


def category(key: str, parts: tuple[Part, ...] = PARTS) -> str:
    """Snakemake's report category of part ``key`` (``"spectra"`` → ``"3. Spectra and complexity"``);
    ``"report"``: :data:`REPORT_CATEGORY`.

    Raises:
        ValueError: ``key`` is no part, or a part that registers no outputs in Snakemake's report.
    """
    if key == "report":
        return REPORT_CATEGORY
    for number, part in part_numbers(parts):
        if part.key == key:
            found = part.category(number)
            if found is None:
                raise ValueError(f"report part {key!r} ({part.name}) registers no outputs in Snakemake's report")
            return found
    registered = [p.key for p in parts if p.snakemake is not None]
    raise ValueError(f"{key!r} is not a part of the report; parts with outputs: {registered} (or 'report')")
