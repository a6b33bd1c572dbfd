"""Rule band_intervention[model]: band isolation at every band layer of one model (one job).

For each layer of ``params.layers``: FFT of the layer's output, keep one radial band,
iFFT, continue the forward pass; accuracy and mean GT rank per band with the model's
own head and with an MLP head trained on the frozen layer features (band-isolation
study, docs/bands.md). Inputs: model weights (+ meta), analysis images (evaluation),
probe images (training set of the MLP head). Outputs, parallel lists over layers:
per-band table (TSV), per-image outcomes (NPZ, for the paired bootstrap across σ),
run info (JSON). The MLP heads train with ``params.train_threads`` threads (config
training.threads): their weights, unlike a forward pass, depend on the thread count.
"""

import time

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.params.train_threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from blurscope import device, io  # noqa: E402
from blurscope.bands import intervention as bands  # noqa: E402
from blurscope.bands import stats as band_stats  # noqa: E402
from blurscope.data.files import load_images_npz, to_float  # noqa: E402
from blurscope.models.network import load_model_id  # noqa: E402

cfg = smk.params.cfg
model_id = smk.wildcards.model
dev = device.pick(cfg["device"])
edges, names = bands.validate_bands(cfg["edges"], cfg["names"], key="bands")
mlp = cfg["mlp"]


def subset(arrays: dict, n: int, what: str, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for key in ("images", "labels", "ids"):
        if key not in arrays:
            raise ValueError(f"{path}: {what} image set has no {key!r} array")
    total = len(arrays["labels"])
    used = total if n <= 0 else min(n, total)
    if n > total:
        log.info("%s: %d images asked for, %s holds %d: using all %d", what, n, path, total, total)
    elif used < total:
        log.info("%s: using the first %d of %d images (%s)", what, used, total, path)
    return arrays["images"][:used], arrays["labels"][:used].astype(np.int64), arrays["ids"][:used].astype(np.int64)


images, labels, ids = subset(load_images_npz(smk.input.images), int(cfg["n_images"]), "evaluation", smk.input.images)
model, meta = load_model_id(smk.input.model, model_id, device=dev, own_blur=smk.params.own_blur)
sigma = float(meta.get("sigma", float("nan")))
k = int(meta["num_classes"])
if labels.min() < 0 or labels.max() >= k:
    raise ValueError(
        f"{smk.input.images}: labels outside [0, {k}) for model {model_id} ({meta['num_classes']} classes)"
    )
probe_set = None
if mlp["enabled"]:
    probe_set = subset(load_images_npz(smk.input.probe_images), int(mlp["n_train"]), "MLP-probe training",
                       smk.input.probe_images)
    overlap = np.intersect1d(probe_set[2], ids).size
    if overlap:
        raise ValueError(
            f"{smk.input.probe_images} and {smk.input.images} share {overlap} images (manifest ids); "
            "the MLP head must be trained on images it is not evaluated on (bands.mlp.split)"
        )
log.info("model %s (σ=%s), layers %s, %d evaluation images, bands %s edges %s", model_id, sigma,
         ", ".join(smk.params.layers), len(labels), names, edges)

for layer, out_tsv, out_npz, out_info in zip(smk.params.layers, smk.output.tsv, smk.output.npz, smk.output.info):
    torch.manual_seed(int(cfg["seed"]))
    probe = None
    probe_info: dict = {"enabled": bool(mlp["enabled"])}
    if probe_set is not None:
        p_images, p_labels, _ = probe_set
        t0 = time.perf_counter()
        feats = bands.layer_features(
            model, layer, p_images, grid=int(mlp["grid"]), layout=cfg["layout"], batch_size=int(cfg["batch_size"]),
            transform=to_float, device=dev,
        )
        log.info("%s: probe features %s from %d training images (%.1f s)", layer, tuple(feats.shape), len(p_labels),
                 time.perf_counter() - t0)
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
        log.info("%s: MLP head train accuracy %.3f, final loss %.4f", layer, hist["train_accuracy"], hist["final_loss"])
        del feats

    run = bands.band_logits(
        model, layer, images, labels, edges=edges, names=names, batch_size=int(cfg["batch_size"]),
        strategy=cfg["strategy"], layout=cfg["layout"], prefix_tokens=cfg["prefix_tokens"], probe=probe,
        probe_grid=int(mlp["grid"]), transform=to_float, device=dev, logger=log,
    )
    # the Snakefile checked tabulated architectures at parse time; this covers the others
    bands.check_band_layers({layer: tuple(run.map_hw)}, edges, names)
    rate = len(labels) * len(names) / run.seconds
    ctl = run.control
    log.info("%s: %d images x %d rows in %.1f s (%s strategy; %.1f image-bands/s); union control: map %.3g of its "
             "largest value (%.3g absolute), logits %s", layer, len(labels), len(run.rows), run.seconds,
             run.strategy, rate, ctl["map_rel"], ctl["map_abs"],
             ", ".join(f"{h} {ctl.get('logit_rel', {}).get(h, float('nan')):.3g} of |logit| <= "
                       f"{ctl['logit_scale'][h]:.3g} ({ctl['logit_abs'][h]:.3g} absolute)" for h in ctl["logit_abs"]))
    bands.check_controls(run, layer, float(cfg["control_tolerance"]))

    table = bands.band_table(*run.map_hw, edges, names)
    df = band_stats.summarize(run, table, iterations=int(cfg["bootstrap"]), seed=int(cfg["seed"]))
    df.insert(0, "layer", layer)
    df.insert(0, "sigma", sigma)
    df.insert(0, "model", model_id)
    for head in run.correct:
        acc = df[(df["head"] == head)].set_index("band")["accuracy"]
        log.info("%s %s head accuracy: %s", layer, head, ", ".join(f"{b}={v:.3f}" for b, v in acc.items()))
    band_stats.save_run(out_npz, run, table, ids, labels)
    io.write_json(
        dict(
            model=model_id, layer=layer, sigma=sigma, antialiased=bool(meta.get("antialiased", False)),
            map_hw=list(run.map_hw), n_images=len(labels), rows=run.rows, strategy=run.strategy,
            seconds=run.seconds, image_bands_per_s=rate, control=run.control,
            mlp=probe_info, edges=edges, names=names, prefix_tokens=cfg["prefix_tokens"], device=str(dev),
            input_blur_px=float(getattr(model, "blur", None).sigma_px) if hasattr(model, "blur") else 0.0,
        ),
        out_info,
    )
    io.write_tsv(df, out_tsv)
    log.info("wrote %s", out_tsv)
