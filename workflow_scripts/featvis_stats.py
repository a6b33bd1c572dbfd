"""Rule featvis_stats: neuron-level bootstrap, trend over σ and effects of the featvis measures.

Inputs: ``tsv`` (results/featvis/<model>.tsv of every model). Params: ``cfg`` =
config ``stats`` (bootstrap_iterations, ci, seed — the patch
statistics' settings); ``sigma_of`` {model: σ}; ``sigma_models`` (σ series, sorted); ``paired`` (the models share
neuron identity: ``training.mode == "finetune"``); ``group_of`` {replicate model: σ series
group} (empty without replicates).
Outputs: ``summary`` (results/featvis/summary.tsv), ``trends``
(results/featvis/trends.tsv: the run-level σ contrast), ``effects`` (results/featvis/effects.tsv),
``runs`` (results/featvis/runs.tsv: one value per model × layer × metric, ``n_units`` = renders
that raised their objective; 0 = a silent layer); columns in docs/featvis.md.
"""

import pandas as pd

from blurscope import io, runlog
from blurscope.featvis.stats import featvis_summary

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
sigma_of = {str(k): float(v) for k, v in smk.params.sigma_of.items()}
sigma_models = list(smk.params.sigma_models)

# layer and model names stay strings (a layer called "4.2" must not become a float)
table = pd.concat([pd.read_csv(p, sep="\t", dtype={"layer": str, "model": str}) for p in smk.input.tsv],
                  ignore_index=True)
summary, trends, effects, runs = featvis_summary(
    table, sigma_of, sigma_models, int(cfg["bootstrap_iterations"]), int(cfg["seed"]), ci=float(cfg["ci"]),
    paired=bool(smk.params.paired), group_of=dict(smk.params.group_of) or None,
)
io.write_tsv(summary, smk.output.summary)
io.write_tsv(trends, smk.output.trends)
io.write_tsv(effects, smk.output.effects)
io.write_tsv(runs, smk.output.runs)
for row in trends.itertuples():
    log.info("featvis sigma %g -> %g %s %s (%s): %.4g -> %.4g, diff %.4g [%.4g, %.4g], p=%.4g (%d runs) %s",
             row.sigma_min, row.sigma_max, row.layer, row.metric, row.family, row.mean_sigma_min,
             row.mean_sigma_max, row.diff, row.diff_ci_low, row.diff_ci_high, row.p, row.n_runs, row.note)
