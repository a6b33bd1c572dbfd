"""Rule cue_conflict_images: the cue-conflict split (shape of one class, texture of another)."""

from blurscope import runlog
from blurscope.data.files import analysis_subset, read_manifest, write_images_npz
from blurscope.io import read_json

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
root = read_json(smk.input.classes)["root"]
manifest = read_manifest(smk.input.manifest)
# crop ratio 1 whatever dataset.crop_ratio: the stimuli are whole images (Geirhos et al.'s are 224 px
# squares, used unresampled at 224), and a centre crop would cut the shape that the test is about
arrays = analysis_subset(manifest, root, "cue_conflict", len(manifest), smk.params.image_size, 0, crop_ratio=1.0)
if "shape_labels" not in arrays:
    raise ValueError(f"{smk.input.manifest}: cue_conflict rows lack shape_label/texture_label")
log.info("cue-conflict images: %d", len(arrays["labels"]))
write_images_npz(smk.output[0], arrays)
