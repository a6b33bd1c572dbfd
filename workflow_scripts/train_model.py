"""Rules train_baseline / finetune_blur / train_blurpool: train one model, save safetensors + meta."""

import logging

import torch

from blurscope import runlog
from blurscope.blur import sigma_to_px
from blurscope.data import read_manifest, select_split
from blurscope.device import pick
from blurscope.io import read_json
from blurscope.models import (
    BlurscopeNet,
    build_model,
    load_backbone_weights,
    load_model,
    read_state_dict,
    save_model,
)
from blurscope.train import TrainSettings, load_split, train_model

sm = snakemake  # noqa: F821
log = runlog.start(sm.log[0], sm.threads)
p = sm.params
tr, mcfg = p.training, p.model
role = p.role
out_id = sm.output.weights.rsplit("/", 1)[-1].removesuffix(".safetensors")
seed_index = int(out_id.split("-seed")[1]) if "-seed" in out_id else 0
seed = tr["seed"] + 1000 * seed_index
device = pick(tr["device"])
size = p.image_size

classes = read_json(sm.input.classes)
manifest = read_manifest(sm.input.manifest)
num_classes = len(classes["class_names"])
train_rows, val_rows = select_split(manifest, "train"), select_split(manifest, "val")
train_data = load_split(classes["root"], train_rows, size, True, tr["in_memory_mb"], tr["num_workers"], p.skip_corrupt)
val_data = load_split(classes["root"], val_rows, size, False, tr["in_memory_mb"], tr["num_workers"], p.skip_corrupt)
log.info("%s: %d train / %d val images, %d classes, device %s", out_id, len(train_data), len(val_data), num_classes, device)

# seed before building: weight initialisation must not depend on global RNG state
torch.manual_seed(seed)
antialiased = role == "blurpool"
arch_kwargs = {"widths": list(mcfg["widths"])} if mcfg["arch"] == "resnet_narrow" else {}
sigma_px = sigma_to_px(p.sigma, size)
parent = None
if role == "finetune":
    # seed 003: copy every weight of the parent, prepend the fixed blur, fine-tune
    parent_model, parent_meta = load_model(sm.input.parent, "cpu")
    model = BlurscopeNet(parent_model.backbone, sigma_px)
    parent = parent_meta["model_id"]
    epochs, lr = tr["finetune_epochs"], tr["finetune_lr"]
    log.info("fine-tuning from %s at sigma %g (%.3f px)", parent, p.sigma, sigma_px)
else:
    model = BlurscopeNet(build_model(mcfg["arch"], num_classes, antialiased, **arch_kwargs), sigma_px)
    epochs, lr = tr["epochs"], tr["lr"]
    start = mcfg["blurpool_weights"] if antialiased else (mcfg["weights"] if role == "baseline" else None)
    if start:
        skipped = load_backbone_weights(model.backbone, read_state_dict(start), start, mcfg["reset_head"])
        parent = str(start)
        log.info("starting from checkpoint %s (head reset: %s)", start, skipped or "no")
        if role == "baseline" and skipped and epochs == 0:
            raise ValueError(f"model.reset_head re-initialised the head of {start}; training.epochs must be > 0")

settings = TrainSettings(
    epochs=epochs, lr=lr, weight_decay=tr["weight_decay"], momentum=tr["momentum"], batch_size=tr["batch_size"],
    label_smoothing=tr["label_smoothing"], seed=seed, augment=tr["augment"], num_workers=tr["num_workers"],
)
torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
metrics = train_model(model, train_data, val_data, settings, device, logging.getLogger("blurscope.train"))
log.info("%s: val accuracy %.4f after %d epochs (%.0f s)", out_id, metrics["val_accuracy"], epochs, metrics["train_seconds"])
meta = {
    "model_id": out_id, "arch": mcfg["arch"], "arch_kwargs": arch_kwargs, "antialiased": antialiased,
    "sigma": float(p.sigma), "sigma_px": sigma_px, "image_size": size, "num_classes": num_classes,
    "class_names": classes["class_names"], "mean": list(model.normalize.mean.flatten().tolist()),
    "std": list(model.normalize.std.flatten().tolist()), "role": role, "parent": parent, "seed": seed,
    "settings": settings.__dict__, "metrics": metrics,
}
save_model(model.cpu(), sm.output.weights, meta)
