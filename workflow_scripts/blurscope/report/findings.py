"""The executive summary's findings table: one row per headline measure, learned or filter.

Every analysis serves one question, what blur *training* changed inside the network,
so each row says which effect it measures:

* **learned** — the trained networks probed alone with clear images (preferred patches,
  optimised stimuli, stem kernels), or a trained model minus its filter-only reference
  (the σ 0 network behind the same blur) for the analyses that run the model as deployed;
* **filter** — the filter-only reference minus the σ 0 model: what the blur in front of a
  network does on its own, never a learned effect;
* **filter + learned** — preference analyses fed through each model's blur layer
  (``analysis.own_blur: true``): the two are mixed, and the row says so.

Columns: finding | effect | from | to | change [95 % CI] | runs | verdict (from → to: σ 0 →
σ max for the trend rows; σ 0 network alone → behind the σ max blur for a filter row; filter-only
reference → trained σ max model for a learned deployed-model row). The verdict
comes from the tests (:func:`blurscope.report.claims.judge`) and states a null result as one.
"""

from __future__ import annotations

import pandas as pd

from .claims import as_float, fmt_interval, fmt_num, fmt_p, judge, layer_label
from .document import Table
from .sections.common import Context, first_row
from .sources import Sources

PATCH_METRICS = {
    "hf_fraction": "HF power of preferred patches",
    "edge_density": "edge density of preferred patches",
    "entropy": "entropy of preferred patches",
}
DEPLOYED = {
    "f_rev_cpp": ("f_rev (hybrid-image reversal, cyc/px)", "frequency_reference"),
    "f_half_cpp": ("f_0.5 of PGD perturbations (cyc/px)", "frequency_reference"),
    "shape_bias": ("shape bias (cue conflict)", "frequency_reference"),
    "corruption_acc": ("mean corruption accuracy", "frequency_reference"),
    "sis": ("shift instability (SIS)", "aliasing_paired"),
}
COLUMNS = ["finding", "effect", "from", "to", "change [95 % CI]", "runs", "verdict"]


def _runs(a: object, b: object) -> str:
    """``"2 / 2"``: training runs behind the σ 0 and the σ max number."""
    return f"{fmt_num(a)} / {fmt_num(b)}"


def _verdict(change: object, lo: object, hi: object, quantity: str, who: str, p: object = None,
             alpha: float = 0.05) -> str:
    """``"<who> lowers <quantity>"`` when the CI (and p, when given) exclude 0, else a plain null."""
    if as_float(change) is None:
        return "not estimable here (the measure is undefined for at least one model: see its section)"
    v = judge(change, p, lo, hi, alpha=alpha)
    if v.conflict:
        return f"inconclusive: the test and the CI disagree ({fmt_p(p)})"
    if not v.significant:
        return f"{who} changes nothing measurable"
    return f"{who} {'lowers' if v.direction < 0 else 'raises'} {quantity}"


