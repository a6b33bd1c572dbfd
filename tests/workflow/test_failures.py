"""Failure behaviour of the workflow on the smoke configuration.

* a pipeline killed (SIGKILL, whole process group) during a training job
  resumes after ``--unlock`` and ends with tables identical to an
  uninterrupted run; nothing it had finished is recomputed;
* a job that fails leaves no output (and no temporary file) behind;
* two full runs give byte-identical result tables (determinism);
* bad inputs fail with one clear error naming the key/file before any
  expensive work (no training job starts). The cases and the messages they
  give are listed in docs/bad_inputs.md.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import smokerun as sr  # noqa: E402

pytestmark = [
    pytest.mark.workflow,
]

TRAIN_RULES = ("train_baseline", "train_blur", "train_blurpool")
RESUME_TARGETS = ("results/evaluation/accuracy_matrix.tsv",)


# `smoke_run` (session): one completed local smoke run, from tests/workflow/conftest.py


def temp_leftovers(results: Path) -> list[str]:
    """Temporary files of blurscope.io.atomic_path ('.<stem>.XXXX<suffix>')."""
    return sorted(
        str(p.relative_to(results))
        for p in results.rglob(".*")
        if p.is_file() and p.name != ".snakemake_timestamp" and "logs" not in p.parts
    )


# ------------------------------------------------------------ kill and resume
_JOB = re.compile(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    output: (.*)\n(?:    .*\n)*?    jobid: (\d+)", re.M)
_FINISHED = re.compile(r"Finished jobid: (\d+) \(Rule: (\w+)\)")


def job_states(log_text: str) -> tuple[dict[str, tuple[str, list[str]]], set[str]]:
    """({jobid: (rule, outputs)} of started jobs, {jobids Snakemake reported finished}) from a run's output."""
    jobs = {jid: (rule, [o.strip() for o in outs.split(",")]) for rule, outs, jid in _JOB.findall(log_text)}
    return jobs, {jid for jid, _ in _FINISHED.findall(log_text)}


@pytest.fixture(scope="session")
def killed_and_resumed(tmp_path_factory, smoke_run):
    """Start a fresh smoke run, SIGKILL it while a training job runs, resume it.

    The kill comes once Snakemake has *reported* one training job finished
    (its outputs are then complete and recorded) while another training job is
    running: a model file on disk is not enough, because a job that has written
    its weights but not its meta JSON is still in flight and rightly reruns.
    """
    work = sr.copy_workflow(tmp_path_factory.mktemp("killed") / "w")
    cmd = ["timeout", "-k", "20", str(sr.SMOKE_TIMEOUT_S), sr.SNAKEMAKE, "--cores", str(sr.CORES),
           f"--configfile={sr.SMOKE_CONFIG}"]
    log_path = work / "first_attempt.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=work, env=sr.env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    killed_in: list[str] = []
    deadline = time.monotonic() + sr.SMOKE_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        jobs, finished = job_states(log_path.read_text())
        train = {j: v for j, v in jobs.items() if v[0] in TRAIN_RULES}
        running = [j for j in train if j not in finished]
        if running and any(j in finished for j in train):
            os.killpg(proc.pid, signal.SIGKILL)
            killed_in = sorted(f"{train[j][0]}: {train[j][1][0]}" for j in running)
            break
        time.sleep(0.05)
    proc.wait()
    log.close()
    first = log_path.read_text()
    assert killed_in, f"never saw a training job running beside a finished one\n{first[-4000:]}"
    jobs, finished = job_states(first)
    finished_outputs = {o for j in finished if j in jobs for o in jobs[j][1]}
    models = work / "results" / "models"

    results = work / "results"
    before = sr.mtimes(results)
    leftovers = temp_leftovers(results)
    models_after_kill = sorted(p.name for p in models.glob("*"))

    # rerun as a user would; a killed run may leave its lock: then --unlock
    resume = sr.snakemake(work, "--rerun-incomplete", *RESUME_TARGETS)
    out = resume.stdout + resume.stderr
    locked = resume.returncode != 0 and "cannot be locked" in out
    if locked:
        unlock = sr.snakemake(work, "--unlock", timeout=120)
        assert unlock.returncode == 0, sr.describe(unlock)
        resume = sr.snakemake(work, "--rerun-incomplete", *RESUME_TARGETS)
    # Resumed up to the end of the train stage (all models + the accuracy
    # matrix): byte-identical models make every downstream table identical
    # (test_two_full_runs_byte_identical), so the rest would only cost time.
    assert resume.returncode == 0, sr.describe(resume)
    return {
        "work": work,
        "killed_in": killed_in,
        "finished_outputs": finished_outputs,
        "before": before,
        "leftovers_after_kill": leftovers,
        "models_after_kill": models_after_kill,
        "locked": locked,
        "lock_message": out if locked else "",
        "resume": resume,
    }


