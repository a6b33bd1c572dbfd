"""Benchmark: does the JPEG loader or the model limit ImageNet training? (issue 27, item 6)

Loader: images/s of one DataLoader worker (one process, one thread) decoding and
augmenting ImageNet-sized JPEGs -- scikit-image's sample photographs cut to
ImageNet's usual sizes (500x375, 375x500, 500x333, 500x500, ...; JPEG q90) and a
second set of large photos (shorter side 600-1400 px, as ImageNet's long tail):

* ``FileImages``: ``blurscope.training.train.FileImages`` in training mode (full decode,
  torchvision RandomResizedCrop + flip), the path training streams today;
* ``train_crop``: ``blurscope.data.files.train_crop`` (RandomResizedCrop scale 0.08-1 + flip)
  with a full decode and with JPEG draft mode (``dataset.jpeg_draft``);
* ``eval``: ``blurscope.data.files.read_image`` at 224 px, crop ratio 0.875 (resize 256).

Model: images/s of a ResNet-50 training step at 224 px (forward + backward + SGD
step, synthetic tensors) -- on this CPU a small batch and few steps; on a GPU,
bfloat16 autocast and channels-last (and the throughput of torchvision's GPU JPEG
decoder). Their ratio is the number of loader workers one model replica needs:
above the worker count the machine gives it, the loader limits training.

    .venv/bin/python tests/bench/bench_train.py [--images 48] [--batch 8] [--steps 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved  # noqa: E402

IMAGENET_SIZES = [(500, 375), (375, 500), (500, 333), (333, 500), (500, 500), (500, 400), (400, 300), (500, 357)]


def make_photos(out: Path, n: int, large: bool, seed: int) -> list[Path]:
    """``n`` JPEGs (q90) cut from scikit-image's colour photographs (crops resized down only)."""
    import numpy as np
    import skimage.data as sd
    from PIL import Image

    photos = [sd.astronaut(), sd.chelsea(), sd.coffee(), sd.rocket(), sd.hubble_deep_field(), sd.retina(),
              sd.immunohistochemistry(), *sd.stereo_motorcycle()[:2]]
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        im = Image.fromarray(photos[k % len(photos)][..., :3])
        if large:  # upsampled where the photo is smaller: the decode cost is what is measured
            short = int(rng.integers(600, 1401))
            w, h = (round(short * 4 / 3), short) if k % 2 else (short, round(short * 4 / 3))
        else:
            w, h = IMAGENET_SIZES[k % len(IMAGENET_SIZES)]
        s = max(w / im.width, h / im.height)
        cw, ch = min(im.width, round(w / s)), min(im.height, round(h / s))
        x0, y0 = int(rng.integers(0, im.width - cw + 1)), int(rng.integers(0, im.height - ch + 1))
        path = out / f"{k:03d}.JPEG"
        im.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.LANCZOS).save(path, quality=90)
        paths.append(path)
    return paths


def loader_rates(paths: list[Path], repeats: int) -> dict[str, float]:
    """Images/s of one worker (CPU time of this single-threaded process) for each decode path."""
    import numpy as np
    import torch

    from blurscope.data.files import read_image, train_crop
    from blurscope.training.train import FileImages

    torch.set_num_threads(1)
    root = paths[0].parent
    files = FileImages(root, [p.name for p in paths], np.zeros(len(paths), np.int64), 224, train=True)

    def over(fn):
        def run() -> None:
            torch.manual_seed(0)
            for i in range(len(paths)):
                fn(i)
        return run

    fns = {
        "FileImages (train)": over(lambda i: files[i]),
        "train_crop, full decode": over(lambda i: train_crop(paths[i], 224, np.random.default_rng(i), draft=False)),
        "train_crop, draft": over(lambda i: train_crop(paths[i], 224, np.random.default_rng(i), draft=True)),
        "eval 224/0.875, full decode": over(lambda i: read_image(paths[i], 224, crop_ratio=0.875)),
        "eval 224/0.875, draft": over(lambda i: read_image(paths[i], 224, crop_ratio=0.875, draft=True)),
    }
    return {k: len(paths) / cpu for k, (_, cpu) in interleaved(fns, repeats).items()}


