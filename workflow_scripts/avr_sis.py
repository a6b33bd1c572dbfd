"""Rule deployed, part 1 (workflow_scripts/deployed.py): per-image AVR at every stride point and
SIS/consistency for one model.

Inputs: ``model`` (.safetensors, with its .json meta), ``images`` (analysis_images.npz).
Outputs: ``table`` (TSV, one row per image × stride point), ``info`` (JSON: stride
points, standard↔BlurPool matching for antialiased models, timing).
Params: ``cfg`` = config["aliasing"].
"""

from blurscope import aliasing, runlog
from blurscope.blur import sigma_to_px
from blurscope.data import load_images_npz
from blurscope.device import pick
from blurscope.io import write_json, write_tsv
from blurscope.models import load_model, model_from_meta
from blurscope.stride_points import discover_stride_points, match_points

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
cfg = smk.params.cfg
model_id = smk.wildcards.model

data = load_images_npz(smk.input.images)
n_avail = len(data["images"])
n = int(cfg["n_images"]) or n_avail
if n > n_avail:
    raise ValueError(f"aliasing.n_images = {n} but {smk.input.images} holds only {n_avail} images "
                     "(raise analysis.n_images or lower aliasing.n_images; 0 = all)")
images = data["images"][:n]  # uint8 [N, H, W, 3]; converted to float one batch at a time
labels = data["labels"][:n] if "labels" in data else None
ids = data["ids"][:n] if "ids" in data else None

device = pick(cfg["device"])
# a filter-only reference (ref-sigma<s>) is the sigma 0 network behind the blur of sigma s
ref = smk.params.reference_blur
ref_px = None if ref is None else sigma_to_px(ref, images.shape[1])
model, meta = load_model(smk.input.model, device, blur_sigma_px=ref_px)
if ref_px is not None:
    meta = {**meta, "model_id": model_id, "sigma": float(ref), "sigma_px": ref_px, "reference_of": meta["model_id"]}
chunks = int(cfg["forward_chunks"]) or (1 if device.type == "cuda" else 5)
if images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
    raise ValueError(f"{smk.input.images}: expected square RGB images [N, H, W, 3], got {images.shape}")
size = images.shape[1]
points = discover_stride_points(model, size)
if not points:
    raise ValueError(f"model {model_id} ({meta.get('arch')}) has no stride>1 conv/pool/BlurPool layer")
info: dict = {"model": model_id, "arch": meta.get("arch"), "sigma": meta.get("sigma"), "forward_chunks": chunks,
              "antialiased": bool(meta.get("antialiased", False)), "n_images": n, "image_size": size,
              "device": str(device), "points": [p.__dict__ for p in points],
              "avr_remove_mean": bool(cfg["remove_mean"]), "reference_blur_sigma": smk.params.reference_blur}
names = {p.name: p.name for p in points}
if info["antialiased"]:
    twin = model_from_meta({**meta, "antialiased": False}).eval()  # untrained: only its graph is used
    table = match_points(discover_stride_points(twin, size), points)
    names = dict(zip(table["blurpool"], table["point"]))
    info["matching"] = table.to_dict(orient="records")
    log.info("standard ↔ BlurPool matching:\n%s", table[["standard", "blurpool", "blurpool_op", "rule"]].to_string())
log.info("model %s: %d stride points: %s", model_id, len(points), ", ".join(f"{p.name}({p.op})" for p in points))

progress = runlog.Progress(log, n, "images")
df, timing = aliasing.analyse_images(model, images, points, int(cfg["batch_size"]), labels=labels, image_ids=ids,
                                     point_names=names, device=device, progress=progress.update, chunks=chunks,
                                     remove_mean=bool(cfg["remove_mean"]))
df.insert(0, "model", model_id)
info["timing"] = timing  # wall clock of this job; like-for-like ratios: rule aliasing_timing
log.info("%s: mean SIS %.4g, consistency %.3f, %.1f images/s (AVR + SIS)", model_id,
         df.drop_duplicates("image")["sis"].mean(), df.drop_duplicates("image")["consistency"].mean(),
         timing["images_per_s"])
write_tsv(df, smk.output.table)
write_json(info, smk.output.info)
