"""Rule spectra_figures: the two seed-000 figures of one layer.

Inputs: ``spectra`` (results/stats/patch_spectra.tsv), ``summary``
(results/stats/patch_summary.tsv). Outputs: ``relative``
(models_relative_to_baseline_<layer>.png), ``complexity``
(models_complexity_comparison_<layer>.png). Params: ``layer``, ``plots`` (config
``plots``: palette, dpi, font_size).
"""

import pandas as pd

from blurscope import runlog
from blurscope.plot_spectra import plot_complexity_comparison, plot_relative_to_baseline

snakemake = globals()["snakemake"]
log = runlog.start(snakemake.log[0], snakemake.threads)
layer = snakemake.params.layer
# layer and model names stay strings (a layer called "4.2" must not become a float)
spectra = pd.read_csv(snakemake.input.spectra, sep="\t", dtype={"layer": str, "model": str})
summary = pd.read_csv(snakemake.input.summary, sep="\t", dtype={"layer": str, "model": str})
spectra, summary = spectra[spectra["layer"] == layer], summary[summary["layer"] == layer]
if spectra.empty or summary.empty:
    raise ValueError(f"no rows for layer {layer!r} in {snakemake.input.spectra} / {snakemake.input.summary}")
plots = snakemake.params.plots
style = {"palette": plots["palette"], "dpi": int(plots["dpi"]), "font_size": float(plots.get("font_size", 9))}
plot_relative_to_baseline(spectra, layer, snakemake.output.relative, **style)
plot_complexity_comparison(summary, layer, snakemake.output.complexity, **style)
log.info("wrote %s and %s", snakemake.output.relative, snakemake.output.complexity)
