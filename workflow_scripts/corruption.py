"""Rule corruption: one model's accuracy on the shared corrupted sets (forwards only), its corruption
errors (CE, relative CE, mCE) against the reference, and its per-image hits."""

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blurscope import corruptions, data, device, frequency, io, models  # noqa: E402
from blurscope.blur import sigma_to_px  # noqa: E402

cfg = smk.params.cfg
model_id = smk.wildcards.model
names, severities = list(cfg["corruptions"]), [int(s) for s in cfg["severities"]]
dev = device.pick(cfg["device"])
sets = {name: corruptions.load_corruption_set(p, name, severities) for name, p in zip(names, smk.input.corrupted)}
ids = next(iter(sets.values()))["ids"]
for name, z in sets.items():
    if not np.array_equal(z["ids"], ids):
        raise ValueError(f"corrupted set {name!r} holds other images than {names[0]!r}: rerun rule corrupted_images")
arrays = data.load_images_npz(smk.input.images)
n = len(ids)
if not np.array_equal(arrays["ids"][:n], ids):
    raise ValueError(f"{smk.input.images}: the corrupted sets were made from other analysis images: "
                     f"rerun rule corrupted_images")
clean, labels = arrays["images"][:n], np.asarray(arrays["labels"][:n], dtype=np.int64)
# a filter-only reference (ref-sigma<s>) is the sigma 0 network behind the blur of sigma s
blur_sigma = smk.params.reference_blur
blur_px = None if blur_sigma is None else sigma_to_px(blur_sigma, clean.shape[1])
model, meta = models.load_model(smk.input.model, dev, blur_sigma_px=blur_px)
if blur_sigma is not None:
    meta = {**meta, "sigma": float(blur_sigma)}
log.info("model %s (sigma=%g): %d images (frequency.corruption_n_images=%d) x (%d corruptions x %d severities "
         "+ clean); forwards only, the corrupted images are shared by all models", model_id, meta["sigma"], n,
         int(cfg["corruption_n_images"]), len(names), len(severities))
prog = runlog.Progress(log, n * (1 + len(names) * len(severities)), "images")
conds, hits = corruptions.corruption_hits(model, clean, {k: z["images"] for k, z in sets.items()}, severities,
                                          labels, int(cfg["batch_size"]), dev, prog.update)
w = frequency.bootstrap_counts(n, int(cfg["bootstrap"]), int(cfg["seed"]))
samples = w @ hits.T.astype(np.float64) / n  # [iterations, conditions]
level = float(cfg["ci"])
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
                f"or images than {model_id!r}: rerun its rule corruption"
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
io.write_tsv(table, smk.output.tsv)
io.write_tsv(ce, smk.output.ce)
corruptions.write_hits(smk.output.hits, conds, hits, ids)
