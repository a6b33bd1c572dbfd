"""Section "Models and accuracy": the trained models and their accuracy on clear and blurred test images.

Inputs: ``accuracy_table`` (``results/evaluation/accuracy_matrix.tsv``),
``accuracy_matrix`` (its figure) and ``models`` (``results/models/*.json``).
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
                    f"(1/{round(1 / chance)} = {fmt_num(chance)}): {'; '.join(below)}. Interpret their analyses with care.",
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
    sec.add(Bullets([c.text for c in claims]))
    sec.headlines = [c.text for c in claims[:3]]
    return sec
