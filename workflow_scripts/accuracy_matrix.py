"""Rule accuracy_matrix: train sigma x test sigma accuracy table and heatmap."""

import pandas as pd

from blurscope import runlog
from blurscope.io import write_tsv
from blurscope.plot_train import plot_accuracy_matrix

sm = snakemake  # noqa: F821
log = runlog.start(sm.log[0], sm.threads)
table = pd.concat([pd.read_csv(p, sep="\t") for p in sm.input], ignore_index=True)
write_tsv(table, sm.output.table)
wide = table.pivot(index="model", columns="test_sigma", values="accuracy")
log.info("accuracy matrix (rows: model, columns: test sigma):\n%s", wide.round(3).to_string())
plot_accuracy_matrix(table, sm.output.figure, sm.params.plots)
