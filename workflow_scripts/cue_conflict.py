"""Rule cue_conflict: shape bias of one model on the dataset's cue-conflict split."""

from blurscope import runlog

log = runlog.start(snakemake.log[0], snakemake.threads)  # noqa: F821

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blurscope import data, device, frequency, io, models  # noqa: E402

cfg = snakemake.params.cfg  # noqa: F821
model_id = snakemake.wildcards.model  # noqa: F821
path = snakemake.input.cue_conflict  # noqa: F821
dev = device.pick(cfg["device"])
model, meta = models.load_model(snakemake.input.model, dev)  # noqa: F821
arrays = data.load_images_npz(path)
missing = [k for k in ("shape_labels", "texture_labels") if k not in arrays]
if missing:
    raise ValueError(f"{path}: missing array(s) {missing}; expected images, shape_labels, texture_labels")
shape_labels = np.asarray(arrays["shape_labels"], dtype=np.int64)
texture_labels = np.asarray(arrays["texture_labels"], dtype=np.int64)
if not (len(shape_labels) == len(texture_labels) == len(arrays["images"])):
    raise ValueError(f"{path}: images, shape_labels and texture_labels differ in length")
images = data.to_float(arrays["images"])
log.info("model %s (sigma=%g): %d cue-conflict images", model_id, meta["sigma"], len(shape_labels))
preds = frequency.predict(model, images, int(cfg["batch_size"]), dev)
res = frequency.shape_bias_summary(preds, shape_labels, texture_labels, int(cfg["bootstrap"]), int(cfg["seed"]),
                                   float(cfg["ci"]))
log.info("shape bias %.3f [%.3f, %.3f] (shape acc %.3f, texture acc %.3f, n=%d)", res["shape_bias"],
         res["shape_bias_ci_low"], res["shape_bias_ci_high"], res["shape_acc"], res["texture_acc"],
         res["n_conflict"])
io.write_tsv(pd.DataFrame([{"model": model_id, "sigma": float(meta["sigma"]), **res}]),
             snakemake.output.tsv)  # noqa: F821
