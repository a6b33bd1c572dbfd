"""Rule corrupted_images: every configured corruption type at every severity, made once from the
analysis images and shared by all models (one ``.npz`` per type, in config order)."""

from blurscope import runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)

import time  # noqa: E402

from blurscope.data import files as data  # noqa: E402
from blurscope.frequency import corruptions  # noqa: E402

cfg = smk.params.cfg
names = list(cfg["corruptions"])
severities = [int(s) for s in cfg["severities"]]
arrays = data.load_images_npz(smk.input.images)
available, asked = len(arrays["labels"]), int(cfg["corruption_n_images"])
n = available if asked == 0 else min(asked, available)
if asked > available:
    log.warning("frequency.corruption_n_images=%d but the analysis set has %d images: using %d", asked, available, n)
images = arrays["images"][:n]
log.info("%d analysis images (frequency.corruption_n_images=%d) x %d corruptions x severities %s at %dx%d px, "
         "seed %d", n, asked, len(names), severities, images.shape[1], images.shape[2], int(cfg["seed"]))
total = time.perf_counter()
for name, path in zip(names, smk.output):
    t0 = time.perf_counter()
    sets = corruptions.corruption_set(images, name, severities, int(cfg["seed"]))
    dt = time.perf_counter() - t0
    corruptions.write_corruption_set(path, name, sets, severities, arrays["ids"][:n])
    log.info("%-18s %d images in %.1f s (%.2f ms each)", name, sets.shape[0] * sets.shape[1], dt,
             1000 * dt / max(1, sets.shape[0] * sets.shape[1]))
log.info("all corrupted sets in %.1f s", time.perf_counter() - total)
