"""Rule saliency_stats: paired tests of the focus distances against the noise floor.

SmoothGrad (Smilkov et al. 2017), naive vs expert; docs/saliency.md.

Reads the per-image table of rule smoothgrad and writes one row per test
(see :func:`blurscope.saliency.smoothgrad.focus_statistics`, docs/saliency.md and the result keys
in docs/statistics.md).
"""

from blurscope import io, runlog
from blurscope.saliency.smoothgrad import focus_statistics


def main(smk) -> None:
    log = runlog.start(smk.log[0], smk.threads)
    cfg = smk.params.cfg
    for key in ("bootstrap_iterations", "bootstrap_seed", "alpha"):
        if key not in cfg:
            raise KeyError(f"config saliency lacks key {key!r}")
    per_image = io.read_tsv(smk.input.per_image)
    table = focus_statistics(per_image, int(cfg["bootstrap_iterations"]), int(cfg["bootstrap_seed"]),
                             float(cfg["alpha"]))
    for row in table.itertuples():
        log.info("%s %s %s: mean diff %.4g [%.4g, %.4g] p=%.3g p_holm=%.3g", row.test, row.comparison, row.metric,
                 row.diff, row.diff_ci_low, row.diff_ci_high, row.p, row.p_holm)
    io.write_tsv(table, smk.output.stats)


if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    main(smk)
