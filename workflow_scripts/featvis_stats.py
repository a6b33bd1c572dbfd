"""Rule featvis_stats: neuron-level bootstrap, trend over σ and effects of the featvis measures.

Inputs: ``tsv`` (results/featvis/<model>.tsv of every model). Params: ``cfg`` =
config ``stats`` (bootstrap_iterations, ci, n_permutations, seed — the patch
statistics' settings); ``sigma_of`` {model: σ}; ``sigma_models`` (σ series, sorted); ``paired`` (the models share
neuron identity: ``training.mode == "finetune"``); ``group_of`` {replicate model: σ series
group} (empty without replicates).
Outputs: ``summary`` (results/featvis/summary.tsv), ``trends``
(results/featvis/trends.tsv), ``effects`` (results/featvis/effects.tsv); columns in
docs/featvis.md.
"""

import pandas as pd

from blurscope import io, runlog
from blurscope.featvis_stats import featvis_summary

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
sigma_of = {str(k): float(v) for k, v in smk.params.sigma_of.items()}
sigma_models = list(smk.params.sigma_models)

# layer and model names stay strings (a layer called "4.2" must not become a float)
table = pd.concat([pd.read_csv(p, sep="\t", dtype={"layer": str, "model": str}) for p in smk.input.tsv],
                  ignore_index=True)
summary, trends, effects = featvis_summary(
    table, sigma_of, sigma_models, int(cfg["bootstrap_iterations"]), int(cfg["seed"]), int(cfg["n_permutations"]),
    ci=float(cfg["ci"]), paired=bool(smk.params.paired), group_of=dict(smk.params.group_of) or None,
)
io.write_tsv(summary, smk.output.summary)
io.write_tsv(trends, smk.output.trends)
io.write_tsv(effects, smk.output.effects)
for row in trends.itertuples():
    log.info("featvis trend %s %s: rho=%.3f p=%.4g p_holm=%.4g sigma %g: %.4f [%.4f, %.4f] -> sigma %g: %.4f "
             "[%.4f, %.4f]", row.layer, row.metric, row.rho, row.p, row.p_holm, row.sigma_min,
             row.mean_sigma_min, row.mean_sigma_min_ci_low, row.mean_sigma_min_ci_high, row.sigma_max,
             row.mean_sigma_max, row.mean_sigma_max_ci_low, row.mean_sigma_max_ci_high)
