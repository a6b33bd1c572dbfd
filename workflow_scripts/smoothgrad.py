"""Rule smoothgrad: SmoothGrad maps, focus sets and per-image focus distances (Sun, Chen & Hu).

Naive = σ=0 model, expert = ``sigma<saliency.expert_sigma>``; each sees the
first ``saliency.n_images`` analysis images clear and blurred at the expert's
training σ (px), through its backbone without its own blur layer
(:func:`blurscope.saliency.smoothgrad.without_blur`). Two independent noise seeds per
(model, input) give the noise floor. See docs/saliency.md.
"""

import numpy as np
import pandas as pd
import torch

from blurscope import io, runlog
from blurscope.blur import gaussian_blur
from blurscope.data.files import load_images_npz, to_float
from blurscope.device import pick
from blurscope.models.network import load_model
from blurscope.saliency import smoothgrad as S

REQUIRED = (
    "n_images", "n_samples", "noise_level", "top_k_pixels", "seeds", "batch_size", "device",
    "activation_layers", "n_activation_images", "activation_channels", "n_figure_images",
)


def main(smk) -> None:  # noqa: ANN001 - the snakemake object
    log = runlog.start(smk.log[0], smk.threads)
    cfg = smk.params.cfg
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise KeyError(f"config saliency lacks keys {missing}")
    device = pick(cfg["device"])
    seeds = [int(s) for s in cfg["seeds"]]
    if len(seeds) != 2 or seeds[0] == seeds[1]:
        raise ValueError(f"saliency.seeds must be two different integers (two independent noise draws), got {seeds}")
    k, n_samples, level = int(cfg["top_k_pixels"]), int(cfg["n_samples"]), float(cfg["noise_level"])

    models, metas = {}, {}
    for role, path in (("naive", smk.input.naive), ("expert", smk.input.expert)):
        models[role], metas[role] = load_model(path, device)
    if float(metas["naive"]["sigma"]) != 0.0:
        raise ValueError(f"naive model {smk.input.naive} has sigma {metas['naive']['sigma']}, expected 0")
    sigma_px = float(metas["expert"]["sigma_px"])
    if sigma_px <= 0:
        raise ValueError(f"expert model {smk.input.expert} has sigma_px {sigma_px}; it must be blur-trained (> 0)")
    size = int(metas["expert"]["image_size"])

    data = load_images_npz(smk.input.images)
    images = data["images"]
    n = int(cfg["n_images"])
    if n > len(images):
        raise ValueError(f"saliency.n_images = {n} but {smk.input.images} holds only {len(images)} images "
                         f"(raise analysis.n_images or lower saliency.n_images)")
    if images.shape[1:3] != (size, size):
        raise ValueError(f"{smk.input.images}: images are {images.shape[1]}x{images.shape[2]} px, "
                         f"the models were trained at {size} px")
    labels = np.asarray(data["labels"][:n], dtype=np.int64)
    ids = np.asarray(data["ids"][:n], dtype=np.int64)
    clear = to_float(images[:n]).to(device)
    inputs = {"clear": clear, "blurred": gaussian_blur(clear, sigma_px)}
    targets = torch.as_tensor(labels, device=device)
    log.info("naive %s, expert %s (sigma_px %.4g); %d images, n_samples %d, noise %.3g, seeds %s, device %s",
             metas["naive"]["model_id"], metas["expert"]["model_id"], sigma_px, n, n_samples, level, seeds, device)

    h = w = size
    maps = np.zeros((2, 2, 2, n, h, w), dtype=np.float32)
    focus = np.zeros((2, 2, 2, n, k, 2), dtype=np.int16)
    preds = np.zeros((2, 2, n), dtype=np.int64)
    progress = runlog.Progress(log, total=8 * n, unit="maps")
    forwards = {role: S.without_blur(models[role]) for role in S.ROLES}
    for r, role in enumerate(S.ROLES):
        for c, cond in enumerate(S.CONDITIONS):
            with torch.inference_mode():
                preds[r, c] = torch.cat([forwards[role](inputs[cond][i : i + 64]).argmax(1)
                                         for i in range(0, n, 64)]).cpu().numpy()
            for slot, seed in enumerate(seeds):
                grad = S.smoothgrad(forwards[role], inputs[cond], targets, n_samples, level, seed,
                                    batch_size=int(cfg["batch_size"]))
                m = S.saliency_map(grad).cpu().numpy()
                maps[r, c, slot] = m
                focus[r, c, slot] = S.top_k_pixels(m, k)
                progress.update(n)
            log.info("%s on %s: accuracy %.3f", role, cond, float((preds[r, c] == labels).mean()))

    focus_sets = {(role, cond, s): focus[r, c, s].astype(np.int64)
                  for r, role in enumerate(S.ROLES) for c, cond in enumerate(S.CONDITIONS) for s in (0, 1)}
    per_image = S.focus_comparisons(focus_sets, np.arange(n), ids, labels)
    predictions = pd.DataFrame([
        {"image_index": i, "image_id": ids[i], "label": labels[i], "role": role,
         "model_id": metas[role]["model_id"], "condition": cond, "predicted": preds[r, c, i],
         "correct": bool(preds[r, c, i] == labels[i])}
        for r, role in enumerate(S.ROLES) for c, cond in enumerate(S.CONDITIONS) for i in range(n)
    ])

    # activation maps for a few images
    a = min(int(cfg["n_activation_images"]), n)
    layers = list(cfg["activation_layers"])
    n_ch = int(cfg["activation_channels"])
    acts = {}
    for r, role in enumerate(S.ROLES):
        for c, cond in enumerate(S.CONDITIONS):
            acts[(r, c)] = S.activation_maps(forwards[role], inputs[cond][:a], layers)
    act_arrays: dict[str, np.ndarray] = {"layers": np.array(layers)}
    for li, layer in enumerate(layers):
        stack = np.stack([np.stack([acts[(r, c)][layer] for c in range(2)]) for r in range(2)])  # [2,2,A,C,h,w]
        # channels: the most active ones (mean over images and space) of the naive model on clear inputs
        chosen = np.argsort(-stack[0, 0].mean(axis=(0, 2, 3)), kind="stable")[: min(n_ch, stack.shape[3])]
        act_arrays[f"mean_{li}"] = stack.mean(axis=3).astype(np.float32)
        act_arrays[f"channels_{li}"] = stack[:, :, :, chosen].astype(np.float32)
        act_arrays[f"channel_index_{li}"] = chosen.astype(np.int64)

    to_hwc = lambda t: t.permute(0, 2, 3, 1).cpu().numpy().astype(np.float32)  # noqa: E731
    f = min(int(cfg["n_figure_images"]), n)
    model_ids = np.array([metas["naive"]["model_id"], metas["expert"]["model_id"]])
    io.save_npz(
        smk.output.maps, maps=maps, focus=focus, predictions=preds, labels=labels, ids=ids,
        roles=np.array(S.ROLES), conditions=np.array(S.CONDITIONS), seeds=np.array(seeds),
        model_ids=model_ids, sigma_px=np.float64(sigma_px),
        figure_clear=to_hwc(inputs["clear"][:f]), figure_blurred=to_hwc(inputs["blurred"][:f]),
    )
    io.save_npz(smk.output.activations, clear=to_hwc(inputs["clear"][:a]), blurred=to_hwc(inputs["blurred"][:a]),
                model_ids=model_ids, **act_arrays)
    io.write_tsv(per_image, smk.output.per_image)
    io.write_tsv(predictions, smk.output.predictions)
    log.info("done: %s", ", ".join(str(p) for p in smk.output))


if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    main(smk)
