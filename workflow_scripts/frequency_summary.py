"""Rule frequency_summary: one table of f_rev, f_0.5, shape bias, corruption accuracy and mCE per model.

Also the spread over training replicates (``seed_variance``: params ``seed_groups``
{group: [models]}), the run-level σ contrast of every measure (``trends``: each σ model one
training run, replicates runs of their σ; keys in docs/statistics.md), every model's corruption
errors (``ce``) and each σ's trained models against their filter-only references (``reference``:
trained − reference = what training changed, the reference alone = what the blur filter does;
paired bootstrap over the shared images / pairs, conditional on the networks; the tests over
runs are in results/stats/findings.tsv; :func:`blurscope.frequency.preference.reference_comparison`).
"""

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blurscope import io, stats  # noqa: E402
from blurscope.frequency import corruptions  # noqa: E402
from blurscope.frequency import preference as frequency  # noqa: E402
from blurscope.model_id import in_sigma_series  # noqa: E402

cfg = smk.params.cfg
inp = smk.input
out = smk.output


def cat(paths: list[str]) -> pd.DataFrame:
    return pd.concat([io.read_tsv(p) for p in paths], ignore_index=True)


preference = cat(list(inp.preference))
corruption = cat(list(inp.corruption))
curves = cat(list(inp.curves))
spectra = cat(list(inp.spectrum))
shape = cat(list(inp.shape_bias)) if len(inp.shape_bias) else None
status = smk.params.shape_status
if shape is None:
    log.warning("no shape bias: %s", status)
ce = cat(list(inp.ce))
summary = frequency.summary_table(preference, corruption, shape, status, ce=ce)
groups = smk.params.seed_groups
variance = frequency.seed_variance(summary, groups)
if not groups:
    log.info("no training-seed replicates configured: seed_variance.tsv has a header only")
trend = frequency.trends(summary, {str(k): str(v) for k, v in smk.params.group_of.items()}, float(cfg["ci"]))
for _, r in summary.iterrows():
    log.info("%-14s sigma=%-4g f_rev=%.4g [%.4g, %.4g]  f_0.5=%.4g [%.4g, %.4g]  shape_bias=%.3g [%.3g, %.3g]  "
             "corruption_acc=%.3f", r["model"], r["sigma"], r["f_rev_cpp"], r["f_rev_ci_low_cpp"],
             r["f_rev_ci_high_cpp"], r["f_half_cpp"], r["f_half_ci_low_cpp"], r["f_half_ci_high_cpp"],
             r["shape_bias"], r["shape_bias_ci_low"], r["shape_bias_ci_high"], r["corruption_acc"])
for _, r in trend.iterrows():
    log.info("sigma contrast %s: diff %.3g [%.3g, %.3g] p=%.3g (%d runs at %d sigma) %s", r["y"], r["diff"],
             r["diff_ci_low"], r["diff_ci_high"], r["p"], r["n_runs"], r["n_sigma"], r["note"])
# trained vs filter-only reference, per sigma that has a reference (and sigma 0 against itself: exactly 0)
p = smk.params
units = {}
for model, path, hits_path in zip(p.models, inp.units, inp.hits):
    with np.load(path) as z:
        units[model] = {k: z[k] for k in z.files}
    conds, hits, _ = corruptions.load_hits(hits_path)
    units[model].update(corruption_hits=hits, corruption_names=conds["corruption"].to_numpy(str))
trained = [m for m in p.models if m not in p.references]
groups = stats.replicate_groups(trained, {m: p.group_of[m] for m in trained})
sigma_groups = {float(p.sigma_of[g]): members for g, members in groups.items() if in_sigma_series(g)}
refs: dict[float, list[str]] = {}
for r in p.references:  # one reference per sigma 0 run (ref-sigma<s>, ref-sigma<s>-seed<k>)
    refs.setdefault(float(p.sigma_of[r]), []).append(r)
if 0.0 in sigma_groups:
    refs.setdefault(0.0, sigma_groups[0.0][:1])  # the reference at sigma 0 is the sigma 0 model itself
reference = frequency.reference_comparison(units, sigma_groups, refs, int(cfg["bootstrap"]), int(cfg["seed"]),
                                           float(cfg["ci"]))
for r in reference.itertuples():
    log.info("reference sigma=%g %s: trained %.4g, filter-only %.4g, trained - reference %.4g [%.4g, %.4g] "
             "(%d units, %d replicate(s))", r.sigma, r.metric, r.value, r.reference_value, r.diff, r.diff_ci_low,
             r.diff_ci_high, r.n, r.n_replicates)
io.write_tsv(reference, out.reference)
io.write_tsv(ce, out.ce)
io.write_tsv(summary, out.summary)
io.write_tsv(curves, out.curves)
io.write_tsv(corruption, out.corruption)
io.write_tsv(spectra, out.spectrum)
io.write_tsv(variance, out.seed_variance)
io.write_tsv(trend, out.trends)
