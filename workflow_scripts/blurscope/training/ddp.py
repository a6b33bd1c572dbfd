"""One model on several processes: DistributedDataParallel inside one training job.

:func:`train_distributed` starts ``world_size`` worker processes (``python -m blurscope.training.ddp``,
as torchrun would; a Snakemake rule script cannot be re-imported by ``multiprocessing``'s spawn),
each running :func:`blurscope.training.train.fit` on its share of every global batch: NCCL on CUDA (one GPU
per process, ``cuda:<rank>`` of the job's visible devices), gloo on CPU. Process 0 logs and writes
the checkpoint; the parent relays the workers' log lines, forwards SIGTERM/SIGUSR1 to them, stops
them all when one fails, and loads the trained weights from the final checkpoint. Workers die with
their parent (``PR_SET_PDEATHSIG``), so a killed job leaves no process writing its checkpoint.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch

from blurscope.training.resume import (
    STOP_SIGNALS,
    CheckpointMismatch,
    StopRequest,
    TrainingDiverged,
    TrainingInterrupted,
)

log = logging.getLogger("blurscope.training.train")

GRACE_S = 60.0
"""Seconds the other workers get to stop after one failed (or after a forwarded stop signal) before they are killed."""

ERRORS = {cls.__name__: cls for cls in (TrainingInterrupted, TrainingDiverged, CheckpointMismatch)}


def _package_root() -> str:
    """The folder holding the imported ``blurscope`` package: workers import the same code."""
    return str(Path(__file__).resolve().parents[2])


def train_distributed(
    model: torch.nn.Module, train_data: Any, val_data: Any, settings: Any, device: torch.device,
    logger: logging.Logger = log, *, name: str = "model", checkpoint: str | os.PathLike | None = None,
    identity: dict[str, Any] | None = None, stop: StopRequest | None = None,
) -> dict:
    """:func:`blurscope.training.train.train_model` over ``settings.world_size`` processes (see the module)."""
    world = settings.world_size
    if device.type == "cuda" and device.index is not None:
        raise ValueError(f"training.device {device} names one GPU; with training.world_size {world} use cuda or "
                         f"auto (process r takes cuda:r of the job's visible GPUs)")
    if device.type == "cuda":
        visible = torch.cuda.device_count()
        if visible < world:
            raise ValueError(f"training.world_size {world} needs {world} GPUs, {visible} visible "
                             "(resources.train_gpus asks SLURM for them)")
    elif device.type != "cpu":
        raise ValueError(f"training.world_size {world}: several processes need cpu or cuda, not {device}")
    work = Path(tempfile.mkdtemp(prefix="blurscope-ddp-"))
    final = Path(checkpoint) if checkpoint is not None else work / "final.pt"
    spec = {
        "model": model.cpu(), "train_data": train_data, "val_data": val_data, "settings": settings,
        "device": str(device), "name": name, "checkpoint": str(final), "identity": identity, "world": world,
        "threads": torch.get_num_threads(), "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(), "init": f"file://{work / 'rendezvous'}",
        "errors": str(work), "level": logger.getEffectiveLevel(),
    }
    torch.save(spec, work / "spec.pt")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH", "")) if p)
    if device.type == "cpu" and sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one node: the loopback interface, whatever the host name
    backend = "nccl" if device.type == "cuda" else "gloo"
    logger.info("DistributedDataParallel: %d processes (%s), %d images each of every global batch of %d",
                world, backend, settings.batch_size // world, settings.batch_size)
    procs: list[subprocess.Popen] = []
    previous = {}

    def forward(signum: int, _frame: Any) -> None:
        if stop is not None:
            stop.request(signal.Signals(signum).name)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    try:
        for sig in STOP_SIGNALS:
            try:
                previous[sig] = signal.signal(getattr(signal, sig), forward)
            except ValueError:  # not the main thread
                pass
        for rank in range(world):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "blurscope.training.ddp", str(work / "spec.pt"), str(rank)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1,
            ))
        pumps = [threading.Thread(target=_relay, args=(p.stderr, logger, rank), daemon=True)
                 for rank, p in enumerate(procs)]
        for t in pumps:
            t.start()
        _wait(procs)
        for t in pumps:
            t.join(timeout=10)
        failed = [(r, p.returncode) for r, p in enumerate(procs) if p.returncode != 0]
        if failed:
            raise _error(work, failed)
        state = torch.load(final, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        from blurscope.training.train import _metrics

        return _metrics(state, world)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for sig, handler in previous.items():
            signal.signal(getattr(signal, sig), handler)
        shutil.rmtree(work, ignore_errors=True)


def _relay(stream: Any, logger: logging.Logger, rank: int) -> None:
    """Log each line a worker writes to stderr (its log records, warnings, tracebacks)."""
    for line in stream:
        line = line.rstrip()
        if line:
            logger.info("[rank %d] %s", rank, line)


def _wait(procs: list[subprocess.Popen]) -> None:
    """Wait for every worker; once one fails, give the others :data:`GRACE_S` and kill them."""
    deadline = None
    while any(p.poll() is None for p in procs):
        if deadline is None and any(p.returncode not in (None, 0) for p in procs):
            deadline = time.monotonic() + GRACE_S
        if deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.05)


def _error(work: Path, failed: list[tuple[int, int]]) -> Exception:
    """The first failed worker's exception (its type where blurscope defines it)."""
    for rank, _ in sorted(failed):
        path = work / f"rank{rank}.error"
        if path.is_file():
            kind, _, message = path.read_text().partition("\n")
            return ERRORS.get(kind, RuntimeError)(message if kind in ERRORS else f"rank {rank}: {kind}: {message}")
    return RuntimeError(f"distributed training failed: worker exit codes {dict(failed)} (see the log above)")


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (no orphaned worker writes a checkpoint)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _worker(spec_path: str, rank: int) -> int:
    """One process of :func:`train_distributed`; returns its exit code."""
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the request took effect
        return 1
    spec = torch.load(spec_path, map_location="cpu", weights_only=False)  # written by our parent, private folder
    logging.basicConfig(level=spec["level"] if rank == 0 else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    torch.set_num_threads(int(spec["threads"]))
    torch.use_deterministic_algorithms(spec["deterministic"], warn_only=spec["warn_only"])
    stop = StopRequest.on_signals()
    import torch.distributed as dist

    from blurscope.training.train import fit

    device = torch.device(spec["device"])
    if device.type == "cuda":
        device = torch.device("cuda", rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method=spec["init"], rank=rank,
                            world_size=spec["world"])
    try:
        fit(spec["model"], spec["train_data"], spec["val_data"], spec["settings"], device,
            logging.getLogger("blurscope.training.train"), name=spec["name"], checkpoint=spec["checkpoint"],
            identity=spec["identity"], stop=stop, rank=rank, world=spec["world"])
    except BaseException as err:
        Path(spec["errors"], f"rank{rank}.error").write_text(f"{type(err).__name__}\n{err}")
        if not isinstance(err, tuple(ERRORS.values())):
            logging.getLogger("blurscope.training.train").exception("rank %d failed", rank)
        return 1
    finally:
        try:
            dist.destroy_process_group()
        except Exception:  # noqa: BLE001 - the group may be broken by a failed peer
            pass
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1], int(sys.argv[2])))
