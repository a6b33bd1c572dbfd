"""Conventions every rule script (workflow_scripts/*.py) keeps: docs/developing.md "Rules and rule scripts"."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "workflow_scripts").glob("*.py"))
CONVENTION = "smk = snakemake  # noqa: F821"


def snakemake_lines(src: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of every use of the name ``snakemake`` in the code ``src`` (not in
    strings, comments or an ``import snakemake``)."""
    lines = src.splitlines()
    tokens = list(tokenize.generate_tokens(io.StringIO(src).readline))
    out = []
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME or tok.string != "snakemake":
            continue
        before = tokens[i - 1].string if i else ""
        if before in ("import", "from"):
            continue
        out.append((tok.start[0], lines[tok.start[0] - 1]))
    return out


def test_there_are_rule_scripts() -> None:
    assert len(SCRIPTS) >= 30


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_the_snakemake_object_is_named_smk_once(path: Path) -> None:
    uses = snakemake_lines(path.read_text())
    assert [line.strip() for _, line in uses] == [CONVENTION], (
        f"{path.name}: bind the snakemake object once, as `{CONVENTION}` after the imports that must precede it, "
        f"and use `smk` everywhere else; found {uses}"
    )


def test_the_checker_sees_code_uses_only() -> None:
    src = '"""snakemake.input in a docstring"""\nimport snakemake\nx = "snakemake"  # snakemake\ny = snakemake.input\n'
    assert snakemake_lines(src) == [(4, "y = snakemake.input")]
