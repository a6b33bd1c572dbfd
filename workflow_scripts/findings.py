"""Rule findings: every claim about training σ, tested over training runs, in one table.

Inputs (named): ``patch_trends``, ``patch_effects``, ``featvis_trends``, ``featvis_effects``,
``aliasing_trend``, ``aliasing_runs``, ``frequency_trends``, ``frequency_summary``,
``band_trend`` (each stage's run-level tables and per-model values), ``stem`` (the per-model
``evaluation/<model>_stem.tsv``: each kernel's HF energy; a run's value is their mean).
Params: ``sigma_of`` / ``group_of`` {model: σ / replicate group} of every model,
``series`` (σ series group ids, σ ascending), ``references`` {reference group: trained
group}, ``blurpool`` (BlurPool group ids), ``alpha`` (config ``report.alpha``), ``ci``.
Output: ``table`` (results/stats/findings.tsv; :func:`blurscope.stats.findings.findings`,
columns in docs/statistics.md).
"""

import pandas as pd

from blurscope import io, runlog
from blurscope.stats.findings import findings

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
p = smk.params
names = ("patch_trends", "patch_effects", "featvis_trends", "featvis_effects", "aliasing_trend", "aliasing_runs",
         "frequency_trends", "frequency_summary", "band_trend", "stem")
tables = {n: io.read_tsv(smk.input[n]) for n in names if n in smk.input.keys() and n != "stem"}
if "stem" in smk.input.keys():  # one value per run: the mean over its kernels, trained and initial weights
    kernels = pd.concat([io.read_tsv(p) for p in smk.input.stem], ignore_index=True)
    per_model = kernels.groupby(["model", "weights"], sort=False)["hf_fraction"].mean()
    tables["stem"] = per_model.rename("mean").reset_index()
sources = {{"aliasing_trend": "aliasing_sigma_trend"}.get(n, n): str(smk.input[n]) for n in tables if n != "stem"}
sources["stem_table"] = "evaluation/<model>_stem.tsv"
table = findings(**tables, sigma_of=dict(p.sigma_of), group_of=dict(p.group_of), series=list(p.series),
                 references=dict(p.references), blurpool=list(p.blurpool), sources=sources, alpha=float(p.alpha),
                 ci=float(p.ci))
io.write_tsv(table, smk.output.table)
for r in table[table["family"] == "primary"].itertuples():
    log.info("primary %s %s: %.4g -> %.4g, diff %.4g [%.4g, %.4g], p=%.3g, Holm p=%.3g: %s %s", r.layer, r.metric,
             r.mean_from, r.mean_to, r.diff, r.diff_ci_low, r.diff_ci_high, r.p, r.p_holm, r.verdict, r.note)
log.info("%d rows (%d primary); verdicts: %s", len(table), int((table["family"] == "primary").sum()),
         table["verdict"].value_counts().to_dict())
