"""Section "Models and accuracy": the models (trained here or from checkpoints), whether each is fit to be
compared (above chance, and relative to σ 0, at its own condition), and what training changed in their
first-layer filters (the run-level findings rows).

Inputs: ``accuracy_table`` (``results/evaluation/accuracy_matrix.tsv``),
``accuracy_matrix`` (its figure), ``models`` (``results/models/*.json``),
``training`` (``results/evaluation/training.tsv``: schedule, own-σ accuracy, time),
``stem_table`` (``results/evaluation/stem_hf.tsv``) and ``stem_hf`` (its figure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...model_id import group_of, model_id
from .. import runlevel as rl
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
)
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context, stage_table

INPUT = "accuracy_table"
"""The report input (rule output) this section reads; without it the stage did not run."""
ACCURACY_COLUMNS = ["model", "train_sigma", "test_sigma", "accuracy", "ci_low", "ci_high", "n"]


def section(src: Sources, ctx: Context) -> Section:
    """Models, their accuracy (95 % CI over test images) and whether each is above chance."""
    sec = Section("models", "Models and accuracy", short="Accuracy")
    if (acc := stage_table(src, sec, "training", INPUT, ACCURACY_COLUMNS)) is None:
        return sec
    level = 0.95
    metas = {}
    for path, meta in (src.jsons("models") if src.has("models") else {}).items():
        metas[str(meta.get("model_id", Path(path).stem))] = meta
    models = order_models(acc["model"].unique())
    num_classes = {int(m["num_classes"]) for m in metas.values() if "num_classes" in m}
    chance = 1.0 / num_classes.pop() if len(num_classes) == 1 else None

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
    groups: dict[str, int] = {}
    for m in models:
        groups[group_of(m)] = groups.get(group_of(m), 0) + 1
    runs_text = ", ".join(f"{model_label(g)} × {n}" for g, n in groups.items())
    n_elsewhere = sum(str(meta.get("origin", "trained")) == "checkpoint" for meta in metas.values())
    sec.para(
        f"{len(models)} networks ({runs_text} training runs; training σ in px at 224 px, scaled to the image size)"
        + (f", {n_elsewhere} of them from checkpoints trained elsewhere" if n_elsewhere else "")
        + (f"; architecture {', '.join(sorted(arch))}" if arch else "")
        + (f", {', '.join(str(s) for s in sorted(size))} px images" if size and None not in size else "")
        + ". Each model is evaluated on the test split blurred at every configured σ "
        f"(accuracy with a {ci_name(level)} over test images)."
    )
    sec.add(src.figure("accuracy_matrix", "Accuracy: training σ × test σ", caption="accuracy_matrix"))
    sec.to_appendix(
        Table(pd.DataFrame(rows), "Models and their accuracy (bracket: 95 % CI over test images).", src.source(INPUT))
    )

    claims: list[Claim] = []
    found = rl.findings(src)
    for claim, subject in (("accuracy/output/clean_acc/sigma", "Clear-test accuracy"),
                           ("accuracy/output/clean_acc/blurpool/blurpool", "Clear-test accuracy")):
        r = rl.row(found, claim)
        if r is not None:
            claims.append(rl.sentence(r, subject=subject))
    fit_claims, fit_summary = fitness(acc, chance, float(ctx.config.get("report", {}).get(
        "min_relative_accuracy", 0.8)))
    claims = _checkpoints(metas) + fit_claims + claims
    claims += _training(src, ctx, sec) + _stem(src, ctx, sec, metas)
    sec.add(Bullets([c.text for c in claims]))
    # the summary's fifth sentence: whether every model is fit to be compared
    sec.headlines = [fit_summary] if fit_summary else []
    return sec


def _own_condition(acc: pd.DataFrame) -> pd.DataFrame:
    """Each model's accuracy at its own training σ with its CI over test images: ``model accuracy ci_low ci_high``."""
    own = acc[np.isclose(acc["test_sigma"].astype(float), acc["train_sigma"].astype(float))]
    return own.drop_duplicates("model").set_index("model")[["accuracy", "ci_low", "ci_high"]]


def fitness(acc: pd.DataFrame, chance: float | None, min_relative: float) -> tuple[list[Claim], str]:
    """Whether every model is fit to be compared: above chance at its own condition (its CI), and its
    above-chance accuracy as a fraction of the σ 0 runs' (``min_relative``: the fraction below which a model
    is flagged). Returns the claims and the one-sentence verdict for the summary.

    Relative, not a constant: a 76 %-top-1 ImageNet model and a 97 % embedded-data model are both well
    trained if their blurred siblings keep most of their above-chance accuracy at their own condition.
    """
    own = _own_condition(acc)
    if own.empty:
        return [], ""
    base = own.loc[[m for m in own.index if group_of(m) == model_id(0.0)]]
    floor = chance if chance is not None else 0.0
    ref = float(base["accuracy"].mean()) - floor if len(base) else None
    claims: list[Claim] = []
    at_chance = [m for m in order_models(own.index)
                 if chance is not None and not judge(own.loc[m, "accuracy"], None, own.loc[m, "ci_low"],
                                                     own.loc[m, "ci_high"], null=chance).significant]
    rel = {m: (float(own.loc[m, "accuracy"]) - floor) / ref for m in own.index} if ref and ref > 0 else {}
    weak = [m for m in order_models(rel) if rel[m] < min_relative and m not in at_chance]
    if at_chance:
        listed = "; ".join(f"{model_label(m)}: {fmt_ci(*own.loc[m, ['accuracy', 'ci_low', 'ci_high']])}"
                           for m in at_chance)
        claims.append(Claim(
            f"**{len(at_chance)} of {len(own)} models are at chance at their own condition** (chance 1/"
            f"{round(1 / chance)} = {fmt_num(chance)}; the 95 % CI includes it): {listed}. Their analyses describe "
            "untrained behaviour (a one-epoch test run legitimately is); nothing about blur can be read from them.",
            Verdict(False, 0)))
    if weak:
        claims.append(Claim(
            f"{len(weak)} of {len(own)} models keep less than {fmt_num(min_relative)} of the σ 0 runs' above-chance "
            f"accuracy at their own condition ({'; '.join(f'{model_label(m)}: {fmt_num(rel[m])}' for m in weak)}): "
            "a preference difference between a well-trained and a half-trained network says little; train longer "
            "(`training.epochs`).", Verdict(False, 0)))
    if rel and not at_chance and not weak:
        lo = min(rel, key=rel.get)
        claims.append(Claim(
            f"Every model is fit to be compared: above chance at its own condition (lowest lower CI bound "
            f"{fmt_num(own['ci_low'].min())}"
            + (f" > chance {fmt_num(chance)}" if chance is not None else "")
            + f"), and each keeps at least {fmt_num(min_relative)} of the σ 0 runs' above-chance accuracy there "
            f"(lowest {fmt_num(rel[lo])}, {model_label(lo)}).", Verdict(True, 1)))
    summary = claims[0].text.replace("**", "") if claims else ""
    return claims, summary


