"""pyproject.toml: the version has one source (blurscope.__version__) and the dependencies are exactly what
the library imports; the ``test`` extra covers what the tests import beyond it."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from setuptools.config.pyprojecttoml import read_configuration

import blurscope

REPO = Path(__file__).resolve().parents[1]


def _project() -> dict:
    """``[project]`` of pyproject.toml as setuptools builds it (dynamic fields expanded)."""
    return read_configuration(REPO / "pyproject.toml", expand=True)["project"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _third_party_distributions(folder: Path, local: set[str]) -> dict[str, set[str]]:
    """``{distribution: {files}}`` of every non-stdlib import under ``folder``, imports inside functions
    (lazy ones) included."""
    dists = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in local or top == "__future__":
                    continue
                assert top in dists, f"{path}: imports {top!r}, which no installed distribution provides"
                for dist in dists[top]:
                    found.setdefault(_norm(dist), set()).add(str(path.relative_to(REPO)))
    return found


def test_version_has_one_source_and_is_this_release() -> None:
    static = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in static["project"], "pyproject.toml must not spell the version itself"
    assert static["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "blurscope.__version__"}
    project = _project()
    assert "version" in project["dynamic"]
    assert project["version"] == blurscope.__version__ == "0.6.0"


def test_dependencies_are_exactly_the_library_s_third_party_imports() -> None:
    imports = _third_party_distributions(REPO / "workflow_scripts" / "blurscope", {"blurscope"})
    declared = {_norm(d) for d in _project()["dependencies"]}
    missing = {d: sorted(files)[:3] for d, files in imports.items() if d not in declared}
    assert not missing, f"imported by the library but not in pyproject.toml's dependencies: {missing}"
    assert declared <= set(imports), f"declared but never imported by the library: {declared - set(imports)}"
    assert {"antialiased-cnns", "markupsafe"} <= declared  # the lazily imported ones


def test_the_test_extra_covers_what_tests_import_beyond_the_library() -> None:
    local = {p.stem for p in (REPO / "tests").rglob("*.py")} | {"blurscope"}
    imports = _third_party_distributions(REPO / "tests", local)
    project = _project()
    declared = {_norm(d) for d in project["dependencies"] + project["optional-dependencies"]["test"]}
    missing = {d: sorted(files)[:3] for d, files in imports.items() if d not in declared}
    assert not missing, f"imported by tests/ but in neither dependencies nor the test extra: {missing}"
