"""Rule frequency_figures: preference curves, shape bias, corruption vs f_rev, corruption heatmap."""

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)

from blurscope import io, plot_common  # noqa: E402
from blurscope.frequency import plot as plot_frequency  # noqa: E402

plots = smk.params.plots
plot_common.configure(plots)
dpi, palette = int(plots.get("dpi", 120)), plot_common.palette()

inp = smk.input
out = smk.output
# training-seed replicates are summarised in seed_variance.tsv, not drawn
replicates = set(smk.params.replicates)
summary, curves, corruption = (
    t[~t["model"].isin(replicates)]
    for t in (io.read_tsv(inp.summary), io.read_tsv(inp.curves), io.read_tsv(inp.corruption))
)
plot_frequency.plot_preference(curves, summary, out.preference, dpi, palette)
plot_frequency.plot_corruption_vs_frev(summary, corruption, out.corruption_vs_frev, dpi, palette)
plot_frequency.plot_corruption_heatmap(summary, corruption, out.corruption_heatmap, dpi)
if "shape_bias" in out.keys():
    plot_frequency.plot_shape_bias(summary, out.shape_bias, dpi)
else:
    log.info("shape-bias figure not made: %s", smk.params.shape_status)
log.info("wrote %s", ", ".join(out))
