"""Training and evaluation loops (baseline, blur fine-tuning, BlurPool).

Images are uint8 on disk; batches become float ``[B,3,H,W]`` in ``[0,1]`` and
the :class:`~blurscope.models.BlurscopeNet` applies its own fixed blur and
normalisation, so training, evaluation and every analysis share one
preprocessing path.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .blur import gaussian_blur, sigma_to_px
from .data import open_rgb, read_image, read_images

log = logging.getLogger("blurscope.train")


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings (config ``training``)."""

    epochs: int
    lr: float = 0.1
    weight_decay: float = 5e-4
    momentum: float = 0.9
    batch_size: int = 128
    label_smoothing: float = 0.0
    seed: int = 0
    augment: bool = True
    num_workers: int = 0
    channels_last: bool = True
    precision: str = "float32"
    val_every: int = 1

    def __post_init__(self) -> None:
        if self.precision not in (*PRECISIONS, "auto"):
            raise ValueError(f"training.precision {self.precision!r} is not one of auto, {', '.join(PRECISIONS)}")
        if self.val_every < 1:
            raise ValueError(f"training.val_every must be >= 1, got {self.val_every}")


PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}
"""``training.precision`` → autocast dtype (None: plain float32); ``auto`` resolves to one of them."""


def native_bfloat16(device: torch.device | str) -> bool:
    """Whether ``device`` runs bfloat16 convolutions at full speed: a CUDA GPU with bfloat16
    support, or a CPU where oneDNN has bfloat16 kernels (AVX512-BF16 / AVX512 core or AMX on x86,
    BF16 on ARM). Elsewhere bfloat16 is emulated and slower than float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        try:
            return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a build without the op
            return False
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``training.precision`` as trained: ``auto`` → ``bfloat16`` where :func:`native_bfloat16`,
    else ``float32``; ``float32`` / ``bfloat16`` unchanged (ValueError names the key otherwise)."""
    if precision == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"training.precision {precision!r} is not one of auto, {', '.join(PRECISIONS)}")
    return precision


class FileImages(torch.utils.data.Dataset):
    """Images streamed from files (large datasets): returns ``(uint8 [3,S,S], label)``.

    Training mode applies a random resized crop (scale 0.25–1) and horizontal
    flip; evaluation mode resizes the shorter side and centre-crops.
    """

    def __init__(self, root: str | os.PathLike, paths: list[str], labels: np.ndarray, size: int, train: bool) -> None:
        self.root, self.paths, self.labels, self.size, self.train = Path(root), paths, labels, size, train

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path = self.root / self.paths[i]
        if self.train:
            import torchvision.transforms.v2 as T

            im = open_rgb(path)  # bit depth, transparency and EXIF orientation as everywhere (CorruptImageError)
            t = T.Compose([T.RandomResizedCrop(self.size, scale=(0.25, 1.0), antialias=True),
                           T.RandomHorizontalFlip()])(im)
            arr = np.asarray(t, dtype=np.uint8)
        else:
            arr = read_image(path, self.size)
        return torch.from_numpy(arr.copy()).permute(2, 0, 1), int(self.labels[i])


