"""Rule deployed[model]: the deployed-model analyses of one model, one job, one model load
(blurscope.deployed; a filter-only reference ref-sigma<s> is the sigma 0 network behind the blur of s).

1. AVR at every stride point and SIS (params ``aliasing_cfg``, log ``aliasing``; docs/aliasing.md):
   outputs ``table`` (TSV, one row per image × stride point) and ``info`` (JSON: stride points,
   standard↔BlurPool matching for antialiased models, timing).
2. Hybrid sweep, PGD, shape bias, corruptions (params ``frequency_cfg``, log ``frequency``;
   docs/frequency.md): outputs ``curves``, ``spectrum``, ``preference``, ``corruption``, ``ce`` (TSV),
   ``units`` (.npz, per-pair / per-image outcomes for paired bootstraps against the reference:
   ``hits_low`` / ``hits_high`` bool [n_f_mix, n_pairs], ``f_mix``, ``pair_low`` / ``pair_high``,
   ``pgd_power`` [n_images, n_radii], ``pgd_radii`` and, with a cue-conflict split, ``shape_pred``,
   ``shape_labels``, ``texture_labels``), ``hits`` (.npz, per-image outcomes of every corruption ×
   severity: the mCE reference of the other models) and, with a cue-conflict split, ``shape_bias``.

Inputs: ``model`` (+ ``meta``), ``images`` (analysis_images.npz), ``corrupted`` (one set per
corruption), ``mce_reference`` (the mCE reference's hits; absent for the reference itself or with
published errors), ``cue_conflict`` (with a cue-conflict split).
A failure in a part fails the job (its log names the error); nothing of a later part runs.
"""

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log.aliasing, smk.threads)

from blurscope import deployed, io  # noqa: E402
from blurscope.data import files as data  # noqa: E402
from blurscope.device import pick  # noqa: E402
from blurscope.frequency import corruptions  # noqa: E402
from blurscope.models.network import load_model_id  # noqa: E402

model_id = smk.wildcards.model
alias_cfg, freq_cfg = smk.params.aliasing_cfg, smk.params.frequency_cfg
arrays = data.load_images_npz(smk.input.images)
model, meta = load_model_id(smk.input.model, model_id)  # on the CPU; each part moves it to its device

# ---- part 1: AVR / SIS
dev = pick(alias_cfg["device"])
table, info = deployed.aliasing_part(model.to(dev), meta, model_id, arrays, alias_cfg, dev, smk.input.images)
io.write_tsv(table, smk.output.table)
io.write_json(info, smk.output.info)

# ---- part 2: frequency preference, shape bias, corruptions
log = runlog.start(smk.log.frequency, smk.threads)
dev = pick(freq_cfg["device"])
names, severities = list(freq_cfg["corruptions"]), [int(s) for s in freq_cfg["severities"]]
sets = {name: corruptions.load_corruption_set(p, name, severities) for name, p in zip(names, smk.input.corrupted)}
shape = hasattr(smk.output, "shape_bias")
res = deployed.frequency_part(
    model.to(dev), meta, model_id, arrays, sets, freq_cfg, dev,
    cue_conflict=data.load_images_npz(smk.input.cue_conflict) if shape else None,
    reference_hits=corruptions.load_hits(smk.input.mce_reference) if smk.input.mce_reference else None,
    sources={"images": smk.input.images, "cue_conflict": smk.input.get("cue_conflict", ""),
             "mce_reference": str(smk.input.mce_reference)},
)
c = res.corruption
io.write_tsv(c.table, smk.output.corruption)
io.write_tsv(c.ce, smk.output.ce)
corruptions.write_hits(smk.output.hits, c.conditions, c.hits, c.ids)
if res.shape_bias is not None:
    io.write_tsv(res.shape_bias, smk.output.shape_bias)
io.save_npz(smk.output.units, **res.units)
io.write_tsv(res.curves, smk.output.curves)
io.write_tsv(res.spectrum, smk.output.spectrum)
io.write_tsv(res.preference, smk.output.preference)
log.info("done")
