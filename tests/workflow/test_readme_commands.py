"""Every command of README.md runs as typed (issue 20: the README's own overrides did not).

The fenced ``bash`` blocks of README.md are split into commands (backslash
continuations joined, comments dropped) and run in a fresh copy of the workflow:

* ``snakemake ...`` as typed plus ``-n`` (a dry run: the config is parsed,
  validated and checked, the whole DAG is built); ``--report`` runs for real, in
  a copy of the completed smoke run with its config (a report needs a run);
  the conda route needs ``conda``: where there is none, the command must fail
  saying so;
* ``make <target> ...`` as ``make -n <target> ...`` (the target and its
  variables exist; nothing is installed);
* ``export`` sets the environment of the commands after it; ``source`` of the
  venv is what the test does anyway (the venv's ``bin`` is on ``PATH``).

``yaml`` blocks whose first line is ``# <name>.yaml`` are the files the commands
name; they are written into the copy, with the README's example data folders
(``/data/imagenet``, ``/data/cue-conflict``) replaced by small stand-ins. A block
preceded by ``<!-- readme-commands: not run (<reason>) -->`` is only listed.
Any other command fails the test: a new kind of README command needs a rule here.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import smokerun as sr

pytestmark = [pytest.mark.workflow]

README = sr.REPO / "README.md"
SKIP_MARK = "<!-- readme-commands: not run"
DRY_RUN_FLAGS = {"-n", "--dry-run", "--dryrun"}


def fenced_blocks(text: str) -> list[tuple[str, str, str | None]]:
    """``(language, body, reason it is not run or None)`` of every fenced block, in order."""
    out = []
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S):
        before = text[: m.start()].rstrip().splitlines()
        reason = before[-1] if before and before[-1].startswith(SKIP_MARK) else None
        out.append((m.group(1), m.group(2), reason))
    return out


def commands(body: str) -> list[list[str]]:
    """Shell words of each command of a block (continuations joined, comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def readme_files(blocks, replacements: dict[str, str]) -> dict[str, str]:
    """The ``# <name>.yaml`` blocks as {name: text}, example folders replaced."""
    files = {}
    for lang, body, _ in blocks:
        first = body.splitlines()[0] if body.strip() else ""
        m = re.fullmatch(r"#\s*([\w.-]+\.ya?ml)\b.*", first.strip())
        if lang == "yaml" and m:
            for old, new in replacements.items():
                body = body.replace(old, new)
            files[m.group(1)] = body
    return files


def test_readme_parsing_finds_the_commands() -> None:
    blocks = fenced_blocks(README.read_text())
    run = [w for lang, body, reason in blocks if lang == "bash" and reason is None for w in commands(body)]
    firsts = {w[0] for w in run}
    assert {"make", "snakemake"} <= firsts, firsts
    assert ["make", "run"] in run and ["make", "test"] in run
    assert any("--report" in w for w in run)
    assert any(reason for *_, reason in blocks), "the optional, untested CPU-only route is marked"
    assert commands("a \\\n  b  # c\n# d\ne 'f g'\n") == [["a", "b"], ["e", "f g"]]


def fake_imagenet(root: Path) -> Path:
    """An ImageFolder stand-in (2 classes, no images: a dry run reads none)."""
    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            (root / split / wnid).mkdir(parents=True, exist_ok=True)
    return root


def test_every_readme_command_runs(tmp_path: Path, smoke_run: Path) -> None:
    work = sr.copy_workflow(tmp_path / "w")
    for item in ("Makefile", "requirements.lock", "pyproject.toml", "README.md"):
        shutil.copy2(sr.REPO / item, work / item)
    replacements = {"/data/imagenet": str(fake_imagenet(tmp_path / "imagenet")),
                    "/data/cue-conflict": str(tmp_path / "cue-conflict")}
    (tmp_path / "cue-conflict").mkdir()
    blocks = fenced_blocks(README.read_text())
    for name, text in readme_files(blocks, replacements).items():
        (work / name).write_text(text)
    env = sr.env()
    ran, listed = [], []
    for lang, body, reason in blocks:
        if lang != "bash":
            continue
        for words in commands(body):
            if reason is not None:
                listed.append(" ".join(words))
                continue
            ran.append(" ".join(words))
            head = words[0]
            if head == "source":
                continue
            if head == "export":
                env.update(dict(w.split("=", 1) for w in words[1:]))
                continue
            if head == "make":
                proc = subprocess.run(["make", "-n", *words[1:]], cwd=work, env=env, capture_output=True,
                                      text=True, timeout=120)
                assert proc.returncode == 0, f"README command {' '.join(words)!r}:\n{proc.stdout}\n{proc.stderr}"
                continue
            assert head == "snakemake", f"README shows {' '.join(words)!r}: no rule here to run it"
            cmd = [sr.SNAKEMAKE, *words[1:]]
            cwd = work
            if "--report" in words:
                cwd = sr.clone_run(smoke_run, tmp_path / "report")
                cmd.append(f"--configfile={sr.SMOKE_CONFIG}")
            elif not DRY_RUN_FLAGS & set(words):
                cmd.append("-n")
            proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
            out = proc.stdout + proc.stderr
            if "--sdm" in words and "conda" in words and shutil.which("conda", path=env["PATH"]) is None:
                assert proc.returncode != 0 and "conda" in out, out[-3000:]
                continue
            assert proc.returncode == 0, f"README command {' '.join(words)!r} failed:\n{out[-4000:]}"
            if "--report" in words:
                assert (cwd / "results" / "report" / "snakemake_report.zip").is_file()
    print("\nREADME commands run:\n  " + "\n  ".join(ran) + "\nlisted only:\n  " + "\n  ".join(listed))
    assert len(ran) >= 10
