"""Rule spectra: radial power spectra and high-frequency power fraction of one patch set.

Input: ``patches`` (model patches or baseline patches of one layer). Output: one
.npz with ``freqs`` [n_bins] (cycles/pixel), ``power`` [n_units, n_per_unit, n_bins]
(grey levels² per frequency sample), ``hf_fraction`` [n_units, n_per_unit],
``units`` [n_units] (neuron channels or baseline image ids), ``patch_size``,
``hf_cutoff``. Params: ``cfg`` = config ``spectra`` (n_bins, hf_cutoff, ...).
"""

import numpy as np

from blurscope import io, runlog
from blurscope.spectra import load_patch_set, patch_spectra

snakemake = globals()["snakemake"]
log = runlog.start(snakemake.log[0], snakemake.threads)
cfg = snakemake.params.cfg
path = snakemake.input.patches

patches, units = load_patch_set(path)
n_units, n_per, size = patches.shape[:3]
n_bins = int(cfg["n_bins"]) or size // 2
if n_bins > size // 2:
    raise ValueError(
        f"config spectra.n_bins={n_bins} is more than {size // 2} bins for the {size} px patches of {path}; "
        "use 0 (one bin per frequency step) or a smaller value"
    )
freqs, power, hf = patch_spectra(patches.reshape(-1, size, size, 3), n_bins, hf_cutoff=float(cfg["hf_cutoff"]))
io.save_npz(
    snakemake.output[0],
    freqs=freqs,
    power=power.reshape(n_units, n_per, n_bins),
    hf_fraction=hf.reshape(n_units, n_per),
    units=units,
    patch_size=np.int64(size),
    hf_cutoff=np.float64(cfg["hf_cutoff"]),
)
log.info("%d patches of %d px: %d bins, mean HF fraction (> %.3g c/px) %.4f", n_units * n_per, size, n_bins,
         cfg["hf_cutoff"], float(hf.mean()))