def _trend_rows(src: Sources, ctx: Context, name: str, effects: str, metrics: dict[str, str], effect: str,
                prefix: str) -> list[dict]:
    """Rows of a trend table (``patch_trends`` / ``featvis_trends``): σ min → σ max, ρ and its test; the
    change and its CI from the matching effects table (σ max group vs σ 0, hierarchical bootstrap)."""
    if not src.has(name):
        return []
    tr = src.table(name)
    eff = src.table(effects) if src.has(effects) else None
    rows = []
    for layer in ctx.order_layers(tr["layer"].unique()):
        for metric, label in metrics.items():
            r = first_row(tr, layer=layer, metric=metric)
            if r is None:
                continue
            lo, hi = r.get("mean_sigma_min"), r.get("mean_sigma_max")
            change = as_float(hi) - as_float(lo) if as_float(hi) is not None and as_float(lo) is not None else None
            change_text = fmt_num(change)
            if eff is not None:
                e = eff[(eff["layer"].astype(str) == str(layer)) & (eff["metric"] == metric)
                        & (eff["sigma"].astype(float) == float(r["sigma_max"]))
                        & (eff["reference"].astype(str).str.fullmatch(r"sigma[0-9.]+"))]
                if len(e):
                    change_text = fmt_interval(e.iloc[0]["diff"], e.iloc[0]["diff_ci_low"], e.iloc[0]["diff_ci_high"])
            v = judge(r["rho"], r.get("p"), r.get("rho_ci_low"), r.get("rho_ci_high"), alpha=ctx.alpha)
            disjoint = str(r.get("cis_disjoint", "")).lower() == "true"
            if v.conflict:
                verdict = f"inconclusive: p and the CI of ρ disagree (ρ = {fmt_num(r['rho'], 2)}, {fmt_p(r.get('p'))})"
            elif v.significant:
                verdict = (f"{'falls' if v.direction < 0 else 'rises'} with σ (ρ = {fmt_num(r['rho'], 2)}, "
                           f"{fmt_p(r.get('p'))}{'; endpoint CIs disjoint' if disjoint else '; endpoint CIs overlap'})")
            else:
                verdict = (f"no significant trend (ρ = {fmt_num(r['rho'], 2)}, {fmt_p(r.get('p'))}"
                           f"{'; endpoint CIs disjoint' if disjoint else ''})")
            rows.append({
                "finding": f"{prefix}{label}, {layer_label(layer)}",
                "effect": effect,
                "from": fmt_interval(lo, r.get("mean_sigma_min_ci_low"), r.get("mean_sigma_min_ci_high")),
                "to": fmt_interval(hi, r.get("mean_sigma_max_ci_low"), r.get("mean_sigma_max_ci_high")),
                "change [95 % CI]": change_text,
                "runs": _runs(r.get("n_replicates_sigma_min"), r.get("n_replicates_sigma_max")),
                "verdict": verdict,
            })
    return rows


def _stem_rows(src: Sources) -> list[dict]:
    """The stem diagnostic, σ 0 vs σ max trained kernels (CIs over kernels; overlap decides)."""
    if not src.has("stem_table"):
        return []
    st = src.table("stem_table")
    st = st[st["weights"] == "trained"]
    sig = st[st["model"].str.fullmatch(r"sigma[0-9.]+")]
    if sig.empty:
        return []
    a, b = sig.loc[sig["sigma"].idxmin()], sig.loc[sig["sigma"].idxmax()]
    if a["model"] == b["model"]:
        return []
    disjoint = b["ci_high"] < a["ci_low"] or a["ci_high"] < b["ci_low"]
    word = ("lower" if b["mean"] < a["mean"] else "higher") if disjoint else None
    return [{
        "finding": "stem-kernel energy above the HF cutoff (first-layer filters)",
        "effect": "learned (the weights)",
        "from": fmt_interval(a["mean"], a["ci_low"], a["ci_high"]),
        "to": fmt_interval(b["mean"], b["ci_low"], b["ci_high"]),
        "change [95 % CI]": fmt_num(b["mean"] - a["mean"]),
        "runs": "1 / 1",
        "verdict": (f"{word} after training at σ max (CIs over kernels disjoint)" if word
                    else "no change distinguishable (CIs over kernels overlap)"),
    }]


