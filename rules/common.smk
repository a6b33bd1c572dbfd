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
    if cfg["training"]["epochs"] == 0 and not cfg["model"].get("weights"):
        raise ValueError(
            "config key 'training.epochs' is 0 but 'model.weights' is null: nothing to start from"
        )


_check_config(config)


def _check_model_config(cfg):
    """Build the architecture once (cheap, no weights) to check layer names and checkpoints
    before any job starts; errors name the key and list what is valid."""
    from blurscope.hooks import get_module
    from blurscope.models import build_model, load_backbone_weights, read_state_dict

    m = cfg["model"]
    kwargs = {"widths": tuple(m["widths"])} if m["arch"] == "resnet_narrow" else {}
    # class count does not change layer names; a checkpoint's head is checked below
    backbone = build_model(m["arch"], 10, False, **kwargs)
    layers = set(cfg["analysis"]["layers"])
    for section in ("bands", "saliency"):
        for key in ("layers", "activation_layers"):
            extra = cfg.get(section, {}).get(key)
            if extra:
                layers |= set(extra)
    for layer in sorted(layers):
        try:
            get_module(backbone, layer)
        except KeyError as err:
            raise ValueError(
                f"config key 'analysis.layers' (or a stage's layers): {err.args[0]}"
            ) from None
    for key, antialiased in (("weights", False), ("blurpool_weights", True)):
        if m.get(key):
            state = read_state_dict(m[key])
            fc = [v for k, v in state.items() if k.endswith("fc.weight")]
            n_classes = int(fc[0].shape[0]) if fc else 10
            net = build_model(m["arch"], max(2, n_classes), antialiased, **kwargs)
            try:
                load_backbone_weights(net, state, m[key], m["reset_head"])
            except ValueError as err:
                raise ValueError(f"config key 'model.{key}': {err}") from None


# The invocation that plans the run checks before any job starts; cluster jobs
# (remote mode: every SLURM job parses the workflow twice) skip the check, which
# would import torch and build the network in every job for nothing.
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


def model_sigma(model):
    """Training sigma (px at 224) of a model id; BlurPool is trained at 0."""
    if model == BLURPOOL:
        return 0.0
    return float(model.split("-seed")[0][len("sigma") :])


def model_seed_index(model):
    return int(model.split("-seed")[1]) if "-seed" in model else 0


def model_path(model):
    return f"{RESULTS}/models/{model}.safetensors"


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
