"""Rule spectra_figures: the two VITAL-report figures of every analysed layer (one job).

Inputs: ``spectra`` (results/stats/patch_spectra.tsv), ``summary``
(results/stats/patch_summary.tsv). Outputs, one per layer in ``params.layers`` order:
``relative`` (models_relative_to_baseline_<layer>.png), ``complexity``
(models_complexity_comparison_<layer>.png). Params: ``layers``, ``plots`` (config
``plots``: dpi, palette, font_size: blurscope.plot_common.configure).
"""

import pandas as pd

from blurscope import plot_common, runlog
from blurscope.spectra.plot import plot_complexity_comparison, plot_relative_to_baseline

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
# layer and model names stay strings (a layer called "4.2" must not become a float)
spectra = pd.read_csv(smk.input.spectra, sep="\t", dtype={"layer": str, "model": str})
summary = pd.read_csv(smk.input.summary, sep="\t", dtype={"layer": str, "model": str})
plots = smk.params.plots
plot_common.configure(plots)
style = {"dpi": int(plots["dpi"])}
for layer, relative, complexity in zip(smk.params.layers, smk.output.relative, smk.output.complexity):
    sp, su = spectra[spectra["layer"] == layer], summary[summary["layer"] == layer]
    if sp.empty or su.empty:
        raise ValueError(f"no rows for layer {layer!r} in {smk.input.spectra} / {smk.input.summary}")
    plot_relative_to_baseline(sp, layer, relative, **style)
    plot_complexity_comparison(su, layer, complexity, **style)
    log.info("%s: wrote %s and %s", layer, relative, complexity)
