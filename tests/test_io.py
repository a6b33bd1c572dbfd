"""Atomic writes: all-or-nothing outputs with ordinary file permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from blurscope.io import atomic_path, read_tsv, write_tsv


def test_atomic_write_has_umask_permissions_and_round_trips(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_tsv(pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]}), tmp_path / "t.tsv")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "t.tsv").stat().st_mode)
    assert mode == 0o644, oct(mode)  # not mkstemp's 0600: collaborators can read results
    assert read_tsv(tmp_path / "t.tsv").b.tolist() == [0.5, 0.25]


def test_failed_write_leaves_neither_output_nor_temporary(tmp_path: Path) -> None:
    (tmp_path / "keep.tsv").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "keep.tsv") as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer crashed")
    assert (tmp_path / "keep.tsv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tsv"]
