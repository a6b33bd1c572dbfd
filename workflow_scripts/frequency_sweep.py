"""Rule frequency_sweep: AVR of periodic sinusoids, directly and at each network's stride points.

Inputs: ``models`` (the sweep models' .safetensors, named by model id).
Output: ``table`` TSV (``source`` = ``direct`` or a model id; one row per
source × layer × orientation × frequency). Params: ``cfg`` = config["aliasing"].
"""

import pandas as pd

from blurscope import runlog
from blurscope.aliasing import measure as aliasing
from blurscope.aliasing.stride_points import discover_stride_points, match_points
from blurscope.device import pick
from blurscope.io import write_tsv
from blurscope.models.network import load_model, model_from_meta

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
sw = cfg["sweep"]
device = pick(cfg["device"])
model_ids = list(smk.params.models)
paths = list(smk.input.models)

loaded = [(m, *load_model(p, device)) for m, p in zip(model_ids, paths)]
sizes = {meta["image_size"] for _, _, meta in loaded}
size = int(sw["size"]) or (sizes.pop() if len(sizes) == 1 else 0)
if not size:
    raise ValueError(
        f"aliasing.sweep.size = 0 needs one common model image size; the sweep models have {sorted(sizes)}"
    )
cycles = aliasing.sweep_cycles(size, float(sw["freq_min"]), float(sw["freq_max"]), int(sw["n_freqs"]))
orients = list(sw["orientations"])
log.info("sweep at %d px: cycles %s, orientations %s", size, cycles.tolist(), orients)

direct = aliasing.frequency_sweep_direct(size, cycles, orients, stride=2, remove_mean=bool(cfg["remove_mean"]))
direct.insert(0, "source", "direct")
direct["layer"] = direct["point"] = "input"
direct["order"] = -1
direct["stride"] = 2
frames = [direct]
for m, model, meta in loaded:
    points = discover_stride_points(model, size)
    names = None
    if meta.get("antialiased"):
        twin = model_from_meta({**meta, "antialiased": False}).eval()
        match = match_points(discover_stride_points(twin, size), points)
        names = dict(zip(match["blurpool"], match["point"]))
    df = aliasing.frequency_sweep_network(model, size, cycles, points, orients, float(sw["amplitude"]),
                                          int(cfg["batch_size"]), names, remove_mean=bool(cfg["remove_mean"]))
    df.insert(0, "source", m)
    frames.append(df)
    log.info("%s: %d stride points swept", m, len(points))
cols = ["source", "layer", "point", "order", "stride", "orientation", "cycles", "freq_axis", "freq_radial",
        "avr_radial", "avr_separable"]
write_tsv(pd.concat(frames, ignore_index=True)[cols], smk.output.table)
