"""The report's document model and its two renderings (HTML page, markdown twin).

A :class:`Document` is a list of :class:`Section` objects, each a list of
blocks: :class:`Para`, :class:`Bullets`, :class:`Heading`, :class:`Figure`,
:class:`Table`. Text of every block may carry two inline marks, ``**bold**``
and ```code```. The layout lives outside the code, in ``templates/``:
``page.html.j2`` (with ``style.css``) renders one self-contained HTML file
(figures as base64 ``data:`` URIs, inline CSS, no scripts, no external URL);
``report.md.j2`` renders the markdown twin with figures linked relative to the
markdown file.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

TEMPLATES = Path(__file__).with_name("templates")


class ReportInputError(ValueError):
    """A result table, figure or caption the report needs is missing, empty or malformed."""


# --------------------------------------------------------------------------- blocks


@dataclass
class Para:
    """A paragraph (inline marks allowed)."""

    text: str
    kind: ClassVar[str] = "para"


@dataclass
class Bullets:
    """A bulleted list; an empty list renders as nothing."""

    items: list[str]
    kind: ClassVar[str] = "bullets"


@dataclass
class Heading:
    """A sub-heading inside a section (HTML ``<h3>`` by default)."""

    text: str
    level: int = 3
    kind: ClassVar[str] = "heading"


@dataclass
class Figure:
    """An image file with its title, caption (inline marks) and number ("3.1.2", set by the document)."""

    path: str  # file on disk
    source: str  # path as the pipeline names it (results/figures/x.png)
    title: str
    caption: str = ""
    number: str = ""
    anchor: str = ""
    kind: ClassVar[str] = "figure"


@dataclass
class Table:
    """A table whose cells are already formatted as strings, with caption, source file and note."""

    df: pd.DataFrame  # cells already formatted as strings
    caption: str
    source: str = ""
    note: str = ""
    kind: ClassVar[str] = "table"

    @property
    def columns(self) -> list[str]:
        """The column headers as strings."""
        return [str(c) for c in self.df.columns]

    @property
    def rows(self) -> list[list[str]]:
        """The cells as strings, row by row; missing values (None, NaN) as ``""``."""
        return [[_cell(v) for v in row] for row in self.df.itertuples(index=False)]


def _cell(v: Any) -> str:
    """One table cell as text: ``""`` for None and NaN."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


@dataclass
class Section:
    """One numbered section: its blocks, the headlines it gives the executive summary, its number.

    ``key`` is the HTML anchor; ``short`` the section's name (default: ``title``);
    ``number`` is set by the report's ordered list of sections
    (``blurscope.report.parts.PARTS``); ``appendix`` holds the section's long
    tables, which the "Detailed tables" appendix shows under the section's name.
    """

    key: str
    title: str
    blocks: list[Any] = field(default_factory=list)
    headlines: list[str] = field(default_factory=list)
    number: str = ""
    short: str = ""
    appendix: list[Any] = field(default_factory=list)  # long tables: moved to the "Detailed tables" appendix

    def add(self, *blocks: Any) -> Section:
        """Append blocks, skipping None (a figure the stage did not make)."""
        self.blocks.extend(b for b in blocks if b is not None)
        return self

    def to_appendix(self, *blocks: Any) -> Section:
        """Blocks (long tables, method comparisons) for the "Detailed tables" appendix, skipping None."""
        self.appendix.extend(b for b in blocks if b is not None)
        return self

    def para(self, *sentences: Any) -> Section:
        """Append one paragraph of the non-empty sentences (claims or strings), joined by spaces."""
        text = " ".join(str(s) for s in sentences if s)
        if text:
            self.blocks.append(Para(text))
        return self

    @property
    def figures(self) -> list[Figure]:
        """The section's figures, in order."""
        return [b for b in self.blocks if isinstance(b, Figure)]


@dataclass
class Document:
    """The whole report: title page data, the executive summary, the sections and the files they read."""

    title: str
    author: str
    generated: str
    sections: list[Section]
    summary: list[str]
    subtitle: str = ""
    sources: pd.DataFrame | None = None  # path kind rows columns of every file the sections read
    findings: Table | None = None  # the executive summary's findings table (blurscope.report.findings)

    def number_figures(self) -> None:
        """Number each section's figures ``<section number>.k`` (k = 1, 2, …) and give them anchors."""
        for sec in self.sections:
            for k, fig in enumerate(sec.figures, 1):
                fig.number = f"{sec.number}.{k}"
                fig.anchor = f"fig-{sec.number}-{k}"

    @property
    def figures(self) -> list[tuple[Section, Figure]]:
        """Every (section, figure) pair in document order (the list of figures)."""
        return [(s, f) for s in self.sections for f in s.figures]


# --------------------------------------------------------------------------- rendering

_NUMERIC = re.compile(r"^[\s−\-+0-9.,e%×\[\]∞<>=n/a]+$")
_IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "svg": "image/svg+xml",
    "gif": "image/gif",
}


def inline_html(text: Any) -> str:
    """Escape ``text`` for HTML, then render the two inline marks: ``**bold**`` and ```code```."""
    out = html.escape(str(text), quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def data_uri(path: str | os.PathLike) -> str:
    """The image file ``path`` as a base64 ``data:`` URI (png, jpeg, svg, gif)."""
    ext = Path(path).suffix.lower().lstrip(".")
    mime = _IMAGE_TYPES.get(ext)
    if mime is None:
        raise ReportInputError(f"report: cannot embed {path}: unknown image type {ext!r}")
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def md_cell(s: Any) -> str:
    """A markdown table cell: ``|`` escaped, newlines as spaces."""
    return _cell(s).replace("|", "\\|").replace("\n", " ")


@cache
def _environment():  # -> jinja2.Environment (imported lazily: the report's own dependency)
    """The Jinja2 environment of ``templates/`` (HTML autoescaped, markdown verbatim)."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["inline"] = lambda text: Markup(inline_html(text))
    env.filters["data_uri"] = lambda path: Markup(data_uri(path))
    env.filters["md_cell"] = md_cell
    env.filters["relpath"] = lambda path, start: os.path.relpath(path, start).replace(os.sep, "/")
    env.tests["numeric"] = lambda s: bool(s) and bool(_NUMERIC.match(s))
    return env


def render_html(doc: Document) -> str:
    """One self-contained HTML page (``templates/page.html.j2``): inline CSS, figures as data: URIs,
    no scripts, no external URL."""
    return _environment().get_template("page.html.j2").render(doc=doc)


def render_markdown(doc: Document, figure_base: str | os.PathLike) -> str:
    """Markdown twin of the HTML (``templates/report.md.j2``); figures linked relative to
    ``figure_base`` (the .md's folder)."""
    return _environment().get_template("report.md.j2").render(doc=doc, figure_base=str(figure_base))
