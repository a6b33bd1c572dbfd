"""Accuracy of a model on a test split at every test blur, each image decoded once.

Test images are streamed from their files by DataLoader workers (:class:`EvalImages`,
the evaluation transform of :func:`blurscope.data.files.read_image`: shorter side to
``size / crop_ratio``, centre crop), sent to the device once per batch, and every
test σ is applied there (:func:`accuracy_by_sigma`); correct counts accumulate on
the device, so the loop never waits for the GPU between batches.

On CUDA, JPEGs may instead be decoded on the GPU (``evaluation.gpu_decode``):
workers read the file bytes (:class:`EvalImages` with ``encoded=True``), the main
process decodes each batch with torchvision's nvjpeg decoder and resizes on the
device (:func:`decode_batch`). Files nvjpeg does not take (not a JPEG, CMYK,
an EXIF rotation) are decoded on the CPU in the worker as usual. The CPU path is
the tested default; the GPU path has not run on a GPU (docs/cluster.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import nn

from blurscope.blur import gaussian_blur, sigma_to_px
from blurscope.data.files import CorruptImageError, read_image, resize_side
from blurscope.training.train import wilson_interval

log = logging.getLogger("blurscope.training.evaluation")

Item = tuple[int, "torch.Tensor | None", int]
"""One test image: (index in the split, uint8 ``[3,S,S]`` decoded or ``[n]`` JPEG bytes, label)."""


class EvalImages(torch.utils.data.Dataset):
    """A test split streamed from files: item ``i`` is ``(i, uint8 [3, size, size], label)``.

    Args:
        root, paths, labels: the split (paths relative to ``root``).
        size, crop_ratio: the evaluation transform (:func:`blurscope.data.files.read_image`; full decode,
            never JPEG draft mode: docs/training.md).
        skip_corrupt: an unreadable file gives ``(i, None, label)`` (logged) instead of raising
            :class:`~blurscope.data.files.CorruptImageError`; :func:`collate` drops it.
        encoded: return a plain JPEG (RGB or grey, no EXIF rotation) as its raw bytes, uint8
            ``[n]``, for :func:`decode_batch`; any other file is decoded here as usual.
    """

    def __init__(
        self, root: str | os.PathLike, paths: Sequence[str], labels: np.ndarray, size: int, crop_ratio: float = 1.0,
        skip_corrupt: bool = False, encoded: bool = False,
    ) -> None:
        resize_side(size, crop_ratio)  # ValueError naming dataset.crop_ratio
        self.root, self.paths, self.labels = Path(root), list(paths), np.asarray(labels, dtype=np.int64)
        self.size, self.crop_ratio = size, crop_ratio
        self.skip_corrupt, self.encoded = skip_corrupt, encoded

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Item:
        path = self.root / self.paths[i]
        label = int(self.labels[i])
        try:
            if self.encoded and nvjpeg_readable(path):
                return i, torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8), label
            arr = read_image(path, self.size, crop_ratio=self.crop_ratio)
        except (CorruptImageError, OSError) as err:
            if not self.skip_corrupt:
                raise
            log.warning("skipping corrupt image (dataset.skip_corrupt=true): %s", err)
            return i, None, label
        return i, torch.from_numpy(np.array(arr)).permute(2, 0, 1), label  # a writable copy of PIL's buffer


def check_gpu_decode(gpu_decode: bool, device: torch.device | str, device_key: str = "evaluation.device") -> None:
    """ValueError naming ``evaluation.gpu_decode`` when it is asked for on a device that is not CUDA."""
    device = torch.device(device)
    if gpu_decode and device.type != "cuda":
        raise ValueError(f"evaluation.gpu_decode: true needs a CUDA device, but {device_key} runs on {device}; "
                         "set evaluation.gpu_decode: false")


def nvjpeg_readable(path: str | os.PathLike) -> bool:
    """Whether nvjpeg can decode a file as :func:`blurscope.data.files.open_rgb` would: a JPEG
    (by content, not name) in mode RGB or L without an EXIF rotation (header only, no decode)."""
    try:
        with Image.open(path) as im:
            return im.format == "JPEG" and im.mode in ("RGB", "L") and im.getexif().get(0x0112, 1) == 1
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False  # the CPU path raises the error that names the file


def collate(items: list[Item]) -> tuple[torch.Tensor, list[torch.Tensor | None], torch.Tensor]:
    """Batch :class:`EvalImages` items, dropping skipped (unreadable) files.

    Returns:
        ``(indices [B], images, labels [B])``: ``images`` is a list of uint8 tensors, each
        ``[3,S,S]`` (decoded) or ``[n]`` (JPEG bytes for :func:`decode_batch`).
    """
    kept = [it for it in items if it[1] is not None]
    return (torch.tensor([it[0] for it in kept], dtype=torch.int64), [it[1] for it in kept],
            torch.tensor([it[2] for it in kept], dtype=torch.int64))


def resize_crop_tensor(image: torch.Tensor, size: int, crop_ratio: float = 1.0) -> torch.Tensor:
    """The evaluation transform on a decoded uint8 ``[C,H,W]`` tensor (C 1 or 3, any device):
    shorter side to :func:`~blurscope.data.files.resize_side` (bilinear, antialiased, as
    PIL's), centre crop; returns uint8 ``[3, size, size]`` (grey repeated)."""
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"resize_crop_tensor expects uint8 [C,H,W] with C 1 or 3, got {tuple(image.shape)}")
    short = resize_side(size, crop_ratio)
    _, h, w = image.shape
    if (w, h) != (size, size) or short != size:
        scale = short / min(w, h)
        nw, nh = max(short, round(w * scale)), max(short, round(h * scale))
        x = F.interpolate(image[None].float(), size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
        left, top = (nw - size) // 2, (nh - size) // 2
        image = x[0, :, top : top + size, left : left + size].round_().clamp_(0, 255).to(torch.uint8)
    return image.expand(3, -1, -1) if image.shape[0] == 1 else image


def decode_batch(
    images: list[torch.Tensor], size: int, crop_ratio: float, device: torch.device | str
) -> torch.Tensor:
    """Finish a :func:`collate` batch on ``device``: JPEG bytes (1-D) are decoded by
    ``torchvision.io.decode_jpeg`` (on CUDA: nvjpeg, one batched call) and resized there
    (:func:`resize_crop_tensor`); decoded ``[3,S,S]`` images are moved as they are.

    Returns:
        uint8 ``[B, 3, size, size]`` on ``device``, in the batch's order.
    """
    import warnings

    from torchvision.io import ImageReadMode, decode_jpeg

    device = torch.device(device)
    encoded = [j for j, im in enumerate(images) if im.ndim == 1]
    out = torch.empty((len(images), 3, size, size), dtype=torch.uint8, device=device)
    if encoded:
        with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders in favour of TorchCodec
            warnings.simplefilter("ignore", UserWarning)
            decoded = decode_jpeg([images[j] for j in encoded], mode=ImageReadMode.RGB, device=device)
        for j, im in zip(encoded, decoded):
            out[j] = resize_crop_tensor(im, size, crop_ratio)
    for j, im in enumerate(images):
        if im.ndim != 1:
            out[j] = im.to(device, non_blocking=True)
    return out


def eval_batches(
    data: EvalImages, batch_size: int, num_workers: int, device: torch.device | str
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Stream ``(uint8 [B,3,S,S], int64 [B])`` batches of a split in order, on ``device``.

    ``num_workers`` DataLoader processes decode (pinned memory on CUDA); with
    ``data.encoded`` the JPEGs are decoded on ``device`` (:func:`decode_batch`).
    """
    device = torch.device(device)
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate,
        pin_memory=device.type == "cuda", prefetch_factor=4 if num_workers else None,
    )
    for _, images, labels in loader:
        if not images:
            continue
        if data.encoded:
            x = decode_batch(images, data.size, data.crop_ratio, device)
        else:
            x = torch.stack(images).to(device, non_blocking=True)
        yield x, labels.to(device, non_blocking=True)


@torch.inference_mode()
def accuracy_by_sigma(
    model: nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], sigmas_px: Sequence[float],
) -> tuple[np.ndarray, int]:
    """Correct predictions at every test blur, each batch moved and converted once.

    Args:
        model: in eval mode on the batches' device (takes float ``[B,3,H,W]`` in ``[0,1]``).
        batches: ``(uint8 [B,3,S,S], int64 [B])`` on the model's device.
        sigmas_px: test blur σ in pixels of the images (0: clear).

    Returns:
        ``(correct [len(sigmas_px)] int64, n images)``.
    """
    model.eval()
    correct = None
    n = 0
    for xb, yb in batches:
        x = xb.float().div_(255.0)
        hits = torch.stack([
            (model(gaussian_blur(x, s) if s > 0 else x).argmax(1) == yb).sum() for s in sigmas_px
        ])
        correct = hits if correct is None else correct + hits  # on the device: no per-batch sync
        n += len(yb)
    if correct is None:
        raise ValueError("no test image could be read (every file was skipped as corrupt)")
    return correct.cpu().numpy().astype(np.int64), n


def accuracy_rows(test_sigmas: Sequence[float], image_size: int, correct: np.ndarray, n: int) -> pd.DataFrame:
    """Rows ``test_sigma, test_sigma_px, accuracy, n, ci_low, ci_high`` (Wilson 95 % interval)
    from :func:`accuracy_by_sigma`'s counts; σ in px at 224, scaled to ``image_size``."""
    rows = []
    for s, k in zip(test_sigmas, correct):
        lo, hi = wilson_interval(int(k), n)
        rows.append({"test_sigma": s, "test_sigma_px": sigma_to_px(s, image_size), "accuracy": int(k) / n, "n": n,
                     "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def evaluate_split(
    model: nn.Module, data: EvalImages, device: torch.device | str, batch_size: int, test_sigmas: Sequence[float],
    num_workers: int = 0,
) -> pd.DataFrame:
    """Accuracy of ``model`` on ``data`` blurred at every test σ (px at 224), every image decoded once
    (:func:`eval_batches`, :func:`accuracy_by_sigma`, :func:`accuracy_rows`)."""
    sigmas_px = [sigma_to_px(s, data.size) for s in test_sigmas]
    correct, n = accuracy_by_sigma(model, eval_batches(data, batch_size, num_workers, device), sigmas_px)
    return accuracy_rows(test_sigmas, data.size, correct, n)
