# Shared helpers: config validation, model ids, per-rule config subsets and resources.
# Nothing here writes below results/ (a parse-time write would refresh mtimes and trigger reruns);
# the only parse-time file is the checkpoint fingerprint cache in .snakemake/ (CHECKPOINT_CACHE).

from pathlib import Path

from snakemake.utils import min_version

min_version("9.20")


# Every config check, from one entry point (blurscope.config.validate, tests/test_config.py):
# the schema (defaults filled in), the canonical key order (reordering keys in a config file
# reruns nothing), the cross-key checks stage by stage, the *.device keys, and layer names and
# checkpoints against the architecture. Every error reads "config key '<key>': ...".
# What runs where: a GPU asked for must exist only in the invocation that plans the run and
# runs its jobs here; cluster jobs (remote mode: every SLURM job parses the workflow twice)
# skip the architecture check, which the planning invocation did before any job started.
# Fingerprints of checkpoint files (SHA-256, cached by size and mtime) live here, in
# Snakemake's own folder of the working directory: not an output, so no rerun depends on it.
CHECKPOINT_CACHE = ".snakemake/blurscope/checkpoint_fingerprints.json"

import blurscope.config

blurscope.config.validate(
    config,
    workflow.source_path("../config/schema.yaml"),
    main_process=workflow.is_main_process,
    local_exec=workflow.local_exec,
    remote_exec=workflow.remote_exec,
    cache=CHECKPOINT_CACHE,
)

from blurscope.config import model_ids

# the one model-id grammar (sigma<s>[-seed<k>], blurpool[-seed<k>], ref-sigma<s>[-seed<k>], baseline)
from blurscope.model_id import (
    BLURPOOL,
    POSITIVE_SIGMA_WILDCARD,
    SEED_SUFFIX_WILDCARD,
    TRAINED_WILDCARD,
    ModelId,
    model_id,
    seed_of_suffix,
)
from blurscope.model_id import WILDCARD as MODEL_WILDCARD

RESULTS = config["results"]
_IDS = model_ids(config)
SIGMAS = _IDS.sigmas
SIGMA_MODELS = _IDS.sigma_models
MODELS = _IDS.models
SEED_MODELS = _IDS.seed_models
ALL_TRAINED = _IDS.all_trained
# models trained elsewhere (model.checkpoints): imported by import_checkpoint, never trained
CHECKPOINTS = _IDS.checkpoints
TRAINED_HERE = _IDS.trained_here
LAYERS = list(config["analysis"]["layers"])

# Filter-only references: the sigma 0 network behind a sigma blur, untrained for it.
# Every analysis that runs a model behind a blur (the deployed-model analyses, and the
# preference analyses when analysis.own_blur is true) also runs them; trained minus
# reference is what training changed, the reference alone what the filter does.
REF_SIGMAS = _IDS.reference_sigmas
REF_MODELS = _IDS.reference_models
# the models of the preference analyses (clear input: no references unless own_blur)
PREFERENCE_MODELS = _IDS.preference_models
# the models of the deployed-model analyses (AVR/SIS, hybrids, shape bias, corruptions)
DEPLOYED_MODELS = _IDS.deployed_models


def is_reference(model):
    """Whether a model id is a filter-only reference (ref-sigma<s>[-seed<k>])."""
    return ModelId.parse(model).is_reference


def model_sigma(model):
    """Training sigma (px at 224) of a model id (a reference: the sigma of its blur; BlurPool: 0)."""
    return ModelId.parse(model).sigma


def model_group(model):
    """The model a replicate belongs to (sigma6-seed1 -> sigma6); other ids unchanged."""
    return str(ModelId.parse(model).group)


def model_path(model):
    """Weights of a model id; a reference's are those of the sigma 0 run it is built on
    (ref-sigma<s>-seed<k> -> sigma0-seed<k>)."""
    return f"{RESULTS}/models/{ModelId.parse(model).network}.safetensors"


