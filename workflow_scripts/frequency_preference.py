"""Rule deployed[model], part 2 (workflow_scripts/deployed.py): hybrid-image sweep (p_low, p_high,
f_rev), PGD f_0.5, the shape bias on the cue-conflict split and the accuracy on the shared corrupted sets (with its
corruption errors CE / mCE against the reference) of one model as deployed (blur layer
included), one job.

A filter-only reference (ref-sigma<s>) is the sigma 0 network behind the blur of sigma s.
``units`` (.npz) keeps the per-pair / per-image outcomes for paired bootstraps of a trained
model against its reference: ``hits_low`` / ``hits_high`` bool [n_f_mix, n_pairs], ``f_mix``,
``pair_low`` / ``pair_high`` (image rows), ``pgd_power`` [n_images, n_radii], ``pgd_radii``,
and, with a cue-conflict split, ``shape_pred`` [n_conflict], ``shape_labels``, ``texture_labels``.
``corruption`` / ``ce`` (TSV) and ``hits`` (.npz, per-image outcomes of every corruption ×
severity, the mCE reference of the other models) are the corruption part.
"""

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from blurscope import corruptions, data, device, frequency, imagenet16, io, models  # noqa: E402
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
# the shared corrupted sets, checked before any work
names, severities = list(cfg["corruptions"]), [int(s) for s in cfg["severities"]]
sets = {name: corruptions.load_corruption_set(p, name, severities) for name, p in zip(names, smk.input.corrupted)}
ids = next(iter(sets.values()))["ids"]
for name, z in sets.items():
    if not np.array_equal(z["ids"], ids):
        raise ValueError(f"corrupted set {name!r} holds other images than {names[0]!r}: rerun rule corrupted_images")
n = len(ids)
if not np.array_equal(arrays["ids"][:n], ids):
    raise ValueError(f"{smk.input.images}: the corrupted sets were made from other analysis images: "
                     f"rerun rule corrupted_images")
clean, clean_labels = arrays["images"][:n], np.asarray(arrays["labels"][:n], dtype=np.int64)
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
if half["n_pgd_images"] == 0:
    log.warning("%s: every PGD perturbation is zero (the input gradient vanished on all %d images): f_0.5 is "
                "undefined for this model (NaN)", model_id, n_pgd)
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

# ---- accuracy on the shared corrupted sets (forwards only), corruption errors against the reference
log.info("model %s (sigma=%g): %d images (frequency.corruption_n_images=%d) x (%d corruptions x %d severities "
         "+ clean); forwards only, the corrupted images are shared by all models", model_id, meta["sigma"], n,
         int(cfg["corruption_n_images"]), len(names), len(severities))
prog = runlog.Progress(log, n * (1 + len(names) * len(severities)), "images")
conds, hits = corruptions.corruption_hits(model, clean, {k: z["images"] for k, z in sets.items()}, severities,
                                          clean_labels, int(cfg["batch_size"]), dev, prog.update)
w = frequency.bootstrap_counts(n, boot, seed)
samples = w @ hits.T.astype(np.float64) / n  # [iterations, conditions]
lo, hi = np.quantile(samples, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
table = conds.assign(model=model_id, sigma=float(meta["sigma"]), accuracy=hits.mean(1), ci_low=lo, ci_high=hi,
                     n_images=n)
# Mean over all corruption x severity conditions (one robustness number), same resamples.
corr = conds["corruption"].to_numpy() != "clean"
mean_s = samples[:, corr].mean(1)
mlo, mhi = np.quantile(mean_s, [(1 - level) / 2, 1 - (1 - level) / 2])
table = pd.concat([table, pd.DataFrame([{"corruption": "mean", "severity": 0, "model": model_id,
                                         "sigma": float(meta["sigma"]), "accuracy": hits[corr].mean(),
                                         "ci_low": mlo, "ci_high": mhi, "n_images": n}])], ignore_index=True)
table = table[["model", "sigma", "corruption", "severity", "accuracy", "ci_low", "ci_high", "n_images"]]
log.info("clean accuracy %.3f, mean corruption accuracy %.3f [%.3f, %.3f]", hits[0].mean(), hits[corr].mean(), mlo,
         mhi)

reference = cfg["mce_reference"]
if reference == corruptions.PUBLISHED:
    ce = corruptions.corruption_errors(conds, hits, published=cfg["mce_reference_errors"], weights=w, level=level)
    ref_label = "published errors (frequency.mce_reference_errors)"
else:
    if reference == model_id:
        ref_hits = hits
    else:
        ref_conds, ref_hits, ref_ids = corruptions.load_hits(smk.input.mce_reference)
        same = ref_conds.astype(str).values.tolist() == conds.astype(str).values.tolist()
        if not (same and np.array_equal(ref_ids, ids)):
            raise ValueError(
                f"{smk.input.mce_reference}: the reference {reference!r} was evaluated on other conditions "
                f"or images than {model_id!r}: rerun its rule deployed"
            )
    ce = corruptions.corruption_errors(conds, hits, reference_hits=ref_hits, weights=w, level=level)
    ref_label = reference
ce.insert(0, "sigma", float(meta["sigma"]))
ce.insert(0, "model", model_id)
ce = ce.assign(reference=ref_label, n_images=n)
m = ce[ce["corruption"] == "mCE"].iloc[0]
log.info("mCE %.3f [%.3f, %.3f], relative mCE %.3f [%.3f, %.3f] over %d ImageNet-C types, reference %s",
         m["ce"], m["ce_ci_low"], m["ce_ci_high"], m["relative_ce"], m["relative_ce_ci_low"],
         m["relative_ce_ci_high"], m["n_types"], ref_label)
io.write_tsv(table, smk.output.corruption)
io.write_tsv(ce, smk.output.ce)
corruptions.write_hits(smk.output.hits, conds, hits, ids)

io.save_npz(smk.output.units, **units)
io.write_tsv(curves, smk.output.curves)
io.write_tsv(spectrum, smk.output.spectrum)
io.write_tsv(pd.DataFrame([row]), smk.output.preference)
log.info("done")
