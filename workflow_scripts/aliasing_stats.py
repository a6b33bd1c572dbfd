"""Rule aliasing_stats: summary, paired tests vs the standard model, AVR–SIS correlation, σ trend.

Inputs: ``tables`` (avr_sis TSVs, one per model), ``infos`` (their JSON).
Outputs: ``summary``, ``paired``, ``correlation``, ``sigma_trend``, ``matching`` (TSVs).
Params: ``cfg`` = config["aliasing"], ``models`` (ids in the order of the inputs),
``standard`` (reference model id).
"""

import pandas as pd

from blurscope import aliasing, runlog
from blurscope.io import read_json, read_tsv, write_tsv

snakemake = globals()["snakemake"]
log = runlog.start(snakemake.log[0], snakemake.threads)
cfg = snakemake.params.cfg
models = list(snakemake.params.models)
tables = {m: read_tsv(p) for m, p in zip(models, snakemake.input.tables)}
infos = {m: read_json(p) for m, p in zip(models, snakemake.input.infos)}
sigmas = {m: float(infos[m]["sigma"]) for m in models}
aa = {m: bool(infos[m]["antialiased"]) for m in models}

out = aliasing.aliasing_statistics(tables, sigmas, aa, snakemake.params.standard, int(cfg["bootstrap_iterations"]),
                                   int(cfg["permutations"]), int(cfg["seed"]))
for key in ("summary", "paired", "correlation", "sigma_trend"):
    write_tsv(out[key], snakemake.output[key])

MATCH_COLS = ["model", "point", "standard", "blurpool", "stride", "standard_op", "blurpool_op", "blurpool_kind",
              "in_h", "in_w", "out_h", "out_w", "rule"]
rows = [pd.DataFrame(infos[m]["matching"]).assign(model=m) for m in models if aa[m]]
matching = pd.concat(rows, ignore_index=True)[MATCH_COLS] if rows else pd.DataFrame(columns=MATCH_COLS)
write_tsv(matching, snakemake.output.matching)

p = out["paired"]
for m in models:
    if aa[m]:
        s = p[(p["model"] == m) & (p["metric"] == "sis")]
        if len(s):
            r = s.iloc[0]
            log.info("%s vs %s: SIS %.4g → %.4g (%+.1f %%, Wilcoxon p=%.3g)", m, snakemake.params.standard,
                     r["mean_ref"], r["mean_treat"], 100 * r["rel_change"], r["p_wilcoxon"])
