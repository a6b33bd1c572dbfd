"""Rule patch_stats: neuron-level and replicate-aware bootstrap, trends over σ, effect sizes, the complexity table.

Inputs (lists in the order of ``params.pairs``, one ``[model, layer]`` per entry,
baseline included as model ``baseline``, training replicates and — with
``analysis.own_blur`` — the filter-only references ``ref-sigma<s>`` as models of their
own): ``complexity`` TSVs and ``spectra`` .npz.
Params: ``cfg`` = config ``stats``; ``sigma_of`` {model: σ}; ``sigma_models`` (the σ
series, group ids sorted by σ); ``table_layer`` (layer of the complexity table);
``group_of`` {model: replicate group} (``sigma6-seed1`` → ``sigma6``; a model without an
entry is its own group); ``references`` (the filter-only reference models among the
inputs; default: the models whose id names one, blurscope.model_id).
Outputs: see docs/spectra.md and docs/statistics.md (summary, spectra, neuron_means:
one row set per model; ``runs``: one value per training run and measure; ``trends``: the
run-level σ contrast per layer × metric (family primary / exploratory); ``effects``: each
σ level, BlurPool and, with references, learned / filter against its reference, over runs;
table_tsv, table_md: per replicate group, every replicate resampled, ``n_replicates``).
"""

import numpy as np
import pandas as pd

from blurscope import io, runlog, stats
from blurscope.complexity import COLUMNS
from blurscope.model_id import BASELINE

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
params = smk.params
cfg = params.cfg
sigma_of = {str(k): float(v) for k, v in params.sigma_of.items()}
sigma_models = list(params.sigma_models)
pairs = [tuple(p) for p in params.pairs]
group_of = {str(k): str(v) for k, v in (getattr(params, "group_of", None) or {}).items()}
iterations, seed, ci = int(cfg["bootstrap_iterations"]), int(cfg["seed"]), float(cfg["ci"])
METRICS = (*COLUMNS, "wavelet_detail", "hf_fraction")
TREND_METRICS = (*COLUMNS, "hf_fraction")  # wavelet_detail = 1 - wavelet_approx: not a separate test

if len(pairs) != len(smk.input.complexity) or len(pairs) != len(smk.input.spectra):
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


loaded = {(m, layer): load(m, layer, t, s) for (m, layer), t, s in zip(pairs, smk.input.complexity, smk.input.spectra)}
models = list(dict.fromkeys(m for m, _ in pairs))
layers = list(dict.fromkeys(layer for _, layer in pairs))
groups = stats.replicate_groups(models, group_of)
group_of_model = {m: g for g, ms in groups.items() for m in ms}
sigma_of_group = {g: sigma_of.get(ms[0], np.nan) for g, ms in groups.items()}
missing = [g for g in sigma_models if g not in groups]
if missing:
    raise ValueError(f"patch_stats: no inputs for the sigma series models {missing} (have {models})")

# ---- per model: summary, spectra, neuron means (replicates are models of their own)
summary, spectra_rows, means_rows = [], [], []
for (model, layer), (values, units, freqs, power) in loaded.items():
    sigma = sigma_of.get(model, np.nan)
    tab = stats.tidy_bootstrap(values, METRICS, iterations, seed, ci=ci)
    for i, (key, val) in enumerate((("model", model), ("group", group_of_model[model]), ("sigma", sigma),
                                    ("layer", layer))):
        tab.insert(i, key, val)
    summary.append(tab)
    base = None
    if model != BASELINE:
        base_freqs, base = loaded[(BASELINE, layer)][2:4]
        if not np.allclose(base_freqs, freqs):
            raise ValueError(f"layer {layer}: baseline and {model} spectra have different frequency bins")
    spec = stats.spectrum_table(freqs, power, base, iterations, seed, ci=ci)
    for i, (key, val) in enumerate((("model", model), ("group", group_of_model[model]), ("sigma", sigma),
                                    ("layer", layer))):
        spec.insert(i, key, val)
    spectra_rows.append(spec)
    if model != BASELINE:
        long = pd.DataFrame(stats.neuron_means(values), columns=list(METRICS))
        long.insert(0, "neuron", units)
        long = long.melt(id_vars="neuron", var_name="metric", value_name="value")
        for i, (key, val) in enumerate((("model", model), ("group", group_of_model[model]), ("sigma", sigma),
                                        ("layer", layer))):
            long.insert(i, key, val)
        means_rows.append(long)
    log.info("%s %s: %d units x %d patches bootstrapped", model, layer, values.shape[0], values.shape[1])

# ---- per replicate group: the hierarchical bootstrap (models, then neurons within each drawn model)
group_rows = []
for layer in layers:
    for g, members in groups.items():
        reps = [loaded[(m, layer)][0] for m in members if (m, layer) in loaded]
        if not reps:
            continue
        tab = stats.tidy_bootstrap(reps, METRICS, iterations, seed, ci=ci)
        for i, (key, val) in enumerate((("model", g), ("sigma", sigma_of_group[g]), ("layer", layer))):
            tab.insert(i, key, val)
        group_rows.append(tab)
group_summary = pd.concat(group_rows, ignore_index=True)