class MemoryImages:
    """A whole split decoded once into memory: uint8 ``[N,S,S,3]`` + labels ``[N]``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # [N,3,S,S] uint8
        self.labels = torch.from_numpy(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.labels)


def load_split(
    root: str | os.PathLike, rows: pd.DataFrame, size: int, train: bool, in_memory_mb: float, num_workers: int = 0,
    skip_corrupt: bool = False,
) -> MemoryImages | FileImages:
    """Decode a split into memory when it fits in ``in_memory_mb``, else stream it from files."""
    n = len(rows)
    if n * size * size * 3 / 2**20 <= in_memory_mb:
        images, kept = read_images(root, rows["path"].tolist(), size, skip_corrupt=skip_corrupt)
        return MemoryImages(images, rows["label"].to_numpy()[kept])
    log.info("streaming %d images from files (larger than training.in_memory_mb=%g)", n, in_memory_mb)
    return FileImages(root, rows["path"].tolist(), rows["label"].to_numpy(), size, train)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random translation (reflect pad by size/16, random crop) and horizontal flip, ``[B,3,S,S]``.

    Draws the offsets ``[B,2]`` then the flips ``[B]`` from ``gen``; one slice copy per
    image (7x faster on CPU than one advanced-indexing gather of the whole batch, same values).
    """
    b, _, s, _ = x.shape
    pad = max(1, s // 16)
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    off = torch.randint(0, 2 * pad + 1, (b, 2), generator=gen).tolist()
    flip = (torch.rand(b, generator=gen) < 0.5).tolist()
    out = torch.empty_like(x)
    for i, ((r, c), f) in enumerate(zip(off, flip)):
        crop = xp[i, :, r : r + s, c : c + s]
        out[i] = crop.flip(-1) if f else crop
    return out


def batches(
    data: MemoryImages | FileImages, batch_size: int, shuffle: bool, gen: torch.Generator, num_workers: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(uint8 [B,3,S,S], int64 [B])`` batches."""
    if isinstance(data, MemoryImages):
        n = len(data)
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield data.images[idx], data.labels[idx]
    else:
        loader = torch.utils.data.DataLoader(
            data, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
            generator=gen if shuffle else None, persistent_workers=False,
        )
        yield from loader


def train_model(
    model: nn.Module,
    train_data: MemoryImages | FileImages,
    val_data: MemoryImages | FileImages,
    settings: TrainSettings,
    device: torch.device,
    logger: logging.Logger = log,
) -> dict:
    """Train with SGD (Nesterov) and a one-cycle learning-rate schedule.

    ``settings.channels_last`` stores weights and batches NHWC (oneDNN's fast
    layout on CPU: ~1.35x for the narrow ResNet); ``settings.precision`` may run
    the forward/backward under bfloat16 autocast (weights and optimiser stay
    float32; ``auto``: where the device has native bfloat16, :func:`resolve_precision`).
    Validation runs every ``settings.val_every`` epochs and after the last. Logs one
    line per epoch (loss, train accuracy, val accuracy, images/s).

    Returns:
        Metrics: ``val_accuracy`` (last epoch), ``history`` (per-epoch dicts),
        ``train_seconds``, ``images_per_second``.
    """
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    fmt = torch.channels_last if settings.channels_last else torch.contiguous_format
    model.to(device, memory_format=fmt)
    amp = PRECISIONS[resolve_precision(settings.precision, device)]
    params_decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    params_other = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.SGD(
        [
            {"params": params_decay, "weight_decay": settings.weight_decay},
            {"params": params_other, "weight_decay": 0.0},
        ],
        lr=settings.lr,
        momentum=settings.momentum,
        nesterov=True,
    )
    steps_per_epoch = math.ceil(len(train_data) / settings.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=settings.lr, total_steps=max(1, settings.epochs * steps_per_epoch), pct_start=0.25,
    )
    history = []
    t_total = time.perf_counter()
    seen_total = 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for xb, yb in batches(train_data, settings.batch_size, True, gen, settings.num_workers):
            x = xb.to(device, non_blocking=True).float().div_(255.0)
            y = yb.to(device, non_blocking=True)
            if settings.augment and isinstance(train_data, MemoryImages):
                x = _augment(x, gen)
            x = x.contiguous(memory_format=fmt)
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                logits = model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=settings.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        dt = time.perf_counter() - t0
        seen_total += seen
        validate = epoch % settings.val_every == 0 or epoch == settings.epochs
        val_acc = evaluate_accuracy(model, val_data, device, settings.batch_size) if validate else None
        rec = {"epoch": epoch, "loss": loss_sum / seen, "train_accuracy": correct / seen, "val_accuracy": val_acc,
               "images_per_second": seen / dt, "lr": sched.get_last_lr()[0]}
        history.append(rec)
        logger.info(
            "epoch %d/%d loss %.4f train_acc %.4f val_acc %s %.0f img/s lr %.4g",
            epoch, settings.epochs, rec["loss"], rec["train_accuracy"], "-" if val_acc is None else f"{val_acc:.4f}",
            rec["images_per_second"], rec["lr"],
        )
    elapsed = time.perf_counter() - t_total
    model.to(memory_format=torch.contiguous_format)
    return {
        "val_accuracy": history[-1]["val_accuracy"]
        if history
        else evaluate_accuracy(model, val_data, device, settings.batch_size),
        "history": history,
        "train_seconds": elapsed,
        "images_per_second": seen_total / max(elapsed, 1e-9),
    }


@torch.inference_mode()
def predict(
    model: nn.Module, data: MemoryImages | FileImages, device: torch.device, batch_size: int, test_sigma_px: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true labels ``([N], [N])``; inputs blurred by ``test_sigma_px`` first."""
    model.eval()
    preds, labels = [], []
    for xb, yb in batches(data, batch_size, False, torch.Generator(), 0):
        x = xb.to(device).float().div_(255.0)
        if test_sigma_px > 0:
            x = gaussian_blur(x, test_sigma_px)
        preds.append(model(x).argmax(1).cpu())
        labels.append(yb)
    return torch.cat(preds).numpy(), torch.cat(labels).numpy()


def evaluate_accuracy(
    model: nn.Module, data: MemoryImages | FileImages, device: torch.device, batch_size: int
) -> float:
    """Top-1 accuracy on clear images."""
    pred, true = predict(model, data, device, batch_size)
    return float((pred == true).mean())


def accuracy_table(
    model: nn.Module, data: MemoryImages | FileImages, device: torch.device, batch_size: int,
    test_sigmas: list[float], image_size: int,
) -> pd.DataFrame:
    """Accuracy on the test split blurred at each test σ (σ in px at 224, scaled).

    Returns:
        Rows ``test_sigma, test_sigma_px, accuracy, n, ci_low, ci_high`` (Wilson 95 % interval).
    """
    rows = []
    for s in test_sigmas:
        spx = sigma_to_px(s, image_size)
        pred, true = predict(model, data, device, batch_size, spx)
        k, n = int((pred == true).sum()), len(true)
        lo, hi = wilson_interval(k, n)
        rows.append({"test_sigma": s, "test_sigma_px": spx, "accuracy": k / n, "n": n, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k/n``."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return max(0.0, centre - half), min(1.0, centre + half)
