"""Real SLURM submission: a one-node cluster started by tests/slurm/start_slurm.sh.

The smoke config runs end to end through snakemake-executor-plugin-slurm with
profiles/slurm (the users' cluster profile) overlaid by tests/slurm/profile
(local partition, squeue status, no GPU, short status intervals). Every job
must have gone through sbatch (a SLURM log per job from the plugin and a
COMPLETED record in slurmctld's job-completion log), and the result tables
must equal those of a local run.

Where SLURM cannot be started: in CI (env CI=true) the tests FAIL; elsewhere
they are skipped with the reason.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import smokerun as sr  # noqa: E402
import yaml

pytestmark = pytest.mark.slurm

REPO = sr.REPO
TEST_PROFILE = REPO / "tests" / "slurm" / "profile" / "config.yaml"
CLUSTER_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
SLURM_SMOKE_TIMEOUT_S = int(os.environ.get("BLURSCOPE_SLURM_SMOKE_TIMEOUT", "1200"))


def _unavailable(msg: str) -> None:
    if sr.in_ci():
        pytest.fail(f"SLURM test cannot run in CI: {msg}", pytrace=False)
    pytest.skip(f"SLURM not available here (outside CI): {msg}")


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running one-node SLURM cluster: reuse one that answers, else start it."""
    started = False
    if not sr.slurm_usable():
        ok, out, secs = sr.start_slurm()
        if not ok:
            _unavailable(f"tests/slurm/start_slurm.sh failed:\n{out[-3000:]}")
        started = True
        print(f"\nSLURM start-up took {secs:.1f} s")
        if not sr.slurm_usable():
            _unavailable(f"start_slurm.sh returned 0 but sinfo shows no usable node:\n{out[-3000:]}")
    yield {"state": sr.slurm_state_dir(), "started": started}
    if started and os.environ.get("BLURSCOPE_SLURM_KEEP", "") != "1":
        sr.stop_slurm()


def merged_profile(dst: Path) -> Path:
    """profiles/slurm overlaid by tests/slurm/profile (top-level keys replace,
    default-resources / set-resources / set-threads merge per rule)."""
    real = yaml.safe_load(CLUSTER_PROFILE.read_text()) or {}
    test = yaml.safe_load(TEST_PROFILE.read_text()) or {}
    out = dict(real)
    for key, val in test.items():
        if key in {"default-resources", "set-resources", "set-threads"} and isinstance(val, dict):
            base = dict(out.get(key) or {})
            for k, v in val.items():
                if key == "set-resources" and isinstance(v, dict):
                    base[k] = {**(base.get(k) or {}), **v}
                else:
                    base[k] = v
            out[key] = base
        else:
            out[key] = val
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "config.yaml").write_text(yaml.safe_dump(out, sort_keys=False))
    return dst


def slurm_env(state: Path) -> dict[str, str]:
    # one partition for CPU and "GPU" jobs (the smoke config asks for 0 GPUs)
    part = (state / "partition").read_text().strip() if (state / "partition").exists() else "debug"
    return {
        "BLURSCOPE_SLURM_PARTITION": part,
        "BLURSCOPE_SLURM_GPU_PARTITION": part,
        "BLURSCOPE_SLURM_ACCOUNT": "",
        "BLURSCOPE_SLURM_GPU_MODEL": "",
    }


def submitted_jobs(workdir: Path) -> dict[str, list[str]]:
    """{rule: [slurm job ids]} from the plugin's per-job SLURM logs."""
    jobs: dict[str, list[str]] = {}
    root = workdir / ".snakemake" / "slurm_logs"
    for log in root.rglob("*.log"):
        rel = log.relative_to(root)
        rule = rel.parts[0].removeprefix("rule_")
        jobs.setdefault(rule, []).append(log.stem)
    return jobs


def local_rules(output: str) -> set[str]:
    """Rules Snakemake ran on the submit host ('localrule <name>:' records)."""
    return set(re.findall(r"^localrule (\w+):", output, flags=re.M))


def check_went_through_sbatch(workdir: Path, output: str, expected: dict[str, int], state: Path) -> None:
    jobs = submitted_jobs(workdir)
    remote_expected = {r: n for r, n in expected.items() if r not in local_rules(output)}
    assert remote_expected, f"no job was meant for SLURM; job stats {expected}"
    got = {r: len(ids) for r, ids in jobs.items()}
    assert got == remote_expected, (
        f"SLURM logs per rule {got} != jobs Snakemake planned {remote_expected}\n{output[-3000:]}"
    )
    recs = {r["JobId"]: r for r in sr.jobcomp_records(state)}
    for rule, ids in jobs.items():
        for jid in ids:
            rec = recs.get(jid)
            assert rec is not None, f"job {jid} ({rule}) missing from slurmctld's job-completion log"
            assert rec.get("JobState") == "COMPLETED", f"job {jid} ({rule}): {rec}"
            assert Path(rec.get("WorkDir", "")).resolve() == workdir.resolve(), rec


