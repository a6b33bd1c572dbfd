"""Rule corruption: accuracy of one model per corruption type x severity (and clean)."""

from blurscope import runlog

log = runlog.start(snakemake.log[0], snakemake.threads)  # noqa: F821

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blurscope import corruptions, data, device, frequency, io, models  # noqa: E402

cfg = snakemake.params.cfg  # noqa: F821
model_id = snakemake.wildcards.model  # noqa: F821
names, severities = list(cfg["corruptions"]), [int(s) for s in cfg["severities"]]
corruptions.check_names(names, severities)
dev = device.pick(cfg["device"])
model, meta = models.load_model(snakemake.input.model, dev)  # noqa: F821
arrays = data.load_images_npz(snakemake.input.images)  # noqa: F821
n = len(arrays["labels"]) if int(cfg["corruption_n_images"]) == 0 else min(int(cfg["corruption_n_images"]),
                                                                              len(arrays["labels"]))
images = data.to_float(arrays["images"][:n])
labels = np.asarray(arrays["labels"][:n], dtype=np.int64)
log.info("model %s (sigma=%g): %d images x (%d corruptions x %d severities + clean)", model_id, meta["sigma"], n,
         len(names), len(severities))
prog = runlog.Progress(log, n * (1 + len(names) * len(severities)), "images")
conds, hits = corruptions.corruption_hits(model, images, labels, names, severities, int(cfg["seed"]),
                                          int(cfg["batch_size"]), dev, prog.update)
w = frequency.bootstrap_counts(n, int(cfg["bootstrap"]), int(cfg["seed"]))
samples = w @ hits.T.astype(np.float64) / n  # [iterations, conditions]
level = float(cfg["ci"])
lo, hi = np.quantile(samples, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
table = conds.assign(model=model_id, sigma=float(meta["sigma"]), accuracy=hits.mean(1), ci_low=lo, ci_high=hi,
                     n_images=n)
# Mean over all corruption x severity conditions (seed 003 R3's single robustness number), same resamples.
corr = conds["corruption"].to_numpy() != "clean"
mean_s = samples[:, corr].mean(1)
mlo, mhi = np.quantile(mean_s, [(1 - level) / 2, 1 - (1 - level) / 2])
table = pd.concat([table, pd.DataFrame([{"corruption": "mean", "severity": 0, "model": model_id,
                                         "sigma": float(meta["sigma"]), "accuracy": hits[corr].mean(),
                                         "ci_low": mlo, "ci_high": mhi, "n_images": n}])], ignore_index=True)
table = table[["model", "sigma", "corruption", "severity", "accuracy", "ci_low", "ci_high", "n_images"]]
log.info("clean accuracy %.3f, mean corruption accuracy %.3f [%.3f, %.3f]", hits[0].mean(), hits[corr].mean(), mlo,
         mhi)
io.write_tsv(table, snakemake.output.tsv)  # noqa: F821
