"""Rule band_probe_images: the training images of the band-intervention MLP head.

``bands.mlp.n_train`` images of split ``bands.mlp.split`` (default ``train``:
the images the models themselves were trained on; the heads are evaluated on
the analysis images), first n of a permutation seeded with ``bands.seed``.
Analysis images are never used, whatever the split, so training and
evaluation images are disjoint (checked again by band_intervention).
"""

from blurscope import runlog
from blurscope.data.files import analysis_subset, load_images_npz, read_manifest, write_images_npz
from blurscope.io import read_json

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
mlp = cfg["mlp"]
root = read_json(smk.input.classes)["root"]
manifest = read_manifest(smk.input.manifest)
analysis_ids = load_images_npz(smk.input.analysis)["ids"]
# keep manifest row numbers (= ids): hide analysis rows instead of dropping them
manifest.loc[manifest.index.isin(analysis_ids), "split"] = "__analysis_images__"
if mlp["split"] not in set(manifest["split"]):
    raise ValueError(
        f"config key 'bands.mlp.split': split {mlp['split']!r} has no images left after removing the analysis images "
        f"(splits: {sorted(set(manifest['split']) - {'__analysis_images__'})})"
    )
arrays = analysis_subset(manifest, root, mlp["split"], mlp["n_train"], smk.params.image_size, cfg["seed"],
                         crop_ratio=smk.params.crop_ratio)  # the analysis images' transform
n = len(arrays["labels"])
if n < mlp["n_train"]:
    log.warning("split %r has only %d images for the MLP head; bands.mlp.n_train=%d", mlp["split"], n, mlp["n_train"])
log.info("MLP-head training images: %d from split %r at %d px", n, mlp["split"], smk.params.image_size)
write_images_npz(smk.output[0], arrays)
