"""Rule evaluate: accuracy of one model on the test split blurred at every test sigma."""

from blurscope import runlog
from blurscope.data import read_manifest, select_split
from blurscope.device import pick
from blurscope.io import read_json, write_tsv
from blurscope.models import load_model
from blurscope.train import accuracy_table, load_split

sm = snakemake  # noqa: F821
log = runlog.start(sm.log[0], sm.threads)
ev = sm.params.evaluation
device = pick(ev["device"])
model, meta = load_model(sm.input.weights, device, own_blur=ev["own_blur"])
classes = read_json(sm.input.classes)
rows = select_split(read_manifest(sm.input.manifest), "test")
if ev["n_images"]:
    rows = rows.iloc[: ev["n_images"]]
data = load_split(classes["root"], rows, sm.params.image_size, False, 4096, 0, sm.params.skip_corrupt)
test_sigmas = ev["test_sigmas"] if ev["test_sigmas"] is not None else sm.params.sigmas
table = accuracy_table(model, data, device, ev["batch_size"], [float(s) for s in test_sigmas], sm.params.image_size)
table.insert(0, "train_sigma", meta["sigma"])
table.insert(0, "model", meta["model_id"])
for r in table.itertuples():
    log.info("%s test sigma %g: accuracy %.4f [%.4f, %.4f]", r.model, r.test_sigma, r.accuracy, r.ci_low, r.ci_high)
write_tsv(table, sm.output[0])