def model_inputs(wildcards):
    """Named inputs ``model`` (weights) and ``meta`` (json) of the model wildcard."""
    path = model_path(wildcards.model)
    return {"model": path, "meta": path.removesuffix(".safetensors") + ".json"}


def checkpoint_wildcard():
    """Wildcard constraint of import_checkpoint, exactly the ids with a checkpoint (none: matches nothing)."""
    import re

    return "|".join(re.escape(m) for m in CHECKPOINTS) or "(?!)"


def checkpoint_file(wildcards):
    """Param of import_checkpoint: the checkpoint file of the {model} wildcard."""
    return str(Path(CHECKPOINTS[wildcards.model]).resolve())


def checkpoint_fingerprint(wildcards):
    """Param of import_checkpoint: the checkpoint's SHA-256, so that a replaced file (other bytes)
    reruns the import and that model's analyses, and a touch (same bytes) reruns nothing. Computed
    by the Snakemake that plans the run; a cluster job (which parses the workflow again) reads no file.
    """
    # as dataset_state: only the main process compares params
    if not workflow.is_main_process:
        return "not computed in a cluster job or subprocess (the submitting Snakemake hashes the file)"
    from blurscope.models.checkpoints import describe

    return describe(CHECKPOINTS[wildcards.model], CHECKPOINT_CACHE).sha256


def wildcard_sigma(wildcards):
    """Param: the training sigma (px at 224) of the {model} wildcard."""
    return model_sigma(wildcards.model)


def is_blurpool(wildcards):
    """Param: whether the {model} wildcard is a BlurPool run (its backbone is the antialiased variant)."""
    return ModelId.parse(wildcards.model).is_blurpool


def cfg(*sections):
    """Config subsets for a job, passed as params (so reruns track them)."""
    if len(sections) == 1:
        return config[sections[0]]
    return {s: config[s] for s in sections}


def rule_log(rule, wildcards=""):
    return f"{RESULTS}/logs/{rule}/{wildcards or 'all'}.log"


def rule_bench(rule, wildcards=""):
    return f"{RESULTS}/benchmarks/{rule}/{wildcards or 'all'}.tsv"


_res = config["resources"]
THREADS = {
    "train": config["training"]["threads"],
    "torch": _res["torch_threads"],
    "cpu": _res["cpu_threads"],
    "plot": 1,
}
RESOURCES = {
    "torch": {
        "mem_mb": _res["torch_mem_mb"],
        "runtime": _res["torch_runtime"],
        "gpu": _res["gpus"],
    },
    "cpu": {"mem_mb": _res["cpu_mem_mb"], "runtime": _res["cpu_runtime"]},
    "plot": {"mem_mb": _res["cpu_mem_mb"], "runtime": _res["cpu_runtime"]},
}


def dataset_inputs(wildcards=None):
    """The raw data a manifest depends on (imagefolder: the root, so touching an image reruns)."""
    ds = config["dataset"]
    if ds["kind"] == "imagefolder":
        roots = [ds["root"]]
        if ds.get("cue_conflict_root"):
            roots.append(ds["cue_conflict_root"])
        return roots
    return []


def dataset_state():
    """Fingerprint of the ImageFolder files (a param of prepare_dataset): a touched,
    replaced, added or removed image changes it, so the data stage reruns.

    Computed by the invocation that plans the run only. A cluster job parses the
    workflow in remote mode (a SLURM job twice: its batch step and its job step), and
    there it would stat every image again while the job holds its GPU; Snakemake runs
    a cluster job with --force and only the main process records and compares params
    (snakemake.persistence: metadata is written in exec mode "default" only), so the
    job's copy of this param is never compared and carries a placeholder.
    """
    ds = config["dataset"]
    if ds["kind"] != "imagefolder" or not ds["watch_files"]:
        return ""
    if not workflow.is_main_process:
        return "not computed in a cluster job or subprocess (the submitting Snakemake fingerprints the images)"
    from blurscope.data.files import tree_state

    return tree_state(dataset_inputs())


