"""Rule aliasing_timing: bare-forward and AVR+SIS time of the standard and BlurPool models.

Both models are timed on the same images, interleaved (``repeats`` rounds), so
the BlurPool inference overhead is a like-for-like ratio.
Inputs: ``models`` (.safetensors), ``images``. Output: ``table`` TSV.
Params: ``cfg`` = config["aliasing"], ``models`` (ids).
"""

import time

import numpy as np
import pandas as pd
import torch

from blurscope import runlog
from blurscope.aliasing import measure as aliasing
from blurscope.aliasing.stride_points import discover_stride_points
from blurscope.data.files import load_images_npz, to_float
from blurscope.device import pick
from blurscope.io import write_tsv
from blurscope.models.network import load_model

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
device = pick(cfg["device"])
bs = int(cfg["batch_size"])
chunks = int(cfg["forward_chunks"]) or (1 if device.type == "cuda" else 5)
n = min(int(cfg["timing_images"]), len(load_images_npz(smk.input.images)["images"]))
images = to_float(load_images_npz(smk.input.images)["images"][:n]).to(device)
models = {m: load_model(p, device)[0] for m, p in zip(smk.params.models, smk.input.models)}
points = {m: discover_stride_points(model, images.shape[-1]) for m, model in models.items()}
kernels = {
    m: aliasing.AvrKernel(aliasing.REGIONS, remove_mean=bool(cfg["remove_mean"])) for m in models
}  # masks cached, as in analyse_images


def sync() -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward(m: str) -> None:
    with torch.inference_mode():
        for s in range(0, n, bs):
            models[m](images[s : s + bs])
    sync()


def avr_sis(m: str) -> None:
    for s in range(0, n, bs):
        aliasing.shift_metrics(models[m], images[s : s + bs], points[m], kernel=kernels[m], chunks=chunks)
    sync()


times: dict[tuple[str, str], list[float]] = {(m, k): [] for m in models for k in ("forward", "avr_sis")}
cpu: dict[tuple[str, str], list[float]] = {(m, k): [] for m in models for k in ("forward", "avr_sis")}
for m in models:  # warm-up
    forward(m)
    avr_sis(m)
for _ in range(int(cfg["timing_repeats"])):
    for m in models:
        for k, fn in (("forward", forward), ("avr_sis", avr_sis)):
            t0, c0 = time.perf_counter(), time.process_time()
            fn(m)
            cpu[(m, k)].append(time.process_time() - c0)
            times[(m, k)].append(time.perf_counter() - t0)
rows = []
ref = smk.params.models[0]
fwd_ref = float(np.median(times[(ref, "forward")]))
fwd_ref_cpu = float(np.median(cpu[(ref, "forward")]))
for m in models:
    f = float(np.median(times[(m, "forward")]))
    a = float(np.median(times[(m, "avr_sis")]))
    fc = float(np.median(cpu[(m, "forward")]))
    ac = float(np.median(cpu[(m, "avr_sis")]))
    rows.append(
        {
            "model": m,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "n_images": n,
            "batch_size": bs,
            "forward_chunks": chunks,
            "repeats": int(cfg["timing_repeats"]),
            "forward_ms_per_image": 1000 * f / n,
            "avr_sis_ms_per_image": 1000 * a / n,
            "avr_sis_images_per_s": n / a,
            "ratio_avr_sis_to_forward": a / f,
            "forward_ratio_to_reference": f / fwd_ref,
            "forward_cpu_ms_per_image": 1000 * fc / n,
            "avr_sis_cpu_ms_per_image": 1000 * ac / n,
            "ratio_avr_sis_to_forward_cpu": ac / fc,
            "forward_ratio_to_reference_cpu": fc / fwd_ref_cpu,
            "reference": ref,
        }
    )
    log.info("%s: forward %.3f ms/img, AVR+SIS %.3f ms/img (%.2f×), vs %s %.3f×", m, 1000 * f / n, 1000 * a / n,
             a / f, ref, f / fwd_ref)
write_tsv(pd.DataFrame(rows), smk.output.table)
