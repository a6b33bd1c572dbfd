"""Rule crop_patches[model, layer]: the top n_show patches per neuron (raw uint8) with
method patches.method -> results/patches/{model}/{layer}.npz + .tsv (docs/features.md)."""

from blurscope import runlog

log = runlog.start(snakemake.log[0], snakemake.threads)  # noqa: F821

import numpy as np  # noqa: E402

from blurscope.data import load_images_npz  # noqa: E402
from blurscope.device import pick  # noqa: E402
from blurscope.io import save_npz, write_tsv  # noqa: E402
from blurscope.models import load_model  # noqa: E402
from blurscope.patches import make_patches, patch_arrays, patch_table, vital_geometry  # noqa: E402
from blurscope.receptive_field import receptive_field  # noqa: E402
from blurscope.topk import load_topk  # noqa: E402

pcfg = snakemake.params.cfg  # noqa: F821  (config section "patches")
tcfg = snakemake.params.topk  # noqa: F821  (config section "topk")
layer = snakemake.wildcards.layer  # noqa: F821
model_id = snakemake.wildcards.model  # noqa: F821
device = pick(tcfg["device"])
model, meta = load_model(snakemake.input.model, device, own_blur=snakemake.params.own_blur)  # noqa: F821
images = load_images_npz(snakemake.input.images)  # noqa: F821
with np.load(snakemake.input.activations) as z:  # noqa: F821
    topk = load_topk(z, layer, snakemake.input.activations)  # noqa: F821
    ids = images["ids"]
    if int(z["image_size"]) != images["images"].shape[1]:
        raise ValueError(f"{snakemake.input.activations} was computed at {int(z['image_size'])} px but "  # noqa: F821
                         f"{snakemake.input.images} holds {images['images'].shape[1]} px images")  # noqa: F821
imgs = images["images"]
size = imgs.shape[1]
method = pcfg["method"]
rf = receptive_field(model, layer, size)
extra = {
    "rf_size": np.asarray(rf.size, dtype=np.int64),
    "rf_jump": np.asarray([rf.affine_y.jump if rf.affine_y else 0, rf.affine_x.jump if rf.affine_x else 0]),
    "rf_start": np.asarray([rf.affine_y.start if rf.affine_y else 0, rf.affine_x.start if rf.affine_x else 0]),
    "layer": np.array(layer), "model": np.array(model_id), "image_size": np.array(size, dtype=np.int64),
}
log.info("layer %s: map %dx%d, theoretical receptive field %dx%d px (jump %s), images %d px",
         layer, *rf.fmap_hw, *rf.size, extra["rf_jump"].tolist(), size)
if method == "vital":
    window, starts = vital_geometry(size, float(pcfg["window_224"]), float(pcfg["stride_fraction"]))
    extra.update(window=np.array(window), window_starts=starts)
    total = len(np.unique(topk.image_index)) * len(starts) ** 2
    progress = runlog.Progress(log, total, "windows")
else:
    progress = None
ps = make_patches(method, model, imgs, topk, layer, int(tcfg["n_show"]), window_224=float(pcfg["window_224"]),
                  stride_fraction=float(pcfg["stride_fraction"]), rf=rf, rf_fill=pcfg["rf_fill"],
                  batch_size=int(pcfg["batch_size"]), device=device,
                  progress=progress.update if progress else None)
table = patch_table(ps, ids, model_id, layer)
log.info("%s: %d neurons x %d patches of %dx%d px; %d clipped", method, *ps.patches.shape[:4],
         int(table["clipped"].sum()))
save_npz(snakemake.output.npz, **patch_arrays(ps, ids), **extra)  # noqa: F821
write_tsv(table, snakemake.output.tsv)  # noqa: F821
