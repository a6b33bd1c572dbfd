"""Rule band_figures: heatmaps (layer × band per model, own vs MLP head) and the σ shift plot."""


from blurscope import io, plot_bands, runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
summary = io.read_tsv(smk.input.summary)
shift = io.read_tsv(smk.input.shift)
layers, names = smk.params.layers, cfg["names"]
plot_bands.heatmap_figure(summary, "accuracy", smk.output.accuracy, layers=layers, bands=names, dpi=int(cfg["dpi"]))
plot_bands.heatmap_figure(summary, "gt_rank", smk.output.gt_rank, layers=layers, bands=names, dpi=int(cfg["dpi"]))
plot_bands.shift_figure(shift, smk.output.shift, layers=layers, dpi=int(cfg["dpi"]), reference=cfg["reference_model"])
log.info("wrote %s, %s, %s", smk.output.accuracy, smk.output.gt_rank, smk.output.shift)
