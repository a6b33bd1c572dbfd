"""Rule featvis_figures: the featvis grid and spectrum figures of every analysed layer (one job).

Inputs: ``npz`` (results/featvis/<model>.npz, rows in the order of ``params.models``),
``summary`` (results/featvis/summary.tsv). Params: ``models`` (σ models by σ, then
BlurPool), ``sigmas`` (σ per model, None for non-σ models), ``layers``, ``plots`` (config
``plots``: dpi, palette, font_size). Outputs, one per layer in ``params.layers`` order:
``grid`` (results/figures/featvis_grid_<layer>.png), ``spectra``
(results/figures/featvis_spectra_<layer>.png).
"""

import numpy as np
import pandas as pd

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)

from blurscope import plot_common  # noqa: E402
from blurscope.featvis import plot as pv  # noqa: E402
from blurscope.featvis.stats import load_featvis  # noqa: E402

models = list(smk.params.models)
sigmas = list(smk.params.sigmas)
plots = smk.params.plots
dpi = int(plots.get("dpi", 120))
plot_common.configure(plots)
if len(models) != len(smk.input.npz):
    raise ValueError(f"featvis_figures: {len(models)} models but {len(smk.input.npz)} featvis files")
renders = [load_featvis(path) for path in smk.input.npz]
summary = pd.read_csv(smk.input.summary, sep="\t", dtype={"layer": str, "model": str})
labels = [plot_common.model_label(m) for m in models]

for layer, out_grid, out_spectra in zip(smk.params.layers, smk.output.grid, smk.output.spectra):
    sets = []
    for path, data in zip(smk.input.npz, renders):
        if layer not in data:
            raise ValueError(f"{path}: no renders of layer {layer!r} (has {sorted(data)})")
        sets.append(data[layer])
    neurons = sets[0]["neurons"]
    for d, path in zip(sets, smk.input.npz):
        if not np.array_equal(d["neurons"], neurons):
            raise ValueError(f"{path}: neurons of {layer} differ from {smk.input.npz[0]} (another architecture?)")
    notes = [
        [f"HF {h:.2f}" if a else "inactive" for h, a in zip(d["hf_fraction"], d["objective"] > d["objective_init"])]
        for d in sets
    ]
    fig = pv.featvis_grid([d["images"] for d in sets], labels, neurons,
                          f"{layer}: images optimised to excite each neuron (feature visualisation), "
                          "rows = training blur", notes, dpi)
    plot_common.save_figure(fig, out_grid, dpi)
    spectra = []  # mean spectra over the active renders (an inactive one is still its initial noise)
    for m, s, d in zip(models, sigmas, sets):
        active = d["objective"] > d["objective_init"]
        if active.any():
            sigma = float(s) if s is not None else float(summary.loc[summary["model"] == m, "sigma"].iloc[0])
            spectra.append((m, sigma, d["freqs"], d["power"][active]))
    fig = pv.featvis_spectra_figure(spectra, summary, layer, dpi=dpi)
    plot_common.save_figure(fig, out_spectra, dpi)
    log.info("%s: wrote %s and %s (%d models x %d neurons)", layer, out_grid, out_spectra, len(models), neurons.size)
