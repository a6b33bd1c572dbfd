"""Rule featvis[model]: feature visualisation by optimisation of the grid neurons of every layer.

Input: ``model`` (results/models/<model>.safetensors + .json). Params: ``cfg`` =
config ``featvis`` (size — 0 = the model's training size —, steps, lr, seed, objective,
transforms, decorrelate, init_sd, redirect_relu, batch_size, device, threads); ``layers`` (analysis.layers);
``neurons_per_layer`` (topk.neurons_per_layer) and ``grid_neurons``
(patches.grid_neurons), which choose the same channel ids as the feature grids;
``spectra`` = ``{hf_cutoff, n_bins, window}`` of config ``spectra`` (the patch metrics'
definition).
Outputs: ``npz`` (results/featvis/<model>.npz, :func:`blurscope.featvis.optimise.save_featvis`)
and ``tsv`` (results/featvis/<model>.tsv, one row per layer × neuron). The network
runs without its training blur layer (clear-input protocol). docs/featvis.md.
"""

from blurscope import runlog

smk = snakemake  # noqa: F821
cfg = smk.params.cfg
log = runlog.start(smk.log[0], int(cfg["threads"]))

import time  # noqa: E402

from blurscope import io  # noqa: E402
from blurscope.device import pick  # noqa: E402
from blurscope.featvis import optimise as featvis  # noqa: E402
from blurscope.models.network import load_model  # noqa: E402

if smk.threads < int(cfg["threads"]):
    log.info("Snakemake granted %d core(s); featvis uses featvis.threads=%d all the same (the renders depend on it)",
             smk.threads, int(cfg["threads"]))
model_id = smk.wildcards.model
layers = list(smk.params.layers)
spectra = smk.params.spectra
device = pick(cfg["device"])
model, meta = load_model(smk.input.model, device, own_blur=False)
size = int(cfg["size"]) or int(meta["image_size"])  # 0 = the model's training size
options = {
    "lr": float(cfg["lr"]),
    "objective": str(cfg["objective"]),
    "transforms": featvis.Transforms.from_config(cfg["transforms"]),
    "decorrelate": bool(cfg["decorrelate"]),
    "init_sd": float(cfg["init_sd"]),
    "batch_size": int(cfg["batch_size"]),
    "redirect_relu": bool(cfg["redirect_relu"]),
}
t0 = time.perf_counter()
results, table = featvis.render_layers(
    model, layers, int(smk.params.neurons_per_layer), int(smk.params.grid_neurons),
    size, int(cfg["steps"]), int(cfg["seed"]), float(spectra["hf_cutoff"]), int(spectra["n_bins"]),
    window=spectra["window"], **options,
)
seconds = time.perf_counter() - t0
table.insert(0, "sigma", float(meta["sigma"]))
table.insert(0, "model", model_id)
featvis.save_featvis(
    smk.output.npz, layers, results, model=model_id, sigma=float(meta["sigma"]), size=size,
    steps=int(cfg["steps"]), seed=int(cfg["seed"]), objective=str(cfg["objective"]),
    hf_cutoff=float(spectra["hf_cutoff"]), seconds=seconds,
)
io.write_tsv(table, smk.output.tsv)
for layer, sub in table.groupby("layer", sort=False):
    log.info("%s %s: %d neurons, %d active, mean HF fraction %.4f, mean peak %.4f c/px", model_id, layer, len(sub),
             int(sub["active"].sum()), sub["hf_fraction"].mean(), sub["peak_freq"].mean())
log.info("%s: %d layers rendered in %.1f s (%d steps, %d px, device %s)", model_id, len(layers), seconds,
         int(cfg["steps"]), size, device)
