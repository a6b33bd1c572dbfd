"""Rule evaluate: accuracy of one model on the test split blurred at every test sigma,
and the stem diagnostic (HF energy of its first-layer kernels, trained vs initialisation)."""

import pandas as pd

from blurscope import runlog
from blurscope.data.files import read_manifest, select_split
from blurscope.device import pick
from blurscope.io import read_json, write_tsv
from blurscope.models.kernels import hf_energy_fraction, stem_weight
from blurscope.models.network import initial_network_of, load_model
from blurscope.training.evaluation import EvalImages, check_gpu_decode, evaluate_split

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
ev = smk.params.evaluation
device = pick(ev["device"])
check_gpu_decode(ev["gpu_decode"], device)
model, meta = load_model(smk.input.model, device, own_blur=ev["own_blur"])
classes = read_json(smk.input.classes)
rows = select_split(read_manifest(smk.input.manifest), "test")
if ev["n_images"]:
    if ev["n_images"] > len(rows):
        log.info("evaluation.n_images=%d but the test split holds %d images: using all %d",
                 ev["n_images"], len(rows), len(rows))
    rows = rows.iloc[: ev["n_images"]]
data = EvalImages(classes["root"], rows["path"].tolist(), rows["label"].to_numpy(), smk.params.image_size,
                  crop_ratio=smk.params.crop_ratio, skip_corrupt=smk.params.skip_corrupt, encoded=ev["gpu_decode"])
test_sigmas = [float(s) for s in (ev["test_sigmas"] if ev["test_sigmas"] is not None else smk.params.sigmas)]
log.info("%s: %d test images at %d px (crop ratio %g), %d test sigmas, decoded once by %s (%d workers)",
         meta["model_id"], len(data), data.size, data.crop_ratio, len(test_sigmas),
         "nvjpeg on " + str(device) if ev["gpu_decode"] else "PIL", ev["num_workers"])
table = evaluate_split(model, data, device, ev["batch_size"], test_sigmas, ev["num_workers"])
if table["n"].iloc[0] < len(data):
    log.warning("%d of %d test images were unreadable and skipped (dataset.skip_corrupt)",
                len(data) - table["n"].iloc[0], len(data))
table.insert(0, "train_sigma", meta["sigma"])
table.insert(0, "model", meta["model_id"])
for r in table.itertuples():
    log.info("%s test sigma %g: accuracy %.4f [%.4f, %.4f]", r.model, r.test_sigma, r.accuracy, r.ci_low, r.ci_high)
write_tsv(table, smk.output.accuracy)

# stem diagnostic: the untrained initialisation is rebuilt from the model's seed; a model trained
# elsewhere (model.checkpoints) has no known initialisation: trained rows only
cutoff = float(smk.params.hf_cutoff)
trained = stem_weight(model.backbone)
weights = {"trained": trained}
if meta.get("origin", "trained") == "checkpoint":
    log.info("%s was trained elsewhere (%s): no initialisation to compare its stem with", meta["model_id"],
             meta["checkpoint"]["path"])
else:
    weights["init"] = stem_weight(initial_network_of(meta).backbone)
stem = pd.concat([
    pd.DataFrame({"model": meta["model_id"], "sigma": meta["sigma"], "weights": which, "channel": range(len(frac)),
                  "hf_fraction": frac, "hf_cutoff": cutoff})
    for which, frac in ((w, hf_energy_fraction(k, cutoff)) for w, k in weights.items())
], ignore_index=True)
log.info("stem kernels %s: HF energy fraction (> %g c/px) %s", tuple(trained.shape), cutoff,
         ", ".join(f"{w} {stem.loc[stem.weights == w, 'hf_fraction'].mean():.3f}" for w in weights))
write_tsv(stem, smk.output.stem)
