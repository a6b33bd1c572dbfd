"""Helpers shared by the SLURM, rerun and failure tests.

Run the workflow on a private copy of the repository in a temporary folder,
parse Snakemake's structured outputs (dry-run job stats, ``--summary``) and the
workflow itself (``parse_workflow``: the report's wiring), hash result tables,
start/locate the one-node test SLURM cluster.

Import from a test module with::

    import smokerun

The module is imported once per pytest session, so ``local_smoke_run`` (cached
here) is computed once and shared by tests/test_slurm.py and tests/workflow/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SLURM_DIR = REPO / "tests" / "slurm"
SMOKE_CONFIG = "tests/workflow/smoke.yaml"
VENV_BIN = REPO / ".venv" / "bin"
SNAKEMAKE = str(VENV_BIN / "snakemake") if (VENV_BIN / "snakemake").exists() else "snakemake"
CORES = 2
# wall-clock limit of one full smoke run (local); SLURM adds per-job overhead
SMOKE_TIMEOUT_S = int(os.environ.get("BLURSCOPE_SMOKE_TIMEOUT", "900"))

# what a copy of the workflow needs (the fixed top level: docs/developing.md "Layout")
WORKFLOW_ITEMS = ("Snakefile", "rules", "workflow_scripts", "config", "envs", "profiles", "report")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".snakemake", ".pytest_cache")

# tables that legitimately differ between runs (wall-clock timings)
NONDETERMINISTIC_DIRS = ("benchmarks", "logs", "pipeline_info")
NONDETERMINISTIC_FILES = ("aliasing/timing.tsv",)  # seconds per image (wall-clock timing)
# wall-clock columns of otherwise deterministic tables: left out of the comparison
NONDETERMINISTIC_COLUMNS = {"evaluation/training.tsv": ("train_seconds", "images_per_second")}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def workflow_ready() -> bool:
    """True once the foundation (Snakefile, rules, smoke config) exists."""
    return (REPO / "Snakefile").exists() and (REPO / SMOKE_CONFIG).exists()


def copy_workflow(dst: Path) -> Path:
    """Copy the workflow (not results/, not .snakemake/) to ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in WORKFLOW_ITEMS:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, dst / item, ignore=IGNORE, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dst / item)
    smoke = dst / SMOKE_CONFIG
    smoke.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / SMOKE_CONFIG, smoke)
    # anything else under tests/workflow the smoke config may point at (tiny data)
    for extra in (REPO / "tests" / "workflow").iterdir():
        if extra.is_dir() and extra.name not in {"__pycache__"}:
            shutil.copytree(extra, dst / "tests" / "workflow" / extra.name, ignore=IGNORE, dirs_exist_ok=True)
    return dst


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    e["PATH"] = f"{VENV_BIN}{os.pathsep}{e.get('PATH', '')}"
    return e


