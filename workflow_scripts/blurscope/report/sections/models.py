"""Section "Models and accuracy": the trained models, how they were trained, their accuracy on
clear and blurred test images, and what training changed in their first-layer filters.

Inputs: ``accuracy_table`` (``results/evaluation/accuracy_matrix.tsv``),
``accuracy_matrix`` (its figure), ``models`` (``results/models/*.json``),
``training`` (``results/evaluation/training.tsv``: schedule, own-σ accuracy, time),
``stem_table`` (``results/evaluation/stem_hf.tsv``) and ``stem_hf`` (its figure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..claims import (
    Claim,
    Verdict,
    ci_name,
    fmt_ci,
    fmt_interval,
    fmt_num,
    judge,
    model_label,
    order_models,
    overlap_sentence,
    sigma_label,
)
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context, not_run


def section(src: Sources, ctx: Context) -> Section:
    """Models, their accuracy (95 % CI over test images) and whether each is above chance."""
    sec = Section("models", "Models and accuracy", short="Accuracy")
    name = "accuracy_table"
    if not src.has(name):
        return not_run(sec, "training", name)
    acc = src.table(name, ["model", "train_sigma", "test_sigma", "accuracy", "ci_low", "ci_high", "n"])
    level = 0.95
    metas = {}
    for path, meta in (src.jsons("models") if src.has("models") else {}).items():
        metas[str(meta.get("model_id", Path(path).stem))] = meta
    models = order_models(acc["model"].unique())
    num_classes = {int(m["num_classes"]) for m in metas.values() if "num_classes" in m}
    chance = 1.0 / num_classes.pop() if len(num_classes) == 1 else None
    test_sigmas = sorted(acc["test_sigma"].astype(float).unique())
    s_max = max(test_sigmas)

    def cell(model: str, test_sigma: float) -> pd.Series | None:
        """The accuracy row of ``model`` at ``test_sigma`` (None when absent)."""
        sel = acc[(acc["model"] == model) & np.isclose(acc["test_sigma"].astype(float), test_sigma)]
        return None if sel.empty else sel.iloc[0]

    rows = []
    for m in models:
        meta = metas.get(m, {})
        train_sigma = float(acc.loc[acc["model"] == m, "train_sigma"].iloc[0])
        clean, own = cell(m, 0.0), cell(m, train_sigma)
        rows.append(
            {
                "model": m,
                "training σ (px at 224)": fmt_num(train_sigma),
                "σ (px at image size)": fmt_num(meta.get("sigma_px")),
                "anti-aliased": "yes" if meta.get("antialiased") else "no",
                "fine-tuned from": str(meta.get("parent") or "–"),
                "accuracy, clear test": fmt_interval(
                    *(clean[["accuracy", "ci_low", "ci_high"]] if clean is not None else [None] * 3)
                ),
                "accuracy, test σ = training σ": fmt_interval(
                    *(own[["accuracy", "ci_low", "ci_high"]] if own is not None else [None] * 3)
                ),
                "test images": fmt_num(clean["n"] if clean is not None else None, 6),
            }
        )
    arch = {str(m.get("arch")) for m in metas.values()}
    size = {m.get("image_size") for m in metas.values()}
    sec.para(
        f"{len(models)} models were trained: one per training blur σ ({', '.join(fmt_num(s) for s in ctx.sigmas)}; "
        f"px at 224 px, scaled to the image size) and an anti-aliased BlurPool model"
        + (f"; architecture {', '.join(sorted(arch))}" if arch else "")
        + (f", {', '.join(str(s) for s in sorted(size))} px images" if size and None not in size else "")
        + ". Each model is evaluated on the test split blurred at every configured σ "
        f"(accuracy with a {ci_name(level)} over test images)."
    )
    sec.add(src.figure("accuracy_matrix", "Accuracy: training σ × test σ", caption="accuracy_matrix"))
    sec.add(
        Table(pd.DataFrame(rows), "Models and their accuracy (bracket: 95 % CI over test images).", src.source(name))
    )

    claims: list[Claim] = []
    if chance is not None:
        below = []
        for m in models:
            c = cell(m, 0.0)
            if c is not None and not judge(c["accuracy"], None, c["ci_low"], c["ci_high"], null=chance).significant:
                below.append(f"{model_label(m)}: {fmt_ci(c['accuracy'], c['ci_low'], c['ci_high'], level)}")
        if below:
            claims.append(
                Claim(
                    f"On clear test images, {len(below)} of {len(models)} models are not distinguishable from chance "
                    f"(1/{round(1 / chance)} = {fmt_num(chance)}): {'; '.join(below)}. Interpret their analyses "
                    "with care.",
                    Verdict(False, 0, False, "ci"),
                )
            )
        else:
            claims.append(
                Claim(
                    f"All {len(models)} models classify clear test images above chance "
                    f"(1/{round(1 / chance)} = {fmt_num(chance)}; lower CI bounds above it).",
                    Verdict(True, 1, False, "ci"),
                )
            )
    base = "sigma0" if "sigma0" in models else models[0]
    sigma_models = [m for m in models if m.startswith("sigma") and "-seed" not in m]
    top = sigma_models[-1] if sigma_models else None
    b0 = cell(base, 0.0)
    if top and top != base:
        t0 = cell(top, 0.0)
        if t0 is not None and b0 is not None:
            claims.append(
                overlap_sentence(
                    f"On clear test images, the {model_label(top)} model",
                    "accuracy",
                    f"the {model_label(base)} model",
                    *t0[["accuracy", "ci_low", "ci_high"]],
                    *b0[["accuracy", "ci_low", "ci_high"]],
                    level=level,
                )
            )
        tb, bb = cell(top, s_max), cell(base, s_max)
        if tb is not None and bb is not None and s_max > 0:
            claims.append(
                overlap_sentence(
                    f"On test images blurred at {sigma_label(s_max)}, the {model_label(top)} model",
                    "accuracy",
                    f"the {model_label(base)} model",
                    *tb[["accuracy", "ci_low", "ci_high"]],
                    *bb[["accuracy", "ci_low", "ci_high"]],
                    level=level,
                )
            )
    if "blurpool" in models and b0 is not None:
        p0 = cell("blurpool", 0.0)
        if p0 is not None:
            claims.append(
                overlap_sentence(
                    "On clear test images, BlurPool",
                    "accuracy",
                    f"the {model_label(base)} model",
                    *p0[["accuracy", "ci_low", "ci_high"]],
                    *b0[["accuracy", "ci_low", "ci_high"]],
                    level=level,
                )
            )
    training = _training(src, ctx, sec)
    claims += training + _stem(src, ctx, sec)
    sec.add(Bullets([c.text for c in claims]))
    # the summary leads with whether every model is well trained (a preference difference between a
    # trained and a half-trained network says nothing), then the accuracy claims
    sec.headlines = [c.text for c in training[-1:] + claims[:2]]
    return sec


WELL_TRAINED = 0.85
"""Accuracy at its own training σ below which a model counts as under-trained: a preference
difference between a trained and a half-trained network says nothing."""


def _training(src: Sources, ctx: Context, sec: Section) -> list[Claim]:
    """The training table (schedule, own-σ accuracy, seconds) and whether every model is well trained."""
    if not src.has("training"):
        return []
    tr = src.table("training", ["model", "sigma", "role", "epochs", "own_sigma_accuracy", "train_seconds"])
    tr = tr.set_index("model").loc[order_models(tr["model"])].reset_index()
    mode = str(ctx.config.get("training", {}).get("mode", "scratch"))
    rows = pd.DataFrame({
        "model": tr["model"],
        "how": tr["role"].map({"baseline": "from scratch", "scratch": "from scratch", "blurpool": "from scratch",
                               "finetune": "fine-tuned"}).fillna(tr["role"]),
        "epochs": tr["epochs"].map(fmt_num),
        "batch": tr.get("batch_size", pd.Series(["n/a"] * len(tr))).map(fmt_num),
        "weight decay": tr.get("weight_decay", pd.Series(["n/a"] * len(tr))).map(fmt_num),
        "threads": tr.get("threads", pd.Series(["n/a"] * len(tr))).map(fmt_num),
        "accuracy at own σ": tr["own_sigma_accuracy"].map(fmt_num),
        "training time (s)": tr["train_seconds"].map(lambda v: fmt_num(v, 3)),
    })
    sec.add(Table(rows, "How each model was trained, and its test accuracy at its own training σ.",
                  src.source("training")))
    claims = []
    if mode == "finetune":
        claims.append(Claim(
            "The σ > 0 models were fine-tuned behind a fixed blur layer from a trained model "
            "(`training.mode: finetune`): their weights stay close to the model they started from, so analyses of "
            "the networks alone find little that training changed.", Verdict(None, 0)))
    low = tr[tr["own_sigma_accuracy"].astype(float) < WELL_TRAINED]
    if len(low):
        claims.append(Claim(
            f"{len(low)} of {len(tr)} models are below {fmt_num(WELL_TRAINED)} test accuracy at their own training σ "
            f"({'; '.join(f'{model_label(r.model)}: {fmt_num(r.own_sigma_accuracy)}' for r in low.itertuples())}): "
            "a preference difference between a trained and a half-trained network says nothing; train longer "
            "(`training.epochs`).", Verdict(False, 0)))
    else:
        claims.append(Claim(
            f"Every model is well trained at its own condition: test accuracy at its training σ "
            f"{fmt_num(tr['own_sigma_accuracy'].min())}–{fmt_num(tr['own_sigma_accuracy'].max())} "
            f"(≥ {fmt_num(WELL_TRAINED)}).", Verdict(True, 1)))
    return claims


def _stem(src: Sources, ctx: Context, sec: Section) -> list[Claim]:
    """The stem diagnostic: HF energy of the first-layer kernels, trained vs untrained, σ 0 vs the largest σ."""
    if not src.has("stem_table"):
        return []
    st = src.table("stem_table", ["model", "sigma", "weights", "mean", "ci_low", "ci_high", "hf_cutoff"])
    sec.add(src.figure("stem_hf", "What training changed in the first-layer filters", caption="stem_hf"))
    cutoff = fmt_num(st["hf_cutoff"].iloc[0])
    quantity = f"stem-kernel energy above {cutoff} cyc/px"
    claims = []

    def row(model: str, which: str) -> pd.Series | None:
        sel = st[(st["model"] == model) & (st["weights"] == which)]
        return None if sel.empty else sel.iloc[0]

    sigma_models = [m for m in order_models(st["model"]) if m.startswith("sigma") and "-seed" not in m]
    if len(sigma_models) >= 2:
        base, top = sigma_models[0], sigma_models[-1]
        b, t, i = row(base, "trained"), row(top, "trained"), row(base, "init")
        if b is not None and t is not None:
            claims.append(overlap_sentence(f"After training, the {model_label(top)} model", quantity,
                                           f"the {model_label(base)} model", *t[["mean", "ci_low", "ci_high"]],
                                           *b[["mean", "ci_low", "ci_high"]]))
        if i is not None:
            claims.append(Claim(
                f"The untrained initialisation has {fmt_ci(*i[['mean', 'ci_low', 'ci_high']])} (white-noise kernels: "
                f"1 − π·{cutoff}² of the energy); what a trained model keeps above the cutoff beyond what its data "
                "drive is left-over initialisation (docs/training.md).", Verdict(None, 0)))
    return claims
