# Shared helpers: config validation, model ids, per-rule config subsets and resources.
# Nothing here writes files (a parse-time write would refresh mtimes and trigger reruns).

import math
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.20")


def _validate(cfg):
    """Schema validation whose error names the offending key (e.g. 'training.epochs')."""
    import jsonschema

    try:
        validate(cfg, workflow.source_path("../config/schema.yaml"))
    except Exception as err:
        e = err.__context__ or err.__cause__
        if not isinstance(e, jsonschema.ValidationError):
            raise
        key = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise ValueError(f"config key '{key}': {e.message}") from None


_validate(config)


def _canonical(obj):
    """The config with every mapping's keys sorted (lists keep their order)."""
    if isinstance(obj, dict):
        return {k: _canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    return obj


# Snakemake compares params by repr, and a dict's repr follows key order: sort
# once here so that reordering keys in a config file (same values) reruns nothing.
_sorted_config = _canonical(config)
config.clear()
config.update(_sorted_config)


def _check_config(cfg):
    """Cross-key checks JSON Schema cannot express; each error names the key."""
    if 0 not in [float(s) for s in cfg["sigmas"]]:
        raise ValueError(
            f"config key 'sigmas' must contain 0 (the baseline), got {cfg['sigmas']}"
        )
    ds = cfg["dataset"]
    if ds["kind"] == "imagefolder":
        if not ds.get("root"):
            raise ValueError(
                "config key 'dataset.root' is required when dataset.kind is 'imagefolder'"
            )
        if not Path(ds["root"]).is_dir():
            raise ValueError(
                f"config key 'dataset.root': folder {ds['root']} does not exist"
            )
    for key in ("weights", "blurpool_weights"):
        w = cfg["model"].get(key)
        if w and not Path(w).is_file():
            raise ValueError(f"config key 'model.{key}': file {w} does not exist")
    sigmas = {float(s) for s in cfg["sigmas"]}
    missing = [s for s in cfg["references"]["sigmas"] or [] if float(s) not in sigmas]
    if missing:
        raise ValueError(
            f"config key 'references.sigmas': {missing} are not training sigmas ({sorted(sigmas)}); "
            "a filter-only reference is compared with the model trained at its sigma"
        )
    if cfg["training"]["epochs"] == 0 and not cfg["model"].get("weights"):
        raise ValueError(
            "config key 'training.epochs' is 0 but 'model.weights' is null: nothing to start from"
        )


_check_config(config)

# every *.device key: a valid name, and (in the invocation that runs jobs here) a GPU asked for exists
from blurscope.device import check_config as check_devices

check_devices(config, check_available=workflow.is_main_process and workflow.local_exec)


def _check_model_config(cfg):
    """Check layer names and checkpoints against the architecture before any job starts.

    The ResNets blurscope knows are tables (blurscope.archinfo: module names,
    state-dict shapes, read without torch; a .safetensors checkpoint by its header);
    only other architectures or torch-pickle checkpoints build the network (torch).
    Errors name the key and list what is valid."""
    from blurscope import archinfo

    m = cfg["model"]
    widths = tuple(m["widths"])
    # class count does not change layer names; a checkpoint's head is checked below
    info = archinfo.describe(m["arch"], 10, False, widths=widths)
    if info is None:
        try:
            info = archinfo.describe_by_building(m["arch"], 10, False, widths=widths)
        except ValueError as err:
            raise ValueError(f"config key 'model.arch': {err}") from None
    for key, layers in _configured_layers(cfg).items():
        bad = [l for l in layers if l not in info.modules]
        if bad:
            stages = [n for n in info.modules if n.startswith("layer") and n.count(".") <= 1]
            raise ValueError(
                f"config key '{key}': {', '.join(map(repr, bad))} is not a layer of {m['arch']} "
                f"(stage layers: {', '.join(stages)}; any module name of the backbone works)"
            )
    for key, antialiased in (("weights", False), ("blurpool_weights", True)):
        path = m.get(key)
        if not path:
            continue
        shapes = None
        if path.endswith(".safetensors"):
            shapes = archinfo.safetensors_shapes(path)
            table = archinfo.describe(m["arch"], 10, antialiased, widths=widths)
        if shapes is None or table is None:  # torch pickle, or an untabulated architecture
            from blurscope.models import read_state_dict

            shapes = shapes or {k: tuple(v.shape) for k, v in read_state_dict(path).items()}
            table = None
        fc = [v for k, v in archinfo.strip_prefixes(shapes).items() if k.endswith("fc.weight")]
        n_classes = max(2, int(fc[0][0]) if fc else 10)
        own = (
            archinfo.describe(m["arch"], n_classes, antialiased, widths=widths)
            if table is not None
            else archinfo.describe_by_building(m["arch"], n_classes, antialiased, widths=widths)
        ).state
        problem = archinfo.checkpoint_mismatch(own, shapes, m["reset_head"])
        if problem:
            raise ValueError(
                f"config key 'model.{key}': checkpoint {path} does not fit architecture {m['arch']}: {problem}"
            )


def _configured_layers(cfg):
    """{config key: layer names} of every stage that names layers."""
    out = {"analysis.layers": list(cfg["analysis"]["layers"])}
    for section, key in (("bands", "layers"), ("saliency", "activation_layers")):
        if cfg.get(section, {}).get(key):
            out[f"{section}.{key}"] = list(cfg[section][key])
    return out


# The invocation that plans the run checks before any job starts; cluster jobs
# (remote mode: every SLURM job parses the workflow twice) skip it.
if not workflow.remote_exec:
    _check_model_config(config)

RESULTS = config["results"]
SIGMAS = sorted(float(s) for s in config["sigmas"])


def fmt_sigma(sigma):
    """Sigma as it appears in model ids and tables: 0, 0.5, 1, 1.5 ..."""
    return f"{float(sigma):g}"


def model_id(sigma, seed_index=0):
    base = f"sigma{fmt_sigma(sigma)}"
    return base if seed_index == 0 else f"{base}-seed{seed_index}"


SIGMA_MODELS = [model_id(s) for s in SIGMAS]
BLURPOOL = "blurpool"
MODELS = SIGMA_MODELS + [BLURPOOL]
_SEED_SIGMAS = sorted(
    float(s) for s in config["training"]["seed_sigmas"] if float(s) in SIGMAS
)
SEED_MODELS = [
    model_id(s, k)
    for s in _SEED_SIGMAS
    for k in range(1, int(config["training"]["seeds"]))
]
ALL_TRAINED = MODELS + SEED_MODELS
LAYERS = list(config["analysis"]["layers"])

# Filter-only references: the sigma 0 network behind a sigma blur, untrained for it.
# Every analysis that runs a model behind a blur (the deployed-model analyses, and the
# preference analyses when analysis.own_blur is true) also runs them; trained minus
# reference is what training changed, the reference alone what the filter does.
REFERENCE_PREFIX = "ref-"
REFERENCE_NETWORK = model_id(0.0)
def _reference_sigmas(sigmas, configured):
    """The sigmas that get a reference: the configured ones, or (null) the smallest, a middle
    and the largest sigma > 0."""
    if configured is not None:
        return sorted({float(s) for s in configured if float(s) > 0})
    positive = [s for s in sigmas if s > 0]
    return sorted({positive[0], positive[len(positive) // 2], positive[-1]}) if positive else []


REF_SIGMAS = _reference_sigmas(SIGMAS, config["references"]["sigmas"])
REF_MODELS = [REFERENCE_PREFIX + model_id(s) for s in REF_SIGMAS]
# the models of the preference analyses (clear input: no references unless own_blur)
PREFERENCE_MODELS = ALL_TRAINED + (REF_MODELS if config["analysis"]["own_blur"] else [])
# the models of the deployed-model analyses (AVR/SIS, hybrids, shape bias, corruptions)
DEPLOYED_MODELS = ALL_TRAINED + REF_MODELS


def is_reference(model):
    return model.startswith(REFERENCE_PREFIX)


def model_sigma(model):
    """Training sigma (px at 224) of a model id (a reference: the sigma of its blur); BlurPool is trained at 0."""
    if model == BLURPOOL:
        return 0.0
    if is_reference(model):
        model = model[len(REFERENCE_PREFIX) :]
    return float(model.split("-seed")[0][len("sigma") :])


def model_seed_index(model):
    return int(model.split("-seed")[1]) if "-seed" in model else 0


def model_group(model):
    """The model a replicate belongs to (sigma6-seed1 -> sigma6); other ids unchanged."""
    return model.split("-seed")[0]


def model_path(model):
    """Weights of a model id; a reference's are the sigma 0 network's."""
    if is_reference(model):
        model = REFERENCE_NETWORK
    return f"{RESULTS}/models/{model}.safetensors"


def model_inputs(wildcards):
    """Named inputs ``model`` (weights) and ``meta`` (json) of the model wildcard."""
    path = model_path(wildcards.model)
    return {"model": path, "meta": path.removesuffix(".safetensors") + ".json"}


def reference_blur(wildcards):
    """Param: the blur sigma (px at 224) a reference puts in front of the sigma 0 network; None otherwise."""
    return model_sigma(wildcards.model) if is_reference(wildcards.model) else None


MODEL_WILDCARD = r"sigma[0-9.]+(-seed[0-9]+)?|blurpool|ref-sigma[0-9.]+"


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
    replaced, added or removed image changes it, so the data stage reruns."""
    ds = config["dataset"]
    if ds["kind"] != "imagefolder" or not ds["watch_files"]:
        return ""
    from blurscope.data import tree_state

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
    seed_index = int(wildcards.rep[len("-seed") :]) if wildcards.rep else 0
    parent_sigma = 0.0
    if config["training"]["finetune_from"] == "previous" and seed_index == 0:
        parent_sigma = max(s for s in SIGMAS if s < sigma)
    return model_path(model_id(parent_sigma, seed_index))


# Final targets of every stage; rule all collects them.
TARGETS = {}
