"""Rule evaluate: accuracy of one model on the test split blurred at every test sigma,
and the stem diagnostic (HF energy of its first-layer kernels, trained vs initialisation)."""

import pandas as pd

from blurscope import runlog
from blurscope.data import read_manifest, select_split
from blurscope.device import pick
from blurscope.io import read_json, write_tsv
from blurscope.kernels import hf_energy_fraction, stem_weight
from blurscope.models import initial_network_of, load_model
from blurscope.train import accuracy_table, load_split

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
ev = smk.params.evaluation
device = pick(ev["device"])
model, meta = load_model(smk.input.model, device, own_blur=ev["own_blur"])
classes = read_json(smk.input.classes)
rows = select_split(read_manifest(smk.input.manifest), "test")
if ev["n_images"]:
    if ev["n_images"] > len(rows):
        log.info("evaluation.n_images=%d but the test split holds %d images: using all %d",
                 ev["n_images"], len(rows), len(rows))
    rows = rows.iloc[: ev["n_images"]]
data = load_split(classes["root"], rows, smk.params.image_size, False, 4096, 0, smk.params.skip_corrupt)
log.info("%s: %d test images", meta["model_id"], len(data))
test_sigmas = ev["test_sigmas"] if ev["test_sigmas"] is not None else smk.params.sigmas
table = accuracy_table(model, data, device, ev["batch_size"], [float(s) for s in test_sigmas], smk.params.image_size)
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
