"""Rule featvis_figures[layer]: the featvis grid and spectrum figures of one layer.

Inputs: ``npz`` (results/featvis/<model>.npz, rows in the order of ``params.models``),
``summary`` (results/featvis/summary.tsv). Params: ``models`` (σ models by σ, then
BlurPool), ``sigmas`` (σ per model, None for non-σ models), ``plots`` (config
``plots``: dpi, palette, font_size). Outputs: ``grid``
(results/figures/featvis_grid_<layer>.png), ``spectra``
(results/figures/featvis_spectra_<layer>.png).
"""

import numpy as np
import pandas as pd
from blurscope import runlog

snakemake = globals()["snakemake"]
log = runlog.start(snakemake.log[0], snakemake.threads)

from blurscope import plot_featvis as pv
from blurscope.featvis import load_featvis
from blurscope.plot_features import save_figure, sigma_label

layer = snakemake.wildcards.layer
models = list(snakemake.params.models)
sigmas = list(snakemake.params.sigmas)
plots = snakemake.params.plots
dpi = int(plots.get("dpi", 120))
if len(models) != len(snakemake.input.npz):
    raise ValueError(f"featvis_figures: {len(models)} models but {len(snakemake.input.npz)} featvis files")

sets = []
for model, path in zip(models, snakemake.input.npz):
    data = load_featvis(path)
    if layer not in data:
        raise ValueError(f"{path}: no renders of layer {layer!r} (has {sorted(data)})")
    sets.append(data[layer])
neurons = sets[0]["neurons"]
for model, d, path in zip(models, sets, snakemake.input.npz):
    if not np.array_equal(d["neurons"], neurons):
        raise ValueError(f"{path}: neurons of {layer} differ from {snakemake.input.npz[0]} (another architecture?)")

labels = [sigma_label(m, s) for m, s in zip(models, sigmas)]
notes = [[f"HF {h:.2f}" if a else "inactive" for h, a in zip(d["hf_fraction"], d["objective"] > d["objective_init"])]
         for d in sets]
fig = pv.featvis_grid([d["images"] for d in sets], labels, neurons,
                      f"{layer}: images optimised to excite each neuron (feature visualisation), rows = training blur",
                      notes)
save_figure(fig, snakemake.output.grid, dpi)

summary = pd.read_csv(snakemake.input.summary, sep="\t", dtype={"layer": str, "model": str})
spectra = []  # mean spectra over the active renders (an inactive one is still its initial noise)
for m, s, d in zip(models, sigmas, sets):
    active = d["objective"] > d["objective_init"]
    if active.any():
        sigma = float(s) if s is not None else float(summary.loc[summary["model"] == m, "sigma"].iloc[0])
        spectra.append((m, sigma, d["freqs"], d["power"][active]))
fig = pv.featvis_spectra_figure(spectra, summary, layer, palette=str(plots.get("palette", "viridis")),
                                font_size=float(plots.get("font_size", 9)))
save_figure(fig, snakemake.output.spectra, dpi)
log.info("wrote %s and %s (%d models x %d neurons)", snakemake.output.grid, snakemake.output.spectra, len(models),
         neurons.size)
