"""blurscope.runlog: the set-up every rule script starts with."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from blurscope import runlog

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow_scripts"


def test_start_logs_to_the_file_and_sets_threads(tmp_path: Path) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        log = runlog.start(tmp_path / "sub" / "job.log", threads=1)
        log.getChild("x").info("hello %d", 3)
        assert torch.get_num_threads() == 1
        for h in logging.getLogger().handlers:
            h.flush()
        text = (tmp_path / "sub" / "job.log").read_text()
        assert "started (threads=1" in text and "blurscope.x: hello 3" in text
    finally:
        torch.set_num_threads(before)
        logging.basicConfig(force=True, handlers=[logging.NullHandler()])


def test_exit_handlers_freeze_the_heap(tmp_path: Path) -> None:
    """After start(), the exit handlers leave every object in the permanent generation, so
    the interpreter's final collection has nothing to traverse."""
    code = (
        f"import sys, gc, atexit; sys.path.insert(0, {str(SCRIPTS)!r}); from blurscope import runlog;"
        f"runlog.start({str(tmp_path / 'j.log')!r}); assert gc.get_freeze_count() == 0;"
        "atexit._run_exitfuncs(); print(gc.get_freeze_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout.split()[-1]) > 1000
