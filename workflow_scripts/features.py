"""Rule features[model]: one streaming forward pass for the top-k images of the sampled neurons of
every analysed layer -> results/activations/{model}.npz, then the top n_show patches per neuron
(raw uint8; patches.method) of each layer -> results/patches/{model}/{layer}.npz + .tsv
(docs/features.md). One job per model: the model and the images are loaded once for all layers.

Input condition (analysis.own_blur): false (default) feeds the clear images to the network
without its training blur; true keeps the blur layer; a filter-only reference (ref-sigma<s>)
is the sigma 0 network behind the blur of sigma s.
"""

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)

import numpy as np  # noqa: E402

from blurscope.data.files import load_images_npz  # noqa: E402
from blurscope.device import pick  # noqa: E402
from blurscope.features.patches import make_patches, patch_arrays, patch_table, vital_geometry  # noqa: E402
from blurscope.features.receptive_field import receptive_field  # noqa: E402
from blurscope.features.topk import extract_topk, topk_arrays  # noqa: E402
from blurscope.io import save_npz, write_tsv  # noqa: E402
from blurscope.models.network import load_model_id  # noqa: E402

p = smk.params
tcfg, pcfg = p.topk, p.patches
layers = list(p.layers)
model_id = smk.wildcards.model
device = pick(tcfg["device"])
data = load_images_npz(smk.input.images)
images = data["images"]
if "ids" not in data:
    raise ValueError(f"{smk.input.images}: missing 'ids' (manifest rows of the analysis images)")
ids = data["ids"]
size = images.shape[1]
model, meta = load_model_id(smk.input.model, model_id, device, own_blur=p.own_blur)
if int(meta.get("image_size", size)) != size or images.shape[1:3] != (size, size):
    raise ValueError(f"{smk.input.images}: images are {images.shape[1]}x{images.shape[2]} px but model "
                     f"{model_id} was trained at {meta.get('image_size')} px")
blur_px = float(model.blur.sigma_px) if hasattr(model, "blur") else 0.0
log.info("model %s (%s) on %s, input blur %.3g px (%s); %d images %s; layers %s; k=%d, %d neurons/layer",
         model_id, meta.get("arch"), device, blur_px,
         "reference" if "reference_of" in meta else ("own blur layer" if p.own_blur else "clear, network alone"),
         len(images), images.shape[1:3], ", ".join(layers), tcfg["k"], tcfg["neurons_per_layer"])

# --- top-k: one streaming pass, all layers ------------------------------------------
progress = runlog.Progress(log, len(images), "images")
results = extract_topk(model, images, layers, k=int(tcfg["k"]), neurons_per_layer=int(tcfg["neurons_per_layer"]),
                       batch_size=int(tcfg["batch_size"]), device=device, progress=progress.update)
arrays = topk_arrays(results, ids)
arrays.update(model=np.array(model_id), image_size=np.array(size, dtype=np.int64), k=np.array(int(tcfg["k"])),
              input_blur_px=np.float64(blur_px))
for name, r in results.items():
    log.info("%s: %d channels, map %dx%d, %d neurons sampled, top-1 activation median %.4g, k-th %.4g",
             name, r.n_channels, *r.fmap_hw, len(r.neurons), float(np.median(r.values[:, 0])),
             float(np.median(r.values[:, -1])))
save_npz(smk.output.activations, **arrays)

# --- patches of every layer ------------------------------------------------------------
method = pcfg["method"]
for layer, out_npz, out_tsv in zip(layers, smk.output.npz, smk.output.tsv):
    topk = results[layer]
    rf = receptive_field(model, layer, size)
    extra = {
        "rf_size": np.asarray(rf.size, dtype=np.int64),
        "rf_jump": np.asarray([rf.affine_y.jump if rf.affine_y else 0, rf.affine_x.jump if rf.affine_x else 0]),
        "rf_start": np.asarray([rf.affine_y.start if rf.affine_y else 0, rf.affine_x.start if rf.affine_x else 0]),
        "layer": np.array(layer), "model": np.array(model_id), "image_size": np.array(size, dtype=np.int64),
        "input_blur_px": np.float64(blur_px),
    }
    log.info("layer %s: map %dx%d, theoretical receptive field %dx%d px (jump %s)", layer, *rf.fmap_hw, *rf.size,
             extra["rf_jump"].tolist())
    progress = None
    if method == "vital":
        window, starts = vital_geometry(size, float(pcfg["window_224"]), float(pcfg["stride_fraction"]))
        extra.update(window=np.array(window), window_starts=starts)
        progress = runlog.Progress(log, len(np.unique(topk.image_index)) * len(starts) ** 2, "windows")
    ps = make_patches(method, model, images, topk, layer, int(p.n_show), window_224=float(pcfg["window_224"]),
                      stride_fraction=float(pcfg["stride_fraction"]), rf=rf, rf_fill=pcfg["rf_fill"],
                      batch_size=int(pcfg["batch_size"]), device=device,
                      progress=progress.update if progress else None)
    table = patch_table(ps, ids, model_id, layer)
    log.info("%s %s: %d neurons x %d patches of %dx%d px; %d clipped", layer, method, *ps.patches.shape[:4],
             int(table["clipped"].sum()))
    save_npz(out_npz, **patch_arrays(ps, ids), **extra)
    write_tsv(table, out_tsv)
