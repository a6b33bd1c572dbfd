"""The first screen: at most five sentences and one findings table, from ``results/stats/findings.tsv``.

Every analysis serves one question, what blur *training* changed inside the network.
:func:`summary_sentences` answers it in at most five sentences — what training changed
(the primary family, Holm), what the blur filter alone does, what did not change, how
many training runs stand behind it, and whether the models are fit to be compared —
and :func:`findings_table` is the table beneath them: every primary row and the
exploratory rows the sentences mention (the full table is in the appendix). Both are
built from the findings rows through :mod:`blurscope.report.runlevel`, the same
wording the sections use, so a number or verdict on the first screen is the one in
the section and in the table it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from . import runlevel as rl
from .claims import capitalize, fmt_num
from .document import Table
from .sections.common import Context
from .sources import Sources

COLUMNS = ["finding", "comparison", "family", "from", "to", "change [95 % CI]", "p", "runs", "verdict"]

# exploratory rows shown beside the primary family: (stage, metric, comparisons)
HEADLINE_EXPLORATORY = (
    ("aliasing", "sis", ("sigma", "blurpool", "filter", "learned")),
    ("frequency", "f_half_cpp", ("filter", "learned")),
    ("frequency", "f_rev_cpp", ("filter", "learned")),
    ("frequency", "shape_bias", ("filter", "learned")),
    ("frequency", "corruption_rel", ("sigma", "filter", "learned")),
    ("stem", "stem_hf", ("sigma",)),
    ("accuracy", "clean_acc", ("sigma",)),
)


def headline_rows(tab: pd.DataFrame) -> pd.DataFrame:
    """The primary family, then the exploratory rows of :data:`HEADLINE_EXPLORATORY` (filter/learned rows at
    the largest referenced σ only)."""
    parts = [tab[tab["family"] == "primary"]]
    for stage, metric, kinds in HEADLINE_EXPLORATORY:
        sel = tab[(tab["stage"] == stage) & (tab["metric"] == metric) & tab["comparison"].isin(kinds)]
        ref = sel[sel["comparison"].isin(["filter", "learned"])]
        if len(ref):
            top = ref["sigma_to"].astype(float).max()
            sel = sel[~sel["comparison"].isin(["filter", "learned"]) | (sel["sigma_to"].astype(float) == top)]
        parts.append(sel)
    return pd.concat(parts, ignore_index=True)


def findings_table(src: Sources, ctx: Context) -> Table | None:
    """The executive summary's findings table (None without ``findings``)."""
    tab = rl.findings(src)
    if tab is None or tab.empty:
        return None
    shown = headline_rows(tab)
    m = int((tab["family"] == "primary").sum())
    return Table(
        pd.DataFrame(rl.table_rows(shown), columns=COLUMNS),
        f"Findings: every test is over training runs (t test of run-level values; 95 % t interval of the change). "
        f"Primary family ({m} tests: HF power, edge density and entropy of preferred patches and HF power of "
        f"optimised stimuli per analysed layer, σ max vs σ 0): Holm-adjusted, the only rows that may be called "
        f"findings. Exploratory rows: their own p and interval, α = {fmt_num(ctx.alpha)}. Verdicts: lower / higher "
        "(test and interval agree), no detectable change, not testable (the design cannot compute it), "
        "uninformative (at ceiling or floor). Runs: training runs behind 'from' / 'to'. The full table is in the "
        "appendix.",
        src.source("findings"),
    )


def _models_sentence(models: Mapping[str, Any]) -> str:
    """The fifth sentence: whether the models are fit to be compared (from the models section's check)."""
    text = str(models.get("sentence", "") or "")
    return f"**Models.** {text}" if text else ""


