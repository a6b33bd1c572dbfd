"""Rule import_checkpoint[model]: a model trained elsewhere, in blurscope's own format.

Loads the checkpoint of ``model.checkpoints`` (strictly), puts the model's σ blur and
ImageNet normalisation in front of it and writes ``models/<id>.safetensors`` + ``.json``
like a training job, with ``origin: checkpoint`` and the file's path and SHA-256 in the
meta (the report and pipeline_info name them). No training happens.
"""

import platform

from blurscope import runlog
from blurscope.blur import sigma_to_px
from blurscope.io import read_json
from blurscope.models.checkpoints import describe, import_checkpoint, provenance
from blurscope.models.network import save_model

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
p = smk.params

import torch  # noqa: E402  (after runlog set the thread count)

model_id = smk.wildcards.model
classes = read_json(smk.input.classes)
num_classes = len(classes["class_names"])
arch_kwargs = {"widths": list(p.model["widths"])} if p.model["arch"] == "resnet_narrow" else {}
sigma_px = sigma_to_px(p.sigma, p.image_size)
info = describe(p.path, cache=None)  # hashed here too: the meta records the bytes this job read
log.info("%s: importing checkpoint %s (%s, %d bytes, sha256 %s)", model_id, info.path, info.format, info.size,
         info.sha256)
model, _ = import_checkpoint(info.path, p.model["arch"], num_classes, p.antialiased, arch_kwargs, sigma_px)
n_params = sum(t.numel() for t in model.backbone.parameters())
log.info("%s: %s backbone (%d classes%s, %.1f M parameters) loaded strictly; blur sigma %g (%.3f px at %d px)",
         model_id, p.model["arch"], num_classes, ", BlurPool" if p.antialiased else "", n_params / 1e6, p.sigma,
         sigma_px, p.image_size)
meta = {
    "model_id": model_id, "arch": p.model["arch"], "arch_kwargs": arch_kwargs, "antialiased": bool(p.antialiased),
    "sigma": float(p.sigma), "sigma_px": sigma_px, "image_size": p.image_size, "num_classes": num_classes,
    "class_names": classes["class_names"], "mean": list(model.normalize.mean.flatten().tolist()),
    "std": list(model.normalize.std.flatten().tolist()), "role": "checkpoint", "origin": "checkpoint",
    "checkpoint": provenance(info), "parent": None, "seed": None, "settings": {}, "metrics": {},
    "runtime": {"threads": torch.get_num_threads(), "torch": torch.__version__, "device": "cpu",
                "cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
}
save_model(model, smk.output.weights, meta)
log.info("%s: wrote %s (trained elsewhere; analysed like a model trained here)", model_id, smk.output.weights)
