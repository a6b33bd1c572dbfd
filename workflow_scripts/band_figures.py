"""Rule band_figures: accuracy and GT rank per band against training σ (panels layer × head) and the σ shift plot."""


from blurscope import io, plot_common, runlog
from blurscope.bands import plot as plot_bands

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
plot_common.configure(smk.params.plots)
dpi = int(smk.params.plots["dpi"])
summary = io.read_tsv(smk.input.summary)
shift = io.read_tsv(smk.input.shift)
layers, names = smk.params.layers, cfg["names"]
plot_bands.band_sigma_figure(summary, "accuracy", smk.output.accuracy, layers=layers, bands=names, dpi=dpi)
plot_bands.band_sigma_figure(summary, "gt_rank", smk.output.gt_rank, layers=layers, bands=names, dpi=dpi)
plot_bands.shift_figure(shift, smk.output.shift, layers=layers, dpi=dpi, reference=cfg["reference_model"])
log.info("wrote %s, %s, %s", smk.output.accuracy, smk.output.gt_rank, smk.output.shift)
