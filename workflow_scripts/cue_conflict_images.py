"""Rule cue_conflict_images: the cue-conflict split (shape of one class, texture of another)."""

from blurscope import runlog
from blurscope.data import analysis_subset, read_manifest, write_images_npz
from blurscope.io import read_json

sm = snakemake  # noqa: F821
log = runlog.start(sm.log[0], sm.threads)
root = read_json(sm.input.classes)["root"]
manifest = read_manifest(sm.input.manifest)
arrays = analysis_subset(manifest, root, "cue_conflict", len(manifest), sm.params.image_size, 0)
if "shape_labels" not in arrays:
    raise ValueError(f"{sm.input.manifest}: cue_conflict rows lack shape_label/texture_label")
log.info("cue-conflict images: %d", len(arrays["labels"]))
write_images_npz(sm.output[0], arrays)
