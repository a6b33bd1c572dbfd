"""Rule patch_stats: neuron-level and replicate-aware bootstrap, trends over σ, effect sizes, the complexity table.

Inputs (lists in the order of ``params.pairs``, one ``[model, layer]`` per entry,
baseline included as model ``baseline``, training replicates and — with
``analysis.own_blur`` — the filter-only references ``ref-sigma<s>`` as models of their
own): ``complexity`` TSVs and ``spectra`` .npz.
Params: ``cfg`` = config ``stats``; ``sigma_of`` {model: σ}; ``sigma_models`` (the σ
series, group ids sorted by σ); ``table_layer`` (layer of the complexity table);
``group_of`` {model: replicate group} (``sigma6-seed1`` → ``sigma6``; a model without an
entry is its own group); ``paired`` (true when models share neurons:
``training.mode: finetune``); optional ``lineage_of`` {model: lineage} (fine-tuned
replicate k descends from its own σ 0 network; default: a replicate's position in its
group); ``references`` (the filter-only reference models among the inputs; default:
the models named ``reference_prefix``…, ``"ref-"``).
Outputs: see docs/spectra.md and docs/statistics.md (summary, spectra, neuron_means:
one row set per model; trends, effects, table_tsv, table_md: per replicate group, every
replicate resampled, ``n_replicates`` columns).
"""

import numpy as np
import pandas as pd

from blurscope import io, runlog, stats
from blurscope.complexity import COLUMNS

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
params = smk.params
cfg = params.cfg
sigma_of = {str(k): float(v) for k, v in params.sigma_of.items()}
sigma_models = list(params.sigma_models)
pairs = [tuple(p) for p in params.pairs]
group_of = {str(k): str(v) for k, v in (getattr(params, "group_of", None) or {}).items()}
if getattr(params, "paired", None) is None:
    log.warning("params.paired not given: treating the models as independently trained (training.mode: scratch)")
paired = bool(getattr(params, "paired", None) or False)
prefix = str(getattr(params, "reference_prefix", None) or "ref-")
iterations, seed, ci = int(cfg["bootstrap_iterations"]), int(cfg["seed"]), float(cfg["ci"])
n_permutations = int(cfg["n_permutations"])
BASELINE = "baseline"
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
lineage_of = {m: i for ms in groups.values() for i, m in enumerate(ms)}
lineage_of.update({str(k): int(v) for k, v in (getattr(params, "lineage_of", None) or {}).items()})
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
series_models = [m for g in sigma_models for m in groups[g]]
reference_group = sigma_models[0]
ref_param = getattr(params, "references", None)
references = stats.filter_references(models, sigma_of_group, sigma_models, prefix=prefix,
                                     references=None if ref_param is None else [str(r) for r in ref_param])
ref_models = {m for g, r in references.items() if r != g for m in groups[r]}
if len({sigma_of_group[g] for g in sigma_models}) >= 2:
    sigmas = [sigma_of_group[g] for g in sigma_models]
    trends = stats.trend_table(metric_means[metric_means["model"].isin(series_models)], sigma_models, sigmas,
                               n_permutations, seed, summary=group_summary, paired=paired, group_of=group_of,
                               iterations=iterations, ci=ci, lineage_of=lineage_of)
    common = {"iterations": iterations, "seed": seed, "ci": ci, "group_of": group_of, "lineage_of": lineage_of}
    series_vs_0 = [(g, reference_group) for g in sigma_models if g != reference_group]
    others_vs_0 = [(g, reference_group) for g, ms in groups.items()
                   if g not in sigma_models and g != BASELINE and ms[0] not in ref_models]
    parts = [stats.effects_table(metric_means, reference_group, sigma_of_group, paired=paired,
                                 comparisons=series_vs_0, **common)]
    if others_vs_0:  # BlurPool is trained on its own: it shares no neurons with sigma 0
        parts.append(stats.effects_table(metric_means, reference_group, sigma_of_group, paired=False,
                                         comparisons=others_vs_0, **common))
    if references:
        # trained minus its filter-only reference (sigma 0: the model itself, difference 0) ...
        parts.append(stats.effects_table(metric_means, reference_group, sigma_of_group, paired=paired,
                                         comparisons=list(references.items()), **common))
        # ... and what the filter alone does: the reference (the sigma 0 network) against sigma 0
        parts.append(stats.effects_table(metric_means, reference_group, sigma_of_group, paired=True,
                                         comparisons=[(r, reference_group) for g, r in references.items() if r != g],
                                         **common))
    effects = pd.concat(parts, ignore_index=True)
else:  # one sigma: no trend, no contrast (headers only, so downstream readers still work)
    log.warning("fewer than two sigma models (%s): trend and effect tables are empty", sigma_models)
    trends = pd.DataFrame(columns=stats.TREND_COLUMNS + stats.TREND_SUMMARY_COLUMNS)
    effects = pd.DataFrame(columns=stats.EFFECT_COLUMNS)

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
    log.info("trend %s %s: rho=%.3f [%.3f, %.3f] p=%.4g (%s-level, %d models) p_holm=%.4g CIs disjoint=%s",
             row.layer, row.metric, row.rho, row.rho_ci_low, row.rho_ci_high, row.p, row.permutation_unit,
             row.n_models, row.p_holm, getattr(row, "cis_disjoint", "n/a"))
