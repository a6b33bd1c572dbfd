"""Workflow fixtures: ONE smoke run per test session, shared by every workflow test.

The run itself lives in ``tests/slurm/smokerun.py`` (memoised per process), so the
rerun, failure, report and SLURM tests all compare against the same local run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import smokerun  # noqa: E402


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed smoke run (all default targets). Tests must not modify it: clone it first."""
    return smokerun.local_smoke_run(tmp_path_factory.getbasetemp())
