"""Rule patch_stats: neuron-level bootstrap, trends over σ, effect sizes, seed-000 table.

Inputs (lists in the order of ``params.pairs``, one ``[model, layer]`` per entry,
baseline included as model ``baseline``): ``complexity`` TSVs and ``spectra`` .npz.
Params: ``cfg`` = config ``stats``; ``sigma_of`` {model: σ} for the trained models;
``sigma_models`` (σ series, sorted by σ); ``table_layer`` (layer of the seed table).
Outputs: see docs/spectra.md (summary, spectra, neuron_means, trends, effects,
table_tsv, table_md).
"""

import numpy as np
import pandas as pd

from blurscope import io, runlog, stats
from blurscope.complexity import COLUMNS

snakemake = globals()["snakemake"]
log = runlog.start(snakemake.log[0], snakemake.threads)
cfg = snakemake.params.cfg
sigma_of = {str(k): float(v) for k, v in snakemake.params.sigma_of.items()}
sigma_models = list(snakemake.params.sigma_models)
pairs = [tuple(p) for p in snakemake.params.pairs]
iterations, seed, ci = int(cfg["bootstrap_iterations"]), int(cfg["seed"]), float(cfg["ci"])
BASELINE = "baseline"
METRICS = (*COLUMNS, "wavelet_detail", "hf_fraction")
TREND_METRICS = (*COLUMNS, "hf_fraction")  # wavelet_detail = 1 - wavelet_approx: not a separate test

if len(pairs) != len(snakemake.input.complexity) or len(pairs) != len(snakemake.input.spectra):
    raise ValueError("patch_stats: params.pairs does not match the complexity/spectra inputs")


