"""Section "Statistics": the run-level design and every preferred-patch test (from ``findings``).

Also the vocabulary that the other sections share: metric names and units, the
filter-only references (``ref-sigma<s>``) and how many training runs stand behind a
number (docs/statistics.md). Input: ``findings`` (``results/stats/findings.tsv``).
"""

from __future__ import annotations

import pandas as pd

from .. import runlevel as rl
from ..claims import as_float, ci_name
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context, not_run

PATCH_METRICS: dict[str, tuple[str, str]] = {
    # metric: (readable name, unit)
    "hf_fraction": ("high-frequency (HF) power fraction", "1"),
    "compression_ratio": ("JPEG compression ratio", "1"),
    "entropy": ("grey-level entropy", "bits"),
    "edge_density": ("edge density", "1"),
    "edge_strength": ("mean edge strength", "Sobel grey levels"),
    "wavelet_detail": ("wavelet detail-energy fraction (H+V+D)", "1"),
    "wavelet_approx": ("wavelet approximation-energy fraction", "1"),
    "wavelet_h": ("wavelet horizontal-detail fraction", "1"),
    "wavelet_v": ("wavelet vertical-detail fraction", "1"),
    "wavelet_d": ("wavelet diagonal-detail fraction", "1"),
    "wavelet_energy": ("total wavelet energy", "grey levels² per pixel"),
}
# the VITAL feature-analysis report's central claim: these fall with training σ
KEY_METRICS = ["hf_fraction", "edge_density", "entropy"]
COMPLEXITY_TEXT_METRICS = [
    "compression_ratio",
    "entropy",
    "edge_density",
    "edge_strength",
    "wavelet_detail",
    "wavelet_energy",
]


def metric_name(metric: str) -> str:
    """Readable name of a patch metric ("edge_density" → "edge density")."""
    return PATCH_METRICS.get(metric, (metric.replace("_", " "), ""))[0]


def runs(n: object) -> str:
    """A replicate count for text: ``2`` → "2 training runs", ``1`` → "1 training run", "" when unknown."""
    v = as_float(n)
    if v is None:
        return ""
    return f"{int(v)} training run{'' if int(v) == 1 else 's'}"


def section(src: Sources, ctx: Context) -> Section:
    """The design (docs/statistics.md) and every preferred-patch claim of the findings table: the σ contrast of
    each metric × layer (primary or exploratory), BlurPool and, with filter-only references, filter and learned."""
    sec = Section("statistics", "Statistics: the run-level design and every preferred-patch test",
                  short="Preferred patches")
    tab = rl.findings(src)
    if tab is None:
        return not_run(sec, "spectra", "findings")
    level = ctx.level("stats")
    patches = rl.rows(tab, stage="patches")
    prim = rl.rows(tab, family="primary")
    sec.para(
        "**The design.** One training run is one draw of \"train a network at σ\", so every claim about σ is a test "
        "over training runs: each run enters with one value (its mean over neurons, renders or images), and "
        "intervals come from the spread between runs, which already holds the within-run sampling. The σ "
        "contrast is the mean of the runs at σ max minus the mean at σ 0, with the between-run variance pooled "
        "over every σ level (Student t, n_runs − n_σ degrees of freedom; chosen by simulation, docs/statistics.md); "
        "BlurPool and the filter-only references are compared over runs with Welch's t, a reference against the σ 0 "
        f"run it is built on with a paired t. The **primary family** — {len(prim)} tests: HF power, edge density "
        "and entropy of the preferred patches and HF power of the optimised stimuli at each analysed layer — is "
        "Holm-adjusted and is all that may be called a finding; every other row is exploratory, judged by its own p "
        f"and {ci_name(level)}, and never given a direction unless both agree. A test the design cannot compute "
        "(one run per σ level, a single σ) is stated as not testable."
    )
    sig = patches[patches["comparison"] == "sigma"]
    if len(sig):
        table = pd.DataFrame(rl.table_rows(sig))
        table.insert(1, "layer", sig["layer"].to_numpy())
        sec.add(Table(table.drop(columns=["comparison"]),
                      f"Preferred patches, σ contrast of every metric × layer over training runs "
                      f"({rl.comparison_text(sig.iloc[0])}; bracket: {ci_name(level)} t interval).",
                      src.source("findings")))
    other = patches[patches["comparison"] != "sigma"]
    if len(other):
        sec.add(Bullets([rl.sentence(r, level).text for _, r in other[other["metric"].isin(KEY_METRICS)].iterrows()]))
        sec.to_appendix(Table(pd.DataFrame(rl.table_rows(other)), "Preferred patches: BlurPool and filter-only "
                              "references against σ 0, over training runs.", src.source("findings")))
    return sec
