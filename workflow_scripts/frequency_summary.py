"""Rule frequency_summary: one table of f_rev, f_0.5, shape bias and corruption accuracy per model.

Also the spread over training replicates (``seed_variance``: params ``seed_groups``
{group: [models]}) and the trends across models (``trends``: every σ model, training
replicates included, the model the unit of the permutation test; keys in
docs/statistics.md). Param ``replicates`` is no longer needed (replicates are models
of the trend).
"""

from blurscope import runlog

log = runlog.start(snakemake.log[0], snakemake.threads)  # noqa: F821

import pandas as pd  # noqa: E402

from blurscope import frequency, io  # noqa: E402

cfg = snakemake.params.cfg  # noqa: F821
inp = snakemake.input  # noqa: F821
out = snakemake.output  # noqa: F821


def cat(paths: list[str]) -> pd.DataFrame:
    return pd.concat([io.read_tsv(p) for p in paths], ignore_index=True)


preference = cat(list(inp.preference))
corruption = cat(list(inp.corruption))
curves = cat(list(inp.curves))
spectra = cat(list(inp.spectrum))
shape = cat(list(inp.shape_bias)) if len(inp.shape_bias) else None
status = snakemake.params.shape_status  # noqa: F821
if shape is None:
    log.warning("no shape bias: %s", status)
summary = frequency.summary_table(preference, corruption, shape, status)
groups = snakemake.params.seed_groups  # noqa: F821
variance = frequency.seed_variance(summary, groups)
if not groups:
    log.info("no training-seed replicates configured: seed_variance.tsv has a header only")
trend = frequency.trends(summary, int(cfg["n_permutations"]), int(cfg["seed"]))
for _, r in summary.iterrows():
    log.info("%-14s sigma=%-4g f_rev=%.4g [%.4g, %.4g]  f_0.5=%.4g [%.4g, %.4g]  shape_bias=%.3g [%.3g, %.3g]  "
             "corruption_acc=%.3f", r["model"], r["sigma"], r["f_rev_cpp"], r["f_rev_ci_low_cpp"],
             r["f_rev_ci_high_cpp"], r["f_half_cpp"], r["f_half_ci_low_cpp"], r["f_half_ci_high_cpp"],
             r["shape_bias"], r["shape_bias_ci_low"], r["shape_bias_ci_high"], r["corruption_acc"])
for _, r in trend.iterrows():
    log.info("trend %s ~ %s: rho=%.3g p=%.3g (%d models, %d-%d replicates per sigma)", r["y"], r["x"], r["rho"],
             r["p"], r["n_models"], r["n_replicates_min"], r["n_replicates_max"])
io.write_tsv(summary, out.summary)
io.write_tsv(curves, out.curves)
io.write_tsv(corruption, out.corruption)
io.write_tsv(spectra, out.spectrum)
io.write_tsv(variance, out.seed_variance)
io.write_tsv(trend, out.trends)