def test_killed_run_leaves_no_partial_model(killed_and_resumed):
    kr = killed_and_resumed
    print(f"\nkilled during {kr['killed_in']}; models present after the kill: {kr['models_after_kill']}; "
          f"lock left behind: {kr['locked']}")
    if kr["locked"]:
        assert "--unlock" in kr["lock_message"], "the lock error does not tell the user about --unlock"
    # every model file present after the kill is complete: weights + meta, loadable
    from blurscope.models.network import load_model

    models = kr["work"] / "results" / "models"
    for name in kr["models_after_kill"]:
        if name.endswith(".safetensors") and not name.startswith("."):
            load_model(models / name, device="cpu")  # raises on a truncated file


def test_resume_after_kill_finishes_and_keeps_finished_work(killed_and_resumed, smoke_run):
    kr = killed_and_resumed
    results = kr["work"] / "results"
    after = sr.mtimes(results)
    finished = {str(Path(o).relative_to("results")) for o in kr["finished_outputs"] if o.startswith("results/")}
    assert any(f.startswith("models/") for f in finished), f"no finished model before the kill: {sorted(finished)}"
    # outputs of jobs Snakemake had reported finished before the kill are not recomputed
    redone = sorted(p for p in finished if p in kr["before"] and after.get(p) != kr["before"][p])
    assert not redone, f"resume recomputed outputs of finished jobs: {redone[:20]}"
    # nothing left to do for the resumed targets
    assert sr.dry_run(kr["work"], *RESUME_TARGETS) == {}
    # models and tables identical to an uninterrupted run
    a = sr.result_tables(smoke_run / "results", suffixes=(".tsv", ".safetensors"))
    b = sr.result_tables(results, suffixes=(".tsv", ".safetensors"))
    a = {k: v for k, v in a.items() if k in b or k.startswith(("models/", "evaluation/"))}
    assert any(k.startswith("models/") for k in b), sorted(b)
    assert not sr.diff_tables(a, b), "resumed vs uninterrupted:\n" + "\n".join(sr.diff_tables(a, b))


def test_resume_cleans_temporary_files(killed_and_resumed):
    # SIGKILL cannot clean the temporary file of the job it killed; after the
    # resume no temporary file may remain (the job that owned it reran).
    leftovers = temp_leftovers(killed_and_resumed["work"] / "results")
    assert not leftovers, (
        f"temporary files left after resume: {leftovers} "
        f"(after the kill there were {killed_and_resumed['leftovers_after_kill']})"
    )


