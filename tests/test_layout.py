"""The library's layout: the DESIGN.md contract names resolve through the subpackages' lazy exports,
the torch-free modules stay torch-free, and setuptools packages every subpackage and the frost data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from setuptools import find_packages

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "workflow_scripts"

CONTRACT = {  # DESIGN.md "Library contract": dotted name -> the module that defines it
    "blurscope.spectra.radial_power_spectrum": "blurscope.spectra.spectrum",
    "blurscope.aliasing.avr": "blurscope.aliasing.measure",
    "blurscope.aliasing.sis": "blurscope.aliasing.measure",
    "blurscope.bands.band_mask": "blurscope.bands.intervention",
    "blurscope.featvis.render": "blurscope.featvis.optimise",
    "blurscope.stats.neuron_bootstrap": "blurscope.stats.bootstrap",
    "blurscope.complexity.complexity_metrics": "blurscope.complexity",
    "blurscope.blur.gaussian_blur": "blurscope.blur",
}


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=LIB)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_names_resolve_to_their_defining_function(name: str) -> None:
    package, attr = name.rsplit(".", 1)
    code = (f"import importlib\nimport {package}\nf = getattr({package}, {attr!r})\n"
            # importing every submodule first must not shadow the function (a submodule named like it would)
            f"import pkgutil\nfor m in pkgutil.iter_modules({package}.__path__ if hasattr({package}, '__path__') "
            f"else []):\n    importlib.import_module({package!r} + '.' + m.name)\n"
            f"g = getattr({package}, {attr!r})\nprint(callable(g), g is f, g.__module__)")
    assert _run(code) == f"True True {CONTRACT[name]}"


def test_top_level_lazy_exports_point_at_the_defining_modules() -> None:
    code = ("import blurscope\nfor n in blurscope.__all__:\n    obj = getattr(blurscope, n)\n"
            "    print(n, getattr(obj, '__module__', '?'))")
    found = dict(line.split() for line in _run(code).splitlines())
    assert found["avr"] == "blurscope.aliasing.measure"
    assert found["radial_power_spectrum"] == "blurscope.spectra.spectrum"
    assert found["band_mask"] == "blurscope.bands.intervention"
    assert found["load_model"] == "blurscope.models.network"
    assert found["neuron_bootstrap"] == "blurscope.stats.bootstrap"


def test_unknown_name_is_an_attribute_error() -> None:
    import blurscope.aliasing

    with pytest.raises(AttributeError, match="blurscope.aliasing.*no_such_name"):
        blurscope.aliasing.no_such_name  # noqa: B018


@pytest.mark.parametrize("module", ["blurscope.aliasing.stats", "blurscope.bands.stats", "blurscope.featvis.stats",
                                    "blurscope.stats.findings", "blurscope.config", "blurscope.training.config",
                                    "blurscope.frequency.corruption_config"])
def test_statistics_and_config_modules_import_no_torch(module: str) -> None:
    assert _run(f"import sys\nimport {module}\nprint('torch' in sys.modules)") == "False"


def test_setuptools_finds_every_subpackage_and_ships_the_frost_textures() -> None:
    on_disk = {".".join(p.parent.relative_to(LIB).parts) for p in (LIB / "blurscope").rglob("__init__.py")}
    found = set(find_packages(str(LIB), include=["blurscope*"]))
    assert on_disk == found, on_disk ^ found
    assert {"blurscope.data", "blurscope.models", "blurscope.training", "blurscope.frequency"} <= found
    from setuptools.config.pyprojecttoml import read_configuration

    patterns = read_configuration(REPO / "pyproject.toml")["tool"]["setuptools"]["package-data"]["blurscope"]
    frost = sorted((LIB / "blurscope" / "frequency" / "frost").iterdir())
    assert len(frost) >= 6
    root = LIB / "blurscope"
    shipped = {p for pat in patterns for p in root.glob(pat)}
    assert set(frost) <= shipped, set(frost) - shipped
