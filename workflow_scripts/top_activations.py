"""Rule top_activations[model]: one streaming forward pass, top-k images of the sampled
neurons of every configured layer -> results/activations/{model}.npz (docs/features.md)."""

from blurscope import runlog

log = runlog.start(snakemake.log[0], snakemake.threads)  # noqa: F821

import numpy as np  # noqa: E402

from blurscope.data import load_images_npz  # noqa: E402
from blurscope.device import pick  # noqa: E402
from blurscope.io import save_npz  # noqa: E402
from blurscope.models import load_model  # noqa: E402
from blurscope.topk import extract_topk, topk_arrays  # noqa: E402

cfg = snakemake.params.cfg  # noqa: F821  (config section "topk")
layers = list(snakemake.params.layers)  # noqa: F821
model_id = snakemake.wildcards.model  # noqa: F821
device = pick(cfg["device"])
model, meta = load_model(snakemake.input.model, device, own_blur=snakemake.params.own_blur)  # noqa: F821
data = load_images_npz(snakemake.input.images)  # noqa: F821
images = data["images"]
if "ids" not in data:
    raise ValueError(f"{snakemake.input.images}: missing 'ids' (manifest rows of the analysis images)")  # noqa: F821
size = int(meta.get("image_size", images.shape[1]))
if images.shape[1:3] != (size, size):
    raise ValueError(
        f"{snakemake.input.images}: images are {images.shape[1]}x{images.shape[2]} px but model "  # noqa: F821
        f"{model_id} was trained at {size} px"
    )
log.info("model %s (%s, sigma_px=%.3g) on %s; %d images %s; layers %s; k=%d, %d neurons/layer, batch %d",
         model_id, meta.get("arch"), float(meta.get("sigma_px", 0.0)), device, len(images),
         images.shape[1:3], ", ".join(layers), cfg["k"], cfg["neurons_per_layer"], cfg["batch_size"])
progress = runlog.Progress(log, len(images), "images")
results = extract_topk(model, images, layers, k=int(cfg["k"]), neurons_per_layer=int(cfg["neurons_per_layer"]),
                       batch_size=int(cfg["batch_size"]), device=device, progress=progress.update)
arrays = topk_arrays(results, data["ids"])
arrays.update(model=np.array(model_id), image_size=np.array(size, dtype=np.int64), k=np.array(int(cfg["k"])))
for name, r in results.items():
    log.info("%s: %d channels, map %dx%d, %d neurons sampled, top-1 activation median %.4g, k-th %.4g",
             name, r.n_channels, *r.fmap_hw, len(r.neurons), float(np.median(r.values[:, 0])),
             float(np.median(r.values[:, -1])))
save_npz(snakemake.output[0], **arrays)  # noqa: F821
log.info("wrote %s", snakemake.output[0])  # noqa: F821
