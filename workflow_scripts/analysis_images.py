"""Rule analysis_images: the shared, seeded image subset every analysis reads."""

from blurscope import runlog
from blurscope.data.files import analysis_subset, read_manifest, write_images_npz
from blurscope.io import read_json

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
a = smk.params.analysis
root = read_json(smk.input.classes)["root"]
manifest = read_manifest(smk.input.manifest)
arrays = analysis_subset(manifest, root, a["split"], a["n_images"], smk.params.image_size, a["seed"],
                         crop_ratio=smk.params.crop_ratio)
n = len(arrays["labels"])
if n < a["n_images"]:
    log.warning("split %r has only %d images; analysis.n_images=%d", a["split"], n, a["n_images"])
log.info("analysis images: %d from split %r at %d px (crop ratio %g)", n, a["split"], smk.params.image_size,
         smk.params.crop_ratio)
write_images_npz(smk.output[0], arrays)