# ----------------------------------------------------------- failing job
def test_failing_job_leaves_no_partial_output(tmp_path, smoke_run):
    """Truncate a finished model: the jobs that read it rerun, fail with a
    message naming the file, and leave neither their outputs nor temp files."""
    work = sr.clone_run(smoke_run, tmp_path / "w")
    results = work / "results"
    model = results / "models" / "sigma2.safetensors"
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 3])  # truncated checkpoint, newer mtime
    target = "results/evaluation/sigma2.tsv"
    assert (work / target).exists()
    proc = sr.snakemake(work, target, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, "evaluating a truncated checkpoint succeeded?"
    assert not (work / target).exists(), "failed job left its (old or partial) output"
    assert not temp_leftovers(results), temp_leftovers(results)
    logtxt = (results / "logs" / "evaluate" / "sigma2.log").read_text()
    assert "sigma2.safetensors" in logtxt, f"error does not name the file:\n{logtxt[-2000:]}\n{out[-2000:]}"


# ----------------------------------------------------------- determinism
def test_two_full_runs_byte_identical(tmp_path_factory, smoke_run):
    """Two complete runs from scratch give byte-identical tables and models.

    The second run is the SLURM run of tests/test_slurm.py when that ran in
    this session (a complete, independent run on another executor), else a
    second local run.
    """
    other = sr.other_full_run()
    if other is None:
        work = sr.copy_workflow(tmp_path_factory.mktemp("second") / "w")
        proc = sr.snakemake(work)
        assert proc.returncode == 0, sr.describe(proc)
        other = ("second local run", work)
    label, work = other
    suffixes = (".tsv", ".safetensors")
    a = sr.result_tables(smoke_run / "results", suffixes)
    b = sr.result_tables(work / "results", suffixes)
    assert len(a) > 3, f"too few tables to compare: {sorted(a)}"
    diff = sr.diff_tables(a, b)
    assert not diff, f"local smoke run vs {label} differ:\n" + "\n".join(diff)


# ----------------------------------------------------------- bad inputs
def make_imagefolder(root: Path, classes=("cat", "dog"), n=3, size=24) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        for c in classes:
            d = root / split / c
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return root


def other_arch_checkpoint(path: Path) -> Path:
    """A checkpoint of a different architecture (torchvision resnet18)."""
    import torchvision
    from safetensors.torch import save_file

    sd = torchvision.models.resnet18(weights=None, num_classes=4).state_dict()
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    return path


def _imagefolder(work: Path, **extra) -> dict:
    root = make_imagefolder(work / "imgs")
    return {"dataset": {"kind": "imagefolder", "root": str(root), **extra}}


def case_missing_root(work):
    return {"dataset": {"kind": "imagefolder", "root": str(work / "no_such_folder")}}, [
        "dataset.root",
        "no_such_folder",
    ]


def case_empty_class(work):
    cfg = _imagefolder(work)
    for split in ("train", "val", "test"):
        (work / "imgs" / split / "emu").mkdir()
    return cfg, [str(Path("train") / "emu"), "no images"]


def case_corrupt_image(work):
    cfg = _imagefolder(work)
    (work / "imgs" / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    return cfg, ["broken.png"]


def case_unsupported_mode(work):
    from PIL import Image

    cfg = _imagefolder(work)
    Image.new("LAB", (24, 24)).save(work / "imgs" / "train" / "cat" / "lab.tif")
    return cfg, ["lab.tif", "unsupported image mode 'LAB'"]


def case_unknown_layer(work):
    return {"analysis": {"layers": ["layer2.0", "layer9.9"]}}, ["analysis.layers", "layer9.9"]


def case_negative_sigma(work):
    return {"sigmas": [0, -1, 2]}, ["sigmas", "-1"]


def case_non_numeric(work):
    return {"training": {"epochs": "ten"}}, ["training.epochs", "ten"]


def case_unknown_key(work):
    return {"trainig": {"epochs": 1}}, ["trainig"]


def case_other_arch_checkpoint(work):
    ckpt = other_arch_checkpoint(work / "resnet18.safetensors")
    # train_baseline is the job that reads model.weights: it may start, nothing else
    return {"model": {"weights": str(ckpt)}}, ["resnet18.safetensors"], ("train_baseline",)


def case_unknown_device(work):
    return {"training": {"device": "tpu"}}, ["training.device", "'tpu'", "expected auto, cpu, cuda"]


def case_cuda_without_gpu(work):
    # CUDA_VISIBLE_DEVICES="" hides any GPU, so the case holds on GPU machines too
    return ({"evaluation": {"device": "cuda"}}, ["evaluation.device", "'cuda'", "no CUDA GPU"], (),
            {"CUDA_VISIBLE_DEVICES": ""})


def case_unknown_mce_reference(work):
    return {"frequency": {"mce_reference": "alexnet"}}, ["frequency.mce_reference", "alexnet"]


BAD_INPUTS = {
    "missing dataset root": (case_missing_root, "`dataset: {kind: imagefolder, root: no_such_folder}`"),
    "empty class folder": (case_empty_class, "`train/emu/` (and val, test) without images"),
    "corrupt image": (case_corrupt_image, "`train/cat/broken.png` = PNG signature + junk"),
    "unsupported image mode": (case_unsupported_mode, "`train/cat/lab.tif`, a CIELAB TIFF (PIL mode LAB)"),
    "unknown layer": (case_unknown_layer, "`analysis: {layers: [layer2.0, layer9.9]}`"),
    "negative sigma": (case_negative_sigma, "`sigmas: [0, -1, 2]`"),
    "non-numeric value": (case_non_numeric, "`training: {epochs: ten}`"),
    "unknown config key": (case_unknown_key, "`trainig: {epochs: 1}`"),
    "checkpoint of another architecture": (
        case_other_arch_checkpoint,
        "`model: {weights: resnet18.safetensors}` (torchvision ResNet-18) with `arch: resnet_narrow`"),
    "unknown device": (case_unknown_device, "`training: {device: tpu}`"),
    "cuda without a GPU": (case_cuda_without_gpu, "`evaluation: {device: cuda}` on a machine without a CUDA GPU"),
    "unknown mCE reference": (case_unknown_mce_reference, "`frequency: {mce_reference: alexnet}` (not a model id)"),
}
"""case → (builder, how it is broken). A builder returns (config changes, strings the first error
must contain[, rules allowed to start[, environment overrides]])."""

EXPENSIVE_RULES = TRAIN_RULES + ("evaluate", "features", "featvis", "deployed", "band_intervention",
                                 "corrupted_images", "smoothgrad")


# ----------------------------------------------------------- docs/bad_inputs.md, from these tests
BAD_INPUTS_DOC = sr.REPO / "docs" / "bad_inputs.md"
DOC_BEGIN = "<!-- bad-input table: begin (written by tests/workflow/test_failures.py) -->"
DOC_END = "<!-- bad-input table: end -->"
DOC_HEADER = ["| case | how it is broken | where the user reads it | first error line (paths shortened) |",
              "|---|---|---|---|"]
WRITE_DOC = os.environ.get("BLURSCOPE_WRITE_BAD_INPUTS", "") == "1"
"""With BLURSCOPE_WRITE_BAD_INPUTS=1 each bad-input test writes its row of docs/bad_inputs.md;
otherwise it requires the row to match what the run printed (the table cannot go stale)."""


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def doc_rows() -> dict[str, list[str]]:
    """{case: [case, how, where, message]} of the generated table in docs/bad_inputs.md."""
    text = BAD_INPUTS_DOC.read_text()
    if DOC_BEGIN not in text or DOC_END not in text:
        raise AssertionError(f"{BAD_INPUTS_DOC} lacks the generated table markers {DOC_BEGIN!r} / {DOC_END!r}")
    body = text.split(DOC_BEGIN, 1)[1].split(DOC_END, 1)[0].strip().splitlines()[len(DOC_HEADER):]
    return {cells[0]: cells for cells in map(_cells, body) if cells}


def write_doc_row(case: str, cells: list[str]) -> None:
    """Replace (or add) ``case``'s row; rows stay in BAD_INPUTS order."""
    rows = doc_rows()
    rows[case] = cells
    order = [c for c in BAD_INPUTS if c in rows]
    lines = [*DOC_HEADER, *("| " + " | ".join(x.replace("|", "\\|") for x in rows[c]) + " |" for c in order)]
    text = BAD_INPUTS_DOC.read_text()
    head, rest = text.split(DOC_BEGIN, 1)
    tail = rest.split(DOC_END, 1)[1]
    BAD_INPUTS_DOC.write_text(f"{head}{DOC_BEGIN}\n" + "\n".join(lines) + f"\n{DOC_END}{tail}")


def shorten(msg: str, work: Path) -> str:
    """The message with the test's working folder written as ``…`` (machine-independent)."""
    for prefix in sorted({str(work.resolve()), str(work)}, key=len, reverse=True):
        msg = msg.replace(prefix, "…")
    return msg


def test_bad_inputs_doc_lists_exactly_the_tested_cases():
    """The table in docs/bad_inputs.md has one row per case of BAD_INPUTS, in order, with its description."""
    rows = doc_rows()
    assert list(rows) == list(BAD_INPUTS), f"docs/bad_inputs.md rows {list(rows)} vs tested cases {list(BAD_INPUTS)}"
    for case, (_, how) in BAD_INPUTS.items():
        assert rows[case][1] == how, (case, rows[case][1], how)


IGNORED_ERRORS = ("CalledProcessError", "WorkflowError", "RuleException", "Traceback")


def first_error(out: str, work: Path) -> tuple[str, str]:
    """(where, message): the error a user reads first.

    Config validation: the 'ValidationError: ...' line; parse-time errors:
    the line after '<Error> in file ..., line N:'; job errors: the last
    '<Error>: message' line of the script's traceback (in Snakemake's output,
    else in the failed job's log).
    """
    lines = out.splitlines()
    for ln in lines:
        if ln.startswith("ValidationError: "):
            return "snakemake output (config validation)", ln.strip()
    for i, ln in enumerate(lines):
        if re.match(r"^\w+ in file .*, line \d+:$", ln.strip()) and not ln.startswith(IGNORED_ERRORS):
            return "snakemake output (parse time)", lines[i + 1].strip()

    def script_error(text_lines):
        hits = [ln.strip() for ln in text_lines
                if re.match(r"^[\w.]+(Error|Exception): \S", ln.strip()) and not ln.strip().startswith(IGNORED_ERRORS)]
        return hits[-1] if hits else None

    m = re.search(r"log: (\S+\.log)", out)
    job = re.search(r"Error in rule (\w+):", out)
    rule = job.group(1) if job else "?"
    if m and (work / m.group(1)).exists():
        hit = script_error((work / m.group(1)).read_text(errors="replace").splitlines())
        if hit:
            return f"log of rule {rule} ({m.group(1)})", hit
    hit = script_error(lines)
    if hit:
        return f"snakemake output (rule {rule})", hit
    return "snakemake output", " / ".join(ln.strip() for ln in lines[-4:])


def run_until_expensive(work: Path, cfgfile: str, allowed: tuple[str, ...], timeout: float = 600,
                        extra_env: dict[str, str] | None = None):
    """Run the whole workflow; SIGKILL it as soon as an expensive job not in
    ``allowed`` starts (its log appears). Returns (rc, output, started, seconds)."""
    cmd = ["timeout", "-k", "10", str(int(timeout)), sr.SNAKEMAKE, "--cores", str(sr.CORES),
           f"--configfile={cfgfile}"]
    outfile = work / "bad_input_run.log"
    t0 = time.monotonic()
    with open(outfile, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=work, env={**sr.env(), **(extra_env or {})}, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
        logs = work / "results" / "logs"
        started: list[str] = []
        while proc.poll() is None:
            started = sorted(r for r in EXPENSIVE_RULES if r not in allowed and (logs / r).exists())
            if started:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.2)
        proc.wait()
    return proc.returncode, outfile.read_text(errors="replace"), started, time.monotonic() - t0


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_early_with_clear_error(case, tmp_path):
    work = sr.copy_workflow(tmp_path / "w")
    build, how = BAD_INPUTS[case]
    changes, needles, *rest = build(work)
    allowed = rest[0] if rest else ()
    extra_env = rest[1] if len(rest) > 1 else None
    cfgfile = sr.variant_config(work, changes)
    rc, out, started, secs = run_until_expensive(work, cfgfile, allowed, extra_env=extra_env)
    assert not started, f"{case}: expensive jobs started before any error: {started}\n{out[-3000:]}"
    assert rc != 0, f"{case}: the run succeeded\n{out[-3000:]}"
    where, msg = first_error(out, work)
    print(f"\nBAD-INPUT | {case} | {where} | {msg} | {secs:.1f}s")
    # the first error a user reads names the key / file (not only a dump further down)
    missing = [n for n in needles if n not in msg]
    assert not missing, f"{case}: first error ({where}) does not name {missing}: {msg}\n{out[-3000:]}"
    assert not list((work / "results").glob("models/*.safetensors")), f"{case}: a model was written"
    row = [case, how, where, f"`{shorten(msg, work)}`"]
    if WRITE_DOC:
        write_doc_row(case, row)
    else:
        assert doc_rows().get(case) == row, (
            f"docs/bad_inputs.md is stale for {case!r}: it has {doc_rows().get(case)}, the run gives {row}; "
            f"rerun with BLURSCOPE_WRITE_BAD_INPUTS=1 to rewrite the row")


# ----------------------------------------------------------- inputs that are handled, not refused
def test_16bit_images_read_by_bit_depth(tmp_path):
    """An ImageFolder of 16-bit greyscale PNGs (values over 0..65535) reaches the analysis images
    scaled by its bit depth (a ramp spans 0..255), not clipped to white as PIL's convert("RGB") does."""
    from PIL import Image

    work = sr.copy_workflow(tmp_path / "w")
    root = work / "imgs16"
    ramp = np.tile(np.linspace(0, 65535, 32).round().astype(np.uint16), (32, 1))
    for split in ("train", "val", "test"):
        for k, c in enumerate(("cat", "dog")):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(ramp if (i + k) % 2 else ramp[:, ::-1].copy()).save(d / f"{i}.png")
    with Image.open(root / "train" / "cat" / "0.png") as im:
        assert im.mode == "I;16"
    cfgfile = sr.variant_config(work, {"dataset": {"kind": "imagefolder", "root": str(root)}})
    target = "results/data/analysis_images.npz"
    proc = sr.snakemake(work, target, configfile=cfgfile, timeout=300)
    assert proc.returncode == 0, sr.describe(proc)
    with np.load(work / target) as z:
        images = z["images"]
    assert images.shape == (6, 32, 32, 3)  # all 6 val images (analysis.n_images 120 is clamped, logged)
    assert images.min() == 0 and images.max() == 255
    assert abs(float(images.mean()) - 127.5) < 1.0  # clipped 16-bit data would read ~254
    np.testing.assert_array_equal(np.sort(images[0, 0, :, 0]), np.round(np.linspace(0, 255, 32)).astype(np.uint8))
