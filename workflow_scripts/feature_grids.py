"""Rule feature_grids: the VITAL-style figures of every analysed layer across all models (one job).

* all_neurons_grid_<layer>.png: rows models (σ ascending, then others), columns
  patches.grid_neurons evenly spread sampled neurons, cells 4x4 mosaics;
* representative_neurons_grid_<layer>.png + representative_<layer>.tsv: the
  patches.n_representative neurons with the largest drop of mean patch HF power
  fraction (> patches.hf_cutoff cycles/pixel, window spectra.window) from the first to the last σ model;
* patch_methods_<layer>.png: VITAL windows vs exact receptive-field crops for
  those neurons (both computed here for those neurons only).
"""

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blurscope import plot_common  # noqa: E402
from blurscope.data.files import load_images_npz  # noqa: E402
from blurscope.device import pick  # noqa: E402
from blurscope.features import plot as pf  # noqa: E402
from blurscope.features.patches import load_patches, rf_patches, vital_patches  # noqa: E402
from blurscope.features.receptive_field import receptive_field  # noqa: E402
from blurscope.features.topk import load_topk, subset_topk  # noqa: E402
from blurscope.io import write_tsv  # noqa: E402
from blurscope.models.network import load_model  # noqa: E402

pcfg = smk.params.cfg  # config section "patches"
models = list(smk.params.models)  # model ids, rows in this order
sigmas = list(smk.params.sigmas)  # σ per model (None for non-σ models)
layers = list(smk.params.layers)
inp, out = smk.input, smk.output
dpi = int(smk.params.plots.get("dpi", 120))
n_show = int(smk.params.n_show)
plot_common.configure(smk.params.plots)
labels = [plot_common.model_label(m) for m in models]
sigma_rows = [i for i, s in enumerate(sigmas) if s is not None]
if len(sigma_rows) < 1:
    raise ValueError("feature_grids needs at least one σ model")
first, last = sigma_rows[0], sigma_rows[-1]
cutoff = float(pcfg["hf_cutoff"])
data = load_images_npz(inp.images)
imgs = data["images"]
device = pick(smk.params.device)
# each model once, for every layer's VITAL-vs-receptive-field figure
loaded = [load_model(path, device, own_blur=smk.params.own_blur)[0] for path in inp.models]
activations = [dict(np.load(path)) for path in inp.activations]
n_layers = len(layers)

for li, layer in enumerate(layers):
    paths = [inp.patches[mi * n_layers + li] for mi in range(len(models))]
    sets = [load_patches(path) for path in paths]
    neurons = sets[0]["neurons"]
    for d, path in zip(sets, paths):
        if not np.array_equal(d["neurons"], neurons):
            raise ValueError(f"{path}: neurons differ from {paths[0]} (models of different architectures?)")
    method = str(sets[0]["method"])
    patches = [d["patches"] for d in sets]

    # --- all neurons ---------------------------------------------------------------
    cols = pf.even_subset(len(neurons), int(pcfg["grid_neurons"]))
    fig = pf.neuron_grid(patches, labels, neurons, cols,
                         f"{layer}: top {patches[0].shape[1]} patches per neuron ({method}), rows = training blur",
                         dpi=dpi)
    plot_common.save_figure(fig, out.all_neurons[li], dpi)
    log.info("%s: all-neurons grid, %d models x %d neurons", layer, len(models), len(cols))

    # --- representative neurons ----------------------------------------------------
    hf = np.stack([pf.patch_hf(p, cutoff, smk.params.window) for p in patches])  # [models, n]
    reps = pf.representative_neurons(hf[first], hf[last], int(pcfg["n_representative"]))
    table = pd.DataFrame({
        "layer": layer, "neuron": neurons[reps], "neuron_row": reps,
        "hf_first": hf[first, reps], "hf_last": hf[last, reps], "hf_drop": hf[first, reps] - hf[last, reps],
        "first_model": models[first], "last_model": models[last], "hf_cutoff": cutoff, "method": method,
    })
    write_tsv(table, out.representative[li])
    notes = [[f"HF {hf[r, j]:.2f}" for j in reps] for r in range(len(models))]
    fig = pf.neuron_grid(
        patches, labels, neurons, reps,
        f"{layer}: representative neurons (largest drop of patch HF power > {cutoff:g} cyc/px, "
        f"{labels[first]} → {labels[last]}; {method})", notes, dpi)
    plot_common.save_figure(fig, out.representative_fig[li], dpi)
    log.info("%s: representative neurons %s (HF drop %s)", layer, neurons[reps].tolist(),
             np.round(table["hf_drop"], 3).tolist())

    # --- VITAL vs receptive field, same neurons --------------------------------------
    vit, rfs = [], []
    for model, acts, act_path in zip(loaded, activations, inp.activations):
        topk = load_topk(acts, layer, act_path)
        if not np.array_equal(topk.neurons, neurons):
            raise ValueError(f"{act_path}: neurons of {layer} differ from the patch files")
        sub = subset_topk(topk, reps)
        vit.append(vital_patches(model, imgs, sub, layer, n_show, float(pcfg["window_224"]),
                                 float(pcfg["stride_fraction"]), int(pcfg["batch_size"]), device).patches)
        rf = receptive_field(model, layer, imgs.shape[1])
        rfs.append(rf_patches(imgs, sub, rf, n_show, pcfg["rf_fill"]).patches)
    fig = pf.methods_figure(vit, rfs, labels, neurons[reps],
                            f"{layer}: VITAL windows ({vit[0].shape[2]} px) vs exact receptive field "
                            f"({rfs[0].shape[2]} px, fill {pcfg['rf_fill']})", dpi)
    plot_common.save_figure(fig, out.methods[li], dpi)
    log.info("%s: wrote the grids and the methods figure", layer)
