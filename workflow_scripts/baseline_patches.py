"""Rule baseline_patches: random patches of each layer's patch size from the analysis images (one job).

Input: ``images`` (results/data/analysis_images.npz), ``reference`` (a model's patch
file per layer, read only for its patch size). Outputs, one per layer: ``results/baseline/<layer>.npz``
with ``patches`` uint8 [n_images, per_image, P, P, 3], ``image_ids`` int64 [n_images]
(manifest ids), ``image_index`` int64 [n_images] (rows of analysis_images.npz),
``positions`` int64 [n_images, per_image, 2] (top, left).
Params: ``cfg`` = config ``baseline`` (n_patches, n_images, seed).
"""

import zipfile

import numpy as np

from blurscope import io, runlog
from blurscope.data.files import load_images_npz
from blurscope.spectra.spectrum import random_patches

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg


def patch_size_of(path: str) -> int:
    """Side P of ``patches`` [n, k, P, P, 3] in an .npz, read from the .npy header only."""
    with zipfile.ZipFile(path) as zf, zf.open("patches.npy") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, _ = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, _ = np.lib.format.read_array_header_2_0(fh)
    if len(shape) != 5 or shape[2] != shape[3] or shape[4] != 3:
        raise ValueError(f"{path}: 'patches' must be [n_neurons, n_top, P, P, 3], got shape {shape}")
    return int(shape[2])


n_patches, n_images = int(cfg["n_patches"]), int(cfg["n_images"])
if n_patches % n_images:
    raise ValueError(f"config baseline.n_patches={n_patches} must be a multiple of baseline.n_images={n_images}")
data = load_images_npz(smk.input.images)
images = data["images"]
if n_images > images.shape[0]:
    raise ValueError(
        f"config baseline.n_images={n_images} but {smk.input.images} holds only {images.shape[0]} images"
    )
for reference, out in zip(smk.input.reference, smk.output):
    size = patch_size_of(reference)
    patches, index, positions = random_patches(images, size, n_images, n_patches // n_images, int(cfg["seed"]))
    ids = np.asarray(data["ids"], dtype=np.int64)[index] if "ids" in data else index
    io.save_npz(out, patches=patches, image_ids=ids, image_index=index, positions=positions)
    log.info("%s: %d baseline patches of %d px from %d images (%d per image)", out,
             patches.shape[0] * patches.shape[1], size, n_images, patches.shape[1])
