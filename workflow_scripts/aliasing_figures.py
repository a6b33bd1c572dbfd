"""Rule aliasing_figures: the four aliasing figures (see blurscope.aliasing.plot).

Inputs: ``summary``, ``correlation``, ``sweep`` (TSVs), ``tables`` (avr_sis TSVs of
the scatter models). Outputs: ``layers``, ``scatter``, ``sweep``, ``sis_sigma`` (PNG).
Params: ``plots`` = config["plots"] (dpi, palette, font_size: blurscope.plot_common.configure), ``scatter_models``
(ids in input order, the standard model first).
"""

from blurscope import plot_common, runlog
from blurscope.aliasing import plot as P
from blurscope.io import read_tsv

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
plots = smk.params.plots
dpi = int(plots["dpi"])
plot_common.configure(plots)
summary = read_tsv(smk.input.summary)
correlation = read_tsv(smk.input.correlation)
tables = {m: read_tsv(p) for m, p in zip(smk.params.scatter_models, smk.input.tables)}
ref = next(iter(tables.values()))
order = ref.drop_duplicates("point").sort_values("order")["point"].tolist()
P.plot_layer_avr(summary, smk.output.layers, order, dpi)
P.plot_avr_sis_scatter(tables, correlation, smk.output.scatter, order, "radial", dpi)
P.plot_frequency_sweep(read_tsv(smk.input.sweep), smk.output.sweep, dpi)
P.plot_sis_vs_sigma(summary, smk.output.sis_sigma, dpi)
log.info("figures written")
