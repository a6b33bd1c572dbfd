"""Rule corrupted_images: one corruption type at every configured severity, shared by all models."""

from blurscope import runlog

log = runlog.start(snakemake.log[0], snakemake.threads)  # noqa: F821

import time  # noqa: E402

from blurscope import corruptions, data  # noqa: E402

cfg = snakemake.params.cfg  # noqa: F821
name = snakemake.wildcards.corruption  # noqa: F821
severities = [int(s) for s in cfg["severities"]]
arrays = data.load_images_npz(snakemake.input.images)  # noqa: F821
available, asked = len(arrays["labels"]), int(cfg["corruption_n_images"])
n = available if asked == 0 else min(asked, available)
if asked > available:
    log.warning("frequency.corruption_n_images=%d but the analysis set has %d images: using %d", asked, available, n)
images = arrays["images"][:n]
log.info("%s: %d analysis images (frequency.corruption_n_images=%d) x severities %s at %dx%d px, seed %d", name, n,
         asked, severities, images.shape[1], images.shape[2], int(cfg["seed"]))
t0 = time.perf_counter()
sets = corruptions.corruption_set(images, name, severities, int(cfg["seed"]))
dt = time.perf_counter() - t0
log.info("%d corrupted images in %.1f s (%.2f ms each)", sets.shape[0] * sets.shape[1], dt,
         1000 * dt / max(1, sets.shape[0] * sets.shape[1]))
corruptions.write_corruption_set(snakemake.output[0], name, sets, severities, arrays["ids"][:n])  # noqa: F821
