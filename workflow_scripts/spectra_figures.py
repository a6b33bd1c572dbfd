"""Rule spectra_figures: the two VITAL-report figures of every analysed layer (one job).

Inputs: ``spectra`` (results/stats/patch_spectra.tsv), ``summary``
(results/stats/patch_summary.tsv). Outputs, one per layer in ``params.layers`` order:
``relative`` (models_relative_to_baseline_<layer>.png), ``complexity``
(models_complexity_comparison_<layer>.png). Params: ``layers``, ``plots`` (config
``plots``: palette, dpi, font_size).
"""

import pandas as pd

from blurscope import runlog
from blurscope.plot_spectra import plot_complexity_comparison, plot_relative_to_baseline

sm = snakemake  # noqa: F821
log = runlog.start(sm.log[0], sm.threads)
# layer and model names stay strings (a layer called "4.2" must not become a float)
spectra = pd.read_csv(sm.input.spectra, sep="\t", dtype={"layer": str, "model": str})
summary = pd.read_csv(sm.input.summary, sep="\t", dtype={"layer": str, "model": str})
plots = sm.params.plots
style = {"palette": plots["palette"], "dpi": int(plots["dpi"]), "font_size": float(plots.get("font_size", 9))}
for layer, relative, complexity in zip(sm.params.layers, sm.output.relative, sm.output.complexity):
    sp, su = spectra[spectra["layer"] == layer], summary[summary["layer"] == layer]
    if sp.empty or su.empty:
        raise ValueError(f"no rows for layer {layer!r} in {sm.input.spectra} / {sm.input.summary}")
    plot_relative_to_baseline(sp, layer, relative, **style)
    plot_complexity_comparison(su, layer, complexity, **style)
    log.info("%s: wrote %s and %s", layer, relative, complexity)