def snakemake(
    workdir: Path,
    *args: str,
    configfile: str | None = SMOKE_CONFIG,
    cores: int | None = CORES,
    timeout: int = SMOKE_TIMEOUT_S,
    check: bool = False,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir`` under ``timeout -k`` and capture its output."""
    cmd = ["timeout", "-k", "20", str(timeout), SNAKEMAKE, "--directory", str(workdir)]
    if cores is not None:
        cmd += ["--cores", str(cores)]
    if configfile:
        # "=" form: --configfile takes several values and would swallow targets
        cmd += [f"--configfile={configfile}"]
    cmd += list(args)
    e = env()
    if extra_env:
        e.update(extra_env)
    proc = subprocess.run(cmd, cwd=workdir, env=e, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(describe(proc))
    return proc


def describe(proc: subprocess.CompletedProcess, tail: int = 6000) -> str:
    cmd = " ".join(map(str, proc.args))
    out = (proc.stdout or "") + (proc.stderr or "")
    return f"command failed (rc={proc.returncode}): {cmd}\n--- output tail ---\n{out[-tail:]}"


# ---------------------------------------------------------------------- config
def deep_merge(base: dict, changes: dict) -> dict:
    out = dict(base)
    for k, v in changes.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def smoke_config() -> dict:
    import yaml

    return yaml.safe_load((REPO / SMOKE_CONFIG).read_text()) or {}


def variant_config(workdir: Path, changes: dict, name: str = "variant.yaml", sort_keys: bool = False) -> str:
    """Write smoke.yaml deep-merged with ``changes`` into ``workdir``; return its relative path.

    Keys keep smoke.yaml's order (``sort_keys=False``) so that only the change differs.
    """
    import yaml

    cfg = deep_merge(smoke_config(), changes)
    rel = f"tests/workflow/{name}"
    (workdir / rel).write_text(yaml.safe_dump(cfg, sort_keys=sort_keys))
    return rel


# --------------------------------------------------------------------- parsing
def job_counts(proc_output: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table (dry run or real run) into {rule: n}.

    Returns {} when the output says there is nothing to be done.
    """
    counts: dict[str, int] = {}
    lines = proc_output.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "Job stats:":
            # header "job  count", a dashed rule, then "<rule>  <n>" ... "total  <n>"
            for row in lines[i + 3 :]:
                parts = row.split()
                if len(parts) != 2 or not parts[1].isdigit():
                    break
                if parts[0] == "total":
                    break
                counts[parts[0]] = counts.get(parts[0], 0) + int(parts[1])
            break
    return counts


def reasons(proc_output: str) -> dict[str, set[str]]:
    """Parse the 'Reasons:' block of a dry run into {reason: {rules}}."""
    out: dict[str, set[str]] = {}
    lines = proc_output.splitlines()
    try:
        i = next(k for k, ln in enumerate(lines) if ln.strip() == "Reasons:")
    except StopIteration:
        return out
    current = None
    for ln in lines[i + 1 :]:
        if ln.startswith("        ") and current:
            out[current].update(r.strip() for r in ln.split(",") if r.strip())
        elif ln.startswith("    ") and ln.rstrip().endswith(":"):
            current = ln.strip()[:-1]
            out[current] = set()
        elif ln.startswith("    ("):
            continue
        else:
            break
    return out


def dry_run(workdir: Path, *args: str, **kw) -> dict[str, int]:
    """{rule: number of jobs} Snakemake would run now (``-n --quiet rules``)."""
    return dry_run_why(workdir, *args, **kw)[0]


def dry_run_why(workdir: Path, *args: str, **kw) -> tuple[dict[str, int], dict[str, set[str]]]:
    """({rule: jobs}, {reason: {rules}}) of a dry run."""
    proc = snakemake(workdir, "-n", "--quiet=rules", *args, timeout=300, **kw)
    if proc.returncode != 0:
        raise AssertionError(describe(proc))
    out = proc.stdout + proc.stderr
    return job_counts(out), reasons(out)


def summary(workdir: Path, *args: str, **kw) -> list[dict[str, str]]:
    """Rows of ``snakemake --detailed-summary`` (tab-separated, header first)."""
    proc = snakemake(workdir, "--detailed-summary", *args, timeout=300, **kw)
    if proc.returncode != 0:
        raise AssertionError(describe(proc))
    rows = [ln.split("\t") for ln in proc.stdout.splitlines() if "\t" in ln]
    if not rows:
        return []
    header = rows[0]
    return [dict(zip(header, r)) for r in rows[1:]]


_PARSE_WORKFLOW = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

work, out, configfiles = Path(sys.argv[1]), Path(sys.argv[2]), [Path(p).resolve() for p in sys.argv[3:]]
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(cores=1),
                      config_settings=ConfigSettings(configfiles=configfiles),
                      snakefile=work / "Snakefile", workdir=work)._workflow
    reported = []
    for rule in wf.rules:
        names = {i: name for name, (start, end) in rule.output._names.items() for i in range(start, end or start + 1)}
        for i, f in enumerate(rule.output):
            if "report" in f.flags:
                r = f.flags["report"]
                reported.append({"rule": rule.name, "output": names.get(i), "path": str(f), "category": r.category,
                                 "caption": Path(str(r.caption)).stem, "labels": r.labels})
    report = wf.get_rule("report")
    inputs = {name: [str(f) for f in report.input[start:end]] if end is not None else str(report.input[start])
              for name, (start, end) in report.input._names.items()}
    out.write_text(json.dumps({"reported": reported, "report_inputs": inputs}))
