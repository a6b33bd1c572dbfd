"""Rule frequency_preference[model]: hybrid-image sweep (p_low, p_high, f_rev), PGD f_0.5 and the
shape bias on the cue-conflict split of one model as deployed (blur layer included), one job.

A filter-only reference (ref-sigma<s>) is the sigma 0 network behind the blur of sigma s.
``units`` (.npz) keeps the per-pair / per-image outcomes for paired bootstraps of a trained
model against its reference: ``hits_low`` / ``hits_high`` bool [n_f_mix, n_pairs], ``f_mix``,
``pair_low`` / ``pair_high`` (image rows), ``pgd_power`` [n_images, n_radii], ``pgd_radii``,
and, with a cue-conflict split, ``shape_pred`` [n_conflict], ``shape_labels``, ``texture_labels``.
"""

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from blurscope import data, device, frequency, imagenet16, io, models  # noqa: E402
from blurscope.blur import sigma_to_px  # noqa: E402

cfg = smk.params.cfg
model_id = smk.wildcards.model
dev = device.pick(cfg["device"])
arrays = data.load_images_npz(smk.input.images)
ref = smk.params.reference_blur
ref_px = None if ref is None else sigma_to_px(ref, arrays["images"].shape[1])
model, meta = models.load_model(smk.input.model, dev, blur_sigma_px=ref_px)
if ref is not None:
    meta = {**meta, "sigma": float(ref), "reference_of": meta["model_id"]}
if "labels" not in arrays:
    raise ValueError(f"{smk.input.images}: expected a 'labels' array")
images = data.to_float(arrays["images"])
labels = np.asarray(arrays["labels"], dtype=np.int64)
num_classes = int(meta["num_classes"])
if labels.min() < 0 or labels.max() >= num_classes:
    raise ValueError(f"{smk.input.images}: labels outside [0, {num_classes}) of model {model_id}")
seed, boot, level, bs = int(cfg["seed"]), int(cfg["bootstrap"]), float(cfg["ci"]), int(cfg["batch_size"])
log.info("model %s (sigma=%g, %s), %d images %s, device %s", model_id, meta["sigma"], meta["arch"], len(labels),
         tuple(images.shape[1:]), dev)

