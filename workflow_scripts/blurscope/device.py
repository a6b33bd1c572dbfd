"""Device selection for torch rules."""

from __future__ import annotations

import torch


def pick(name: str = "auto") -> torch.device:
    """``"auto"`` → CUDA if available else CPU; ``"cpu"``/``"cuda"``/``"cuda:N"`` as given.

    Raises:
        ValueError: if CUDA is requested but not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested (config key *.device) but CUDA is not available here")
    return dev
