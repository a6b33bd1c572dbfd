"""The workflow config's model ids and the checks JSON Schema cannot express.

``rules/common.smk`` calls :func:`validate` once, the one entry point of every
config check, in order: the JSON Schema ``config/schema.yaml`` (types, ranges,
defaults, unknown keys), the canonical key order, :func:`check_config` (every check
that relates two keys — ``topk.k`` at most ``analysis.n_images``, a model id that
must exist, a file that must exist — stage by stage, training's from
:mod:`blurscope.training.config` and the corruptions' from
:mod:`blurscope.frequency.corruption_config` included), the ``*.device`` keys
(:mod:`blurscope.device`) and :func:`check_model_config` (layer names and checkpoints
against the architecture, from the torch-free tables of :mod:`blurscope.models.archinfo`;
only untabulated architectures or torch-pickle checkpoints import torch). Every error
is a ``ValueError`` that reads ``config key '<key>': <what is wrong, what was expected>``.

The model ids a config asks for (:func:`model_ids`) are listed here too, so the rules
and the checks name the same models (the grammar of an id is :mod:`blurscope.model_id`):
``sigma<σ>`` per configured σ, ``blurpool``, training replicates ``sigma<σ>-seed<k>`` and
``blurpool-seed<k>``, and filter-only references ``ref-sigma<σ>[-seed<k>]``: one per σ 0 run.
A model id with a checkpoint (:func:`model_checkpoints`) is imported instead of trained.

Importing this module does not import torch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blurscope import device, freq
from blurscope.frequency.corruption_config import check_config as check_corruption_config
from blurscope.models import archinfo
from blurscope.training.config import check_training_config

from .model_id import BLURPOOL, CHECKPOINT, ModelId, fmt_sigma, model_id, reference_id, replicate_id, seed_index


def reference_sigmas(sigmas: Sequence[float], configured: Sequence[float] | None) -> list[float]:
    """The σ (px at 224) that get a filter-only reference.

    ``configured`` (config ``references.sigmas``) if given, else (null) the smallest, a
    middle and the largest σ > 0 of ``sigmas`` (sorted ascending).
    """
    if configured is not None:
        return sorted({float(s) for s in configured if float(s) > 0})
    positive = [s for s in sigmas if s > 0]
    return sorted({positive[0], positive[len(positive) // 2], positive[-1]}) if positive else []


@dataclass(frozen=True)
class ModelIds:
    """The model ids of one config (see the module docstring for the naming)."""

    sigmas: list[float]
    """Configured training σ (px at 224), ascending."""
    sigma_models: list[str]
    """One ``sigma<σ>`` per σ, in σ order."""
    models: list[str]
    """``sigma_models`` + ``blurpool``."""
    seed_models: list[str]
    """Training replicates ``sigma<σ>-seed<k>`` of ``training.seed_sigmas`` and ``blurpool-seed<k>``
    (``training.blurpool_seeds``)."""
    all_trained: list[str]
    """``models`` + ``seed_models``: every network that is trained."""
    reference_sigmas: list[float]
    reference_models: list[str]
    """``ref-sigma<σ>[-seed<k>]`` per reference σ and σ 0 run ``k`` (the weights of ``sigma0[-seed<k>]``)."""
    preference_models: list[str]
    """Models of the clear-input analyses: the trained ones (+ references when ``analysis.own_blur``)."""
    deployed_models: list[str]
    """Models of the deployed-model analyses (AVR/SIS, hybrids, shape bias, corruptions)."""
    band_models: list[str]
    """Models of the band intervention: ``preference_models`` of the first ``bands.runs`` runs of
    each condition (σ level, BlurPool; references likewise), all with ``bands.runs: null``."""
    checkpoints: dict[str, str]
    """Model id → checkpoint file of every model trained elsewhere (:func:`model_checkpoints`)."""
    trained_here: list[str]
    """The ids of ``all_trained`` that a training job makes (those without a checkpoint)."""

    def kind(self, model: str) -> str:
        """The kind of a model id in this config: ``checkpoint`` for a model trained elsewhere
        (``model.checkpoints``), else :attr:`blurscope.model_id.ModelId.kind`."""
        return CHECKPOINT if str(model) in self.checkpoints else ModelId.parse(model).kind


def model_ids(cfg: Mapping[str, Any]) -> ModelIds:
    """Every model id a config asks for."""
    sigmas = sorted(float(s) for s in cfg["sigmas"])
    sigma_models = [model_id(s) for s in sigmas]
    models = sigma_models + [BLURPOOL]
    seed_sigmas = sorted(float(s) for s in cfg["training"]["seed_sigmas"] if float(s) in sigmas)
    seed_models = [model_id(s, k) for s in seed_sigmas for k in range(1, int(cfg["training"]["seeds"]))]
    # --- the run-level design (docs/statistics.md): BlurPool replicates and one filter-only
    # reference per sigma 0 run (ref-sigma<s>-seed<k> = sigma0-seed<k> behind the blur of s)
    seed_models += [replicate_id(BLURPOOL, k) for k in range(1, int(cfg["training"].get("blurpool_seeds", 1)))]
    n_sigma0_runs = int(cfg["training"]["seeds"]) if 0.0 in seed_sigmas else 1
    all_trained = models + seed_models
    ref_sigmas = reference_sigmas(sigmas, cfg["references"]["sigmas"])
    ref_models = [reference_id(s, k) for s in ref_sigmas for k in range(n_sigma0_runs)]
    checkpoints = model_checkpoints(cfg)
    return ModelIds(
        sigmas=sigmas,
        sigma_models=sigma_models,
        models=models,
        seed_models=seed_models,
        all_trained=all_trained,
        reference_sigmas=ref_sigmas,
        reference_models=ref_models,
        preference_models=all_trained + (ref_models if cfg["analysis"]["own_blur"] else []),
        deployed_models=all_trained + ref_models,
        band_models=_first_runs(all_trained + (ref_models if cfg["analysis"]["own_blur"] else []),
                                cfg["bands"].get("runs")),
        checkpoints={m: checkpoints[m] for m in all_trained if m in checkpoints},
        trained_here=[m for m in all_trained if m not in checkpoints],
    )


def _first_runs(models: Sequence[str], runs: int | None) -> list[str]:
    """The ids of ``models`` whose replicate index is below ``runs`` (None: all)."""
    return list(models) if runs is None else [m for m in models if seed_index(m) < int(runs)]


def model_checkpoints(cfg: Mapping[str, Any]) -> dict[str, str]:
    """Model id → checkpoint file of the models trained elsewhere.

    ``model.checkpoints``, plus, with ``training.epochs`` 0 (nothing trained from scratch),
    ``model.weights`` as ``sigma0``'s and ``model.blurpool_weights`` as ``blurpool``'s
    checkpoint (unless ``model.checkpoints`` names those ids itself).
    """
    m = cfg["model"]
    out = {str(k): str(v) for k, v in (m.get("checkpoints") or {}).items()}
    if cfg["training"]["epochs"] == 0:
        for key, mid in (("weights", model_id(0.0)), ("blurpool_weights", BLURPOOL)):
            if m.get(key) and mid not in out:
                out[mid] = str(m[key])
    return out


def validate(
    cfg: dict[str, Any],
    schema: str | Path,
    *,
    main_process: bool,
    local_exec: bool,
    remote_exec: bool,
    cache: str | Path | None = None,
) -> None:
    """Every check of a workflow config, in order; fills in the defaults and sorts the keys, in place.

    1. :func:`validate_schema`: types, ranges, unknown keys; every default filled in.
    2. :func:`canonical`: every mapping's keys sorted. Snakemake compares params by ``repr``, and a
       dict's ``repr`` follows key order: reordering keys in a config file (same values) reruns nothing.
    3. :func:`check_config`: the cross-key checks, stage by stage.
    4. :func:`blurscope.device.check_config`: every ``*.device`` key is a device name; a GPU asked for
       must exist only in the invocation that plans the run and runs its jobs here
       (``main_process and local_exec``: a cluster's submit host has no GPU).
    5. :func:`check_model_config`: layer names and checkpoints against the architecture, except in a
       cluster job's parse (``not remote_exec``; every SLURM job parses the workflow twice): the
       invocation that planned the run checked them before any job started.

    Args:
        cfg: Snakemake's ``config`` as loaded from the config files (changed in place).
        schema: the JSON Schema file (``config/schema.yaml``).
        main_process, local_exec, remote_exec: ``workflow.is_main_process`` (the invocation that plans
            the run), ``workflow.local_exec`` (its jobs run on this machine), ``workflow.remote_exec``
            (a cluster job's own parse of the workflow).
        cache: fingerprint cache of checkpoint files (:func:`check_model_config`).

    Raises:
        ValueError: the first problem found, as ``config key '<key>': <what is wrong, what was expected>``.
    """
    validate_schema(cfg, schema)
    ordered = canonical(cfg)
    cfg.clear()
    cfg.update(ordered)
    check_config(cfg)
    device.check_config(cfg, check_available=main_process and local_exec)
    if not remote_exec:
        check_model_config(cfg, cache=cache)


def validate_schema(cfg: dict[str, Any], schema: str | Path) -> None:
    """Validate ``cfg`` against a JSON Schema file (YAML or JSON) and fill in its defaults, in place.

    As ``snakemake.utils.validate(cfg, schema)`` does for a config: Draft 2020-12, each property's
    ``default`` set before the properties are checked, the first error found. Imports jsonschema
    (a Snakemake dependency) only when called.

    Raises:
        ValueError: ``config key '<dotted key>': <the schema's message>`` (``'(top level)'`` for a
        top-level key the schema does not know).
    """
    import yaml
    from jsonschema import Draft202012Validator, validators

    doc = yaml.safe_load(Path(schema).read_text(encoding="utf-8"))
    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def fill_defaults(validator: Any, properties: Mapping[str, Any], instance: Any, subschema: Any) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from check_properties(validator, properties, instance, subschema)

    filling = validators.extend(Draft202012Validator, {"properties": fill_defaults})
    error = next(iter(filling(doc).iter_errors(cfg)), None)
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ValueError(f"config key '{key}': {error.message}")


def canonical(obj: Any) -> Any:
    """``obj`` with every mapping's keys sorted (lists keep their order)."""
    if isinstance(obj, Mapping):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    return obj


def check_config(cfg: Mapping[str, Any]) -> None:
    """Every cross-key check of a schema-valid config, in the order of the stages.

    Args:
        cfg: the whole config, validated against ``config/schema.yaml`` (defaults filled in).

    Raises:
        ValueError: ``config key '<key>': ...``, naming the key and what was expected.
    """
    _check_common(cfg)
    check_training_config(cfg)
    ids = model_ids(cfg)
    _check_features(cfg)
    _check_baseline(cfg)
    _check_aliasing(cfg, ids)
    _check_bands(cfg, ids)
    check_corruption_config(cfg["frequency"], ids.deployed_models)
    _check_saliency(cfg, ids)


def _check_common(cfg: Mapping[str, Any]) -> None:
    """σ 0 present, data and checkpoint files exist, references at training σ, something to start from."""
    if 0 not in [float(s) for s in cfg["sigmas"]]:
        raise ValueError(f"config key 'sigmas': must contain 0 (the baseline), got {cfg['sigmas']}")
    ds = cfg["dataset"]
    if ds["kind"] == "imagefolder":
        if not ds.get("root"):
            raise ValueError("config key 'dataset.root': required when dataset.kind is 'imagefolder'")
        if not Path(ds["root"]).is_dir():
            raise ValueError(f"config key 'dataset.root': folder {ds['root']} does not exist")
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
    _check_checkpoints(cfg)


def _check_checkpoints(cfg: Mapping[str, Any]) -> None:
    """Checkpoint ids are model ids of this config, the files exist, and no model is left untrained.

    Every model is either trained here (``training.epochs`` ≥ 1; fine-tunes have
    ``finetune_epochs`` ≥ 1 by the schema) or has a checkpoint: a network analysed
    from its random initialisation would pass for a trained one.
    """
    ids = model_ids(cfg)
    given = {str(k): str(v) for k, v in (cfg["model"].get("checkpoints") or {}).items()}
    unknown = [k for k in given if k not in ids.all_trained]
    if unknown:
        raise ValueError(
            f"config key 'model.checkpoints': {unknown} are not models of this config; the models are "
            f"{ids.all_trained} (sigma<s> per entry of 'sigmas', written as in {model_id(1.5)}; replicates "
            f"sigma<s>-seed<k> of training.seed_sigmas; {BLURPOOL}, {BLURPOOL}-seed<k>)"
        )
    for mid, path in ids.checkpoints.items():
        if not Path(path).is_file():
            key = f"model.checkpoints.{mid}" if mid in given else (
                "model.weights" if mid != BLURPOOL else "model.blurpool_weights")
            raise ValueError(f"config key '{key}': file {path} does not exist")
    if cfg["training"]["epochs"] == 0:
        # fine-tunes (mode finetune, sigma > 0) train for finetune_epochs >= 1 from their parent
        finetuned = cfg["training"]["mode"] == "finetune"
        untrained = [m for m in ids.trained_here
                     if not (finetuned and ModelId.parse(m).kind != BLURPOOL and ModelId.parse(m).sigma > 0)]
        if untrained:
            raise ValueError(
                f"config key 'training.epochs': 0 (nothing trained from scratch), but {untrained} have no "
                "checkpoint: they would be analysed untrained. Give each a file in 'model.checkpoints' "
                "(or train them: training.epochs >= 1)"
            )


def _check_features(cfg: Mapping[str, Any]) -> None:
    """The top-k is taken from the analysis images; the shown patches from the top-k."""
    topk, n_images = cfg["topk"], cfg["analysis"]["n_images"]
    if topk["k"] > n_images:
        raise ValueError(
            f"config key 'topk.k': {topk['k']} exceeds analysis.n_images ({n_images}), "
            "the images the top-k is taken from"
        )
    if topk["n_show"] > topk["k"]:
        raise ValueError(f"config key 'topk.n_show': {topk['n_show']} exceeds topk.k ({topk['k']})")


def _check_baseline(cfg: Mapping[str, Any]) -> None:
    """Baseline patches: equal crops per image, drawn from the analysis images."""
    base, n_images = cfg["baseline"], cfg["analysis"]["n_images"]
    if base["n_patches"] % base["n_images"]:
        raise ValueError(
            f"config key 'baseline.n_patches': {base['n_patches']} is not a multiple of "
            f"baseline.n_images ({base['n_images']})"
        )
    if base["n_images"] > n_images:
        raise ValueError(
            f"config key 'baseline.n_images': {base['n_images']} exceeds analysis.n_images "
            f"({n_images}), the images baseline patches are drawn from"
        )


def _check_aliasing(cfg: Mapping[str, Any], ids: ModelIds) -> None:
    """AVR/SIS images come from the analysis set; the standard model is a σ model, the sweep's models
    exist, the sweep's range is ordered."""
    alias = cfg["aliasing"]
    n_images = cfg["analysis"]["n_images"]
    if alias["n_images"] > n_images:
        raise ValueError(
            f"config key 'aliasing.n_images': {alias['n_images']} exceeds analysis.n_images ({n_images}), "
            "the images AVR and SIS are measured on (0 = all of them)"
        )
    standard = alias["standard_model"]
    if standard not in ids.sigma_models:
        raise ValueError(
            f"config key 'aliasing.standard_model': {standard!r} is not a sigma model "
            f"(sigma models: {ids.sigma_models})"
        )
    unknown = [m for m in alias["sweep"]["models"] if m not in ids.models]
    if unknown:
        raise ValueError(f"config key 'aliasing.sweep.models': {unknown} are not models (models: {ids.models})")
    if alias["sweep"]["freq_min"] > alias["sweep"]["freq_max"]:
        raise ValueError(
            f"config key 'aliasing.sweep.freq_min': {alias['sweep']['freq_min']} exceeds "
            f"aliasing.sweep.freq_max ({alias['sweep']['freq_max']})"
        )


def _check_bands(cfg: Mapping[str, Any], ids: ModelIds) -> None:
    """Band edges and names; every band holds samples beyond DC in every band layer; the reference exists.

    Map sizes come from the architecture table (no torch); an untabulated architecture is
    checked when the intervention runs.
    """
    bands = cfg["bands"]
    freq.validate_bands(bands["edges"], bands["names"], key="bands")
    layers = list(bands["layers"]) if bands["layers"] else list(cfg["analysis"]["layers"])
    arch = archinfo.describe(cfg["model"]["arch"], 10, False, widths=tuple(cfg["model"]["widths"]))
    if arch is not None:
        sizes = {layer: arch.map_size(layer, cfg["dataset"]["image_size"]) for layer in layers}
        freq.check_band_layers(
            {layer: (s, s) for layer, s in sizes.items() if s is not None}, bands["edges"], bands["names"]
        )
    if bands["reference_model"] not in ids.models:
        raise ValueError(
            f"config key 'bands.reference_model': {bands['reference_model']!r} is not a model (models: {ids.models})"
        )


def _check_saliency(cfg: Mapping[str, Any], ids: ModelIds) -> None:
    """The expert is a trained σ model."""
    expert = float(cfg["saliency"]["expert_sigma"])
    if not any(abs(expert - s) < 1e-9 for s in ids.sigmas):
        raise ValueError(
            f"config key 'saliency.expert_sigma': {expert:g} is not one of the "
            f"configured sigmas ({', '.join(fmt_sigma(s) for s in ids.sigmas)})"
        )


def configured_layers(cfg: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{config key: layer names}`` of every stage that names layers."""
    out = {"analysis.layers": list(cfg["analysis"]["layers"])}
    for section, key in (("bands", "layers"), ("saliency", "activation_layers")):
        if cfg.get(section, {}).get(key):
            out[f"{section}.{key}"] = list(cfg[section][key])
    return out


def check_model_config(cfg: Mapping[str, Any], cache: str | Path | None = None) -> None:
    """Check layer names and checkpoints against the architecture before any job starts.

    The ResNets blurscope knows are tables (:mod:`blurscope.models.archinfo`: module names,
    state-dict shapes, read without torch; a ``.safetensors`` checkpoint by its
    header); only other architectures or torch-pickle checkpoints build the network
    (torch). Checkpoints used as is (:func:`model_checkpoints`) must fit the architecture
    with the dataset's class count (BlurPool's: the antialiased variant).

    Args:
        cache: fingerprint cache file of :func:`blurscope.models.checkpoints.describe` (None: none), so
            that a torch checkpoint is read once per file version, not at every workflow parse.

    Raises:
        ValueError: naming the key (``model.arch``, a layers key, ``model.weights`` /
        ``model.blurpool_weights`` / ``model.checkpoints.<id>``) and listing what is valid.
    """
    m = cfg["model"]
    widths = tuple(m["widths"])
    # class count does not change layer names; a checkpoint's head is checked below
    info = archinfo.describe(m["arch"], 10, False, widths=widths)
    if info is None:
        try:
            info = archinfo.describe_by_building(m["arch"], 10, False, widths=widths)
        except ValueError as err:
            raise ValueError(f"config key 'model.arch': {err}") from None
    for key, layers in configured_layers(cfg).items():
        bad = [name for name in layers if name not in info.modules]
        if bad:
            stages = [n for n in info.modules if n.startswith("layer") and n.count(".") <= 1]
            raise ValueError(
                f"config key '{key}': {', '.join(map(repr, bad))} is not a layer of {m['arch']} "
                f"(stage layers: {', '.join(stages)}; any module name of the backbone works)"
            )
    from blurscope.models import checkpoints

    used_as_is = model_checkpoints(cfg)
    for key, antialiased in (("weights", False), ("blurpool_weights", True)):
        path = m.get(key)
        if not path or path in used_as_is.values():
            continue
        shapes = checkpoints.describe(path, cache).shapes
        fc = [v for k, v in shapes.items() if k.endswith("fc.weight")]
        n_classes = max(2, int(fc[0][0]) if fc else 10)
        problem = archinfo.checkpoint_mismatch(_state_shapes(m, n_classes, antialiased), shapes, m["reset_head"])
        if problem:
            raise ValueError(
                f"config key 'model.{key}': checkpoint {path} does not fit architecture {m['arch']}: {problem}"
            )
    given = m.get("checkpoints") or {}
    n_classes = dataset_num_classes(cfg)
    for mid, path in used_as_is.items():
        blurpool = ModelId.parse(mid).is_blurpool
        key = f"model.checkpoints.{mid}" if mid in given else (
            "model.blurpool_weights" if blurpool else "model.weights")
        try:
            shapes = checkpoints.describe(path, cache).shapes
        except (OSError, ValueError) as err:
            raise ValueError(f"config key '{key}': {err}") from None
        if n_classes is None:  # no class folders to count: take the checkpoint's head as given
            fc = [v for k, v in shapes.items() if k.endswith("fc.weight")]
            n_classes_here = max(2, int(fc[0][0]) if fc else 10)
        else:
            n_classes_here = n_classes
        problem = archinfo.checkpoint_mismatch(_state_shapes(m, n_classes_here, blurpool), shapes)
        if problem:
            kind = "BlurPool " if blurpool else ""
            raise ValueError(
                f"config key '{key}': checkpoint {path} does not fit the {kind}architecture {m['arch']} with "
                f"{n_classes_here} classes (model {mid}): {problem}"
            )


def _state_shapes(m: Mapping[str, Any], n_classes: int, antialiased: bool) -> dict[str, tuple[int, ...]]:
    """State-dict shapes of config ``model``'s backbone: the torch-free table, else a built network."""
    widths = tuple(m["widths"])
    table = archinfo.describe(m["arch"], n_classes, antialiased, widths=widths)
    if table is None:
        table = archinfo.describe_by_building(m["arch"], n_classes, antialiased, widths=widths)
    return table.state


def dataset_num_classes(cfg: Mapping[str, Any]) -> int | None:
    """The dataset's class count as the data stage will find it (embedded: ``n_classes``; ImageFolder:
    the class folders of the training split), or None when the training folder is not there to count."""
    ds = cfg["dataset"]
    if ds["kind"] == "embedded":
        return int(ds["embedded"]["n_classes"])
    train = Path(ds["root"]) / ds.get("splits", {}).get("train", "train")
    if not train.is_dir():
        return None
    return sum(1 for d in train.iterdir() if d.is_dir())
