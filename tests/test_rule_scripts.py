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


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_no_rule_script_runs_or_imports_another(path: Path) -> None:
    """A rule script calls the library; it never runs another script (runpy, exec, subprocess on a
    workflow script) or imports one: shared logic belongs in ``blurscope``."""
    import ast

    tree = ast.parse(path.read_text())
    scripts = {p.stem for p in SCRIPTS}
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert "runpy" not in imported, f"{path.name} imports runpy"
    assert not (imported & scripts) - {"blurscope"}, f"{path.name} imports rule scripts {imported & scripts}"
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not calls & {"exec", "execfile"}, f"{path.name} calls exec"
    text = path.read_text()
    assert not [s for s in scripts if s != path.stem and f"{s}.py" in text.split('"""', 2)[-1]], (
        f"{path.name} names another rule script's file in its code"
    )


def test_the_script_checker_catches_runpy(tmp_path: Path) -> None:
    """The check above fails on a script that runs another one (the pattern this layout removed)."""
    bad = tmp_path / "bad.py"
    bad.write_text('"""doc"""\nimport runpy\nrunpy.run_path("workflow_scripts/features.py")\n')
    with pytest.raises(AssertionError, match="runpy"):
        test_no_rule_script_runs_or_imports_another(bad)