summary_df = pd.concat(summary, ignore_index=True)
spectra_df = pd.concat(spectra_rows, ignore_index=True)
means_df = pd.concat(means_rows, ignore_index=True)
metric_means = means_df[means_df["metric"].isin(TREND_METRICS)]
reference_group = sigma_models[0]
ref_param = getattr(params, "references", None)
references = stats.filter_references(models, {**sigma_of, **sigma_of_group}, sigma_models,
                                     references=None if ref_param is None else [str(r) for r in ref_param],
                                     group_of=group_of_model)
ref_groups = {r for g, r in references.items() if r != g}
# ---- the run-level design (docs/statistics.md): one value per training run (its mean over neurons), every
# claim about sigma a t test over runs; the primary family is Holm-adjusted in results/stats/findings.tsv
runs = stats.run_values(metric_means, ["layer", "metric"])
primary = {(layer, m) for layer in layers for m in stats.PRIMARY_PATCH_METRICS}
trends = stats.sigma_table(runs, ["layer", "metric"], sigma_models, sigma_of_group, group_of_model, primary=primary,
                           ci=ci)
n_neurons = metric_means.groupby(["layer", "metric", "model"])["value"].count().groupby(["layer", "metric"]).min()
trends["n_neurons"] = [int(n_neurons.get((la, me), 0)) for la, me in zip(trends["layer"], trends["metric"])]
comparisons = [("blurpool", g, reference_group, False) for g, ms in groups.items()
               if g not in sigma_models and g != BASELINE and g not in ref_groups]
# a filter-only reference: trained sigma runs against the reference runs (learned), and each reference run
# against the sigma 0 run it is built on (filter: the same weights, paired by run)
comparisons += [("learned", g, r, False) for g, r in references.items() if r != g]
comparisons += [("filter", r, reference_group, True) for g, r in references.items() if r != g]
effects = pd.concat([stats.sigma_effects(runs, ["layer", "metric"], sigma_models, sigma_of_group, group_of_model,
                                         ci=ci),
                     stats.comparison_table(runs, ["layer", "metric"], comparisons, group_of_model, sigma_of_group,
                                            ci=ci)], ignore_index=True)
runs.insert(1, "group", runs["model"].map(group_of_model))
runs.insert(2, "sigma", runs["group"].map(sigma_of_group))

# ---- the complexity table (the VITAL report's layout) for one layer: mean ± SEM per replicate group
table_layer = params.table_layer
order = sigma_models + [g for g in groups if g not in sigma_models and g != BASELINE] + [BASELINE]
n_reps = {g: len(ms) for g, ms in groups.items()}


def label(g: str) -> str:
    runs = f" ({n_reps[g]} runs)" if n_reps[g] > 1 else ""
    if g == BASELINE:
        return "baseline (random patches)"
    return f"{sigma_of_group[g]:g}{runs}" if g in sigma_models else f"{g} (σ = {sigma_of_group[g]:g}){runs}"


TABLE = {"compression_ratio": "Compression ratio", "entropy": "Entropy (bits)", "edge_density": "Edge density",
         "edge_strength": "Mean edge strength", "hf_fraction": "HF power fraction",
         "wavelet_detail": "Wavelet H+V+D fraction"}
layer_summary = group_summary[group_summary["layer"] == table_layer]
wide = stats.seed_table(layer_summary, order, list(TABLE), labels={g: label(g) for g in order})
wide = wide.rename(columns={"model": "Blur level (σ)", **TABLE})
numeric = layer_summary.pivot(index="model", columns="metric", values=["mean", "sem"])
numeric = numeric.loc[order, [(s, m) for m in TABLE for s in ("mean", "sem")]]
numeric.columns = [f"{m}_{s}" for s, m in numeric.columns]
numeric = numeric.reset_index()
numeric.insert(1, "sigma", [sigma_of_group.get(g, np.nan) for g in numeric["model"]])
numeric.insert(2, "layer", table_layer)
numeric.insert(3, "n_replicates", [n_reps[g] for g in numeric["model"]])

io.write_tsv(summary_df, smk.output.summary)
io.write_tsv(spectra_df, smk.output.spectra)
io.write_tsv(means_df, smk.output.neuron_means)
io.write_tsv(trends, smk.output.trends)
io.write_tsv(runs, smk.output.runs)
io.write_tsv(effects, smk.output.effects)
io.write_tsv(numeric, smk.output.table_tsv)
single = [f"{sigma_of_group[g]:g}" for g in sigma_models if n_reps[g] == 1]
caveat = (f" Rows from one training run (σ = {', '.join(single)}) carry no run-to-run variance: their SEM is that "
          "of the neurons of one network." if single else "")
with io.atomic_path(smk.output.table_md) as tmp:
    tmp.write_text(
        f"### Complexity of preferred patches, layer {table_layer}\n\n" + stats.to_markdown(wide)
        + f"\nValues are mean ± bootstrap SEM ({iterations} iterations): neurons resampled within each model, and "
        "with several training runs (\"runs\") the runs resampled too; baseline: resampled over source images."
        + caveat + "\n"
    )
for row in trends[trends["layer"] == table_layer].itertuples():
    log.info("sigma %g -> %g %s %s (%s): %.4g -> %.4g, diff %.4g [%.4g, %.4g], p=%.4g (%d runs, df %s) %s",
             row.sigma_min, row.sigma_max, row.layer, row.metric, row.family, row.mean_sigma_min, row.mean_sigma_max,
             row.diff, row.diff_ci_low, row.diff_ci_high, row.p, row.n_runs, row.df, row.note)
