"""Logging and thread set-up shared by every rule script.

Rule scripts call :func:`start` first: it routes the ``logging`` module (and
uncaught exceptions) to the rule's ``log:`` file, caps torch/BLAS threads at
the rule's ``threads:`` and spares the job the garbage collection at interpreter exit.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
import time
from pathlib import Path

LOGGER_NAME = "blurscope"


def start(log_path: str | os.PathLike | None, threads: int = 1, name: str = LOGGER_NAME) -> logging.Logger:
    """Configure logging to ``log_path`` (and stderr) and set thread counts.

    Returns the ``blurscope`` logger; library modules log to children of it.
    """
    threads = max(1, int(threads))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    # torch reads OMP_NUM_THREADS when it is first imported; if a script imported
    # it already, set the count directly. Numpy-only jobs never pay torch's import.
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logger = logging.getLogger(name)

    def _excepthook(exc_type, exc, tb):  # type: ignore[no-untyped-def]
        logger.error("failed: %s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))

    sys.excepthook = _excepthook
    # At exit the interpreter collects every object the imports made (torch: ~0.4 s of
    # each job's start-up-and-exit cost); frozen objects are skipped. Runs after the other
    # exit handlers (registered later, run first), when nothing needs collecting any more.
    atexit.register(gc.freeze)
    logger.info("started (threads=%d, pid=%d)", threads, os.getpid())
    return logger


class Progress:
    """Rate-limited progress lines: ``Progress(logger, total, "images").update(n)``."""

    def __init__(self, logger: logging.Logger, total: int, unit: str = "items", every_s: float = 10.0) -> None:
        self.logger, self.total, self.unit, self.every_s = logger, total, unit, every_s
        self.done = 0
        self.t0 = self.last = time.perf_counter()

    def update(self, n: int) -> None:
        """Add ``n`` finished items; logs at most every ``every_s`` seconds and at the end."""
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.every_s or self.done >= self.total:
            rate = self.done / max(now - self.t0, 1e-9)
            self.logger.info("%d/%d %s (%.1f %s/s)", self.done, self.total, self.unit, rate, self.unit)
            self.last = now
