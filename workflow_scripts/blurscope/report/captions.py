"""Figure captions from ``report/*.rst``: the one source for both reports.

Snakemake's own report (``snakemake --report``) shows the caption a rule
registers with ``report(..., caption="../report/<name>.rst")``; the pipeline's
report renders the same file for the same figure. Snakemake renders a caption
with Jinja2 first (``{{ snakemake.wildcards.layer }}``,
``{{ snakemake.config["saliency"]["expert_sigma"] }}``) and then as
reStructuredText; here the same Jinja2 step runs with the job's wildcards and
the resolved config, and the rst subset the captions use becomes the report's
inline marks: ````literal```` → ```code```, ``**strong**`` stays,
``*emphasis*`` becomes plain text, lines and paragraphs are joined by spaces.
Any other rst construct (roles, links, substitutions, directives) is refused,
so a caption that would render differently in the two reports fails loudly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .document import ReportInputError

_LITERAL = re.compile(r"``(.+?)``", re.S)  # a literal may span lines
_EMPHASIS = re.compile(r"(?<![*\w])\*(?!\*)([^*]+?)\*(?![*\w])")
# rst markup the converter does not handle: interpreted text / roles / links, substitutions, directives
_UNSUPPORTED = re.compile(r"`|\|\w[^|]*\||^\s*\.\. ", re.M)


def rst_to_inline(text: str) -> str:
    """The captions' rst subset as the report's inline marks, on one line.

    >>> rst_to_inline("Layer ``layer2.0``: *rows* are\\nmodels, **bold**.")
    'Layer `layer2.0`: rows are models, **bold**.'

    Raises ValueError on rst the report cannot render the same way (roles,
    links, substitutions, directives).
    """
    literals: list[str] = []

    def keep(m: re.Match) -> str:
        """Set a literal aside (its content is not rst markup) behind a placeholder."""
        literals.append(" ".join(m.group(1).split()))
        return f"\0{len(literals) - 1}\0"

    body = _LITERAL.sub(keep, text)
    bad = _UNSUPPORTED.search(body)
    if bad:
        line = body[: bad.start()].count("\n") + 1
        raise ValueError(f"unsupported reStructuredText on line {line}: {bad.group(0)!r}")
    body = _EMPHASIS.sub(r"\1", body)
    body = " ".join(body.split())
    return re.sub(r"\0(\d+)\0", lambda m: f"`{literals[int(m.group(1))]}`", body)


class Captions:
    """The caption files ``<name>.rst`` given to the report, rendered for one figure at a time.

    ``files``: the ``.rst`` paths (the report rule's ``captions`` input);
    ``config``: the resolved config, the ``snakemake.config`` of the templates.
    """

    def __init__(self, files: Iterable[str | os.PathLike], config: Mapping[str, Any]) -> None:
        self.files = {Path(f).stem: Path(f) for f in files}
        self.config = config
        self._env = None

    def names(self) -> list[str]:
        """The caption names available (file stems), sorted."""
        return sorted(self.files)

    def text(self, name: str, **wildcards: str) -> str:
        """Caption ``name`` rendered with ``wildcards`` and the config, as inline-marked text.

        Raises :class:`ReportInputError` naming the file when it is not given,
        uses an undefined template variable or unsupported rst.
        """
        import jinja2

        path = self.files.get(name)
        if not self.files:
            raise ReportInputError(
                f"report: caption {name}.rst is needed but the report was given no caption files "
                "(the report rule's input 'captions': report/*.rst next to the workflow's Snakefile)"
            )
        if path is None:
            raise ReportInputError(
                f"report: caption {name}.rst is not among the report's caption files ({', '.join(self.names())})"
            )
        if self._env is None:
            # as Snakemake renders captions (trim_blocks, lstrip_blocks), but an undefined name is an error
            self._env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        try:
            rst = self._env.from_string(path.read_text(encoding="utf-8")).render(
                snakemake={"wildcards": dict(wildcards), "config": self.config}
            )
            return rst_to_inline(rst)
        except (jinja2.TemplateError, ValueError) as err:
            raise ReportInputError(f"report: caption {path} (wildcards {dict(wildcards)}): {err}") from None
