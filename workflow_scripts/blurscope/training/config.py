"""Which config keys reach a training job, and how (torch-free: the workflow imports it at parse time).

A training rule's ``params`` are its rerun trigger, so they hold exactly the keys that change
the bytes of the trained weights (:data:`WEIGHT_KEYS`, role by role). Keys that only change how
the job runs — data-loader workers, validation frequency, device choice, keeping the
checkpoint — travel as ``resources`` (:data:`RUNTIME_KEYS`), which Snakemake does not compare,
so changing them reruns nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WEIGHT_KEYS = (
    "augment", "batch_size", "channels_last", "crop_scale", "in_memory_mb", "label_smoothing", "momentum",
    "precision", "seed", "threads", "weight_decay", "world_size",
)
"""``training`` keys every training job's weights depend on (plus the role's epochs and lr:
``epochs``/``lr`` from scratch, ``finetune_epochs``/``finetune_lr`` for a fine-tune).
``in_memory_mb`` chooses between the in-memory and the streamed data path (two augmentations);
``threads``, ``precision``, ``channels_last`` and ``world_size`` change the floating-point order."""

RUNTIME_KEYS = ("num_workers", "val_every", "device", "keep_checkpoint")
"""``training`` keys that never change the weights: passed as resources ``train_<key>``.
``num_workers`` does not, because every streamed image draws its augmentation from its own
seed (epoch seed, image index), whichever worker decodes it."""

ROLE_KEYS = {"finetune": ("finetune_epochs", "finetune_lr")}
"""Role → its epochs and lr keys; every other role (baseline, scratch, blurpool) uses ``epochs``, ``lr``."""


def training_params(training: Mapping[str, Any], role: str) -> dict[str, Any]:
    """The ``training`` subset a job of ``role`` receives as params (sorted: reordering a config reruns nothing)."""
    keys = (*WEIGHT_KEYS, *ROLE_KEYS.get(role, ("epochs", "lr")))
    return {k: training[k] for k in sorted(keys)}


def model_params(model: Mapping[str, Any], role: str) -> dict[str, Any]:
    """The ``model`` subset a job of ``role`` receives: architecture, and the start checkpoint it uses
    (``weights`` for the baseline, ``blurpool_weights`` for BlurPool, none for a blur model)."""
    keys = ["arch", "reset_head"]
    if model.get("arch") == "resnet_narrow":
        keys.append("widths")
    keys += {"baseline": ["weights"], "blurpool": ["blurpool_weights"]}.get(role, [])
    return {k: model.get(k) for k in sorted(keys)}


def runtime_resources(training: Mapping[str, Any]) -> dict[str, int | str]:
    """Resources ``train_<key>`` of a training rule (Snakemake resources are ints or strings)."""
    out: dict[str, int | str] = {}
    for k in RUNTIME_KEYS:
        v = training[k]
        out[f"train_{k}"] = int(v) if isinstance(v, bool) else v
    return out


def check_training_config(cfg: Mapping[str, Any]) -> None:
    """Cross-key checks of ``training`` and ``resources`` that JSON Schema cannot express.

    Raises:
        ValueError: naming the keys: ``training.batch_size`` not a multiple of ``training.world_size``
        (the batch is global: each process takes ``batch_size / world_size``); ``resources.train_gpus``
        neither 0 (CPU training) nor ``training.world_size`` (one GPU per process); a crop scale
        range that is empty.
    """
    tr, res = cfg["training"], cfg["resources"]
    world, batch = int(tr["world_size"]), int(tr["batch_size"])
    if batch % world:
        raise ValueError(
            f"config key 'training.batch_size': {batch} is not a multiple of training.world_size={world} "
            "(the batch is global; each process takes batch_size / world_size images)"
        )
    gpus = int(res["train_gpus"])
    if gpus not in (0, world):
        raise ValueError(
            f"config key 'resources.train_gpus': {gpus} GPUs for training.world_size={world} processes; "
            f"expected 0 (training on CPU) or {world} (one GPU per process)"
        )
    lo, hi = (float(v) for v in tr["crop_scale"])
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"config key 'training.crop_scale': {[lo, hi]} must satisfy 0 < low <= high <= 1")