"""


def parse_workflow(work: Path, *configfiles: str) -> dict:
    """The workflow in ``work`` as Snakemake parses it (with ``configfiles`` after config/config.yaml).

    ``reported``: every output registered for Snakemake's report (``rule``, ``output`` name,
    ``path``, ``category``, ``caption`` = the rst file's stem, ``labels``); ``report_inputs``:
    the named inputs of rule ``report`` (name → path or [paths]). Runs in a subprocess.
    """
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "parsed.json"
        proc = subprocess.run([sys.executable, "-c", _PARSE_WORKFLOW, str(work), str(out), *configfiles],
                              cwd=work, env=env(), capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise AssertionError(describe(proc))
        return json.loads(out.read_text())


def reported_figures(parsed: dict) -> list[dict]:
    """The figures (``.png``) of ``parse_workflow(...)["reported"]``, each with the report input it is:
    ``name`` (None: the report rule does not read it) and ``layer`` (a per-layer input
    ``<name>/<layer>``; else None)."""
    input_of = {}
    for name, paths in parsed["report_inputs"].items():
        for path in [paths] if isinstance(paths, str) else paths:
            input_of[path] = name
    out = []
    for reg in parsed["reported"]:
        if reg["path"].endswith(".png"):
            name, _, layer = input_of.get(reg["path"], "").partition("/")
            out.append({**reg, "name": name or None, "layer": layer or None})
    return out


# ---------------------------------------------------------------- result files
def result_tables(results: Path, suffixes: tuple[str, ...] = (".tsv",)) -> dict[str, str]:
    """{relative path: sha256} of deterministic result tables under ``results``."""
    out = {}
    for p in sorted(results.rglob("*")):
        if not p.is_file() or p.suffix not in suffixes:
            continue
        rel = p.relative_to(results)
        if rel.parts[0] in NONDETERMINISTIC_DIRS or rel.as_posix() in NONDETERMINISTIC_FILES:
            continue
        data = p.read_bytes()
        drop = NONDETERMINISTIC_COLUMNS.get(rel.as_posix())
        if drop:
            rows = [line.split(b"\t") for line in data.split(b"\n")]
            keep = [i for i, name in enumerate(rows[0]) if name.decode() not in drop]
            data = b"\n".join(b"\t".join(r[i] for i in keep if i < len(r)) for r in rows)
        out[str(rel)] = hashlib.sha256(data).hexdigest()
    return out


def diff_tables(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Human-readable differences between two ``result_tables`` digests."""
    msgs = [f"only in first run: {k}" for k in sorted(set(a) - set(b))]
    msgs += [f"only in second run: {k}" for k in sorted(set(b) - set(a))]
    msgs += [f"differs: {k}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]
    return msgs


def mtimes(results: Path) -> dict[str, int]:
    """{relative path: st_mtime_ns} of every file under ``results`` (no logs)."""
    return {
        str(p.relative_to(results)): p.stat().st_mtime_ns
        for p in results.rglob("*")
        if p.is_file() and p.relative_to(results).parts[0] not in ("logs", "benchmarks")
    }


# ------------------------------------------------------------- local smoke run
_LOCAL: dict[str, object] = {}
_LOCK = threading.Lock()


def local_smoke_run(base: Path) -> Path:
    """Run the smoke config once per session (local executor); return its workdir.

    Callers must not modify the returned folder: copy it with ``clone_run``.
    """
    with _LOCK:
        if "dir" in _LOCAL:
            return _LOCAL["dir"]  # type: ignore[return-value]
        if "error" in _LOCAL:
            raise AssertionError(_LOCAL["error"])
        reuse = os.environ.get("BLURSCOPE_REUSE_SMOKE_RUN")
        if reuse:  # development only: a finished run of the CURRENT code and smoke config
            work = base / "smoke_local"
            shutil.copytree(reuse, work, symlinks=True,
                            ignore=shutil.ignore_patterns("locks", "incomplete", "slurm_logs"))
            for item in WORKFLOW_ITEMS:  # the current workflow files, keeping their mtimes
                src = REPO / item
                if src.is_dir():
                    shutil.rmtree(work / item, ignore_errors=True)
                    shutil.copytree(src, work / item, ignore=IGNORE)
                elif src.exists():
                    shutil.copy2(src, work / item)
            shutil.copy2(REPO / SMOKE_CONFIG, work / SMOKE_CONFIG)
            pending = dry_run(work)
            if pending:
                raise AssertionError(f"BLURSCOPE_REUSE_SMOKE_RUN={reuse} is not up to date with this code: {pending}")
            _LOCAL.update(dir=work, seconds=None, output=_stats_of(work))
            return work
        work = copy_workflow(base / "smoke_local")
        t0 = time.monotonic()
        proc = snakemake(work)
        _LOCAL["seconds"] = time.monotonic() - t0
        if proc.returncode != 0:
            _LOCAL["error"] = "local smoke run failed\n" + describe(proc)
            raise AssertionError(_LOCAL["error"])
        _LOCAL["dir"] = work
        _LOCAL["output"] = proc.stdout + proc.stderr
        return work


# other complete, independent runs of the smoke config made in this session
# (e.g. the SLURM run): the determinism test compares against one of them
# instead of paying for another full run
_OTHER_FULL_RUNS: list[tuple[str, Path]] = []


def register_full_run(label: str, workdir: Path) -> None:
    _OTHER_FULL_RUNS.append((label, workdir))


def other_full_run() -> tuple[str, Path] | None:
    return _OTHER_FULL_RUNS[0] if _OTHER_FULL_RUNS else None


def _stats_of(work: Path) -> str:
    """Job-stats text of a complete run of ``work`` (forced dry run of everything)."""
    proc = snakemake(work, "-n", "--quiet=rules", "--forceall", timeout=300)
    return proc.stdout + proc.stderr


def local_smoke_seconds() -> float | None:
    return _LOCAL.get("seconds")  # type: ignore[return-value]


def clone_run(src: Path, dst: Path) -> Path:
    """Copy a finished run (workflow + results + .snakemake metadata), keeping mtimes.

    Snakemake's metadata stores absolute-path-free records keyed by output
    path, so a copy with preserved mtimes is up to date in its new place.
    """
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete", "slurm_logs"))
    return dst


# ----------------------------------------------------------------- SLURM
def slurm_node_state() -> str | None:
    """State of the (single) node, e.g. 'idle', or None if SLURM does not answer."""
    if shutil.which("sinfo") is None:
        return None
    try:
        p = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=15)
    except (subprocess.TimeoutExpired, OSError):
        return None
    if p.returncode != 0 or not p.stdout.strip():
        return None
    return p.stdout.split()[0]


