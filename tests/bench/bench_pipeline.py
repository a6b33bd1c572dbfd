"""Benchmark of the whole default pipeline: planning cost, job count, wall time, CPU use, stages.

Prints numbers and ratios, asserts nothing (timings are noisy on shared machines:
run it with nothing else on the machine when you quote a wall time).

Run: ``make bench-pipeline`` (or ``.venv/bin/python tests/bench/bench_pipeline.py [--run]
[--cores N] [--results DIR]``).

* planning: ``snakemake -n`` on an empty results tree of a fresh copy of the
  workflow, against ``python -c "import snakemake.api"`` measured in the same run
  (ratio; the goal is <= 3), and the number of jobs of the default DAG (goal <= 100);
* with ``--run``: the whole default pipeline from an empty ``results/`` in that
  copy with ``--cores N`` (default 2); wall time, then from the run's
  ``results/benchmarks/`` the sum of job wall times and CPU seconds, the mean CPU use
  of the run (CPU seconds / wall, goal >= 1.8 on 2 cores) and a per-stage breakdown;
* with ``--results DIR`` instead: the same breakdown of an existing run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ITEMS = ("Snakefile", "rules", "workflow_scripts", "config", "envs", "profiles", "report")

# rule -> stage (the rules/*.smk file that defines it)
def stages() -> dict[str, str]:
    out = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for rule in re.findall(r"^rule (\w+):", smk.read_text(), flags=re.M):
            out[rule] = smk.stem
    return out


def copy_workflow(dst: Path) -> Path:
    for item in ITEMS:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, dst / item, ignore=shutil.ignore_patterns("__pycache__", ".snakemake"))
        else:
            shutil.copy2(src, dst / item)
    return dst


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def planning(work: Path, repeats: int = 3) -> None:
    imp, plan, jobs = [], [], None
    for _ in range(repeats):
        t, _ = timed([sys.executable, "-c", "import snakemake.api"], work)
        imp.append(t)
        t, proc = timed([str(BIN / "snakemake"), "-n", "--quiet", "rules"], work)
        if proc.returncode != 0:
            sys.exit(f"snakemake -n failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        plan.append(t)
        m = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, flags=re.M)
        jobs = int(m.group(1)) if m else None
    print(f"planning: snakemake -n (empty tree) {min(plan):.2f} s, import snakemake.api {min(imp):.2f} s, "
          f"ratio {min(plan) / min(imp):.2f} (goal <= 3); default DAG: {jobs} jobs (goal <= 100)")


def children_cpu() -> float:
    """User + system CPU seconds of every finished child process tree of this process (rusage)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def steal_seconds() -> float:
    """CPU seconds the hypervisor took from this machine since boot (``steal`` in /proc/stat), 0 elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def breakdown(results: Path, wall: float | None, cpu: float | None = None, steal: float | None = None) -> None:
    frames = []
    for f in sorted((results / "benchmarks").rglob("*.tsv")):
        df = pd.read_csv(f, sep="\t")
        if df.empty:
            continue
        rel = f.relative_to(results / "benchmarks")
        df["rule"] = rel.parts[0]
        frames.append(df.iloc[[0]])
    if not frames:
        sys.exit(f"no benchmark files below {results / 'benchmarks'}")
    bench = pd.concat(frames, ignore_index=True)
    stage_of = stages()
    bench["stage"] = bench["rule"].map(lambda r: stage_of.get(r, "?"))
    total_s, total_cpu = bench["s"].sum(), bench["cpu_time"].sum()
    print(f"jobs: {len(bench)}; sum of job wall times {total_s:.0f} s, CPU {total_cpu:.0f} s")
    if wall:
        print(f"pipeline wall {wall:.0f} s ({wall / 60:.1f} min, goal <= 10 min); job-time parallelism "
              f"{total_s / wall:.2f} (sum of job wall times / pipeline wall)")
        if cpu is not None:
            # the benchmark files' cpu_time is sampled by Snakemake and misses part of a job's CPU
            # (a lone training job: 45 s there, 73 s by rusage); rusage of the whole run is exact
            print(f"CPU of the whole run (rusage of snakemake and every job): {cpu:.0f} s, mean CPU use "
                  f"{cpu / wall:.2f} cores (goal >= 1.8 on 2 cores); benchmark files' cpu_time {total_cpu:.0f} s "
                  f"({total_cpu / wall:.2f} cores); hypervisor steal {steal or 0:.0f} s "
                  f"({(steal or 0) / wall:.2f} cores)")
    by_stage = bench.groupby("stage").agg(jobs=("s", "size"), wall_s=("s", "sum"), cpu_s=("cpu_time", "sum"))
    by_rule = bench.groupby("rule").agg(jobs=("s", "size"), wall_s=("s", "sum"), median_s=("s", "median"),
                                        cpu_s=("cpu_time", "sum"), mean_load=("mean_load", "mean"))
    print("\nper stage:\n" + by_stage.sort_values("cpu_s", ascending=False).round(1).to_string())
    print("\nper rule:\n" + by_rule.sort_values("cpu_s", ascending=False).round(1).to_string())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="store_true", help="run the whole default pipeline in a fresh copy")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--results", type=Path, help="break down an existing run's results/ instead")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = ap.parse_args()
    if args.results:
        breakdown(args.results, None)
        return
    # the jobs import the library from this checkout (editable install): its bytecode, as `make run` writes it
    compileall.compile_dir(REPO / "workflow_scripts", quiet=1, workers=0)
    tmp = Path(tempfile.mkdtemp(prefix="blurscope-bench-"))
    try:
        work = copy_workflow(tmp)
        planning(work)
        if args.run:
            cpu0, steal0 = children_cpu(), steal_seconds()
            wall, proc = timed([str(BIN / "snakemake"), "--cores", str(args.cores)], work)
            cpu, steal = children_cpu() - cpu0, steal_seconds() - steal0
            if proc.returncode != 0:
                sys.exit(f"pipeline failed:\n{proc.stderr[-4000:]}")
            breakdown(work / "results", wall, cpu, steal)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
