"""Rule deployed[model]: the deployed-model analyses of one model in one job (one torch import).

Runs two parts, each the stage's own script on a view of this job's ``snakemake`` object
that gives it its config subset as ``params.cfg`` and its own log file as ``log[0]``
(inputs, outputs, wildcards and threads are the job's):

1. ``avr_sis.py`` — AVR at every stride point and SIS (params ``aliasing_cfg``, log
   ``aliasing``; docs/aliasing.md);
2. ``frequency_preference.py`` — hybrid sweep, PGD, shape bias, corruptions (params
   ``frequency_cfg``, log ``frequency``; docs/frequency.md).

A failure in a part fails the job (its log names the error); nothing of a later part runs.
"""

import runpy
from pathlib import Path
from types import SimpleNamespace

smk = snakemake  # noqa: F821


class _Part:
    """The job's ``snakemake`` object with one part's ``params`` and ``log``."""

    def __init__(self, job: object, cfg: dict, log_path: str) -> None:
        self._job = job
        self.params = SimpleNamespace(cfg=cfg, reference_blur=job.params.reference_blur)
        self.log = [log_path]

    def __getattr__(self, name: str) -> object:
        return getattr(self._job, name)


here = Path(smk.scriptdir)
for script, cfg, log_path in (("avr_sis.py", smk.params.aliasing_cfg, smk.log.aliasing),
                              ("frequency_preference.py", smk.params.frequency_cfg, smk.log.frequency)):
    runpy.run_path(str(here / script), init_globals={"snakemake": _Part(smk, cfg, log_path)}, run_name="__main__")
