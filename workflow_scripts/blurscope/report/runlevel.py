"""Claims about training σ as the report states them: one row of ``results/stats/findings.tsv``, one wording.

Every sentence, table cell and summary clause about a σ contrast, BlurPool, the blur
filter alone or what training changed is built here from the row of the findings table
(:mod:`blurscope.stats.findings`, docs/statistics.md "The design"), so the summary, the
findings table and every section quote the same number and the same verdict. The
verdict words are the findings table's (:data:`blurscope.stats.runs.VERDICTS`): only
``lower`` and ``higher`` name a direction, and only when the row's test rejects at α
(Holm-adjusted in the primary family) with its t interval on the same side.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .claims import Claim, Verdict, as_float, ci_name, fmt_interval, fmt_num, fmt_p, layer_label
from .sources import Sources

FINDINGS_COLUMNS = ["claim", "stage", "measure", "layer", "metric", "comparison", "effect", "family", "sigma_from",
                    "sigma_to", "model", "reference", "mean_from", "mean_to", "diff", "diff_ci_low", "diff_ci_high",
                    "p", "p_holm", "verdict", "n_runs_from", "n_runs_to", "test", "note"]
"""Columns of ``findings.tsv`` the report reads."""

DIRECTIONS = {"lower", "higher"}


def findings(src: Sources) -> pd.DataFrame | None:
    """The findings table of this run (None when the report has no input ``findings``)."""
    if not src.has("findings"):
        return None
    tab = src.table("findings", FINDINGS_COLUMNS)
    for col in ("layer", "model", "reference", "note", "claim"):
        tab[col] = tab[col].fillna("").astype(str)
    return tab


def row(tab: pd.DataFrame | None, claim: str) -> pd.Series | None:
    """The findings row of ``claim`` (``stage/layer/metric/comparison[/model]``), None when absent."""
    if tab is None:
        return None
    sel = tab[tab["claim"] == claim]
    return None if sel.empty else sel.iloc[0]


def rows(tab: pd.DataFrame | None, **where: Any) -> pd.DataFrame:
    """The findings rows whose columns equal ``where`` (strings compared as strings); empty when none."""
    if tab is None:
        return pd.DataFrame(columns=FINDINGS_COLUMNS)
    sel = tab
    for k, v in where.items():
        if isinstance(v, (list, tuple, set)):
            sel = sel[sel[k].astype(str).isin([str(x) for x in v])]
        else:
            sel = sel[sel[k].astype(str) == str(v)]
    return sel


def sigma_text(s: Any) -> str:
    """``6.0`` → ``"σ = 6"``."""
    v = as_float(s)
    return f"σ = {v:g}" if v is not None else "σ n/a"


def comparison_text(r: pd.Series) -> str:
    """What a row compares, "from → to": "σ = 0 → σ = 6" (a deployed-model trend: "σ = 0 → σ = 6
    as deployed: training with its blur"), "σ 0 network alone → behind the σ = 6 blur"."""
    kind = str(r["comparison"])
    if kind == "sigma":
        deployed = " as deployed: training with its blur" if str(r.get("effect", "")).startswith("as deployed") else ""
        return f"{sigma_text(r['sigma_from'])} → {sigma_text(r['sigma_to'])}{deployed}"
    if kind == "blurpool":
        return f"{sigma_text(r['sigma_from'])} → BlurPool"
    if kind == "filter":
        return f"σ 0 network alone → behind the σ = {fmt_num(r['sigma_to'])} blur (the filter)"
    if kind == "learned":
        return f"filter-only reference → trained {sigma_text(r['sigma_to'])} model (learned)"
    return kind


def name(r: pd.Series) -> str:
    """The measure of a row with its layer: "HF power of preferred patches, layer4.0"."""
    layer = str(r["layer"])
    return f"{r['measure']}, {layer_label(layer)}" if layer and layer not in ("output", "stem") else str(r["measure"])


def change_cell(r: pd.Series) -> str:
    """The difference with its t interval: "−0.093 [−0.12, −0.066]"."""
    return fmt_interval(r["diff"], r["diff_ci_low"], r["diff_ci_high"])


def p_cell(r: pd.Series) -> str:
    """The p that decides the verdict: "Holm p = 0.004 (p = 0.0004)" in the primary family, "p = 0.03" else."""
    if str(r["family"]) == "primary":
        return f"{fmt_p(r['p_holm'], 'Holm p')} ({fmt_p(r['p'])})"
    return fmt_p(r["p"])


def runs_cell(r: pd.Series) -> str:
    """Training runs behind the two sides: "3 / 3"."""
    return f"{fmt_num(r['n_runs_from'])} / {fmt_num(r['n_runs_to'])}"


def verdict_cell(r: pd.Series) -> str:
    """The verdict word, with the reason when the row is not testable or uninformative."""
    v = str(r["verdict"])
    note = str(r.get("note", "") or "")
    if v in ("not testable", "uninformative") and note:
        return f"{v}: {note.split(': ', 1)[-1]}"
    return v


def verdict_of(r: pd.Series) -> Verdict:
    """The row's verdict as a :class:`~blurscope.report.claims.Verdict` (direction only for lower/higher)."""
    v = str(r["verdict"])
    if v in DIRECTIONS:
        return Verdict(True, -1 if v == "lower" else 1, False, "p+ci")
    if v == "no detectable change":
        return Verdict(False, 0, False, "p+ci")
    return Verdict(None, 0)


def sentence(r: pd.Series, level: float = 0.95, subject: str | None = None) -> Claim:
    """The one sentence of a findings row: "<measure>, <from → to>: <verdict> (Δ = …; p …; runs a vs b)."."""
    family = "primary" if str(r["family"]) == "primary" else "exploratory"
    stats = (f"Δ = {fmt_num(r['diff'])} [{ci_name(level)} {fmt_num(r['diff_ci_low'])}, "
             f"{fmt_num(r['diff_ci_high'])}]" if as_float(r["diff_ci_low"]) is not None
             else f"Δ = {fmt_num(r['diff'])}")
    detail = f"{stats}; {p_cell(r)}; training runs {fmt_num(r['n_runs_from'])} vs {fmt_num(r['n_runs_to'])}"
    what = subject or name(r)
    return Claim(f"{what} ({comparison_text(r)}, {family}): **{verdict_cell(r)}** ({detail}).", verdict_of(r))


def compact(r: pd.Series) -> str:
    """A row as a clause for the summary, its verdict beside its numbers:
    "HF power of preferred patches, layer4.0: lower (Δ = −0.093, Holm p = 0.004)"."""
    p = fmt_p(r["p_holm"], "Holm p") if str(r["family"]) == "primary" else fmt_p(r["p"])
    return f"{name(r)}: {r['verdict']} (Δ = {fmt_num(r['diff'])}, {p})"


def table_rows(tab: pd.DataFrame) -> list[dict]:
    """The findings table's cells (the executive summary's table and the appendix's full table)."""
    out = []
    for _, r in tab.iterrows():
        out.append({
            "finding": name(r),
            "comparison": comparison_text(r),
            "family": str(r["family"]),
            "from": fmt_num(r["mean_from"]),
            "to": fmt_num(r["mean_to"]),
            "change [95 % CI]": change_cell(r),
            "p": p_cell(r),
            "runs": runs_cell(r),
            "verdict": verdict_cell(r),
        })
    return out


def listing(items: Iterable[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
