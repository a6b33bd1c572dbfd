"""Shared pytest set-up: import path, thread caps, deterministic torch; the parsed workflow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def parsed_workflow(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The default workflow (config/config.yaml) as Snakemake parses it: the outputs registered for
    Snakemake's report and the report rule's named inputs (``smokerun.parse_workflow``)."""
    import smokerun

    return smokerun.parse_workflow(smokerun.copy_workflow(tmp_path_factory.mktemp("parsed") / "w"))
