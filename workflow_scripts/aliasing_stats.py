"""Rule aliasing_stats: summary, paired tests vs the standard model and vs the filter references,
AVR–SIS correlation, σ trend (every statistic from blurscope.stats; keys in docs/statistics.md).

Inputs: ``tables`` (avr_sis TSVs, one per model), ``infos`` (their JSON).
Outputs: ``summary``, ``paired``, ``correlation``, ``sigma_trend``, ``runs``, ``matching`` (TSVs).
Params: ``cfg`` = config["aliasing"], ``models`` (ids in the order of the inputs),
``standard`` (reference model id); optional ``group_of`` {model: replicate group}
(default: every model its own group). The filter-only references are the models whose id names one
(blurscope.model_id).
"""

import pandas as pd

from blurscope import runlog, stats
from blurscope.aliasing.stats import aliasing_statistics
from blurscope.io import read_json, read_tsv, write_tsv
from blurscope.model_id import is_reference

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
models = list(smk.params.models)
group_of = {str(k): str(v) for k, v in (getattr(smk.params, "group_of", None) or {}).items()}
tables = {m: read_tsv(p) for m, p in zip(models, smk.input.tables)}
infos = {m: read_json(p) for m, p in zip(models, smk.input.infos)}
sigmas = {m: float(infos[m]["sigma"]) for m in models}
aa = {m: bool(infos[m]["antialiased"]) for m in models}

groups = stats.replicate_groups(models, group_of)
series = [g for g, ms in groups.items() if not aa[ms[0]] and not is_reference(ms[0])]
references = stats.filter_references(models, {**sigmas, **{g: sigmas[ms[0]] for g, ms in groups.items()}}, series,
                                     group_of=group_of)
out = aliasing_statistics(tables, sigmas, aa, smk.params.standard, int(cfg["bootstrap_iterations"]),
                                   int(cfg["permutations"]), int(cfg["seed"]), group_of=group_of,
                                   references=references)
for key in ("summary", "paired", "correlation", "sigma_trend", "runs"):
    write_tsv(out[key], smk.output[key])

MATCH_COLS = ["model", "point", "standard", "blurpool", "stride", "standard_op", "blurpool_op", "blurpool_kind",
              "in_h", "in_w", "out_h", "out_w", "rule"]
rows = [pd.DataFrame(infos[m]["matching"]).assign(model=m) for m in models if aa[m]]
matching = pd.concat(rows, ignore_index=True)[MATCH_COLS] if rows else pd.DataFrame(columns=MATCH_COLS)
write_tsv(matching, smk.output.matching)

p = out["paired"]
for r in p[p["metric"] == "sis"].itertuples():
    log.info("%s (%d replicate(s)) vs %s: SIS %.4g → %.4g (%+.1f %%, diff %.4g [%.4g, %.4g], Wilcoxon p=%.3g)",
             r.model, r.n_replicates, r.reference, r.reference_mean, r.mean, 100 * r.rel_change, r.diff,
             r.diff_ci_low, r.diff_ci_high, r.p)