def _training(src: Sources, ctx: Context, sec: Section) -> list[Claim]:
    """The training table (schedule, own-σ accuracy, seconds) and the fine-tuning caveat."""
    if not src.has("training"):
        return []
    tr = src.table("training", ["model", "sigma", "role", "epochs", "own_sigma_accuracy", "train_seconds"])
    tr = tr.set_index("model").loc[order_models(tr["model"])].reset_index()
    mode = str(ctx.config.get("training", {}).get("mode", "scratch"))
    rows = pd.DataFrame({
        "model": tr["model"],
        "how": tr["role"].map({"baseline": "from scratch", "scratch": "from scratch", "blurpool": "from scratch",
                               "finetune": "fine-tuned", "checkpoint": "checkpoint (trained elsewhere)"})
        .fillna(tr["role"]),
        "epochs": tr["epochs"].map(fmt_num),
        "batch": tr.get("batch_size", pd.Series(["n/a"] * len(tr))).map(fmt_num),
        "weight decay": tr.get("weight_decay", pd.Series(["n/a"] * len(tr))).map(fmt_num),
        "threads": tr.get("threads", pd.Series(["n/a"] * len(tr))).map(fmt_num),
        "accuracy at own σ": tr["own_sigma_accuracy"].map(fmt_num),
        "training time (s)": tr["train_seconds"].map(lambda v: fmt_num(v, 3)),
    })
    sec.to_appendix(Table(rows, "How each model was trained, and its test accuracy at its own training σ.",
                          src.source("training")))
    claims = []
    if mode == "finetune":
        claims.append(Claim(
            "The σ > 0 models were fine-tuned behind a fixed blur layer from a trained model "
            "(`training.mode: finetune`): their weights stay close to the model they started from, so analyses of "
            "the networks alone find little that training changed.", Verdict(None, 0)))
    return claims


def _checkpoints(metas: dict[str, dict]) -> list[Claim]:
    """Every model analysed from a checkpoint: trained elsewhere, with its file, format and content hash."""
    out = []
    for m in order_models(metas):
        meta = metas[m]
        if str(meta.get("origin", "trained")) != "checkpoint":
            continue
        ck = meta.get("checkpoint") or {}
        out.append(Claim(
            f"{model_label(m)} (`{m}`) was trained elsewhere and analysed from a checkpoint: `{ck.get('path', 'n/a')}` "
            f"(format {ck.get('format', 'n/a')}, sha256 `{ck.get('sha256', 'n/a')}`); this run did not train it.",
            Verdict(None, 0)))
    return out


def _stem(src: Sources, ctx: Context, sec: Section, metas: dict[str, dict]) -> list[Claim]:
    """The stem diagnostic: the run-level σ contrast of the first-layer kernels' HF energy (findings) and the
    untrained initialisation beside it (none for checkpoint models)."""
    if not src.has("stem_table"):
        return []
    st = src.table("stem_table", ["model", "sigma", "weights", "mean", "ci_low", "ci_high", "hf_cutoff"])
    sec.add(src.figure("stem_hf", "What training changed in the first-layer filters", caption="stem_hf"))
    cutoff = fmt_num(st["hf_cutoff"].iloc[0])
    claims = []
    r = rl.row(rl.findings(src), "stem/stem/stem_hf/sigma")
    if r is not None:
        claims.append(rl.sentence(r, subject=f"Stem-kernel energy above {cutoff} cyc/px"))
    init = st[st["weights"] == "init"]
    elsewhere = [m for m, meta in metas.items() if str(meta.get("origin", "trained")) == "checkpoint"]
    if len(init):
        i = init.iloc[0]
        claims.append(Claim(
            f"The untrained initialisation has {fmt_ci(*i[['mean', 'ci_low', 'ci_high']])} (white-noise kernels: "
            f"1 − π·{cutoff}² of the energy); what a trained model keeps above the cutoff beyond what its data "
            "drive is left-over initialisation (docs/training.md).", Verdict(None, 0)))
    if elsewhere:
        names = ", ".join(model_label(m) for m in order_models(elsewhere))
        claims.append(Claim(
            f"{len(elsewhere)} model(s) came from checkpoints ({names}): "
            "there is no initialisation to compare their kernels with, so the stem diagnostic shows their trained "
            "kernels only.", Verdict(None, 0)))
    return claims
