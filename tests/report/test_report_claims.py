"""blurscope.report.claims: number formatting and the wording of generated claims.

The sentences are checked on single table rows: the verb ("falls", "lowers",
"not significant") must follow from the p-value and the CI, and the numbers
must appear formatted as the report prints them.
"""

from __future__ import annotations

from blurscope import report as R

# --------------------------------------------------------------------------- formatting


def test_fmt_num_significant_digits_minus_sign_and_missing() -> None:
    assert R.fmt_num(0.041234) == "0.0412"
    assert R.fmt_num(-1.5) == "−1.5"
    assert R.fmt_num(1234.4) == "1234"
    assert R.fmt_num(999.7) == "1000"
    assert R.fmt_num(2.5e-5) == "2.5e−5"
    assert R.fmt_num(0) == "0"
    assert R.fmt_num(float("nan")) == R.fmt_num(None) == R.fmt_num("x") == "n/a"


def test_fmt_p_and_ci() -> None:
    assert R.fmt_p(0.0123) == "p = 0.012"
    assert R.fmt_p(0.0004) == "p < 0.001"
    assert R.fmt_p(1.0, "Holm p") == "Holm p = 1"
    assert R.fmt_p(float("nan")) == "p n/a"
    assert R.fmt_pval(0.5) == "0.5" and R.fmt_pval(1e-6) == "< 0.001"
    assert R.fmt_ci(0.4123, 0.398, 0.4271) == "0.412 [95 % CI 0.398, 0.427]"
    assert R.fmt_ci(-0.0104, -0.0203, -0.00236, 0.9, "bits") == "−0.0104 bits [90 % CI −0.0203, −0.00236]"
    assert R.fmt_ci(1.0, float("nan"), 2) == "1 [CI n/a]"
    assert R.fmt_interval(0.5, 0.25, 0.75) == "0.5 [0.25, 0.75]"
    assert R.fmt_pct(-0.4) == "−40 %"
    assert R.fmt_pct(2.3) == "+230 %" and R.fmt_pct(-12.3) == "−1230 %"  # no exponent at >= 100 %
    assert R.fmt_pct(0.004) == "+0.4 %" and R.fmt_pct(0.0) == "+0 %"


def test_labels_and_model_order() -> None:
    assert R.model_label("sigma0") == "σ = 0"
    assert R.model_label("sigma1.5") == "σ = 1.5"
    assert R.model_label("sigma2-seed1") == "σ = 2 (seed 1)"
    assert R.model_label("blurpool") == "BlurPool"
    assert R.model_label("blurpool-seed2") == "BlurPool (seed 2)"
    assert R.model_label("ref-sigma6-seed1") == "reference σ = 6 (σ = 0 network behind the blur, σ 0 run 1)"
    assert R.order_models(["ref-sigma6-seed1", "blurpool-seed1", "sigma6", "ref-sigma6", "blurpool", "sigma0"]) == [
        "sigma0", "sigma6", "blurpool", "blurpool-seed1", "ref-sigma6", "ref-sigma6-seed1"]
    assert R.order_models(["blurpool", "sigma6", "sigma0.5", "sigma2-seed1", "sigma2", "sigma0"]) == [
        "sigma0",
        "sigma0.5",
        "sigma2",
        "sigma2-seed1",
        "sigma6",
        "blurpool",
    ]
    assert R.layer_label("layer4.0") == "layer4.0" and R.layer_label("4.2") == "layer 4.2"


# --------------------------------------------------------------------------- claims


def test_judge_uses_p_and_ci_and_flags_disagreement() -> None:
    assert R.judge(-0.5, p=0.01) == R.Verdict(True, -1, False, "p")
    assert R.judge(0.5, low=0.1, high=0.9) == R.Verdict(True, 1, False, "ci")
    assert R.judge(0.5, p=0.2).significant is False
    v = R.judge(-0.06, p=0.13, low=-0.11, high=-0.01)  # CI excludes 0, p does not reject
    assert v.conflict and not v.significant and v.direction == 0
    assert R.judge(1.3, low=1.05, high=1.6, null=1.0).direction == 1
    assert R.judge(None).significant is None


def test_significant_negative_trend_says_falls_with_numbers() -> None:
    c = R.trend_sentence(
        "edge density", -0.83, 0.002, p_label="Holm-adjusted p", details="; σ = 0: " + R.fmt_ci(0.27, 0.25, 0.29)
    )
    assert c.verdict.significant and c.verdict.direction == -1
    assert c.text.startswith("Edge density falls with training σ")
    assert "Spearman ρ = −0.83" in c.text and "Holm-adjusted p = 0.002" in c.text
    assert "0.27 [95 % CI 0.25, 0.29]" in c.text


def test_significant_positive_trend_says_rises() -> None:
    c = R.trend_sentence("compression ratio", 0.61, 0.0001)
    assert "rises with training σ" in c.text and "p < 0.001" in c.text


