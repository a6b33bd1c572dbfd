"""Rule band_intervention: band isolation at one layer of one model (seed 001).

Inputs: model weights (+ meta), analysis images (evaluation), probe images
(training set of the MLP head). Outputs: per-band table (TSV), per-image
outcomes (NPZ, for the paired bootstrap across σ), run info (JSON).
"""


import time

import numpy as np
import torch

from blurscope import bands, device, io, runlog
from blurscope.data import load_images_npz, to_float
from blurscope.models import load_model

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
layer = smk.params.layer
model_id = smk.wildcards.model

dev = device.pick(cfg["device"])
model, meta = load_model(smk.input.model, device=dev, own_blur=smk.params.own_blur)
edges, names = bands.validate_bands(cfg["edges"], cfg["names"], key="bands")
mlp = cfg["mlp"]
torch.manual_seed(int(cfg["seed"]))


def subset(arrays: dict, n: int, what: str, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for key in ("images", "labels", "ids"):
        if key not in arrays:
            raise ValueError(f"{path}: {what} image set has no {key!r} array")
    total = len(arrays["labels"])
    n = total if n <= 0 else min(n, total)
    if n < total:
        log.info("%s: using the first %d of %d images (%s)", what, n, total, path)
    return arrays["images"][:n], arrays["labels"][:n].astype(np.int64), arrays["ids"][:n].astype(np.int64)


images, labels, ids = subset(load_images_npz(smk.input.images), int(cfg["n_images"]), "evaluation", smk.input.images)
k = int(meta["num_classes"])
if labels.min() < 0 or labels.max() >= k:
    raise ValueError(f"{smk.input.images}: labels outside [0, {k}) for model {model_id} ({meta['num_classes']} classes)")
log.info("model %s (σ=%s), layer %s, %d evaluation images, bands %s edges %s", model_id, meta.get("sigma"), layer, len(labels), names, edges)

probe = None
probe_info: dict = {"enabled": bool(mlp["enabled"])}
if mlp["enabled"]:
    p_images, p_labels, p_ids = subset(load_images_npz(smk.input.probe_images), int(mlp["n_train"]), "MLP-probe training", smk.input.probe_images)
    overlap = np.intersect1d(p_ids, ids).size
    if overlap:
        raise ValueError(
            f"{smk.input.probe_images} and {smk.input.images} share {overlap} images (manifest ids); "
            "the MLP head must be trained on images it is not evaluated on (bands.mlp.split)"
        )
    t0 = time.perf_counter()
    feats = bands.layer_features(
        model, layer, p_images, grid=int(mlp["grid"]), layout=cfg["layout"], batch_size=int(cfg["batch_size"]),
        transform=to_float, device=dev,
    )
    log.info("probe features %s from %d training images (%.1f s)", tuple(feats.shape), len(p_labels), time.perf_counter() - t0)
    if feats.shape[1] > int(mlp["max_features"]):
        raise ValueError(
            f"layer {layer!r}: MLP-probe readout has {feats.shape[1]} features > bands.mlp.max_features="
            f"{mlp['max_features']}; lower bands.mlp.grid (now {mlp['grid']}) or raise max_features"
        )
    probe, hist = bands.train_mlp_head(
        feats, p_labels, k, hidden=int(mlp["hidden"]), epochs=int(mlp["epochs"]), lr=float(mlp["lr"]),
        weight_decay=float(mlp["weight_decay"]), batch_size=int(mlp["batch_size"]), seed=int(cfg["seed"]),
        device=dev, logger=log,
    )
    probe_info.update(hist, n_train=len(p_labels), n_features=int(feats.shape[1]), grid=int(mlp["grid"]))
    log.info("MLP head: train accuracy %.3f, final loss %.4f", hist["train_accuracy"], hist["final_loss"])
    del feats

run = bands.band_logits(
    model, layer, images, labels, edges=edges, names=names, batch_size=int(cfg["batch_size"]),
    strategy=cfg["strategy"], layout=cfg["layout"], prefix_tokens=cfg["prefix_tokens"], probe=probe,
    probe_grid=int(mlp["grid"]), transform=to_float, device=dev, logger=log,
)
n_rows = len(run.rows)
rate = len(labels) * len(names) / run.seconds
log.info(
    "%d images x %d rows in %.1f s (%s strategy; %.1f image-bands/s); union vs unmodified max |Δlogit|: %s",
    len(labels), n_rows, run.seconds, run.strategy, rate, run.max_abs_logit_diff,
)
tol = float(cfg["control_tolerance"])
for head, diff in run.max_abs_logit_diff.items():
    if diff > tol:
        raise RuntimeError(
            f"control failed: union of all bands changes {head} logits by {diff:.3g} > bands.control_tolerance={tol} "
            f"at layer {layer!r}; the bands do not reproduce the unmodified forward pass"
        )

table = bands.band_table(*run.map_hw, edges, names)
df = bands.summarize(run, table, iterations=int(cfg["bootstrap"]), seed=int(cfg["seed"]))
df.insert(0, "layer", layer)
df.insert(0, "sigma", float(meta.get("sigma", float("nan"))))
df.insert(0, "model", model_id)
for head in run.correct:
    acc = df[(df["head"] == head)].set_index("band")["accuracy"]
    log.info("%s head accuracy: %s", head, ", ".join(f"{b}={v:.3f}" for b, v in acc.items()))

bands.save_run(smk.output.npz, run, table, ids, labels)
io.write_json(
    dict(
        model=model_id, layer=layer, sigma=meta.get("sigma"), antialiased=bool(meta.get("antialiased", False)),
        map_hw=list(run.map_hw), n_images=len(labels), rows=run.rows, strategy=run.strategy,
        seconds=run.seconds, image_bands_per_s=rate, max_abs_logit_diff=run.max_abs_logit_diff,
        mlp=probe_info, edges=edges, names=names, prefix_tokens=cfg["prefix_tokens"], device=str(dev),
    ),
    smk.output.info,
)
io.write_tsv(df, smk.output.tsv)
log.info("wrote %s", smk.output.tsv)
