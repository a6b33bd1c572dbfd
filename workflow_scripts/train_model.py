"""Rules train_baseline / train_blur / train_blurpool: train one model, save safetensors + meta.

Threads come from config (``training.threads``), never from the cores Snakemake
grants: the thread count changes floating-point reduction order and thus the
weights, so the same config gives byte-identical models under any ``--cores``.
Params hold only what the weights depend on; loader workers, validation frequency,
device and keep_checkpoint come as resources ``train_*`` (they rerun nothing).
The run checkpoints into ``<results>/checkpoints/<model>.pt`` every epoch and on
SIGTERM/SIGUSR1, resumes from it when the job is rerun, and removes it once the
model is saved (unless ``training.keep_checkpoint``).
"""

import logging
import platform
from pathlib import Path

from blurscope import runlog
from blurscope.blur import sigma_to_px  # noqa: E402
from blurscope.data.files import read_manifest, select_split  # noqa: E402
from blurscope.device import pick  # noqa: E402
from blurscope.io import read_json  # noqa: E402
from blurscope.model_id import ModelId, seed_of_suffix  # noqa: E402
from blurscope.models.checkpoints import sha256_of  # noqa: E402
from blurscope.models.network import (  # noqa: E402
    BlurscopeNet,
    initial_network,
    load_backbone_weights,
    load_model,
    read_state_dict,
    save_model,
)
from blurscope.training.resume import StopRequest  # noqa: E402
from blurscope.training.train import LR_REFERENCE_BATCH, TrainSettings, load_split, resolve_precision, train_model  # noqa: E402

smk = snakemake  # noqa: F821
p, res = smk.params, smk.resources
tr, mcfg = p.training, p.model
log = runlog.start(smk.log[0], tr["threads"])
stop = StopRequest.on_signals()  # SIGTERM / SIGUSR1: checkpoint after the current step, then exit

import torch  # noqa: E402  (after runlog set the thread count)

if smk.threads < tr["threads"]:
    log.info("Snakemake granted %d core(s); training uses training.threads=%d all the same (the weights depend on it)",
             smk.threads, tr["threads"])
role = p.role
# the run of this job: the {rep} wildcard ("" or "-seed<k>") of the role's condition
seed_index = seed_of_suffix(smk.wildcards.rep)
run = ModelId.blurpool(seed_index) if role == "blurpool" else ModelId.trained(p.sigma, seed_index)
out_id = str(run)
seed = tr["seed"] + 1000 * seed_index
device = pick(res.train_device)
size = p.image_size
num_workers = int(res.train_num_workers)

classes = read_json(smk.input.classes)
manifest = read_manifest(smk.input.manifest)
num_classes = len(classes["class_names"])
train_rows, val_rows = select_split(manifest, "train"), select_split(manifest, "val")
crop_scale = tuple(float(v) for v in tr["crop_scale"])
train_data = load_split(classes["root"], train_rows, size, True, tr["in_memory_mb"], num_workers, p.skip_corrupt,
                        crop_scale, p.crop_ratio, p.jpeg_draft)
val_data = load_split(classes["root"], val_rows, size, False, tr["in_memory_mb"], num_workers, p.skip_corrupt,
                      crop_ratio=p.crop_ratio)
log.info(
    "%s: %d train / %d val images, %d classes, device %s", out_id, len(train_data), len(val_data), num_classes, device
)

antialiased = role == "blurpool"
arch_kwargs = {"widths": list(mcfg["widths"])} if mcfg["arch"] == "resnet_narrow" else {}
sigma_px = sigma_to_px(p.sigma, size)
parent = None
if role == "finetune":
    # Li et al.'s workaround: copy every weight of the parent, prepend the fixed blur, fine-tune
    parent_model, parent_meta = load_model(smk.input.parent, "cpu")
    model = BlurscopeNet(parent_model.backbone, sigma_px)
    parent = parent_meta["model_id"]
    epochs, lr, lr_key = tr["finetune_epochs"], tr["finetune_lr"], "training.finetune_lr"
    log.info("fine-tuning from %s at sigma %g (%.3f px)", parent, p.sigma, sigma_px)
