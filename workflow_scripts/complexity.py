"""Rule complexity: per-patch complexity measures of one patch set as a tidy TSV.

Input: ``patches`` (model or baseline patches of one layer). Output: TSV with
``model sigma layer neuron patch`` + the nine columns of
``blurscope.complexity.COLUMNS`` (for the baseline, ``neuron`` is the source
image id and ``sigma`` is empty). Params: ``cfg`` = config ``spectra``
(complexity keys), ``model``, ``sigma``, ``layer``.
"""

import numpy as np

from blurscope import io, runlog
from blurscope.complexity import COLUMNS, complexity_metrics
from blurscope.spectra import load_patch_set

snakemake = globals()["snakemake"]
log = runlog.start(snakemake.log[0], snakemake.threads)
cfg = snakemake.params.cfg

patches, units = load_patch_set(snakemake.input.patches)
n_units, n_per, size = patches.shape[:3]
if size // 2 ** int(cfg["wavelet_levels"]) < 2:
    log.warning("%d px patches with %d wavelet levels: the approximation band is 1x1, i.e. the patch mean, "
                "which is removed; wavelet_approx is 0 by construction (use fewer levels for such small patches)",
                size, int(cfg["wavelet_levels"]))
df = complexity_metrics(
    patches.reshape(-1, size, size, 3),
    jpeg_quality=int(cfg["jpeg_quality"]),
    edge_threshold=float(cfg["edge_threshold"]),
    wavelet=str(cfg["wavelet"]),
    wavelet_level=int(cfg["wavelet_levels"]),
)
sigma = snakemake.params.sigma
df.insert(0, "model", snakemake.wildcards.model)
df.insert(1, "sigma", np.nan if sigma is None else float(sigma))
df.insert(2, "layer", snakemake.wildcards.layer)
df.insert(3, "neuron", np.repeat(units, n_per))
df.insert(4, "patch", np.tile(np.arange(n_per), n_units))
io.write_tsv(df, snakemake.output[0])
log.info("%d patches of %d px; means: %s", len(df), size,
         ", ".join(f"{c}={df[c].mean():.4g}" for c in COLUMNS))
