"""Rule accuracy_matrix: accuracy table and heatmap (train sigma x test sigma), the training
table (schedule, time, accuracy at the model's own sigma) and the stem diagnostic summary."""

import numpy as np
import pandas as pd

from blurscope import runlog, stats
from blurscope.io import read_json, write_tsv
from blurscope.training.plot import plot_accuracy_matrix, plot_stem_hf

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
p = smk.params
table = pd.concat([pd.read_csv(path, sep="\t") for path in smk.input.accuracy], ignore_index=True)
write_tsv(table, smk.output.table)
wide = table.pivot(index="model", columns="test_sigma", values="accuracy")
log.info("accuracy matrix (rows: model, columns: test sigma):\n%s", wide.round(3).to_string())
plot_accuracy_matrix(table, smk.output.figure, p.plots)

# one row per model: how it was trained and how well it does at its own condition
rows = []
for model, path in zip(p.models, smk.input.metas):
    meta = read_json(path)
    own = table[(table.model == model) & np.isclose(table.test_sigma, meta["sigma"])]
    settings, metrics = meta.get("settings", {}), meta.get("metrics", {})
    rows.append({
        "model": model, "group": p.group_of[model], "sigma": p.sigma_of[model], "role": meta.get("role"),
        # trained here, or trained elsewhere and imported (model.checkpoints): which file, byte for byte
        "origin": meta.get("origin", "trained"), "checkpoint": meta.get("checkpoint", {}).get("path"),
        "checkpoint_sha256": meta.get("checkpoint", {}).get("sha256"),
        "parent": meta.get("parent"), "seed": meta.get("seed"), "epochs": settings.get("epochs"),
        "batch_size": settings.get("batch_size"), "lr": settings.get("effective_lr", settings.get("lr")),  # as trained
        "weight_decay": settings.get("weight_decay"), "precision": settings.get("precision", "float32"),
        "threads": meta.get("runtime", {}).get("threads"), "val_accuracy": metrics.get("val_accuracy"),
        "own_sigma_accuracy": float(own["accuracy"].iloc[0]) if len(own) else np.nan,
        "clear_accuracy": float(table[(table.model == model) & (table.test_sigma == 0)]["accuracy"].iloc[0])
        if ((table.model == model) & (table.test_sigma == 0)).any() else np.nan,
        "train_seconds": metrics.get("train_seconds"), "images_per_second": metrics.get("images_per_second"),
    })
training = pd.DataFrame(rows)
write_tsv(training, smk.output.training)
log.info("training:\n%s", training[["model", "epochs", "own_sigma_accuracy", "clear_accuracy", "train_seconds"]]
         .to_string(index=False))

# stem diagnostic: HF energy fraction of the first-layer kernels, mean over channels with a
# bootstrap CI over channels, trained and untrained initialisation
st = p.stats
stem = pd.concat([pd.read_csv(path, sep="\t") for path in smk.input.stem], ignore_index=True)
summary = []
for (model, which), g in stem.groupby(["model", "weights"], sort=False):
    b = stats.neuron_bootstrap(g["hf_fraction"].to_numpy()[:, None], int(st["bootstrap_iterations"]), int(st["seed"]),
                               ci=float(st["ci"]))
    summary.append({"model": model, "group": p.group_of[model], "sigma": p.sigma_of[model], "weights": which,
                    "n_channels": len(g), "hf_cutoff": float(g["hf_cutoff"].iloc[0]),
                    **{k: float(b[k]) for k in ("mean", "sem", "ci_low", "ci_high")}})
summary = pd.DataFrame(summary)
write_tsv(summary, smk.output.stem_summary)
log.info(
    "stem HF energy fraction:\n%s", summary[["model", "weights", "mean", "ci_low", "ci_high"]].to_string(index=False)
)
plot_stem_hf(summary, smk.output.stem_figure, p.plots)
