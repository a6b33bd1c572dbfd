"""Training checkpoints that resume exactly, and stopping on a signal.

A checkpoint is one ``torch.save`` file written atomically (temporary file in the same folder,
``fsync``, rename): a crash while writing leaves the previous checkpoint intact. It holds
everything the rest of a training run depends on — weights, optimiser, scheduler and gradient
scaler state, position (epoch, step), every random-number state (torch CPU and CUDA, numpy,
Python, the training generator), the data order of the epoch in progress and the epoch's running
sums — and the *identity* of the run (the settings and inputs the weights depend on), so a
checkpoint of another configuration is refused, never silently resumed. Loading uses
``weights_only=True`` (no code in the file is run).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger("blurscope.training.train")

FORMAT = 1
"""Checkpoint layout version (a file of another layout is refused)."""


class CheckpointMismatch(ValueError):
    """The checkpoint was written by a training run of other settings or inputs."""


def save_atomic(state: Mapping[str, Any], path: str | os.PathLike) -> None:
    """``torch.save(state)`` to ``path`` through a synced temporary file and a rename (POSIX-atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(dict(state), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    try:  # make the rename itself durable (a node failure right after must not lose it)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def identity_diff(saved: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``'key: checkpoint X, now Y'`` for every (nested, dotted) key whose value differs."""
    out = []
    for key in sorted(set(saved) | set(current), key=str):
        a, b = saved.get(key, _ABSENT), current.get(key, _ABSENT)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += identity_diff(a, b, f"{prefix}{key}.")
        elif _normal(a) != _normal(b):
            out.append(f"{prefix}{key}: checkpoint {_show(a)}, now {_show(b)}")
    return out


_ABSENT = object()


def _show(v: Any) -> str:
    return "(absent)" if v is _ABSENT else repr(v)


def _normal(v: Any) -> Any:
    """Lists and tuples compare alike (a YAML list vs a tuple default)."""
    return [_normal(x) for x in v] if isinstance(v, (list, tuple)) else v


def load_checkpoint(path: str | os.PathLike, identity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if there is one; ``None`` if not.

    Raises:
        CheckpointMismatch: the file was written for other settings or inputs (naming every
            difference) or by another checkpoint layout; delete it to start afresh.
    """
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # a write cut short by SIGKILL (one job per model)
        stale.unlink(missing_ok=True)
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    how = (f"Delete it to train this model from the start (rm {path}), or restore the configuration "
           "it was written with to resume it.")
    if state.get("format") != FORMAT:
        raise CheckpointMismatch(f"checkpoint {path} has layout {state.get('format')!r}, expected {FORMAT}. {how}")
    diff = identity_diff(state["identity"], identity)
    if diff:
        raise CheckpointMismatch(
            f"checkpoint {path} was written by a training run of other settings or inputs, so resuming it "
            f"would mix two configurations: {'; '.join(diff)}. {how}"
        )
    return state


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every random-number state a training run may draw from (tensors and plain values only)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "generator": generator.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_initialized() else [],
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def restore_rng(state: Mapping[str, Any], generator: torch.Generator) -> None:
    """Inverse of :func:`rng_state` (CUDA states only where as many devices are visible)."""
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    cuda = list(state.get("cuda", []))
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


STOP_SIGNALS = ("SIGTERM", "SIGUSR1")
"""Signals that stop a training at the next step with a checkpoint: SLURM's SIGTERM at the
time limit, preemption or ``scancel``, and the early warning ``sbatch --signal`` asks for."""


class StopRequest:
    """Set when the process should stop at the next safe point (after a training step).

    :meth:`on_signals` installs handlers that set it; a test may subclass :meth:`requested`.
    """

    def __init__(self) -> None:
        self.reason: str | None = None

    def requested(self) -> bool:
        return self.reason is not None

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            log.warning("%s received: stopping after the current step with a checkpoint", reason)

    @classmethod
    def on_signals(cls, names: tuple[str, ...] = STOP_SIGNALS) -> StopRequest:
        """A request set by any of the signals ``names`` (main thread only; a no-op elsewhere)."""
        stop = cls()
        for name in names:
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                signal.signal(signum, lambda s, _f: stop.request(signal.Signals(s).name))
            except ValueError:  # not the main thread
                pass
        return stop


class TrainingInterrupted(RuntimeError):
    """A training stopped on request after writing its checkpoint; rerunning the job resumes it."""


class TrainingDiverged(RuntimeError):
    """The training loss became non-finite or rose far above chance (see ``blurscope.training.train``)."""
