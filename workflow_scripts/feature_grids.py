"""Rule feature_grids[layer]: seed 000 §1 figures for one layer across all models.

* all_neurons_grid_<layer>.png: rows models (σ ascending, then others), columns
  patches.grid_neurons evenly spread sampled neurons, cells 4x4 mosaics;
* representative_neurons_grid_<layer>.png + representative_<layer>.tsv: the
  patches.n_representative neurons with the largest drop of mean patch HF power
  fraction (> patches.hf_cutoff cycles/pixel) from the first to the last σ model;
* patch_methods_<layer>.png: VITAL windows vs exact receptive-field crops for
  those neurons (both computed here for those neurons only).
"""

from blurscope import runlog

log = runlog.start(snakemake.log[0], snakemake.threads)  # noqa: F821

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blurscope import plot_features as pf  # noqa: E402
from blurscope.data import load_images_npz  # noqa: E402
from blurscope.device import pick  # noqa: E402
from blurscope.io import write_tsv  # noqa: E402
from blurscope.models import load_model  # noqa: E402
from blurscope.patches import load_patches, rf_patches, vital_patches  # noqa: E402
from blurscope.receptive_field import receptive_field  # noqa: E402
from blurscope.topk import load_topk, subset_topk  # noqa: E402

pcfg = snakemake.params.cfg  # noqa: F821  (config section "patches")
tcfg = snakemake.params.topk  # noqa: F821  (config section "topk")
models = list(snakemake.params.models)  # noqa: F821  model ids, rows in this order
sigmas = list(snakemake.params.sigmas)  # noqa: F821  σ per model (None for non-σ models)
layer = snakemake.wildcards.layer  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821
dpi = int(snakemake.params.plots.get("dpi", 120))  # noqa: F821
labels = [pf.sigma_label(m, s) for m, s in zip(models, sigmas)]

sets = [load_patches(p) for p in inp.patches]
neurons = sets[0]["neurons"]
for m, d, path in zip(models, sets, inp.patches):
    if not np.array_equal(d["neurons"], neurons):
        raise ValueError(f"{path}: neurons differ from {inp.patches[0]} (models of different architectures?)")
method = str(sets[0]["method"])
patches = [d["patches"] for d in sets]

# --- all neurons -------------------------------------------------------------
cols = pf.even_subset(len(neurons), int(pcfg["grid_neurons"]))
fig = pf.neuron_grid(patches, labels, neurons, cols,
                     f"{layer}: top {patches[0].shape[1]} patches per neuron ({method}), rows = training blur")
pf.save_figure(fig, out.all_neurons, dpi)
log.info("all-neurons grid: %d models x %d neurons", len(models), len(cols))

# --- representative neurons --------------------------------------------------
sigma_rows = [i for i, s in enumerate(sigmas) if s is not None]
if len(sigma_rows) < 1:
    raise ValueError("feature_grids needs at least one σ model")
first, last = sigma_rows[0], sigma_rows[-1]
cutoff = float(pcfg["hf_cutoff"])
hf = np.stack([pf.patch_hf(p, cutoff) for p in patches])  # [models, n]
reps = pf.representative_neurons(hf[first], hf[last], int(pcfg["n_representative"]))
table = pd.DataFrame({
    "layer": layer, "neuron": neurons[reps], "neuron_row": reps,
    "hf_first": hf[first, reps], "hf_last": hf[last, reps], "hf_drop": hf[first, reps] - hf[last, reps],
    "first_model": models[first], "last_model": models[last], "hf_cutoff": cutoff, "method": method,
})
write_tsv(table, out.representative)
notes = [[f"HF {hf[r, j]:.2f}" for j in reps] for r in range(len(models))]
fig = pf.neuron_grid(
    patches, labels, neurons, reps,
    f"{layer}: representative neurons (largest drop of patch HF power > {cutoff:g} cyc/px, "
    f"{labels[first]} → {labels[last]}; {method})", notes)
pf.save_figure(fig, out.representative_fig, dpi)
log.info("representative neurons %s (HF drop %s)", neurons[reps].tolist(), np.round(table["hf_drop"], 3).tolist())

# --- VITAL vs receptive field, same neurons ----------------------------------
data = load_images_npz(inp.images)
imgs = data["images"]
device = pick(tcfg["device"])
vit, rfs = [], []
for m, model_path, act_path in zip(models, inp.models, inp.activations):
    model, _meta = load_model(model_path, device, own_blur=snakemake.params.own_blur)  # noqa: F821
    with np.load(act_path) as z:
        topk = load_topk(z, layer, act_path)
    if not np.array_equal(topk.neurons, neurons):
        raise ValueError(f"{act_path}: neurons of {layer} differ from the patch files")
    sub = subset_topk(topk, reps)
    n_show = int(tcfg["n_show"])
    vit.append(vital_patches(model, imgs, sub, layer, n_show, float(pcfg["window_224"]),
                             float(pcfg["stride_fraction"]), int(pcfg["batch_size"]), device).patches)
    rf = receptive_field(model, layer, imgs.shape[1])
    rfs.append(rf_patches(imgs, sub, rf, n_show, pcfg["rf_fill"]).patches)
fig = pf.methods_figure(vit, rfs, labels, neurons[reps],
                        f"{layer}: VITAL windows ({vit[0].shape[2]} px) vs exact receptive field "
                        f"({rfs[0].shape[2]} px, fill {pcfg['rf_fill']})")
pf.save_figure(fig, out.methods, dpi)
log.info("wrote %s, %s, %s", out.all_neurons, out.representative_fig, out.methods)
