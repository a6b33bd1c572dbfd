"""Device names of the config (``*.device`` keys): validation at parse time, selection in jobs.

Valid names: ``auto`` (CUDA when a GPU is visible, else CPU, with a logged line),
``cpu``, ``cuda``, ``cuda:N`` and ``mps`` (Apple GPUs). :func:`check_config` runs
when the workflow is parsed and imports torch only when a key asks for ``cuda``
or ``mps`` (parsing stays cheap for the CPU default).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger("blurscope.device")

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
"""Accepted spellings of a device key."""

EXPECTED = "auto, cpu, cuda, cuda:N or mps"


def device_keys(cfg: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(dotted key, value)`` whose last component is ``device``, depth first, in config order."""
    for key, value in cfg.items():
        dotted = f"{prefix}{key}"
        if key == "device":
            yield dotted, value
        elif isinstance(value, Mapping):
            yield from device_keys(value, dotted + ".")


def check_name(name: Any, key: str = "device") -> str:
    """Return ``name`` if it is a valid device spelling.

    Raises:
        ValueError: ``config key '<key>': ...`` naming the expected values.
    """
    if not isinstance(name, str) or not DEVICE_PATTERN.match(name):
        raise ValueError(f"config key '{key}': {name!r} is not a device (expected {EXPECTED})")
    return name


def check_config(cfg: Mapping[str, Any], check_available: bool = True) -> dict[str, str]:
    """Validate every ``*.device`` key of a config; returns ``{dotted key: name}``.

    Args:
        cfg: the whole (validated) config.
        check_available: also check that every ``cuda``/``cuda:N``/``mps`` asked for
            exists on this machine (imports torch, only then). False where jobs run
            elsewhere (cluster executors: the submit host has no GPU).

    Raises:
        ValueError: naming the first bad key: a misspelt device, or a GPU that is not here.
    """
    found = {key: check_name(value, key) for key, value in device_keys(cfg)}
    gpu = {k: v for k, v in found.items() if v.startswith(("cuda", "mps"))}
    if check_available and gpu:
        import torch

        for key, name in gpu.items():
            problem = unavailable(name, torch)
            if problem:
                raise ValueError(f"config key '{key}': device {name!r} asked for, but {problem} "
                                 f"(use 'auto' to fall back to the CPU, or 'cpu')")
    return found


def unavailable(name: str, torch_module: Any) -> str | None:
    """Why device ``name`` cannot be used here (``None`` if it can); ``torch_module`` is ``torch``."""
    if name.startswith("cuda"):
        if not torch_module.cuda.is_available():
            return "no CUDA GPU is available on this machine"
        index = int(name.split(":")[1]) if ":" in name else 0
        count = torch_module.cuda.device_count()
        if index >= count:
            return f"this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})"
    if name == "mps":
        mps = getattr(torch_module.backends, "mps", None)
        if mps is None or not mps.is_available():
            return "the MPS backend (Apple GPU) is not available on this machine"
    return None


def pick(name: str = "auto") -> torch.device:
    """The torch device for a config device name.

    ``auto`` → ``cuda`` when available, else ``cpu`` (logged); the other names as given.

    Raises:
        ValueError: for a misspelt name or a device that is not available here.
    """
    import torch

    check_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        log.info("device 'auto': no CUDA GPU available, running on cpu")
        return torch.device("cpu")
    problem = unavailable(name, torch)
    if problem:
        raise ValueError(f"device {name!r} requested (config key *.device) but {problem}")
    return torch.device(name)