# ---- hybrid sweep
f_mix = frequency.f_mix_grid(int(cfg["n_f_mix"]))
idx_low, idx_high = frequency.make_pairs(labels, int(cfg["n_pairs"]), seed)
prog = runlog.Progress(log, f_mix.size * idx_low.size, "hybrids")
preds = frequency.hybrid_predictions(model, images, idx_low, idx_high, f_mix, bs, dev, prog.update)
hits_low, hits_high = frequency.preference_curves(preds, labels[idx_low], labels[idx_high])
n_p = idx_low.size
w = frequency.bootstrap_counts(n_p, boot, seed)
ci_cols = {}
for name, hits in (("p_low", hits_low), ("p_high", hits_high)):
    samples = w @ hits.T.astype(np.float64) / n_p  # [iterations, F]
    lo, hi = np.quantile(samples, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
    ci_cols[f"{name}_ci_low"], ci_cols[f"{name}_ci_high"] = lo, hi
curves = pd.DataFrame({
    "model": model_id,
    "sigma": float(meta["sigma"]),
    "f_mix": f_mix,
    "f_mix_cpp": frequency.to_cpp(f_mix),
    "p_low": hits_low.mean(1),
    "p_high": hits_high.mean(1),
    "p_other": 1.0 - hits_low.mean(1) - hits_high.mean(1),
    **ci_cols,
    "n_pairs": n_p,
})
rev = frequency.reversal_summary(f_mix, hits_low, hits_high, boot, seed, level)
log.info("f_rev = %.4g cycles/pixel [%.4g, %.4g] (%s)", rev["f_rev_cpp"], rev["f_rev_ci_low_cpp"],
         rev["f_rev_ci_high_cpp"], rev["f_rev_status"])
if rev["f_rev_status"] == frequency.STATUS_LOW_FROM_START:
    log.warning("p_low >= p_high already at the first sweep point: f_rev reported as that point (%.4g cycles/pixel), "
                "an upper bound; use a larger frequency.n_f_mix to resolve it", frequency.to_cpp(f_mix[0]))
elif rev["f_rev_status"] == frequency.STATUS_NEVER:
    log.warning("p_low < p_high at every sweep point (even where the hybrid is the low-frequency image itself): "
                "f_rev is NaN; check the model's clean accuracy")

# ---- PGD perturbations and their half-power frequency
n_pgd = min(int(cfg["pgd_n_images"]), len(labels))
deltas, fooled = [], []
prog = runlog.Progress(log, n_pgd, "PGD images")
for start in range(0, n_pgd, bs):
    stop = min(start + bs, n_pgd)
    d, f = frequency.pgd_perturbations(
        model, images[start:stop].to(dev), torch.as_tensor(labels[start:stop]), float(cfg["pgd_eps"]),
        int(cfg["pgd_steps"]), float(cfg["pgd_step_size"]), cfg["pgd_norm"], bool(cfg["pgd_random_start"]),
        seed + start,
    )
    deltas.append(d.cpu())
    fooled.append(f.cpu())
    prog.update(stop - start)
delta = torch.cat(deltas)
radii, power = frequency.radial_power_profile(delta)
half = frequency.half_power_summary(radii, power, boot, seed, level)
log.info("f_0.5 = %.4g cycles/pixel [%.4g, %.4g]; PGD success %.3f", half["f_half_cpp"], half["f_half_ci_low_cpp"],
         half["f_half_ci_high_cpp"], torch.cat(fooled).float().mean().item())
ok = np.isfinite(power).all(1)
mean_power = power[ok].mean(0)
spectrum = pd.DataFrame({
    "model": model_id,
    "sigma": float(meta["sigma"]),
    "f_cpp": radii,
    "power_fraction": mean_power,
    "cumulative": np.cumsum(mean_power),
})

row = {
    "model": model_id,
    "sigma": float(meta["sigma"]),
    **rev,
    "f_rev_normalised": rev["f_rev_cpp"] * 2,
    **half,
    "pgd_norm": cfg["pgd_norm"],
    "pgd_eps": float(cfg["pgd_eps"]),
    "pgd_steps": int(cfg["pgd_steps"]),
    "pgd_success_rate": float(torch.cat(fooled).float().mean()),
    "pgd_perturbation_rms": float(delta.pow(2).mean().sqrt()),
    "n_f_mix": int(f_mix.size),
}
units = {"hits_low": hits_low, "hits_high": hits_high, "f_mix": f_mix, "pair_low": idx_low, "pair_high": idx_high,
         "pgd_power": power, "pgd_radii": radii}

# ---- shape bias on the cue-conflict split (when the dataset has one)
if hasattr(smk.output, "shape_bias"):
    path = smk.input.cue_conflict
    cc = data.load_images_npz(path)
    missing = [k for k in ("shape_labels", "texture_labels") if k not in cc]
    if missing:
        raise ValueError(f"{path}: missing array(s) {missing}; expected images, shape_labels, texture_labels")
    shape_labels = np.asarray(cc["shape_labels"], dtype=np.int64)
    texture_labels = np.asarray(cc["texture_labels"], dtype=np.int64)
    if not (len(shape_labels) == len(texture_labels) == len(cc["images"])):
        raise ValueError(f"{path}: images, shape_labels and texture_labels differ in length")
    # Geirhos et al.'s stimuli with an ImageNet model: 1000 classes aggregated to their 16 categories
    predict = imagenet16.predict if str(cc.get("label_space", "dataset")) == "imagenet16" else frequency.predict
    sb_pred = predict(model, data.to_float(cc["images"]), bs, dev)
    res = frequency.shape_bias_summary(sb_pred, shape_labels, texture_labels, boot, seed, level)
    log.info("shape bias %.3f [%.3f, %.3f] (shape acc %.3f, texture acc %.3f, n=%d)", res["shape_bias"],
             res["shape_bias_ci_low"], res["shape_bias_ci_high"], res["shape_acc"], res["texture_acc"],
             res["n_conflict"])
    io.write_tsv(pd.DataFrame([{"model": model_id, "sigma": float(meta["sigma"]), **res}]),
                 smk.output.shape_bias)
    units.update(shape_pred=np.asarray(sb_pred), shape_labels=shape_labels, texture_labels=texture_labels)

io.save_npz(smk.output.units, **units)
io.write_tsv(curves, smk.output.curves)
io.write_tsv(spectrum, smk.output.spectrum)
io.write_tsv(pd.DataFrame([row]), smk.output.preference)
log.info("done")
