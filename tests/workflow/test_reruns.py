"""Rerun only what changed: the promise of README.md ("Usage"), checked on the smoke run.

Each test starts from a copy of one finished smoke run (session fixture,
mtimes and .snakemake metadata preserved), changes one thing and asks
Snakemake what it would run (``-n --quiet rules``: the job-stats table), then
for the cheap cases really reruns and checks with file mtimes (mapped to rules
through ``--detailed-summary``) that exactly the expected rules rewrote their
outputs and every other output was left alone.

Expected sets are concrete (smoke config: sigmas 0, 2, 6 trained from scratch,
two training runs of σ 0, σ 6 and BlurPool = 7 trained models; a filter-only
reference ref-sigma6[-seed1] per σ 0 run in the deployed-model analyses; layers
layer2.0 and layer4.0) and restricted to the rules the current workflow has, so
the tests stay valid while stages are added; a rule that appears in a plan and is
not expected fails the test.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import smokerun as sr  # noqa: E402

pytestmark = [
    pytest.mark.workflow,
]

# rules that take the whole config (resolved config, versions) or collect every
# table: they rerun after any change that reruns anything
ALWAYS_AFTER_CHANGE = {"report": 1, "pipeline_info": 1, "all": 1}


# `smoke_run` (session): one completed local smoke run, from tests/workflow/conftest.py


@pytest.fixture(scope="session")
def full_plan(smoke_run) -> dict[str, int]:
    """{rule: jobs} of a complete smoke run (what exists in this workflow)."""
    return sr.job_counts(sr._LOCAL["output"])  # type: ignore[arg-type]


@pytest.fixture
def work(smoke_run, tmp_path) -> Path:
    return sr.clone_run(smoke_run, tmp_path / "w")


def expect(plan: dict[str, int], full: dict[str, int], expected: dict[str, int | None]) -> None:
    """``plan`` has exactly the expected rules (those that exist) with the expected counts."""
    exp = {r: n for r, n in {**expected, **ALWAYS_AFTER_CHANGE}.items() if r in full}
    unexpected = {r: n for r, n in plan.items() if r not in exp}
    missing = sorted(r for r in exp if r not in plan)
    wrong = {r: (plan[r], n) for r, n in exp.items() if r in plan and n is not None and plan[r] != n}
    assert not (unexpected or missing or wrong), (
        f"rerun plan {plan}\n  unexpected rules: {unexpected}\n  expected but not planned: {missing}\n"
        f"  wrong job counts (planned, expected): {wrong}"
    )


def outputs_by_rule(work: Path, configfile: str = sr.SMOKE_CONFIG) -> dict[str, str]:
    """{output file: rule} from --detailed-summary."""
    return {row["output_file"]: row["rule"] for row in sr.summary(work, configfile=configfile)}


def assert_only_rules_rewrote(work: Path, before: dict[str, int], rules: set[str], configfile: str) -> None:
    after = sr.mtimes(work / "results")
    owner = outputs_by_rule(work, configfile)
    changed = {p for p in before if p in after and after[p] != before[p]}

    def rule_of(rel: str) -> str | None:
        path = f"results/{rel}"
        for out, rule in owner.items():
            if path == out or path.startswith(out.rstrip("/") + "/"):
                return rule
        return None

    foreign = sorted(p for p in changed if rule_of(p) not in rules and not Path(p).name.startswith("."))
    assert not foreign, f"outputs of rules that should not have rerun were rewritten: {foreign[:20]}"
    untouched = sorted(p for p in before if rule_of(p) in rules and p not in changed and p in after)
    assert not untouched, f"outputs of rerun rules kept their old mtime: {untouched[:20]}"


def run_and_check(work: Path, configfile: str, expected_rules: set[str]) -> None:
    before = sr.mtimes(work / "results")
    tables_before = sr.result_tables(work / "results")
    time.sleep(1.1)  # mtime resolution of some file systems
    proc = sr.snakemake(work, configfile=configfile)
    assert proc.returncode == 0, sr.describe(proc)
    assert sr.dry_run(work, configfile=configfile) == {}, "work left after the rerun"
    assert_only_rules_rewrote(work, before, expected_rules, configfile)
    return tables_before


# ------------------------------------------------------------------- tests
def test_noop_nothing_to_do(work, full_plan):
    assert len(full_plan) > 3, f"smoke run planned too few rules: {full_plan}"
    assert sr.dry_run(work) == {}, "a finished run (copied) still has work to do"
    rows = sr.summary(work)
    pending = [(r["output_file"], r["plan"]) for r in rows if r.get("plan") != "no update"]
    assert not pending, f"--detailed-summary plans updates after a no-op: {pending[:10]}"


def test_reordered_config_keys_are_a_noop(work):
    """The same config with its keys in another order (a YAML formatter, a
    merge) changes no value, so nothing may rerun. Params are compared as
    their repr, so a rule that gets a raw config dict is order-sensitive."""
    cfg = sr.variant_config(work, {}, "sorted.yaml", sort_keys=True)
    plan, why = sr.dry_run_why(work, configfile=cfg)
    assert plan == {}, (
        f"reordering config keys (same values) reruns {plan}; params changed for "
        f"{sorted(why.get('params have changed since last execution', set()))}"
    )


def test_add_sigma_runs_only_its_chain_and_aggregates(work, full_plan):
    sigmas = sr.smoke_config()["sigmas"]
    new = max(float(s) for s in sigmas) + 2  # appended (references.sigmas stays [6]: no new reference)
    cfg = sr.variant_config(work, {"sigmas": [*sigmas, new]})
    n_trained_after = len(sigmas) + 1 + 1 + 3  # sigma models + the new one + BlurPool + 3 replicates
    plan = sr.dry_run(work, configfile=cfg)
    expect(plan, full_plan, {
        # the new model (trained from scratch: nothing else is retrained) ...
        "train_blur": 1,
        "features": 1,
        "band_intervention": 1,
        "featvis": 1,
        "deployed": 1,  # AVR/SIS, hybrids, PGD, shape bias and corruptions: one job per model
        # every model is evaluated at every training sigma (evaluation.test_sigmas: null)
        "evaluate": n_trained_after,
        # aggregates over models
        "accuracy_matrix": 1,
        "feature_grids": 1,
        "patch_metrics": 1,
        "patch_stats": 1,
        "spectra_figures": 1,
        "aliasing_stats": 1,
        "aliasing_figures": 1,
        "band_summary": 1,
        "band_figures": 1,
        "frequency_summary": 1,
        "frequency_figures": 1,
        "featvis_stats": 1,
        "featvis_figures": 1,
        "findings": 1,  # every run-level claim, from the aggregates above
        # not: saliency (naive sigma0 vs expert saliency.expert_sigma), aliasing_timing and
        # frequency_sweep (fixed models), baseline_patches (reference: sigma0's patches),
        # corrupted_images (model-independent)
    })
    # the expensive and data stages of the existing models are not in the plan
    for rule in ("prepare_dataset", "analysis_images", "train_baseline", "train_blurpool", "corrupted_images"):
        assert rule not in plan, f"adding a sigma reruns {rule}"


def test_bootstrap_iterations_rerun_only_stats_figures_report(work, full_plan):
    stats = sr.smoke_config()["stats"]
    cfg = sr.variant_config(work, {"stats": {"bootstrap_iterations": int(stats.get("bootstrap_iterations", 200)) + 50}})
    plan, why = sr.dry_run_why(work, configfile=cfg)
    # the statistics of the patches, of the feature visualisations and of the stem kernels (CI over kernels)
    expected = {"patch_stats": 1, "spectra_figures": None, "featvis_stats": 1, "featvis_figures": 1,
                "accuracy_matrix": 1, "findings": 1}
    expect(plan, full_plan, expected)
    direct = why.get("params have changed since last execution", set()) - {"pipeline_info"}
    assert direct == {"patch_stats", "featvis_stats", "accuracy_matrix"}, f"rules whose params changed: {direct}"
    run_and_check(work, cfg, set(plan))


def test_analysis_own_blur_reruns_only_the_feature_and_band_analyses(work, full_plan):
    """The input condition of the preference analyses is a param of the model-probing rules only: the
    shared image set, training, evaluation, AVR/SIS, the deployed-model analyses and the feature
    visualisation (always the network alone) are kept. Feeding the models through their blur layer
    (own_blur: true) adds the filter-only references to the preference analyses."""
    own = bool(sr.smoke_config().get("analysis", {}).get("own_blur", False))
    cfg = sr.variant_config(work, {"analysis": {"own_blur": not own}})
    plan = sr.dry_run(work, configfile=cfg)
    n_models = 7 + (0 if own else 2)  # trained models (+ ref-sigma6, ref-sigma6-seed1 when turning own_blur on)
    expect(plan, full_plan, {
        "features": n_models,
        "baseline_patches": None,  # reads the new patches' header for the patch size; same output
        "feature_grids": 1,
        "patch_metrics": 1,
        "patch_stats": 1,
        "spectra_figures": 1,
        "band_intervention": n_models,
        "band_summary": 1,
        "band_figures": 1,
        "findings": 1,
    })
    for kept in ("analysis_images", "train_baseline", "evaluate", "deployed", "smoothgrad", "featvis"):
        assert kept not in plan, f"analysis.own_blur reruns {kept}"


def test_plot_option_reruns_only_figures_and_report(work, full_plan):
    dpi = int(sr.smoke_config().get("plots", {}).get("dpi", 120))
    cfg = sr.variant_config(work, {"plots": {"dpi": dpi + 10}})
    plan = sr.dry_run(work, configfile=cfg)
    expect(plan, full_plan, {
        "accuracy_matrix": 1,
        "feature_grids": 1,
        "spectra_figures": 1,
        "aliasing_figures": 1,
        "band_figures": 1,
        "frequency_figures": 1,
        "saliency_figures": 1,
        "featvis_figures": 1,
    })
    before_tables = run_and_check(work, cfg, set(plan))
    # a figure option changes no number
    after_tables = sr.result_tables(work / "results")
    assert not sr.diff_tables(before_tables, after_tables), sr.diff_tables(before_tables, after_tables)


def test_edit_analysis_script_reruns_it_and_downstream(work, full_plan):
    # patch_metrics.py if the spectra stage exists, else the last train-stage script
    if "patch_metrics" in full_plan:
        script, expected = "patch_metrics.py", {"patch_metrics": 1, "patch_stats": 1, "spectra_figures": None,
                                                "findings": 1}
    else:
        script, expected = "accuracy_matrix.py", {"accuracy_matrix": 1}
    path = work / "workflow_scripts" / script
    path.write_text(path.read_text() + "\n# edited by test_reruns\n")
    now = time.time() + 2
    os.utime(path, (now, now))
    plan, why = sr.dry_run_why(work)
    expect(plan, full_plan, expected)
    rule = script.removesuffix(".py")
    assert why.get("code has changed since last execution") == {rule}, why
    # (dry run only: the bootstrap and plot tests already rerun for real and
    # check with mtimes that nothing else is rewritten)


def test_touch_input_image_reruns_data_dependent_chain(tmp_path, smoke_run):
    """ImageFolder data: touching one image reruns the data stage, and through
    the manifest everything downstream.

    Uses the smoke run's own embedded images as an ImageFolder tree and runs
    only the data stage (every other rule hangs off its manifest).
    """
    import shutil

    work = sr.copy_workflow(tmp_path / "w")
    root = tmp_path / "imgs"
    shutil.copytree(smoke_run / "results" / "data" / "embedded", root,
                    ignore=shutil.ignore_patterns("cue_conflict"))
    cfg = sr.variant_config(work, {"dataset": {"kind": "imagefolder", "root": str(root)}}, "imagefolder.yaml")
    targets = ["results/data/manifest.tsv", "results/data/analysis_images.npz"]
    proc = sr.snakemake(work, *targets, configfile=cfg, timeout=600)
    assert proc.returncode == 0, sr.describe(proc)
    assert sr.dry_run(work, *targets, configfile=cfg) == {}

    img = sorted((root / "val").rglob("*.png"))[0]
    time.sleep(1.1)
    os.utime(img)  # `touch`: a newer mtime, same bytes; no folder mtime changes
    plan = sr.dry_run(work, *targets, configfile=cfg)
    assert plan.get("prepare_dataset") == 1 and plan.get("analysis_images") == 1, (
        f"touching {img.relative_to(root)} does not rerun the data stage: plan {plan}. "
        "rules/common.smk dataset_state() fingerprints every image (dataset.watch_files)"
    )
    # with dataset.watch_files false only the folder inputs are watched: a touch is not seen
    off = sr.variant_config(
        work, {"dataset": {"kind": "imagefolder", "root": str(root), "watch_files": False}}, "nowatch.yaml"
    )
    proc = sr.snakemake(work, *targets, configfile=off, timeout=600)
    assert proc.returncode == 0, sr.describe(proc)
    os.utime(img)
    assert sr.dry_run(work, *targets, configfile=off) == {}


def test_checkpoint_reruns_follow_its_bytes_not_its_mtime(work, full_plan, tmp_path):
    """model.checkpoints: a model given as a file is imported, never trained; a touch of the file
    (same bytes) reruns nothing, a replaced file (other bytes: SHA-256 param) reruns its import."""
    import shutil

    ck = tmp_path / "elsewhere" / "sigma2.safetensors"
    ck.parent.mkdir()
    shutil.copy(work / "results" / "models" / "sigma2.safetensors", ck)
    cfg = sr.variant_config(work, {"model": {"checkpoints": {"sigma2": str(ck)}}}, "checkpoint.yaml")
    plan = sr.dry_run(work, configfile=cfg)
    assert plan.get("import_checkpoint") == 1 and "train_blur" not in plan, plan
    target = "results/models/sigma2.safetensors"
    proc = sr.snakemake(work, target, configfile=cfg)
    assert proc.returncode == 0, sr.describe(proc)
    meta = json.loads((work / "results" / "models" / "sigma2.json").read_text())
    assert meta["origin"] == "checkpoint" and meta["checkpoint"]["path"] == str(ck)
    assert (work / target).read_bytes() == ck.read_bytes()  # same weights, same file
    assert sr.dry_run(work, target, configfile=cfg) == {}
    time.sleep(1.1)
    os.utime(ck)  # touch: same bytes
    assert sr.dry_run(work, target, configfile=cfg) == {}, "touching a checkpoint (same bytes) reruns its import"
    shutil.copy(work / "results" / "models" / "sigma6.safetensors", ck)  # other weights, same architecture
    assert sr.dry_run(work, target, configfile=cfg) == {"import_checkpoint": 1}
