"""Rule analysis_images: the shared, seeded image subset every analysis reads."""

from blurscope import runlog
from blurscope.data import analysis_subset, read_manifest, write_images_npz
from blurscope.io import read_json

sm = snakemake  # noqa: F821
log = runlog.start(sm.log[0], sm.threads)
a = sm.params.analysis
root = read_json(sm.input.classes)["root"]
manifest = read_manifest(sm.input.manifest)
arrays = analysis_subset(manifest, root, a["split"], a["n_images"], sm.params.image_size, a["seed"])
n = len(arrays["labels"])
if n < a["n_images"]:
    log.warning("split %r has only %d images; analysis.n_images=%d", a["split"], n, a["n_images"])
log.info("analysis images: %d from split %r at %d px", n, a["split"], sm.params.image_size)
write_images_npz(sm.output[0], arrays)
