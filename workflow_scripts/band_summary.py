"""Rule band_summary: all models × layers in one table, and the comparison across σ (Q5).

Outputs: ``band_summary.tsv`` (every per-layer row with model/σ/layer),
``band_shift.tsv`` (per replicate group × layer × head: band accuracy / GT rank and
band centroids with bootstrap CIs and paired differences vs the reference model and
vs the filter-only references) and ``band_trend.tsv`` (the run-level σ contrast of the
centroids, always one row per layer × head × centroid, ``note`` when not testable); keys in
docs/statistics.md.
Params: ``cfg`` (bands: reference_model, bootstrap, seed),
``pairs``; optional ``group_of`` {model: replicate group}. The filter-only references are the
models whose id names one (blurscope.model_id).
"""


import pandas as pd

from blurscope import io, runlog, stats
from blurscope.bands import stats as band_stats
from blurscope.model_id import is_reference

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
pairs = smk.params.pairs  # [[model, layer], ...] in the order of the inputs
if not (len(pairs) == len(smk.input.tsv) == len(smk.input.npz) == len(smk.input.info)):
    raise ValueError("band_summary: inputs and model/layer pairs differ in length")

frames, runs, sigma, antialiased = [], {}, {}, {}
for (model, layer), tsv, npz, info_path in zip(pairs, smk.input.tsv, smk.input.npz, smk.input.info):
    df = io.read_tsv(tsv)
    info = io.read_json(info_path)
    if info["model"] != model or info["layer"] != layer:
        raise ValueError(f"{info_path}: holds {info['model']}/{info['layer']}, expected {model}/{layer}")
    sigma[model] = float(info["sigma"]) if info.get("sigma") is not None else float("nan")
    antialiased[model] = bool(info.get("antialiased", False))
    df.insert(2, "antialiased", antialiased[model])
    df["strategy"] = info["strategy"]
    frames.append(df)
    runs[(model, layer)] = band_stats.load_run(npz)

summary = pd.concat(frames, ignore_index=True)
group_of = {str(k): str(v) for k, v in (getattr(smk.params, "group_of", None) or {}).items()}
models = list(dict.fromkeys(m for m, _ in pairs))
groups = stats.replicate_groups(models, group_of)
series = [g for g, ms in groups.items() if not antialiased[ms[0]] and not is_reference(ms[0])]
references = stats.filter_references(models, {**sigma, **{g: sigma[ms[0]] for g, ms in groups.items()}}, series,
                                     group_of=group_of)
shift, trend = band_stats.shift_tables(
    runs, sigma, reference=cfg["reference_model"], antialiased=antialiased,
    iterations=int(cfg["bootstrap"]), seed=int(cfg["seed"]),
    group_of=group_of, references=references,
)
for _, row in shift[shift["statistic"] == "centroid_rank"].iterrows():
    log.info(
        "%s (%d replicate(s)) %s %s centroid_rank %.3f [%.3f, %.3f]  diff vs %s %+.3f [%+.3f, %+.3f]",
        row["model"], row["n_replicates"], row["layer"], row["head"], row["value"], row["ci_low"], row["ci_high"],
        row["reference"], row["diff"], row["diff_ci_low"], row["diff_ci_high"],
    )
for _, row in trend.iterrows():
    log.info("sigma contrast %s %s %s: diff %.3g [%.3g, %.3g] p=%.3g over sigma %s (%d runs) %s", row["layer"],
             row["head"], row["statistic"], row["diff"], row["diff_ci_low"], row["diff_ci_high"], row["p"],
             row["sigmas"], row["n_runs"], row["note"])
io.write_tsv(shift, smk.output.shift)
io.write_tsv(trend, smk.output.trend)
io.write_tsv(summary, smk.output.summary)
