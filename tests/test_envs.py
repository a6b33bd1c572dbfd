"""Every conda env pins python 3.11 and exactly the versions of requirements.lock."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ENVS = sorted((REPO / "envs").glob("*.yaml"))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock line {line!r} is not pinned with =="
            pins[_norm(name)] = version
    return pins


def env_pins(path: Path) -> dict[str, str]:
    spec = yaml.safe_load(path.read_text())
    pins = {}
    for dep in spec["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        sep = "==" if isinstance(dep, dict) else "="
        for entry in entries:
            name, _, version = entry.partition(sep)
            pins[_norm(name.replace("pytorch", "torch"))] = version.lstrip("=")
    return pins


def test_lock_pins_every_required_package() -> None:
    pins = lock_pins()
    for pkg in ("snakemake", "torch", "torchvision", "timm", "antialiased-cnns", "numpy", "scipy",
                "pywavelets", "pillow", "pandas", "seaborn", "pytest", "snakemake-executor-plugin-slurm"):
        assert pkg in pins, f"{pkg} missing from requirements.lock"
    major, minor = map(int, pins["snakemake"].split(".")[:2])
    assert (major, minor) >= (9, 20)


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_agrees_with_lock(env: Path) -> None:
    spec = yaml.safe_load(env.read_text())
    assert spec["channels"] == ["conda-forge", "nodefaults"]
    pins = env_pins(env)
    assert pins.get("python") == "3.11", f"{env.name}: python must be pinned to 3.11"
    lock = lock_pins()
    for name, version in pins.items():
        if name in ("python", "pip"):
            continue
        assert name in lock, f"{env.name}: {name} is not in requirements.lock"
        assert version == lock[name], f"{env.name}: {name}=={version} but requirements.lock has {lock[name]}"


def test_every_rule_uses_an_existing_env() -> None:
    used = set()
    for smk in (REPO / "rules").glob("*.smk"):
        used |= set(re.findall(r'conda:\s*\n\s*"\.\./envs/([\w.-]+)"', smk.read_text()))
    assert used, "no conda: directives found"
    assert used <= {p.name for p in ENVS}, used - {p.name for p in ENVS}


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_installs_the_library_editable(env: Path) -> None:
    """Snakemake runs envs/<name>.post-deploy.sh once inside a new env: it must install
    the blurscope package from the checkout, editable, without touching the pinned deps."""
    script = env.with_name(env.stem + ".post-deploy.sh")
    assert script.is_file(), f"{script.name} missing: the {env.name} env would lack the blurscope package"
    text = script.read_text()
    assert re.search(r"pip install --no-deps --no-build-isolation -e ", text), text
    assert "setuptools" in env_pins(env), f"{env.name}: --no-build-isolation needs setuptools pinned"


def test_pyproject_makes_blurscope_installable() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert 'package-dir = { "" = "workflow_scripts" }' in text
    assert (REPO / "workflow_scripts" / "blurscope" / "__init__.py").is_file()


def _rules_with_env() -> list[tuple[str, str, Path]]:
    """``(rule, env file, script)`` of every rule with a ``conda:`` env and a ``script:``."""
    out = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0].strip()
            env = re.search(r'conda:\s*\n(?:\s*#.*\n)*\s*"\.\./envs/([\w.-]+)"', block)
            script = re.search(r'script:\s*\n\s*"\.\./(workflow_scripts/[\w.]+)"', block)
            if env and script:
                out.append((name, env.group(1), REPO / script.group(1)))
    return out


def _imports_torch(script: Path) -> tuple[bool, list[str]]:
    """Whether importing the library modules that ``script`` imports loads torch (and which modules)."""
    import subprocess
    import sys

    mods = set()
    for node in ast.walk(ast.parse(script.read_text())):  # every blurscope import, those inside functions too
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names if a.name.split(".")[0] == "blurscope"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "blurscope":
            mods |= {f"from {node.module} import {a.name}" for a in node.names}  # a submodule or a name
    code = "import sys\n" + "".join(f"{m if m.startswith('from ') else 'import ' + m}\n" for m in sorted(mods))
    code += "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO / "workflow_scripts")
    assert out.returncode == 0, f"{script.name}: {out.stderr[-500:]}"
    return out.stdout.strip() == "True", sorted(mods)


# statistics and data jobs: numpy/pandas work whose job would spend ~2 s importing torch for nothing
TORCH_FREE_RULES = ("analysis_images", "cue_conflict_images", "band_probe_images", "baseline_patches",
                    "patch_metrics", "patch_stats", "aliasing_stats", "band_summary", "featvis_stats",
                    "saliency_stats", "accuracy_matrix", "report")


def test_rules_in_an_env_without_torch_and_statistics_jobs_import_no_torch() -> None:
    """A rule whose env lacks torch must not reach torch through the library modules its script
    imports (it would fail in that env); the statistics and data jobs must not either (speed)."""
    no_torch = {p.name for p in ENVS if "torch" not in env_pins(p)}
    checked = []
    for rule, env, script in _rules_with_env():
        if env in no_torch or rule in TORCH_FREE_RULES:
            loads, mods = _imports_torch(script)
            assert not loads, f"rule {rule} (env {env}) imports torch through {mods}"
            checked.append(rule)
    assert set(TORCH_FREE_RULES) <= set(checked), set(TORCH_FREE_RULES) - set(checked)
    assert len(checked) > len(TORCH_FREE_RULES), checked  # and the figure rules