def test_non_significant_trend_says_not_significant() -> None:
    c = R.trend_sentence("edge density", -0.24, 0.22)
    assert "no significant trend" in c.text
    assert "falls" not in c.text and "rises" not in c.text
    assert "ρ = −0.24" in c.text and "p = 0.22" in c.text


def test_trend_from_ci_only_and_undefined_rho() -> None:
    c = R.trend_sentence("the centroid", -1.0, None, -1.0, -0.31, falls="falls (to lower bands)")
    assert "falls (to lower bands)" in c.text and "95 % CI [−1, −0.31]" in c.text
    c = R.trend_sentence("the centroid", -0.87, None, -1.0, 1.0)
    assert "no significant trend" in c.text
    c = R.trend_sentence("f_rev", float("nan"), float("nan"))
    assert "no trend estimate" in c.text and c.verdict.significant is None


def test_compare_sentence_lowers_and_not_significant() -> None:
    c = R.compare_sentence(
        "BlurPool",
        "SIS",
        "σ = 0",
        -0.00104,
        -0.00203,
        -0.000236,
        0.0019,
        rel=-0.45,
        p_label="Wilcoxon p (Holm)",
        values=("0.00233", "0.00129"),
    )
    assert c.text.startswith("BlurPool lowers SIS relative to σ = 0, from 0.00233 to 0.00129")
    assert "Δ = −0.00104 [95 % CI −0.00203, −0.000236]" in c.text and "−45 %" in c.text
    c = R.compare_sentence("BlurPool", "SIS", "σ = 0", 0.0002, -0.0004, 0.0009, 0.41)
    assert "does not significantly change SIS" in c.text and "p = 0.41" in c.text
    c = R.compare_sentence("BlurPool", "consistency", "σ = 0", -0.06, -0.11, -0.01, 0.13)
    assert "no consistent effect" in c.text and "disagree" in c.text
    c = R.compare_sentence("σ = 6", "edge density", "σ = 0", 0.02, 0.01, 0.03)
    assert c.text.startswith("σ = 6 raises edge density")


def test_overlap_and_against_value_sentences() -> None:
    c = R.overlap_sentence("BlurPool", "f_0.5", "σ = 0", 0.113, 0.094, 0.137, 0.221, 0.14, 0.278)
    assert "has a lower f_0.5 than σ = 0" in c.text and "do not overlap" in c.text
    c = R.overlap_sentence("σ = 6", "accuracy", "σ = 0", 0.28, 0.2, 0.36, 0.25, 0.18, 0.33)
    assert "not distinguishable" in c.text and c.verdict.significant is False
    c = R.against_value_sentence("σ = 0", "ratio", 0.65, 0.33, 1.05, 1.0, "the baseline")
    assert "not distinguishable from the baseline" in c.text
    c = R.against_value_sentence("σ = 0", "ratio", 1.6, 1.04, 2.3, 1.0, "the baseline")
    assert "above the baseline" in c.text


def test_compact_trend_and_intervals_disjoint() -> None:
    assert (
        R.compact_trend("edge density", -0.8, 0.003, p_label="Holm p")
        == "edge density falls (ρ = −0.8, Holm p = 0.003)"
    )
    assert R.compact_trend("entropy", 0.3, 0.4) == "entropy: no significant trend (ρ = 0.3, p = 0.4)"
    assert R.compact_trend("entropy", None, None) == "entropy: no estimate"
    assert R.intervals_disjoint(0, 1, 1.5, 2) is True and R.intervals_disjoint(0, 1, 0.5, 2) is False
    assert R.intervals_disjoint(0, None, 0.5, 2) is None


def test_small_labels() -> None:
    assert R.sigma_label(1.5) == "σ = 1.5" and R.sigma_label(None) == "σ n/a"
    assert R.capitalize("σ falls") == "Σ falls" and R.capitalize("edge Density") == "Edge Density"
    assert R.ci_name(0.9) == "90 % CI" and R.model_label("baseline") == "random patches"


def test_a_deployed_sigma_trend_is_labelled_as_deployed_not_learned() -> None:
    """A deployed model's σ trend mixes training with its own blur; its label says so, a clear-input one does not."""
    import pandas as pd

    from blurscope.report import runlevel as rl
    from blurscope.stats.findings import DEPLOYED_EFFECT, EFFECTS

    row = {"comparison": "sigma", "sigma_from": 0.0, "sigma_to": 6.0}
    deployed = rl.comparison_text(pd.Series({**row, "effect": DEPLOYED_EFFECT}))
    clear = rl.comparison_text(pd.Series({**row, "effect": EFFECTS["sigma"]}))
    assert deployed == "σ = 0 → σ = 6 as deployed: training with its blur"
    assert clear == "σ = 0 → σ = 6"
    assert not DEPLOYED_EFFECT.startswith("learned")
