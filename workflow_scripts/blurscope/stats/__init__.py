"""The one statistics core of blurscope: resampling, paired test, Spearman trend, adjustment.

Every table of the pipeline gets its intervals, tests and effect sizes from here
(docs/statistics.md lists the result keys and the decisions behind them).

The package holds one concept per submodule; every name below is importable from
``blurscope.stats`` itself:

* :mod:`~blurscope.stats.bootstrap` — resampling, means over units, hierarchical
  bootstrap, :func:`mean_difference`;
* :mod:`~blurscope.stats.paired` — statistics of means over shared units and the
  paired test;
* :mod:`~blurscope.stats.trend` — rank correlation and trend tests;
* :mod:`~blurscope.stats.effects` — effect sizes and p-value adjustment;
* :mod:`~blurscope.stats.tables` — replicate groups and the table builders;
* :mod:`~blurscope.stats.runs` — **the run-level design** (docs/statistics.md): every
  claim about training σ a t test over training runs (:func:`sigma_contrast`,
  :func:`run_difference`), the one verdict vocabulary (:func:`verdict`), Holm over the
  primary family (:func:`primary_family`), the run-level tables and the design's
  simulation (:func:`simulate_design`);
* ``_common`` (private) — the seed type, stream tags and argument checks they share.

* **Resampling** — :func:`bootstrap_indices` is the one resampler (``n`` units
  drawn with replacement per resample, ``numpy.random.default_rng(seed)``);
  :func:`bootstrap_counts` is the same draws as counts, so that a resampled mean is
  one matrix product; :func:`percentile_ci` is the one percentile interval (over
  the finite samples).
* **Means over units** — :func:`neuron_bootstrap` resamples **neurons**, each with
  all its patches, never single patches (the patches of one neuron are correlated,
  so a patch-level bootstrap understates the uncertainty, as the VITAL
  feature-analysis report says). :func:`hierarchical_bootstrap` adds the
  training replicates: it resamples the replicate models of one condition, then
  the neurons within each drawn model; with one replicate it returns exactly
  :func:`neuron_bootstrap`'s numbers.
* **Any statistic of a mean over shared units** — :func:`bootstrap_statistic`
  (e.g. f_rev from a mean preference curve over image pairs) and
  :func:`paired_difference` (trained − reference on the same units, replicate
  models resampled too).
* **Differences** — :func:`paired_test` (Wilcoxon signed-rank + paired bootstrap
  CI of the mean difference + Cohen's d_z) for two conditions measured on the same
  units; :func:`mean_difference` for two conditions with their own units
  (independently trained networks share no neuron identity), or paired over
  shared neurons (fine-tuned models).
* **Rank correlation** — :func:`spearman_rho` is the one ρ (average ranks);
  :func:`spearman_trend` the one trend test over σ (permutation p at the level of
  the exchangeable unit, hierarchical bootstrap CI of ρ); :func:`model_trend` the
  same for one number per model; :func:`correlation` for two measures on the same
  units.
* **Effect sizes and adjustment** — :func:`cohens_d`, :func:`cohens_dz`,
  :func:`bonferroni`, :func:`holm`, :func:`adjust`.

Everything that draws random numbers takes a ``seed`` and uses
``numpy.random.default_rng``: same inputs and seed → identical output. Streams
that must be independent of the first one (replicate draws, further replicate
slots, an unpaired reference) use ``default_rng([seed, tag, ...])``.
"""

from ._common import Replicates, Seed
from .bootstrap import (
    bootstrap_counts,
    bootstrap_indices,
    bootstrap_sem,
    hierarchical_bootstrap,
    mean_difference,
    neuron_bootstrap,
    percentile_ci,
)
from .effects import adjust, bonferroni, cohens_d, cohens_dz, holm
from .paired import bootstrap_statistic, paired_difference, paired_test
from .runs import (
    COMPARISON_COLUMNS,
    EXPLORATORY,
    PRIMARY,
    PRIMARY_FEATVIS_METRICS,
    PRIMARY_PATCH_METRICS,
    VERDICTS,
    comparison_table,
    primary_family,
    run_difference,
    run_values,
    sigma_contrast,
    sigma_effects,
    sigma_table,
    simulate_design,
    verdict,
)
from .tables import (
    filter_references,
    format_mean_sem,
    neuron_means,
    patch_matrix,
    replicate_groups,
    seed_table,
    spectrum_table,
    tidy_bootstrap,
    to_markdown,
)
from .trend import correlation, model_trend, spearman_from_counts, spearman_rho, spearman_trend

__all__ = [
    "COMPARISON_COLUMNS",
    "EXPLORATORY",
    "PRIMARY",
    "PRIMARY_FEATVIS_METRICS",
    "PRIMARY_PATCH_METRICS",
    "VERDICTS",
    "comparison_table",
    "primary_family",
    "run_difference",
    "run_values",
    "sigma_contrast",
    "sigma_effects",
    "sigma_table",
    "simulate_design",
    "verdict",
    "Replicates",
    "Seed",
    "adjust",
    "bonferroni",
    "bootstrap_counts",
    "bootstrap_indices",
    "bootstrap_sem",
    "bootstrap_statistic",
    "cohens_d",
    "cohens_dz",
    "correlation",
    "filter_references",
    "format_mean_sem",
    "hierarchical_bootstrap",
    "holm",
    "mean_difference",
    "model_trend",
    "neuron_bootstrap",
    "neuron_means",
    "paired_difference",
    "paired_test",
    "patch_matrix",
    "percentile_ci",
    "replicate_groups",
    "seed_table",
    "spearman_from_counts",
    "spearman_rho",
    "spearman_trend",
    "spectrum_table",
    "tidy_bootstrap",
    "to_markdown",
]