else:
    # seeded inside: the initialisation depends on the seed only (evaluate rebuilds it for the stem diagnostic)
    model = initial_network(mcfg["arch"], num_classes, antialiased, arch_kwargs, sigma_px, seed)
    epochs, lr, lr_key = tr["epochs"], tr["lr"], "training.lr"
    start = mcfg["blurpool_weights"] if antialiased else (mcfg["weights"] if role == "baseline" else None)
    if start:
        skipped = load_backbone_weights(model.backbone, read_state_dict(start), start, mcfg["reset_head"])
        parent = str(start)
        log.info("starting from checkpoint %s (head reset: %s)", start, skipped or "no")
        if role == "baseline" and skipped and epochs == 0:
            raise ValueError(f"model.reset_head re-initialised the head of {start}; training.epochs must be > 0")

settings = TrainSettings(
    epochs=epochs, lr=lr, weight_decay=tr["weight_decay"], momentum=tr["momentum"], batch_size=tr["batch_size"],
    label_smoothing=tr["label_smoothing"], seed=seed, augment=tr["augment"], num_workers=num_workers,
    channels_last=tr["channels_last"], precision=resolve_precision(tr["precision"], device),
    val_every=int(res.train_val_every), world_size=tr["world_size"], crop_scale=crop_scale,
)
log.info("precision %s (training.precision: %s, device %s)", settings.precision, tr["precision"], device)
log.info(
    "learning rate: %s %g per %d images x batch %d / %d = peak %.6g (linear scaling rule, Goyal et al. 2017); "
    "%d process(es) x %d images", lr_key, lr, LR_REFERENCE_BATCH, settings.batch_size, LR_REFERENCE_BATCH,
    settings.effective_lr, settings.world_size, settings.batch_size // settings.world_size,
)

# what the weights depend on beyond the settings: a checkpoint of anything else is refused
identity = {
    "model_id": out_id, "role": role, "sigma": float(p.sigma), "image_size": size, "model": dict(mcfg),
    "threads": tr["threads"], "inputs": {k: sha256_of(v) for k, v in smk.input.items() if isinstance(v, str)},
}
checkpoint = Path(p.checkpoints) / f"{out_id}.pt"
torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
metrics = train_model(model, train_data, val_data, settings, device, logging.getLogger("blurscope.training.train"),
                      name=out_id, checkpoint=checkpoint, identity=identity, stop=stop)
log.info(
    "%s: val accuracy %.4f after %d epochs (%.0f s)", out_id, metrics["val_accuracy"], epochs, metrics["train_seconds"]
)
meta = {
    "model_id": out_id, "arch": mcfg["arch"], "arch_kwargs": arch_kwargs, "antialiased": antialiased,
    "sigma": float(p.sigma), "sigma_px": sigma_px, "image_size": size, "num_classes": num_classes,
    "class_names": classes["class_names"], "mean": list(model.normalize.mean.flatten().tolist()),
    "std": list(model.normalize.std.flatten().tolist()), "role": role, "parent": parent, "seed": seed,
    # the lr as configured (per 256 images) and as trained (effective_lr, the optimiser's peak)
    "settings": {**settings.__dict__, "effective_lr": settings.effective_lr, "lr_key": lr_key,
                 "lr_reference_batch": LR_REFERENCE_BATCH, "grad_scaler": settings.precision == "float16",
                 "per_process_batch": settings.batch_size // settings.world_size},
    "metrics": metrics,
    # what the bytes of this file depend on beyond the config (README, "Reproducibility")
    "runtime": {"threads": torch.get_num_threads(), "torch": torch.__version__, "device": str(device),
                "cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
}
save_model(model.cpu(), smk.output.weights, meta)
if int(res.train_keep_checkpoint):
    log.info("checkpoint %s kept (training.keep_checkpoint)", checkpoint)
else:
    checkpoint.unlink(missing_ok=True)