# ----------------------------------------------------------------------- tests
def test_slurm_toy_workflow(slurm_cluster, tmp_path):
    """Fast plumbing check independent of the pipeline: 2 jobs via sbatch."""
    (tmp_path / "Snakefile").write_text(
        "rule all:\n"
        "    input: expand('out/{i}.txt', i=range(2))\n"
        "localrules: all\n"
        "rule make:\n"
        "    output: 'out/{i}.txt'\n"
        "    threads: 1\n"
        "    resources: mem_mb=100, runtime=5\n"
        "    shell: 'echo {wildcards.i} $SLURM_JOB_ID > {output}'\n"
    )
    t0 = time.monotonic()
    proc = sr.snakemake(
        tmp_path,
        "--workflow-profile",
        str(TEST_PROFILE.parent),
        configfile=None,
        cores=None,
        timeout=300,
    )
    secs = time.monotonic() - t0
    assert proc.returncode == 0, sr.describe(proc)
    for i in range(2):
        words = (tmp_path / "out" / f"{i}.txt").read_text().split()
        assert words[0] == str(i) and len(words) == 2 and words[1].isdigit(), (
            f"job {i} did not run inside a SLURM allocation (no $SLURM_JOB_ID): {words}"
        )
    check_went_through_sbatch(tmp_path, proc.stdout + proc.stderr, {"make": 2, "all": 1}, slurm_cluster["state"])
    print(f"toy SLURM run: {secs:.1f} s")


def test_slurm_smoke_equals_local(slurm_cluster, tmp_path_factory):
    """The smoke config through profiles/slurm end to end; tables equal a local run's."""
    base = tmp_path_factory.mktemp("slurm")
    work = sr.copy_workflow(base / "smoke_slurm")
    profile = merged_profile(base / "profile")
    env = slurm_env(slurm_cluster["state"])

    expected = sr.dry_run(work, "--workflow-profile", str(profile), cores=None, extra_env=env)
    t0 = time.monotonic()
    proc = sr.snakemake(
        work, "--workflow-profile", str(profile), cores=None, timeout=SLURM_SMOKE_TIMEOUT_S, extra_env=env
    )
    secs = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, sr.describe(proc, tail=12000)
    print(f"\nSLURM smoke run: {secs:.1f} s, jobs {expected}")
    check_went_through_sbatch(work, out, expected, slurm_cluster["state"])

    # nothing left to do afterwards
    assert sr.dry_run(work) == {}, "SLURM run left work for a local rerun"

    sr.register_full_run(f"SLURM run ({secs:.0f} s)", work)
    local = sr.local_smoke_run(tmp_path_factory.getbasetemp())
    a = sr.result_tables(local / "results", (".tsv", ".safetensors"))
    b = sr.result_tables(work / "results", (".tsv", ".safetensors"))
    assert a, "local smoke run produced no TSV tables"
    assert not sr.diff_tables(a, b), "SLURM vs local tables:\n" + "\n".join(sr.diff_tables(a, b))


def rule_kinds() -> dict[str, str]:
    """{rule: 'train' | 'torch' | 'cpu' | 'plot' | ''} from the `**RESOURCES[...]` line of each rule block."""
    kinds: dict[str, str] = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        current = None
        for line in smk.read_text().splitlines():
            m = re.match(r"^(?:rule|checkpoint) (\w+):", line)
            if m:
                current = m.group(1)
                kinds[current] = ""
                continue
            if current and not line.startswith((" ", "\t")) and line.strip() and not line.startswith("#"):
                current = None
            m = re.search(r"RESOURCES\[[\"'](\w+)[\"']\]", line)
            if current and m:
                kinds[current] = m.group(1)
    return kinds


def test_cluster_profile_covers_every_rule():
    """profiles/slurm names only existing rules, and every torch rule is sent to
    the GPU partition, so a new torch rule cannot silently land on a CPU node."""
    prof = yaml.safe_load(CLUSTER_PROFILE.read_text())
    kinds = rule_kinds()
    unplaced = sorted(r for r, k in kinds.items() if r != "all" and not k)
    assert not unplaced, f"rules without **RESOURCES[...] (docs/developing.md, 'Rules and rule scripts'): {unplaced}"
    placed = prof.get("set-resources") or {}
    threads = prof.get("set-threads") or {}
    unknown = sorted((set(placed) | set(threads)) - set(kinds))
    assert not unknown, f"profiles/slurm names rules that do not exist: {unknown}"
    torch = {r for r, k in kinds.items() if k in ("torch", "train")}
    missing = sorted(torch - set(placed))
    assert not missing, f"torch rules missing from set-resources in profiles/slurm: {missing}"
    not_torch = sorted(set(placed) - torch)
    assert not not_torch, f"profiles/slurm sends non-torch rules to the GPU partition: {not_torch}"
    for r in torch:
        assert "GPU_PARTITION" in str(placed[r].get("slurm_partition")), (r, placed[r])
        assert r in threads, f"torch rule {r} missing from set-threads in profiles/slurm"


def test_training_rules_have_their_own_resources_and_the_early_signal():
    """Training rules take the train_* resources (their GPU count = training.world_size) and ask
    SLURM for SIGTERM before the time limit (they checkpoint and the retry resumes); the analysis
    torch rules keep their own request and no signal. --signal is not an option the plugin
    manages (it would refuse it in slurm_extra)."""
    from snakemake_executor_plugin_slurm.validation import get_forbidden_slurm_options

    kinds = rule_kinds()
    train = {r for r, k in kinds.items() if k == "train"}
    assert train == {"train_baseline", "train_blur", "train_blurpool"}, train
    placed = yaml.safe_load(CLUSTER_PROFILE.read_text())["set-resources"]
    for r in train:
        extra = str(placed[r].get("slurm_extra"))
        assert re.search(r"--signal=TERM@\d+", extra), (r, extra)
        assert not any(re.search(p, extra.strip("'")) for p in get_forbidden_slurm_options()), extra
    for r, k in kinds.items():
        if k == "torch":
            assert "slurm_extra" not in placed[r], r
    prof = yaml.safe_load(CLUSTER_PROFILE.read_text())
    assert int(prof["retries"]) >= 1  # the retry is what resumes a training stopped at its limit