def has_cue_conflict():
    ds = config["dataset"]
    return (
        ds["kind"] == "embedded"
        and ds["embedded"]["n_cue_conflict"] > 0
        or bool(ds.get("cue_conflict_root"))
    )


def parent_model(wildcards):
    """The model a blur model is fine-tuned from (none in scratch mode).

    Chained ("previous"): the next smaller configured sigma. Seed replicates
    (-seedK) always fine-tune from their own replicate baseline.
    """
    if config["training"]["mode"] == "scratch":
        return []
    sigma = float(wildcards.blursigma)
    seed_index = seed_of_suffix(wildcards.rep)
    parent_sigma = 0.0
    if config["training"]["finetune_from"] == "previous" and seed_index == 0:
        parent_sigma = max(s for s in SIGMAS if s < sigma)
    return model_path(model_id(parent_sigma, seed_index))


# Input, param and path functions of the stages' rules (one place, as Snakemake's linter asks).
# pseudo-model of the spectra stage: random patches of the analysis images
BASELINE_MODEL = str(ModelId.baseline())


def embedded_images_dir(wildcards, output):
    """Param of prepare_dataset: the folder of the generated images (embedded dataset), else None."""
    return getattr(output, "images", None)


def blur_sigma(wildcards):
    """Param of train_blur: the training sigma (px at 224) of the {blursigma} wildcard."""
    return float(wildcards.blursigma)


def patch_files(model, ext="npz"):
    """The patch files of one model, one per analysed layer."""
    return [f"{RESULTS}/patches/{model}/{layer}.{ext}" for layer in LAYERS]


def patch_set(model, layer):
    """Preferred patches of a model (features stage) or the layer's random baseline patches."""
    if model == BASELINE_MODEL:
        return f"{RESULTS}/baseline/{layer}.npz"
    return f"{RESULTS}/patches/{model}/{layer}.npz"


def mce_reference_input(wildcards):
    """Input of deployed (its corruption part): the mCE reference model's
    per-image outcomes (none for the reference itself or with published errors)."""
    reference = config["frequency"]["mce_reference"]
    if reference in ("published", wildcards.model):
        return []
    return f"{RESULTS}/frequency/{reference}_corruption_hits.npz"


def report_stage_targets(wildcards):
    """The final targets of every other stage (evaluated when the DAG is built, after all .smk files)."""
    return [
        t for stage, targets in TARGETS.items() if stage != "report" for t in targets
    ]


def results_folder(wildcards, output):
    """Param of pipeline_info: the results folder its outputs lie in."""
    return str(Path(output[0]).parents[1])


def sources_table(wildcards, output):
    """Param of report: the path of its sources table (an output)."""
    return output.sources


# Final targets of every stage; rule all collects them.
TARGETS = {}

# The report rule's named inputs, filled by each stage file from its rules' outputs
# (rules.<rule>.output.<name>); blurscope.report's sections read them by these names. A
# figure's name is also the name of its caption, report/<name>.rst.
REPORT_INPUTS = {}


def per_layer(name, paths):
    """Named report inputs "<name>/<layer>" of an output with one path per analysed layer (LAYERS order)."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    if len(paths) != len(LAYERS):
        raise ValueError(
            f"report input {name!r}: {len(paths)} paths for the layers {LAYERS}"
        )
    return {f"{name}/{layer}": path for layer, path in zip(LAYERS, paths)}


# Snakemake's report (snakemake --report): a stage's figures and tables are registered with
# report(..., category=report_category("<part>")), the category of the part of blurscope's
# report that shows them (blurscope.report.parts: the one ordered list of parts).
from blurscope.report.parts import category as report_category


def all_targets(wildcards):
    """Input of the target rule all, every stage's final targets (evaluated after every .smk is read)."""
    return [t for targets in TARGETS.values() for t in targets]
