"""Rule patch_metrics: radial power spectra, HF power fraction and complexity measures of
every patch set (each model × layer, and the random baseline of each layer), one job.

Inputs ``patches`` and outputs ``spectra`` / ``complexity`` are parallel lists in the order
of ``params.pairs`` ([model, layer]; model ``baseline`` = random patches).
* spectra .npz: ``freqs`` [n_bins] (cycles/pixel), ``power`` [n_units, n_per_unit, n_bins]
  (grey levels² per frequency sample), ``hf_fraction`` [n_units, n_per_unit], ``units``
  [n_units] (neuron channels or baseline image ids), ``patch_size``, ``hf_cutoff``.
* complexity TSV: ``model sigma layer neuron patch`` + the columns of
  ``blurscope.complexity.COLUMNS`` (baseline: ``neuron`` = source image id, ``sigma`` empty).
Params: ``spectra`` / ``complexity`` (config ``spectra`` subsets), ``sigma_of``.
"""

import numpy as np

from blurscope import io, runlog
from blurscope.complexity import COLUMNS, complexity_metrics
from blurscope.spectra.spectrum import load_patch_set, patch_spectra

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
scfg, ccfg = smk.params.spectra, smk.params.complexity
pairs = [tuple(x) for x in smk.params.pairs]
if not len(pairs) == len(smk.input.patches) == len(smk.output.spectra) == len(smk.output.complexity):
    raise ValueError("patch_metrics: params.pairs does not match the patch inputs / outputs")

for (model, layer), src, out_spec, out_cx in zip(pairs, smk.input.patches, smk.output.spectra, smk.output.complexity):
    patches, units = load_patch_set(src)
    n_units, n_per, size = patches.shape[:3]
    flat = patches.reshape(-1, size, size, 3)
    n_bins = int(scfg["n_bins"]) or size // 2
    if n_bins > size // 2:
        raise ValueError(
            f"config spectra.n_bins={n_bins} is more than {size // 2} bins for the {size} px patches of {src}; "
            "use 0 (one bin per frequency step) or a smaller value"
        )
    freqs, power, hf = patch_spectra(flat, n_bins, hf_cutoff=float(scfg["hf_cutoff"]), window=scfg["window"])
    io.save_npz(out_spec, freqs=freqs, power=power.reshape(n_units, n_per, n_bins),
                hf_fraction=hf.reshape(n_units, n_per), units=units, patch_size=np.int64(size),
                hf_cutoff=np.float64(scfg["hf_cutoff"]), window=np.array(scfg["window"]))
    df = complexity_metrics(flat, jpeg_quality=int(ccfg["jpeg_quality"]), edge_threshold=float(ccfg["edge_threshold"]),
                            wavelet=str(ccfg["wavelet"]), wavelet_level=int(ccfg["wavelet_levels"]),
                            wavelet_mode=str(ccfg["wavelet_mode"]), jpeg_data=str(ccfg["jpeg_data"]))
    sigma = smk.params.sigma_of.get(model)
    df.insert(0, "model", model)
    df.insert(1, "sigma", np.nan if sigma is None else float(sigma))
    df.insert(2, "layer", layer)
    df.insert(3, "neuron", np.repeat(units, n_per))
    df.insert(4, "patch", np.tile(np.arange(n_per), n_units))
    io.write_tsv(df, out_cx)
    log.info("%s %s: %d patches of %d px, %d bins (window %s), HF fraction %.4f; %d wavelet level(s) (at most %d); "
             "%s", model, layer, n_units * n_per, size, n_bins, scfg["window"], float(hf.mean()),
             int(df["wavelet_levels"].min()), int(ccfg["wavelet_levels"]),
             ", ".join(f"{c}={df[c].mean():.4g}" for c in COLUMNS))