def slurm_usable() -> bool:
    st = slurm_node_state()
    return bool(st) and st.rstrip("*~#$@+").split("+")[0] in {"idle", "mixed", "allocated", "completing"}


def start_slurm(timeout: int = 600) -> tuple[bool, str, float]:
    """Run tests/slurm/start_slurm.sh; return (ok, output, seconds)."""
    t0 = time.monotonic()
    cmd = ["timeout", "-k", "10", str(timeout), str(SLURM_DIR / "start_slurm.sh")]
    if os.geteuid() != 0:
        if shutil.which("sudo") is None or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode:
            return False, "not root and no password-less sudo: cannot install/start SLURM", 0.0
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode == 0, (p.stdout + p.stderr), time.monotonic() - t0


def stop_slurm() -> str:
    p = subprocess.run(
        ["timeout", "-k", "5", "120", str(SLURM_DIR / "stop_slurm.sh")], capture_output=True, text=True
    )
    return p.stdout + p.stderr


def slurm_state_dir() -> Path:
    return Path(os.environ.get("BLURSCOPE_SLURM_STATE", "/tmp/blurscope-slurm"))


def jobcomp_records(state: Path | None = None) -> list[dict[str, str]]:
    """Finished-job records that slurmctld wrote (jobcomp/filetxt), one dict per job."""
    f = (state or slurm_state_dir()) / "jobcomp.log"
    if not f.exists():
        return []
    recs = []
    for line in f.read_text().splitlines():
        rec = {}
        for tok in line.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                rec[k] = v
        if rec:
            recs.append(rec)
    return recs


if __name__ == "__main__":  # pragma: no cover - manual helper
    print(job_counts(sys.stdin.read()))