def _deployed_rows(src: Sources, ctx: Context) -> list[dict]:
    """Per deployed-model measure at the largest referenced σ: the filter alone, and what training changed."""
    rows = []
    if src.has("frequency_reference"):
        ref = src.table("frequency_reference")
        ref = ref[ref["sigma"] > 0]
        if len(ref):
            s_max = ref["sigma"].max()
            for metric, (label, _) in DEPLOYED.items():
                sel = ref[(ref["sigma"] == s_max) & (ref["metric"] == metric)]
                for kind in ("filter", "learned"):
                    r = first_row(sel, comparison=kind)
                    if r is not None:
                        rows.append(_deployed_row(label, kind, s_max, r["reference_value"], r["value"], r, ctx))
    if src.has("aliasing_paired"):
        al = src.table("aliasing_paired")
        sis = al[al["metric"] == "sis"]
        refs = sis[sis["model"].str.startswith("ref-")]
        if len(refs):
            s_max = refs["sigma"].max()
            r_ref = refs[refs["sigma"] == s_max].iloc[0]  # reference vs σ 0: the filter
            filt = {
                "value": r_ref["mean"],
                "reference_value": r_ref["reference_mean"],
                "diff": r_ref["diff"],
                "diff_ci_low": r_ref["diff_ci_low"],
                "diff_ci_high": r_ref["diff_ci_high"],
                "n_replicates": r_ref.get("n_replicates"),
                "n_replicates_reference": r_ref.get("n_replicates_reference"),
                "p": r_ref.get("p"),
            }
            rows.append(_deployed_row(DEPLOYED["sis"][0], "filter", s_max, filt["reference_value"], filt["value"],
                                      filt, ctx))
            learned = sis[(sis["reference"] == r_ref["model"]) & ~sis["model"].str.startswith("ref-")]
            if len(learned):
                r = learned.iloc[0]
                d = {"value": r["mean"], "reference_value": r["reference_mean"], "diff": r["diff"],
                     "diff_ci_low": r["diff_ci_low"], "diff_ci_high": r["diff_ci_high"],
                     "n_replicates": r.get("n_replicates"), "n_replicates_reference": r.get("n_replicates_reference"),
                     "p": r.get("p")}
                rows.append(_deployed_row(DEPLOYED["sis"][0], "learned", s_max, d["reference_value"], d["value"], d,
                                          ctx))
    return rows


def _deployed_row(label: str, kind: str, sigma: float, before: object, after: object, r: dict | pd.Series,
                  ctx: Context) -> dict:
    """One filter or learned row of a deployed-model measure."""
    if kind == "filter":
        effect = f"filter: σ 0 network alone → behind the σ = {fmt_num(sigma)} blur"
        who = "the filter"
        runs = _runs(r.get("n_replicates_reference"), r.get("n_replicates"))
    else:
        effect = f"learned: σ = {fmt_num(sigma)} model − its filter-only reference"
        who = "training"
        runs = _runs(r.get("n_replicates_reference"), r.get("n_replicates"))
    return {
        "finding": label,
        "effect": effect,
        "from": fmt_num(before),
        "to": fmt_num(after),
        "change [95 % CI]": fmt_interval(r["diff"], r["diff_ci_low"], r["diff_ci_high"]),
        "runs": runs,
        "verdict": _verdict(r["diff"], r["diff_ci_low"], r["diff_ci_high"], label.split(" (")[0], who,
                            r.get("p"), ctx.alpha),
    }


def findings_table(src: Sources, ctx: Context) -> Table | None:
    """The compact findings table of the executive summary (None when no stage produced one)."""
    own_blur = bool(ctx.config.get("analysis", {}).get("own_blur", False))
    pref_effect = (
        "filter + learned (through each model's blur layer)" if own_blur else "learned (clear input, network alone)"
    )
    rows = _trend_rows(src, ctx, "patch_trends", "patch_effects", PATCH_METRICS, pref_effect, "")
    rows += _trend_rows(src, ctx, "featvis_trends", "featvis_effects", {"hf_fraction": "HF power of optimised stimuli"},
                        "learned (dataset-free, network alone)", "")
    rows += _stem_rows(src)
    rows += _deployed_rows(src, ctx)
    if not rows:
        return None
    sigmas = ctx.sigmas
    return Table(
        pd.DataFrame(rows, columns=COLUMNS),
        f"Findings, σ = {fmt_num(min(sigmas))} → σ = {fmt_num(max(sigmas))} (values with 95 % CIs; runs = training "
        "runs behind the 'from' / 'to' number; from → to: σ 0 → σ max, or for a filter row the σ 0 network alone → "
        "behind the blur, for a learned deployed-model row the filter-only reference → the trained model). "
        "'Learned' rows compare trained networks; 'filter' rows measure what the "
        "blur in front of a network does on its own, which is never a learned effect.",
        "; ".join(
            s
            for s in (
                src.source(n)
                for n in ("patch_trends", "featvis_trends", "stem_table", "frequency_reference", "aliasing_paired")
                if src.has(n)
            )
        ),
    )