def summary_sentences(src: Sources, ctx: Context, models: Mapping[str, Any] | None = None) -> list[str]:
    """At most five sentences: learned, filter, unchanged, runs, models (see the module docstring)."""
    tab = rl.findings(src)
    if tab is None or tab.empty:
        return ["No findings table: the statistics stages are not part of this run."]
    out = []
    prim = tab[tab["family"] == "primary"]
    found = prim[prim["verdict"].isin(rl.DIRECTIONS)]
    untest = prim[prim["verdict"] == "not testable"]
    why = f" ({str(untest.iloc[0]['note']).split(': ', 1)[-1]})" if len(untest) else ""
    if len(untest) == len(prim):
        out.append(f"**What blur training changed (learned).** Not testable: none of the {len(prim)} primary tests "
                   f"can be computed with this design{why}; the findings table gives each σ max − σ 0 difference "
                   "without a test, and no direction can be claimed.")
    elif len(found):
        out.append(f"**What blur training changed (learned).** {len(found)} of the {len(prim)} primary tests are "
                   f"findings after Holm (α = {fmt_num(ctx.alpha)}), σ max against σ 0: "
                   + "; ".join(rl.compact(r) for _, r in found.iterrows())
                   + (f"; {len(untest)} could not be tested{why}" if len(untest) else "") + ".")
    else:
        closest = prim.dropna(subset=["p_holm"]).sort_values("p_holm").head(1)
        near = (f"; the closest: {rl.compact(closest.iloc[0])}" if len(closest) else "")
        out.append(f"**What blur training changed (learned).** None of the {len(prim)} primary tests is a finding "
                   f"after Holm (α = {fmt_num(ctx.alpha)}): this run detects no learned change in what the networks "
                   f"prefer{near}" + (f"; {len(untest)} could not be tested{why}" if len(untest) else "") + ".")
    filt = tab[tab["comparison"] == "filter"]
    if len(filt):
        top = filt["sigma_to"].astype(float).max()
        filt = filt[filt["sigma_to"].astype(float) == top]
        moved = filt[filt["verdict"].isin(rl.DIRECTIONS)]
        still = filt[filt["verdict"] == "no detectable change"]
        n = int(filt["n_runs_to"].max())
        text = (f"**What the blur filter alone does** (each σ 0 network behind the σ = {fmt_num(top)} blur against "
                f"itself, {n} run{'s' if n != 1 else ''}, exploratory): ")
        text += "; ".join(rl.compact(r) for _, r in moved.iterrows()) or "no measure moves"
        if len(still):
            text += "; no detectable change: " + rl.listing(rl.name(r) for _, r in still.iterrows())
        out.append(text + ".")
    same = prim[prim["verdict"] == "no detectable change"]
    unin = tab[tab["verdict"] == "uninformative"].drop_duplicates("metric")
    parts = []
    if len(same):
        parts.append("no detectable change (primary, after Holm): "
                     + rl.listing(rl.name(r) for _, r in same.iterrows()))
    if len(unin):
        parts.append("uninformative: " + rl.listing(f"{r['measure']} ({str(r['note']).split(': ', 1)[-1]})"
                                                    for _, r in unin.iterrows()))
    if parts:
        out.append("**What did not change.** " + capitalize("; ".join(parts)) + ".")
    out.append("**Training runs.** " + runs_sentence(ctx.config, tab))
    if models:
        s = _models_sentence(models)
        if s:
            out.append(s)
    return out[:5]


def runs_sentence(config: Mapping[str, Any], tab: pd.DataFrame) -> str:
    """How many training runs stand behind the claims, and what the tests are over."""
    prim = tab[tab["family"] == "primary"]
    lo = int(prim["n_runs_from"].min()) if len(prim) else 0
    hi = int(prim["n_runs_to"].min()) if len(prim) else 0
    tr = config.get("training", {}) or {}
    sigmas = sorted(float(s) for s in config.get("sigmas", [0]))
    seeds = int(tr.get("seeds", 1) or 1)
    seed_sigmas = {float(s) for s in tr.get("seed_sigmas", []) or []}
    per = [seeds if s in seed_sigmas else 1 for s in sigmas]
    bp = int(tr.get("blurpool_seeds", 1) or 1)
    levels = ", ".join(f"{fmt_num(s)} ({n})" for s, n in zip(sigmas, per))
    return (f"σ (runs) = {levels}, BlurPool {bp}; the primary contrast rests on {lo} run{'s' if lo != 1 else ''} "
            f"at σ 0 and {hi} at σ max. Every interval and test above is over training runs (run-level values, "
            "between-run variance); image-level tests are conditional on the trained networks, are not evidence "
            "about training, and are in the appendix.")