def step_rate(batch: int, steps: int, device: str) -> tuple[float, str]:
    """Images/s of ResNet-50 training steps at 224 px on synthetic tensors; the precision used.

    On a GPU: wall time. On the CPU: images per CPU-second of this process, run single-threaded,
    i.e. per core (the machine is shared, and CPU time is what other processes do not inflate).
    """
    import torch
    import torch.nn.functional as F

    from blurscope.models.network import build_model

    torch.manual_seed(0)
    model = build_model("resnet50", 1000).to(device, memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    x = torch.rand(batch, 3, 224, 224, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    cuda = device.startswith("cuda")
    dtype = torch.bfloat16 if cuda else torch.float32

    def step() -> None:
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=cuda):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(1 if not cuda else 5):  # warm-up (oneDNN / cuDNN kernels, allocator)
        step()
    if cuda:
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
        return batch * steps / (time.perf_counter() - t0), "bfloat16 autocast"
    return batch * steps / (time.process_time() - c0), "float32"


def gpu_decode_rate(paths: list[Path], device: str, repeats: int = 3) -> float:
    """Images/s of torchvision.io.decode_jpeg on ``device`` + resize/crop there (blurscope.training.evaluation)."""
    import torch

    from blurscope.training.evaluation import decode_batch

    data = [torch.frombuffer(bytearray(p.read_bytes()), dtype=torch.uint8) for p in paths]
    decode_batch(data, 224, 0.875, device)
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        decode_batch(data, 224, 0.875, device)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return len(paths) / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=48, help="JPEGs per set")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=None, help="training batch (default 4 on CPU, 128 on a GPU)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 2 on CPU, 30 on a GPU)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    import torch

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    batch = args.batch or (128 if cuda else 4)
    steps = args.steps or (30 if cuda else 2)
    result: dict = {"device": torch.cuda.get_device_name(0) if cuda else f"cpu ({os.cpu_count()} cores)"}
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"imagenet-sized (333-500 px)": make_photos(Path(tmp) / "in", args.images, False, 0),
                "large (shorter side 600-1400 px)": make_photos(Path(tmp) / "big", max(8, args.images // 3), True, 1)}
        result["loader"] = {name: loader_rates(paths, args.repeats) for name, paths in sets.items()}
        if cuda:
            result["gpu_decode"] = {name: gpu_decode_rate(paths, device) for name, paths in sets.items()}
    rate, precision = step_rate(batch, steps, device)  # CPU: still one thread, per core
    result["train_step"] = {"images_per_s": rate, "batch": batch, "steps": steps, "precision": precision,
                            "per": "GPU" if cuda else "CPU core"}

    print(f"device: {result['device']}")
    print(f"ResNet-50 training step at 224 px ({precision}, batch {batch}, {steps} steps): {rate:.2f} img/s"
          f"{'' if cuda else ' per CPU core (CPU time, one thread)'}")
    print("loader, one worker (1 process, 1 thread), img/s  -> workers one model replica needs (step / loader)")
    for name, rates in result["loader"].items():
        print(f"  {name}")
        for k, r in rates.items():
            print(f"    {k:30s} {r:7.1f} img/s  -> {rate / r:6.3f} workers")
        gain = rates["train_crop, draft"] / rates["train_crop, full decode"]
        print(f"    draft mode speed-up (training crops): x{gain:.2f}")
    for name, r in result.get("gpu_decode", {}).items():
        print(f"  GPU decode (torchvision.io.decode_jpeg + resize, {name}): {r:.0f} img/s")
    limit = rate / result["loader"]["imagenet-sized (333-500 px)"]["train_crop, draft"]
    if cuda:
        print(f"verdict: one GPU needs {limit:.1f} loader workers (CPU cores) on ImageNet-sized JPEGs with draft "
              f"mode: {'the loader' if limit > os.cpu_count() else 'the model'} limits training on this machine "
              f"({os.cpu_count()} cores)")
    else:
        print(f"verdict: on this CPU the model limits training: one core decodes and augments "
              f"{1 / limit:.0f}x as many images as one core trains on")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