def load(model: str, layer: str, tsv: str, npz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """values [n, k, len(METRICS)], units, freqs, power [n, k, bins] of one model × layer."""
    values, units = stats.patch_matrix(io.read_tsv(tsv), COLUMNS, source=tsv)
    with np.load(npz) as sp:
        order = np.argsort(sp["units"], kind="stable")
        sp_units, freqs = sp["units"][order], sp["freqs"]
        power, hf = sp["power"][order], sp["hf_fraction"][order]
    if not np.array_equal(sp_units, units) or power.shape[1] != values.shape[1]:
        raise ValueError(f"{npz} and {tsv} describe different units or patch counts")
    detail = values[..., 5:8].sum(axis=-1, keepdims=True)
    return np.concatenate([values, detail, hf[..., None]], axis=-1), units, freqs, power


loaded = {(m, l): load(m, l, t, s) for (m, l), t, s in zip(pairs, snakemake.input.complexity, snakemake.input.spectra)}
layers = list(dict.fromkeys(l for _, l in pairs))
summary, spectra_rows, means_rows = [], [], []
for (model, layer), (values, units, freqs, power) in loaded.items():
    sigma = sigma_of.get(model, np.nan)
    tab = stats.tidy_bootstrap(values, METRICS, iterations, seed, ci=ci)
    tab.insert(0, "layer", layer)
    tab.insert(0, "sigma", sigma)
    tab.insert(0, "model", model)
    summary.append(tab)
    base = None
    if model != BASELINE:
        base_freqs, base = loaded[(BASELINE, layer)][2:4]
        if not np.allclose(base_freqs, freqs):
            raise ValueError(f"layer {layer}: baseline and {model} spectra have different frequency bins")
    spec = stats.spectrum_table(freqs, power, base, iterations, seed, ci=ci)
    spec.insert(0, "layer", layer)
    spec.insert(0, "sigma", sigma)
    spec.insert(0, "model", model)
    spectra_rows.append(spec)
    if model != BASELINE:
        nm = stats.neuron_means(values)  # [n, M]
        long = pd.DataFrame(nm, columns=list(METRICS))
        long.insert(0, "neuron", units)
        long = long.melt(id_vars="neuron", var_name="metric", value_name="value")
        long.insert(0, "layer", layer)
        long.insert(0, "sigma", sigma)
        long.insert(0, "model", model)
        means_rows.append(long)
    log.info("%s %s: %d units x %d patches bootstrapped", model, layer, values.shape[0], values.shape[1])

summary_df = pd.concat(summary, ignore_index=True)
spectra_df = pd.concat(spectra_rows, ignore_index=True)
means_df = pd.concat(means_rows, ignore_index=True)
trend_in = means_df[means_df["metric"].isin(TREND_METRICS)]
if len({sigma_of[m] for m in sigma_models}) >= 2:
    trends = stats.trend_table(trend_in, sigma_models, [sigma_of[m] for m in sigma_models],
                               int(cfg["n_permutations"]), seed, summary=summary_df)
    effects = stats.effects_table(trend_in, sigma_models[0], sigma_of, iterations, seed, ci=ci)
else:  # one sigma: no trend, no contrast (headers only, so downstream readers still work)
    log.warning("fewer than two sigma models (%s): trend and effect tables are empty", sigma_models)
    trends = pd.DataFrame(columns=["layer", "metric", "rho", "p_perm", "p_bonferroni", "p_holm", "n_sigma",
                                   "n_neurons", "n_permutations"])
    effects = pd.DataFrame(columns=["layer", "metric", "model", "sigma", "cohens_d", "diff", "diff_sem",
                                    "diff_ci_low", "diff_ci_high", "reference_mean", "rel_change",
                                    "n_neurons"])

# seed-000-style table for one layer: mean ± SEM per model
table_layer = snakemake.params.table_layer
order = sigma_models + sorted(m for m in sigma_of if m not in sigma_models)
labels = {m: (f"{sigma_of[m]:g}" if m in sigma_models else f"{m} (σ = {sigma_of[m]:g})") for m in order}
labels[BASELINE] = "baseline (random patches)"
TABLE = {"compression_ratio": "Compression ratio", "entropy": "Entropy (bits)", "edge_density": "Edge density",
         "edge_strength": "Mean edge strength", "hf_fraction": "HF power fraction",
         "wavelet_detail": "Wavelet H+V+D fraction"}
layer_summary = summary_df[summary_df["layer"] == table_layer]
wide = stats.seed_table(layer_summary, order + [BASELINE], list(TABLE), labels=labels)
wide = wide.rename(columns={"model": "Blur level (σ)", **TABLE})
numeric = layer_summary.pivot(index="model", columns="metric", values=["mean", "sem"])
numeric = numeric.loc[order + [BASELINE], [(s, m) for m in TABLE for s in ("mean", "sem")]]
numeric.columns = [f"{m}_{s}" for s, m in numeric.columns]
numeric = numeric.reset_index()
numeric.insert(1, "sigma", [sigma_of.get(m, np.nan) for m in numeric["model"]])
numeric.insert(2, "layer", table_layer)

io.write_tsv(summary_df, snakemake.output.summary)
io.write_tsv(spectra_df, snakemake.output.spectra)
io.write_tsv(means_df, snakemake.output.neuron_means)
io.write_tsv(trends, snakemake.output.trends)
io.write_tsv(effects, snakemake.output.effects)
io.write_tsv(numeric, snakemake.output.table_tsv)
with io.atomic_path(snakemake.output.table_md) as tmp:
    tmp.write_text(
        f"### Complexity of preferred patches, layer {table_layer}\n\n" + stats.to_markdown(wide)
        + f"\nValues are mean ± neuron-level bootstrap SEM ({iterations} iterations; baseline: resampled "
        "over source images).\n"
    )
for row in trends[trends["layer"] == table_layer].itertuples():
    log.info("trend %s %s: rho=%.3f p=%.4g p_holm=%.4g CIs disjoint=%s", row.layer, row.metric, row.rho,
             row.p_perm, row.p_holm, getattr(row, "cis_disjoint", "n/a"))
