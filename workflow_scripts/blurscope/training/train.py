"""Training and evaluation loops (baseline, blur fine-tuning, BlurPool).

Images are uint8 on disk; batches become float ``[B,3,H,W]`` in ``[0,1]`` and
the :class:`~blurscope.models.network.BlurscopeNet` applies its own fixed blur and
normalisation, so training, evaluation and every analysis share one
preprocessing path.

A training (:func:`train_model`) writes a checkpoint after every epoch and when asked to
stop (SIGTERM / SIGUSR1, :mod:`blurscope.training.resume`) and resumes from it exactly: on CPU
a resumed model is byte-identical to an uninterrupted one. With ``world_size > 1`` it runs
as DistributedDataParallel (:mod:`blurscope.training.ddp`): the batch is global, and every process
takes its share of each global batch from the same data order and augmentation draws.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from blurscope.blur import gaussian_blur, sigma_to_px
from blurscope.data.files import CROP_RATIO, read_image, read_images, train_crop
from blurscope.training.resume import (
    FORMAT,
    STOP_SIGNALS,
    StopRequest,
    TrainingDiverged,
    TrainingInterrupted,
    load_checkpoint,
    restore_rng,
    rng_state,
    save_atomic,
)

log = logging.getLogger("blurscope.training.train")


LR_REFERENCE_BATCH = 256
"""``training.lr`` is the peak learning rate for a batch of this many images: a (global) batch of B
trains at lr × B / 256, the linear scaling rule of Goyal et al. (2017; docs/references.md)."""

RUNTIME_FIELDS = ("num_workers", "val_every")
"""Settings that never change the weights (not part of a checkpoint's identity)."""

STOP_POLL_STEPS = 20
"""With several processes, how often (steps) they agree on whether to stop (one tiny collective)."""

PREFETCH_BATCHES = 2
"""Batches each data-loader worker prepares ahead (torch's default, stated)."""


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings (config ``training``).

    ``lr`` is the peak learning rate per 256 images (:attr:`effective_lr` is what the optimiser
    uses); ``batch_size`` is the global batch, split evenly over ``world_size`` processes.
    """

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
    world_size: int = 1
    crop_scale: tuple[float, float] = (0.25, 1.0)

    def __post_init__(self) -> None:
        if self.precision not in (*PRECISIONS, "auto"):
            raise ValueError(f"training.precision {self.precision!r} is not one of auto, {', '.join(PRECISIONS)}")
        if self.val_every < 1:
            raise ValueError(f"training.val_every must be >= 1, got {self.val_every}")
        if self.world_size < 1 or self.batch_size % self.world_size:
            raise ValueError(f"training.batch_size {self.batch_size} must be a multiple of training.world_size "
                             f"{self.world_size} (>= 1)")

    @property
    def effective_lr(self) -> float:
        """Peak learning rate of the optimiser: ``lr × batch_size / 256`` (0.8 × 64 / 256 is exactly 0.2)."""
        return self.lr * self.batch_size / LR_REFERENCE_BATCH

    def identity(self) -> dict[str, Any]:
        """The settings the weights depend on (everything but :data:`RUNTIME_FIELDS`)."""
        out = {k: v for k, v in asdict(self).items() if k not in RUNTIME_FIELDS}
        out["crop_scale"] = [float(v) for v in self.crop_scale]
        return out


PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
"""``training.precision`` → autocast dtype (None: plain float32); ``auto`` resolves to one of them.
float16 runs with a gradient scaler (CUDA only)."""


def _cuda_capability(device: torch.device) -> tuple[int, int] | None:
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_capability(device)


def native_bfloat16(device: torch.device | str) -> bool:
    """Whether ``device`` runs bfloat16 convolutions natively: a CUDA GPU of compute capability
    >= 8.0 (Ampere and later; ``torch.cuda.is_bf16_supported()`` is also true on V100 / T4, which
    only emulate it), or a CPU where oneDNN has bfloat16 kernels (AVX512-BF16 / AVX512 core or AMX
    on x86, BF16 on ARM). Elsewhere bfloat16 is emulated and slower than float32."""
    device = torch.device(device)
    if device.type == "cuda":
        cap = _cuda_capability(device)
        return cap is not None and cap >= (8, 0)
    if device.type == "cpu":
        try:
            return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a build without the op
            return False
    return False


def native_float16(device: torch.device | str) -> bool:
    """Whether ``device`` is a CUDA GPU with float16 tensor cores (compute capability >= 7.0: V100, T4 …)."""
    cap = _cuda_capability(torch.device(device))
    return cap is not None and cap >= (7, 0)


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``training.precision`` as trained. ``auto``: ``bfloat16`` where :func:`native_bfloat16`, else
    ``float16`` (with a gradient scaler) where :func:`native_float16`, else ``float32``. ``float16``
    needs CUDA. ValueError names the key otherwise."""
    if precision == "auto":
        if native_bfloat16(device):
            return "bfloat16"
        return "float16" if native_float16(device) else "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"training.precision {precision!r} is not one of auto, {', '.join(PRECISIONS)}")
    if precision == "float16" and torch.device(device).type != "cuda":
        raise ValueError(f"training.precision float16 needs a CUDA device (gradient scaler), not {device}; "
                         "use auto, float32 or bfloat16")
    return precision


def warmup_fraction(total_steps: int) -> float:
    """The one-cycle schedule's warm-up share of the steps: 0.25, except where torch's OneCycleLR
    would give its warm-up phase zero length (0.25 × total = 1 step: a 4-step test training
    divides by zero there), then 0.3."""
    return 0.3 if 0.25 * total_steps == 1 else 0.25


class FileImages(torch.utils.data.Dataset):
    """Images streamed from files (large datasets): an item is ``(uint8 [3,S,S], label)``.

    Training mode: :func:`blurscope.data.files.train_crop` (a random resized crop of area fraction in
    ``crop_scale``, aspect 3/4–4/3, and a horizontal flip; JPEGs decoded at reduced resolution
    where the crop allows, with ``draft``), drawn from a generator seeded by ``(epoch seed, image
    index)``: what an image looks like in an epoch does not depend on which worker decodes it, so
    ``num_workers`` never changes the weights. Keys are ``(index, epoch seed)`` (a plain index uses
    epoch seed 0). Evaluation mode resizes the shorter side to ``size / crop_ratio`` and
    centre-crops ``size``² (:func:`blurscope.data.files.read_image`).
    """

    def __init__(
        self, root: str | os.PathLike, paths: list[str], labels: np.ndarray, size: int, train: bool,
        crop_scale: tuple[float, float] = (0.25, 1.0), crop_ratio: float = 1.0, draft: bool = False,
    ) -> None:
        self.root, self.paths, self.labels, self.size, self.train = Path(root), paths, labels, size, train
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.crop_ratio, self.draft = float(crop_ratio), bool(draft)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        i, epoch_seed = (int(key[0]), int(key[1])) if isinstance(key, tuple) else (int(key), 0)
        path = self.root / self.paths[i]
        if self.train:
            rng = np.random.default_rng((epoch_seed, i))
            arr = train_crop(path, self.size, rng, self.crop_scale, CROP_RATIO, draft=self.draft)
        else:
            arr = read_image(path, self.size, crop_ratio=self.crop_ratio)
        return torch.from_numpy(np.array(arr, dtype=np.uint8)).permute(2, 0, 1), int(self.labels[i])


class MemoryImages:
    """A whole split decoded once into memory: uint8 ``[N,S,S,3]`` + labels ``[N]``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # [N,3,S,S] uint8
        self.labels = torch.from_numpy(labels.astype(np.int64))

    @classmethod
    def from_tensors(cls, images: torch.Tensor, labels: torch.Tensor) -> MemoryImages:
        """From uint8 ``[N,3,S,S]`` and int64 ``[N]`` tensors (no copy)."""
        out = cls.__new__(cls)
        out.images, out.labels = images, labels
        return out

    def to(self, device: torch.device) -> MemoryImages:
        """The same split on ``device`` (a GPU reads its batches without host copies)."""
        return MemoryImages.from_tensors(self.images.to(device), self.labels.to(device))

    def subset(self, idx: torch.Tensor) -> MemoryImages:
        """Rows ``idx`` (int64 ``[n]``)."""
        idx = idx.to(self.images.device)
        return MemoryImages.from_tensors(self.images[idx], self.labels[idx])

    def __len__(self) -> int:
        return len(self.labels)


def load_split(
    root: str | os.PathLike, rows: pd.DataFrame, size: int, train: bool, in_memory_mb: float, num_workers: int = 0,
    skip_corrupt: bool = False, crop_scale: tuple[float, float] = (0.25, 1.0), crop_ratio: float = 1.0,
    draft: bool = False,
) -> MemoryImages | FileImages:
    """Decode a split into memory when it fits in ``in_memory_mb`` (resize to ``size / crop_ratio``,
    centre crop), else stream it from files (:class:`FileImages`: training mode random resized crops
    of area fraction ``crop_scale``, JPEG ``draft`` decoding)."""
    n = len(rows)
    if n * size * size * 3 / 2**20 <= in_memory_mb:
        images, kept = read_images(root, rows["path"].tolist(), size, skip_corrupt=skip_corrupt, crop_ratio=crop_ratio)
        return MemoryImages(images, rows["label"].to_numpy()[kept])
    log.info("streaming %d images from files (larger than training.in_memory_mb=%g)", n, in_memory_mb)
    return FileImages(root, rows["path"].tolist(), rows["label"].to_numpy(), size, train, crop_scale, crop_ratio,
                      draft)


def _augment(x: torch.Tensor, gen: torch.Generator, n_draw: int | None = None, lo: int = 0) -> torch.Tensor:
    """Random translation (reflect pad by size/16, random crop) and horizontal flip, ``[B,3,S,S]``.

    Draws the offsets ``[n,2]`` then the flips ``[n]`` from ``gen`` for the whole (global) batch of
    ``n = n_draw or B`` images and applies rows ``lo … lo+B`` (this process's share), so every
    process of a distributed training draws alike. One slice copy per image (7x faster on CPU than
    one advanced-indexing gather of the whole batch, same values).
    """
    b, _, s, _ = x.shape
    n = n_draw or b
    pad = max(1, s // 16)
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    off = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen).tolist()[lo : lo + b]
    flip = (torch.rand(n, generator=gen) < 0.5).tolist()[lo : lo + b]
    out = torch.empty_like(x)
    for i, ((r, c), f) in enumerate(zip(off, flip)):
        crop = xp[i, :, r : r + s, c : c + s]
        out[i] = crop.flip(-1) if f else crop
    return out


def _ignore_stop_signals(_worker_id: int) -> None:
    """Data-loader workers leave SIGTERM/SIGUSR1 to the training process, which stops after its step
    (a worker killed by the signal would abort that step instead)."""
    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def _loader(
    data: torch.utils.data.Dataset, batch_sampler: Any, num_workers: int, device: torch.device | str,
    persistent: bool,
) -> torch.utils.data.DataLoader:
    """A DataLoader over ``batch_sampler`` with pinned memory on CUDA and ``num_workers`` workers
    (kept alive across epochs when ``persistent``); it never draws from torch's global RNG."""
    workers = int(num_workers)
    return torch.utils.data.DataLoader(
        data, batch_sampler=batch_sampler, num_workers=workers, pin_memory=torch.device(device).type == "cuda",
        persistent_workers=persistent and workers > 0, prefetch_factor=PREFETCH_BATCHES if workers else None,
        worker_init_fn=_ignore_stop_signals if workers else None, generator=torch.Generator().manual_seed(0),
    )


def batches(
    data: MemoryImages | torch.utils.data.Dataset, batch_size: int, shuffle: bool, gen: torch.Generator,
    num_workers: int = 0, device: torch.device | str = "cpu",
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(uint8 [B,3,S,S], int64 [B])`` batches (a file dataset through ``num_workers`` workers)."""
    n = len(data)
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    if isinstance(data, MemoryImages):
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield data.images[idx], data.labels[idx]
    else:
        sampler = [order[s : s + batch_size].tolist() for s in range(0, n, batch_size)]
        yield from _loader(data, sampler, num_workers, device, persistent=False)


def _shard(idx: torch.Tensor, rank: int, world: int) -> tuple[torch.Tensor, int]:
    """This process's contiguous share of a global batch and its offset in it."""
    if world == 1:
        return idx, 0
    parts = torch.tensor_split(idx, world)
    return parts[rank], sum(len(p) for p in parts[:rank])


class _EpochBatches(torch.utils.data.Sampler):
    """Batch sampler of a streamed epoch: this process's share of each global batch of ``order``
    from step ``start``, as keys ``(index, epoch seed)``. Set ``order``/``epoch_seed``/``start``
    before each epoch (it is read in the main process, so persistent workers follow)."""

    def __init__(self, batch_size: int, rank: int, world: int) -> None:
        self.batch_size, self.rank, self.world = batch_size, rank, world
        self.order, self.epoch_seed, self.start = torch.empty(0, dtype=torch.long), 0, 0

    def __len__(self) -> int:
        return max(0, math.ceil(len(self.order) / self.batch_size) - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        b = self.batch_size
        for step in range(self.start, math.ceil(len(self.order) / b)):
            part, _ = _shard(self.order[step * b : (step + 1) * b], self.rank, self.world)
            yield [(int(i), self.epoch_seed) for i in part]


def _plan_epoch(data: MemoryImages | FileImages, gen: torch.Generator) -> dict[str, Any]:
    """The epoch's data order (``randperm`` from ``gen``) and, for streamed data, the seed of its crops."""
    order = torch.randperm(len(data), generator=gen)
    seed = int(torch.randint(0, 2**62, (1,), generator=gen)) if isinstance(data, FileImages) else 0
    return {"order": order, "seed": seed}


def _train_batches(
    data: MemoryImages | FileImages, plan: dict[str, Any], batch_size: int, start: int, rank: int, world: int,
    loader: torch.utils.data.DataLoader | None, sampler: _EpochBatches | None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, int, int]]:
    """``(uint8 [b,3,S,S], int64 [b], global batch size, offset of this share)`` from step ``start``."""
    order = plan["order"]
    steps = range(start, math.ceil(len(order) / batch_size))
    if isinstance(data, MemoryImages):
        for step in steps:
            part, lo = _shard(order[step * batch_size : (step + 1) * batch_size], rank, world)
            yield data.images[part], data.labels[part], min(batch_size, len(order) - step * batch_size), lo
        return
    assert loader is not None and sampler is not None
    sampler.order, sampler.epoch_seed, sampler.start = order, plan["seed"], start
    for step, (xb, yb) in zip(steps, loader):
        n = min(batch_size, len(order) - step * batch_size)
        yield xb, yb, n, _shard(torch.arange(n), rank, world)[1]


def train_model(
    model: nn.Module,
    train_data: MemoryImages | FileImages,
    val_data: MemoryImages | FileImages,
    settings: TrainSettings,
    device: torch.device,
    logger: logging.Logger = log,
    *,
    name: str = "model",
    checkpoint: str | os.PathLike | None = None,
    identity: dict[str, Any] | None = None,
    stop: StopRequest | None = None,
) -> dict:
    """Train with SGD (Nesterov) and a one-cycle learning-rate schedule peaking at
    :attr:`TrainSettings.effective_lr`.

    ``settings.channels_last`` stores weights and batches NHWC (oneDNN's fast layout on CPU:
    ~1.35x for the narrow ResNet); ``settings.precision`` may run the forward/backward under
    bfloat16 or float16 autocast (weights and optimiser stay float32; float16 with a gradient
    scaler; ``auto``: :func:`resolve_precision`). Validation runs every ``settings.val_every``
    epochs and after the last. Logs one line per epoch (loss, train accuracy, val accuracy, images/s).

    Args:
        name: the model's id in messages.
        checkpoint: file of the resumable state, written atomically after every epoch and when
            ``stop`` is requested; if it exists, training resumes from it (exactly: on CPU the
            result is byte-identical to an uninterrupted run) after checking that it was written
            for the same settings and ``identity`` (:class:`~blurscope.training.resume.CheckpointMismatch`
            otherwise). The caller removes it once the model is saved.
        identity: what else the weights depend on (model id, inputs' hashes …), compared on resume.
        stop: polled after every step: write the checkpoint and raise
            :class:`~blurscope.training.resume.TrainingInterrupted`.

    ``settings.world_size > 1`` runs DistributedDataParallel over that many processes
    (:mod:`blurscope.training.ddp`; gloo on CPU, NCCL on CUDA); ``model`` receives the trained weights.

    Returns:
        Metrics: ``val_accuracy`` (last epoch), ``history`` (per-epoch dicts), ``train_seconds``,
        ``images_per_second``, ``resumed`` (where the run was resumed), ``world_size``;
        ``rank_digests`` (sha256 of every process's final weights) with several processes.

    Raises:
        TrainingDiverged: the epoch's mean training loss is not finite or exceeds
            :func:`divergence_limit` (naming model, epoch, loss and the learning rate).
    """
    if settings.world_size > 1 and settings.epochs > 0:  # (0 epochs: nothing to distribute)
        from blurscope.training.ddp import train_distributed

        return train_distributed(model, train_data, val_data, settings, device, logger, name=name,
                                 checkpoint=checkpoint, identity=identity, stop=stop)
    return fit(model, train_data, val_data, settings, device, logger, name=name, checkpoint=checkpoint,
               identity=identity, stop=stop)


def divergence_limit(first_loss: float, num_classes: int) -> float:
    """Mean training loss (nats) above which a training has diverged: ``2 max(L0, ln K) + 1``.

    A network that has learnt nothing guesses uniformly and scores ln K (≈ its first-batch loss
    L0); one epoch's *mean* beyond twice that means the true class got on average under
    1/(e K²) of the probability — confident wrong predictions over a whole epoch, which SGD
    produces only when its steps blow the weights up. A noisy start (single batches above ln K)
    and a network stuck at chance (loss ≈ ln K) stay below it.
    """
    return 2.0 * max(first_loss, math.log(max(num_classes, 2))) + 1.0


def _diverged_message(name: str, epoch: int, loss: float, first: float, k: int, settings: TrainSettings,
                      precision: str) -> str:
    scaler = " or float16 overflow" if precision == "float16" else ""
    return (
        f"training of model {name!r} diverged at epoch {epoch}: mean training loss {loss:.4g} "
        f"(limit {divergence_limit(first, k):.3g} = 2 x max(first-batch loss {first:.3f}, ln {k} = {math.log(k):.3f}) "
        f"+ 1; a network guessing uniformly scores ln {k}). Likely cause: a learning rate too high for this batch"
        f"{scaler}: peak lr {settings.effective_lr:.4g} = training.lr {settings.lr:g} (training.finetune_lr for a "
        f"fine-tune; per 256 images) x batch {settings.batch_size} / 256. Lower it, or check the data and labels."
    )


def _comm_tensor(values: list[float], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32 if device.type == "mps" else torch.float64, device=device)


def _all_reduce(t: torch.Tensor, world: int, op: str = "sum") -> torch.Tensor:
    if world > 1:
        import torch.distributed as dist

        dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return t


def _sync_buffers(model: nn.Module, world: int) -> None:
    """Every process takes process 0's buffers (batch-norm running statistics)."""
    if world > 1:
        import torch.distributed as dist

        for b in model.buffers():
            dist.broadcast(b, src=0)


def state_digest(model: nn.Module) -> str:
    """sha256 of every parameter and buffer (standard layout bytes, state-dict order)."""
    h = hashlib.sha256()
    for key, t in model.state_dict().items():
        h.update(key.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _validate(
    model: nn.Module, data: MemoryImages | FileImages, device: torch.device, batch_size: int, num_workers: int,
    rank: int, world: int,
) -> float:
    """Top-1 accuracy on ``data``; with several processes each scores its share and the counts are summed."""
    if world == 1:
        return evaluate_accuracy(model, data, device, batch_size, num_workers)
    _sync_buffers(model, world)
    idx = torch.tensor_split(torch.arange(len(data)), world)[rank]
    part = data.subset(idx) if isinstance(data, MemoryImages) else torch.utils.data.Subset(data, idx.tolist())
    pred, true = predict(model, part, device, batch_size, num_workers=num_workers)
    counts = _all_reduce(_comm_tensor([float((pred == true).sum()), float(len(true))], device), world)
    return float(counts[0] / counts[1])


def _metrics(run: dict[str, Any], world: int) -> dict[str, Any]:
    out = {
        "val_accuracy": run["history"][-1]["val_accuracy"], "history": run["history"],
        "train_seconds": run["train_seconds"], "images_per_second": run["seen"] / max(run["train_seconds"], 1e-9),
        "resumed": run["resumed"], "world_size": world,
    }
    if run.get("rank_digests"):
        out["rank_digests"] = run["rank_digests"]
    return out


def fit(
    model: nn.Module, train_data: MemoryImages | FileImages, val_data: MemoryImages | FileImages,
    settings: TrainSettings, device: torch.device, logger: logging.Logger = log, *, name: str = "model",
    checkpoint: str | os.PathLike | None = None, identity: dict[str, Any] | None = None,
    stop: StopRequest | None = None, rank: int = 0, world: int = 1,
) -> dict:
    """The training loop of one process (:func:`train_model`; ``rank`` of ``world`` under DDP, whose
    process group is initialised by the caller). Process 0 logs and writes the checkpoint."""
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    fmt = torch.channels_last if settings.channels_last else torch.contiguous_format
    model.to(device, memory_format=fmt)
    precision = resolve_precision(settings.precision, device)
    amp = PRECISIONS[precision]
    params_decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    params_other = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.SGD(
        [
            {"params": params_decay, "weight_decay": settings.weight_decay},
            {"params": params_other, "weight_decay": 0.0},
        ],
        lr=settings.effective_lr,
        momentum=settings.momentum,
        nesterov=True,
        **({"fused": True} if device.type == "cuda" else {}),  # fused: the gradient scaler needs no host sync
    )
    b = settings.batch_size
    steps_per_epoch = math.ceil(len(train_data) / b)
    total_steps = max(1, settings.epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=settings.effective_lr, total_steps=total_steps, pct_start=warmup_fraction(total_steps),
    )
    scaler = torch.amp.GradScaler("cuda") if precision == "float16" else None
    lead = rank == 0
    say = logger.info if lead else (lambda *a, **k: None)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        train_data = train_data.to(device) if isinstance(train_data, MemoryImages) else train_data
        val_data = val_data.to(device) if isinstance(val_data, MemoryImages) else val_data
    last = len(train_data) % b or b
    if settings.epochs > 0 and last < world:
        raise ValueError(f"training.batch_size {b}: the last batch of an epoch of {len(train_data)} images holds "
                         f"{last}, fewer than one per process (training.world_size {world}); choose another batch size")
    ident = {"settings": {**settings.identity(), "precision": precision}, **(identity or {})}
    run: dict[str, Any] = {"epoch": 1, "step": 0, "history": [], "plan": None, "sums": [0.0, 0, 0],
                           "train_seconds": 0.0, "seen": 0, "first_loss": None, "resumed": [], "rank_digests": None,
                           "resume_seen": 0}
    if settings.epochs == 0:  # the start weights as they are
        val = _validate(model, val_data, device, b, settings.num_workers, rank, world)
        model.to(memory_format=torch.contiguous_format)
        return {"val_accuracy": val, "history": [], "train_seconds": 0.0, "images_per_second": 0.0, "resumed": [],
                "world_size": world}
    ckpt = load_checkpoint(checkpoint, ident) if checkpoint else None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        if scaler is not None and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        restore_rng(ckpt["rng"], gen)
        run.update({k: ckpt[k] for k in ("epoch", "step", "history", "train_seconds", "seen", "first_loss",
                                          "resumed", "rank_digests")})
        run["plan"], run["sums"] = ckpt["plan"], list(ckpt["sums"])
        run["resume_seen"] = run["sums"][2]  # images of the epoch in progress already trained (all processes)
        if not lead:  # the saved running sums are the whole job's: one process carries them on
            run["sums"] = [0.0, 0, 0]
        where = "finished" if run["epoch"] > settings.epochs else f"epoch {run['epoch']}/{settings.epochs}, " \
            f"step {run['step']}/{steps_per_epoch}"
        run["resumed"] = [*run["resumed"], {"epoch": run["epoch"], "step": run["step"]}]
        say("resuming %s from checkpoint %s (%s; written after %s)", name, checkpoint, where,
            ckpt.get("stopped_by") or "an epoch")
    net: nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    loader = sampler = None
    if isinstance(train_data, FileImages):
        sampler = _EpochBatches(b, rank, world)
        loader = _loader(train_data, sampler, settings.num_workers, device, persistent=True)
    acc_dtype = torch.float32 if device.type == "mps" else torch.float64
    num_classes = 0
    t_session = time.perf_counter()

    def elapsed() -> float:
        return run["train_seconds"] + time.perf_counter() - t_session

    def save(stopped_by: str | None = None) -> None:
        if checkpoint is None or not lead:
            return
        save_atomic({
            "format": FORMAT, "identity": ident, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": rng_state(gen), **{k: run[k] for k in ("epoch", "step", "history", "plan", "sums", "seen",
                                                          "first_loss", "resumed", "rank_digests")},
            "train_seconds": elapsed(), "stopped_by": stopped_by,
            "runtime": {"torch": str(torch.__version__), "device": str(device), "world_size": world},
        }, checkpoint)

    def should_stop(every: int) -> bool:
        if stop is None and world == 1:
            return False
        if world == 1:
            return stop.requested()
        if run["step"] % every:
            return False
        flag = _comm_tensor([1.0 if stop is not None and stop.requested() else 0.0], device)
        return bool(_all_reduce(flag, world, "max").item())

    def interrupted(where: str) -> TrainingInterrupted:
        reason = (stop.reason if stop is not None else None) or "a stop request"
        return TrainingInterrupted(f"training of {name!r} stopped by {reason} {where}; checkpoint {checkpoint} "
                                   "written: rerun the job to resume it")

    for epoch in range(run["epoch"], settings.epochs + 1):
        net.train()
        if run["step"] == 0:
            run["plan"], run["sums"], run["resume_seen"] = _plan_epoch(train_data, gen), [0.0, 0, 0], 0
        loss_sum = torch.tensor(run["sums"][0], dtype=acc_dtype, device=device)
        correct = torch.tensor(run["sums"][1], dtype=torch.int64, device=device)
        seen = run["sums"][2]
        first = None
        t0 = time.perf_counter()
        for xb, yb, n_global, lo in _train_batches(train_data, run["plan"], b, run["step"], rank, world, loader,
                                                    sampler):
            x = xb.to(device, non_blocking=True).float().div_(255.0)
            y = yb.to(device, non_blocking=True)
            if settings.augment and isinstance(train_data, MemoryImages):
                x = _augment(x, gen, n_global, lo)
            x = x.contiguous(memory_format=fmt)
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                logits = net(x)
                loss = F.cross_entropy(logits, y, label_smoothing=settings.label_smoothing)
            # several processes: weight each share's mean by its size, so the averaged gradient is the global mean's
            scaled = loss if world == 1 else loss * (len(y) * world / n_global)
            opt.zero_grad(set_to_none=True)
            if scaler is None:
                scaled.backward()
                opt.step()
            else:
                scaler.scale(scaled).backward()
                scaler.step(opt)
                scaler.update()
            sched.step()
            if first is None and run["first_loss"] is None:
                first, num_classes = loss.detach().float(), logits.shape[-1]
            num_classes = num_classes or logits.shape[-1]
            loss_sum += loss.detach().to(acc_dtype) * len(y)  # on the device: no host sync per step
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            run["step"] += 1
            if should_stop(STOP_POLL_STEPS):
                sums = _all_reduce(_comm_tensor([float(loss_sum), float(correct), float(seen)], device), world)
                run["sums"] = [float(sums[0]), int(sums[1]), int(sums[2])]
                save(stop.reason if stop is not None else None)
                raise interrupted(f"at epoch {epoch}, step {run['step']}/{steps_per_epoch}")
        dt = time.perf_counter() - t0
        tot = _all_reduce(_comm_tensor([float(loss_sum), float(correct), float(seen),
                                        float(first) if first is not None else 0.0], device), world)
        loss_all, correct_all, seen_all = float(tot[0]), int(tot[1]), int(tot[2])
        if run["first_loss"] is None:
            run["first_loss"] = float(tot[3]) / world
        mean_loss = loss_all / seen_all
        k = num_classes or 2
        if not math.isfinite(mean_loss) or mean_loss > divergence_limit(run["first_loss"], k):
            if checkpoint is not None and lead:
                Path(checkpoint).unlink(missing_ok=True)  # resuming it would diverge again
            raise TrainingDiverged(_diverged_message(name, epoch, mean_loss, run["first_loss"], k, settings, precision))
        run["seen"] += seen_all
        validate = epoch % settings.val_every == 0 or epoch == settings.epochs
        val_acc = _validate(model, val_data, device, b, settings.num_workers, rank, world) if validate else None
        rec = {"epoch": epoch, "loss": mean_loss, "train_accuracy": correct_all / seen_all, "val_accuracy": val_acc,
               "images_per_second": (seen_all - run["resume_seen"]) / dt, "lr": sched.get_last_lr()[0]}
        run["history"].append(rec)
        say(
            "epoch %d/%d loss %.4f train_acc %.4f val_acc %s %.0f img/s lr %.4g",
            epoch, settings.epochs, rec["loss"], rec["train_accuracy"], "-" if val_acc is None else f"{val_acc:.4f}",
            rec["images_per_second"], rec["lr"],
        )
        run.update(epoch=epoch + 1, step=0, plan=None, sums=[0.0, 0, 0])
        if epoch == settings.epochs and world > 1:
            _sync_buffers(model, world)
            import torch.distributed as dist

            digests: list[Any] = [None] * world
            dist.all_gather_object(digests, state_digest(model))
            run["rank_digests"] = digests
        save()
        if epoch < settings.epochs and should_stop(1):
            raise interrupted(f"after epoch {epoch}")
    run["train_seconds"] = elapsed()
    model.to(memory_format=torch.contiguous_format)
    return _metrics(run, world)


@torch.inference_mode()
def predict(
    model: nn.Module, data: MemoryImages | torch.utils.data.Dataset, device: torch.device, batch_size: int,
    test_sigma_px: float = 0.0, num_workers: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true labels ``([N], [N])``; inputs blurred by ``test_sigma_px`` first
    (streamed files decoded by ``num_workers`` workers)."""
    model.eval()
    preds, labels = [], []
    for xb, yb in batches(data, batch_size, False, torch.Generator(), num_workers, device):
        x = xb.to(device, non_blocking=True).float().div_(255.0)
        if test_sigma_px > 0:
            x = gaussian_blur(x, test_sigma_px)
        preds.append(model(x).argmax(1))
        labels.append(yb)
    return torch.cat(preds).cpu().numpy(), torch.cat(labels).cpu().numpy()


def evaluate_accuracy(
    model: nn.Module, data: MemoryImages | torch.utils.data.Dataset, device: torch.device, batch_size: int,
    num_workers: int = 0,
) -> float:
    """Top-1 accuracy on clear images."""
    pred, true = predict(model, data, device, batch_size, num_workers=num_workers)
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
