"""Claims and number formatting: every direction word of the report follows from a test.

* **Formatting** — :func:`fmt_num` (significant digits, a real minus sign),
  :func:`fmt_p`, :func:`fmt_pval`, :func:`fmt_pct`, :func:`fmt_ci`,
  :func:`fmt_interval`; readable labels of models, σ and layers
  (:func:`model_label`, :func:`sigma_label`, :func:`layer_label`) and the
  report's model order (:func:`order_models`).
* **Claims** — :func:`judge` decides whether an estimate differs from its null
  value (from a p-value, a confidence interval, or both: when they disagree the
  claim says so); :func:`trend_sentence`, :func:`compact_trend`,
  :func:`compare_sentence`, :func:`overlap_sentence` and
  :func:`against_value_sentence` turn a table row into a sentence whose verb
  ("falls", "lowers", "is not significant") follows from that decision, never
  from the writer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from blurscope import model_id

MINUS = "\u2212"  # the typographic minus sign of every formatted number

# --------------------------------------------------------------------------- formatting


def as_float(x: Any) -> float | None:
    """``x`` as a float, or None when missing / not a number."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return float(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt_num(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, a real minus sign, "n/a" when missing.

    >>> fmt_num(0.041234), fmt_num(-1.5), fmt_num(1234.5), fmt_num(2.5e-5), fmt_num(float("nan"))
    ('0.0412', '−1.5', '1234', '2.5e−5', 'n/a')
    """
    v = as_float(x)
    if v is None:
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else f"{MINUS}∞"
    if v == 0:
        return "0"
    a = abs(v)
    if a < 1e-4 or a >= 1e6:
        mant, exp = f"{v:.{digits - 1}e}".split("e")
        mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
        s = f"{mant}e{int(exp)}"
    else:
        s = f"{v:.{digits}g}"
        if "e" in s:  # e.g. 999.7 with 3 digits
            s = f"{v:.0f}"
    return s.replace("-", MINUS)


def fmt_p(p: Any, label: str = "p") -> str:
    """``"p = 0.012"``, ``"p < 0.001"`` or ``"p n/a"``."""
    v = as_float(p)
    if v is None:
        return f"{label} n/a"
    if v < 0.001:
        return f"{label} < 0.001"
    return f"{label} = {float(f'{v:.2g}'):g}"


def fmt_pval(p: Any) -> str:
    """A p-value for a table cell: ``"0.012"``, ``"< 0.001"``, ``"n/a"``."""
    return fmt_p(p, "").replace("= ", "").strip()


def fmt_pct(x: Any, digits: int = 2) -> str:
    """A fraction as a signed percentage: −0.4 → "−40 %"."""
    v = as_float(x)
    if v is None:
        return "n/a"
    pct = 100 * v
    sig = digits if abs(pct) >= 1 else 1  # significant digits, never an exponent
    decimals = 0 if pct == 0 else min(3, max(0, sig - 1 - math.floor(math.log10(abs(pct)))))
    return f"{pct:+.{decimals}f} %".replace("-", MINUS)


def ci_name(level: float) -> str:
    """``0.95`` → ``"95 % CI"``."""
    return f"{100 * float(level):g} % CI"


def fmt_ci(value: Any, low: Any, high: Any, level: float = 0.95, unit: str = "", digits: int = 3) -> str:
    """``"0.412 [95 % CI 0.398, 0.427]"`` (no nested parentheses inside sentences)."""
    u = f" {unit}" if unit and unit not in ("1", "fraction") else ""
    est = f"{fmt_num(value, digits)}{u}"
    if as_float(low) is None or as_float(high) is None:
        return f"{est} [CI n/a]"
    return f"{est} [{ci_name(level)} {fmt_num(low, digits)}, {fmt_num(high, digits)}]"


def fmt_interval(value: Any, low: Any, high: Any, digits: int = 3) -> str:
    """Compact table cell: ``"0.412 [0.398, 0.427]"``."""
    if as_float(low) is None or as_float(high) is None:
        return fmt_num(value, digits)
    return f"{fmt_num(value, digits)} [{fmt_num(low, digits)}, {fmt_num(high, digits)}]"


def sigma_label(sigma: Any) -> str:
    """A training blur for text: ``2`` → ``"σ = 2"`` (px at 224 px), ``"σ n/a"`` when missing."""
    v = as_float(sigma)
    return f"σ = {v:g}" if v is not None else "σ n/a"


def model_label(model: str) -> str:
    """Readable model name, the figures' (:attr:`blurscope.model_id.ModelId.label`): sigma2 → "σ = 2",
    blurpool → "BlurPool", sigma2-seed1 → "σ = 2 (seed 1)"; any other id as it is."""
    return model_id.label(model)


def layer_label(layer: Any) -> str:
    """``layer4.0`` stays ``layer4.0``; a bare name such as ``4.2`` becomes ``layer 4.2``."""
    layer = str(layer)
    return layer if layer.lower().startswith("layer") else f"layer {layer}"


def model_sort_key(model: str) -> tuple:
    """Sort key of a model id (:func:`blurscope.model_id.sort_key`): σ models by σ then replicate seed,
    then BlurPool, then the filter-only references by σ, then the rest by name."""
    return model_id.sort_key(model)


def order_models(models: Iterable[str]) -> list[str]:
    """σ models by σ (replicates after their σ), then BlurPool, then the references, then the rest."""
    return model_id.ordered(models)


def capitalize(text: str) -> str:
    """``text`` with its first character upper-cased (the rest untouched, unlike ``str.capitalize``)."""
    return text[:1].upper() + text[1:] if text else text


# --------------------------------------------------------------------------- claims


@dataclass(frozen=True)
class Verdict:
    """Whether an estimate differs from its null value, and in which direction.

    ``significant`` is None when neither a p-value nor a CI is available;
    ``conflict`` is True when the p-value and the CI disagree (then
    ``significant`` is False: no direction is claimed).
    """

    significant: bool | None
    direction: int
    conflict: bool = False
    basis: str = "none"


def judge(
    estimate: Any,
    p: Any = None,
    low: Any = None,
    high: Any = None,
    alpha: float = 0.05,
    null: float = 0.0,
) -> Verdict:
    """Decide significance from ``p < alpha`` and/or a CI that excludes ``null``.

    With both, the estimate is significant only if both agree; a disagreement
    is reported as a conflict (no direction claimed). The direction is the
    sign of ``estimate - null`` (or of the CI's side when the estimate is missing).
    """
    pv, lo, hi, est = as_float(p), as_float(low), as_float(high), as_float(estimate)
    sig_p = None if pv is None else pv < alpha
    sig_ci = None if lo is None or hi is None else (lo > null or hi < null)
    if sig_p is None and sig_ci is None:
        return Verdict(None, 0, False, "none")
    if sig_p is not None and sig_ci is not None:
        conflict = sig_p != sig_ci
        significant = sig_p and sig_ci
        basis = "p+ci"
    else:
        conflict = False
        significant = bool(sig_p if sig_p is not None else sig_ci)
        basis = "p" if sig_p is not None else "ci"
    direction = 0
    if significant:
        if est is not None and est != null:
            direction = 1 if est > null else -1
        elif lo is not None and lo > null:
            direction = 1
        elif hi is not None and hi < null:
            direction = -1
        if direction == 0:
            significant = False
    return Verdict(bool(significant), direction, conflict, basis)


@dataclass(frozen=True)
class Claim:
    """A generated sentence and the verdict behind its wording."""

    text: str
    verdict: Verdict

    def __str__(self) -> str:
        """The sentence."""
        return self.text


def _stat_parts(parts: Sequence[str]) -> str:
    """Non-empty statistics as one parenthesis: ``" (ρ = 0.5; p = 0.01)"``, or ``""``."""
    parts = [p for p in parts if p]
    return f" ({'; '.join(parts)})" if parts else ""


def _worded(
    v: Verdict, *, untested: str, conflict: str, moved: Callable[[str], str], unmoved: str, down: str, up: str
) -> str:
    """The sentence that fits verdict ``v``.

    ``untested`` when no test is available, ``conflict`` when the p-value and the CI
    disagree, ``moved(down)`` / ``moved(up)`` when significant (by direction), else ``unmoved``.
    """
    if v.significant is None:
        return untested
    if v.conflict:
        return conflict
    if v.significant:
        return moved(down if v.direction < 0 else up)
    return unmoved


def trend_sentence(
    quantity: str,
    rho: Any,
    p: Any = None,
    low: Any = None,
    high: Any = None,
    *,
    alpha: float = 0.05,
    x: str = "training σ",
    p_label: str = "p",
    level: float = 0.95,
    rises: str = "rises",
    falls: str = "falls",
    coefficient: str = "Spearman ρ",
    details: str = "",
) -> Claim:
    """One sentence about a monotone trend of ``quantity`` against ``x``.

    Significant negative ρ → "<quantity> falls with <x> (...)"; significant
    positive → "rises"; otherwise "shows no significant trend". ``details`` is
    appended before the full stop (e.g. the endpoint values with CIs).
    """
    r = as_float(rho)
    stats = [f"{coefficient} = {fmt_num(rho, 2)}"]
    if as_float(low) is not None and as_float(high) is not None:
        stats.append(f"{ci_name(level)} [{fmt_num(low, 2)}, {fmt_num(high, 2)}]")
    if p is not None:
        stats.append(fmt_p(p, p_label))
    det = f"{details}" if details else ""
    if r is None:
        v = Verdict(None, 0, False, "none")
        return Claim(f"{capitalize(quantity)}: no trend estimate against {x} ({coefficient} undefined){det}.", v)
    v = judge(r, p, low, high, alpha=alpha, null=0.0)
    what, parts = capitalize(quantity), _stat_parts(stats)
    text = _worded(
        v,
        untested=f"{what} has {coefficient} = {fmt_num(r, 2)} against {x}, without a test{det}.",
        conflict=f"{what} shows no consistent trend with {x}: the p-value and the CI disagree{parts}{det}.",
        moved=lambda verb: f"{what} {verb} with {x}{parts}{det}.",
        unmoved=f"{what} shows no significant trend with {x}{parts}{det}.",
        down=falls,
        up=rises,
    )
    return Claim(text, v)


def compact_trend(name: str, rho: Any, p: Any, *, alpha: float = 0.05, p_label: str = "p") -> str:
    """A trend as a clause for lists: "edge density falls (ρ = −0.8, Holm p = 0.003)"."""
    v = judge(rho, p, alpha=alpha)
    stats = f"(ρ = {fmt_num(rho, 2)}, {fmt_p(p, p_label)})"
    if as_float(rho) is None:
        return f"{name}: no estimate"
    if v.significant:
        return f"{name} {'falls' if v.direction < 0 else 'rises'} {stats}"
    return f"{name}: no significant trend {stats}"


def compare_sentence(
    subject: str,
    quantity: str,
    reference: str,
    diff: Any,
    low: Any = None,
    high: Any = None,
    p: Any = None,
    *,
    alpha: float = 0.05,
    level: float = 0.95,
    unit: str = "",
    rel: Any = None,
    p_label: str = "p",
    lowers: str = "lowers",
    raises: str = "raises",
    values: tuple[str, str] | None = None,
    effect: str = "",
) -> Claim:
    """A paired difference ``subject − reference`` of ``quantity`` as one sentence.

    "BlurPool lowers SIS relative to σ = 0, from a to b: Δ = … (95 % CI …), −40 %, p = …."
    or "… does not significantly change …" or, when p and CI disagree, "… has no
    consistent effect on …".
    """
    v = judge(diff, p, low, high, alpha=alpha)
    frm = f", from {values[0]} to {values[1]}" if values else ""
    stats = [f"Δ = {fmt_ci(diff, low, high, level, unit)}"]
    if as_float(rel) is not None:
        stats.append(fmt_pct(rel))
    if effect:
        stats.append(effect)
    if p is not None:
        stats.append(fmt_p(p, p_label))
    inner = "; ".join(s for s in stats if s)
    text = _worded(
        v,
        untested=f"{subject} vs {reference}, {quantity}{frm}: {inner} (no test available).",
        conflict=(
            f"{subject} has no consistent effect on {quantity} relative to {reference} "
            f"(the p-value and the CI disagree){frm}: {inner}."
        ),
        moved=lambda verb: f"{subject} {verb} {quantity} relative to {reference}{frm}: {inner}.",
        unmoved=f"{subject} does not significantly change {quantity} relative to {reference}{frm}: {inner}.",
        down=lowers,
        up=raises,
    )
    return Claim(text, v)


def intervals_disjoint(lo1: Any, hi1: Any, lo2: Any, hi2: Any) -> bool | None:
    """Whether the intervals [lo1, hi1] and [lo2, hi2] do not overlap; None when a bound is missing."""
    a, b, c, d = (as_float(x) for x in (lo1, hi1, lo2, hi2))
    if None in (a, b, c, d):
        return None
    return b < c or d < a  # type: ignore[operator]


def overlap_sentence(
    subject: str,
    quantity: str,
    reference: str,
    value: Any,
    low: Any,
    high: Any,
    ref_value: Any,
    ref_low: Any,
    ref_high: Any,
    *,
    level: float = 0.95,
    unit: str = "",
    lower: str = "lower",
    higher: str = "higher",
) -> Claim:
    """Two independent estimates with CIs: a direction only when the CIs are disjoint.

    Disjoint CIs are a conservative criterion (overlapping CIs do not prove
    equality), which the "not distinguishable" wording reflects.
    """
    a = fmt_ci(value, low, high, level, unit)
    b = fmt_ci(ref_value, ref_low, ref_high, level, unit)
    dis = intervals_disjoint(low, high, ref_low, ref_high)
    v1, v2 = as_float(value), as_float(ref_value)
    if dis is None or v1 is None or v2 is None:
        return Claim(f"{subject}: {quantity} {a}; {reference}: {b}.", Verdict(None, 0))
    if dis:
        d = -1 if v1 < v2 else 1
        word = lower if d < 0 else higher
        return Claim(
            f"{subject} has a {word} {quantity} than {reference}: {a} vs {b} "
            f"(the {ci_name(level)}s do not overlap).",
            Verdict(True, d, False, "ci"),
        )
    return Claim(
        f"{subject} and {reference} are not distinguishable in {quantity}: {a} vs {b} "
        f"(the {ci_name(level)}s overlap).",
        Verdict(False, 0, False, "ci"),
    )


def against_value_sentence(
    subject: str,
    quantity: str,
    value: Any,
    low: Any,
    high: Any,
    null: float,
    null_name: str,
    *,
    level: float = 0.95,
    unit: str = "",
    above: str = "above",
    below: str = "below",
) -> Claim:
    """An estimate with CI against a fixed value (chance, a ratio of 1)."""
    v = judge(value, None, low, high, null=null)
    est = fmt_ci(value, low, high, level, unit)
    if v.significant is None:
        return Claim(f"{subject}: {quantity} {est}.", v)
    if v.significant:
        word = above if v.direction > 0 else below
        return Claim(f"{subject}: {quantity} {est}, {word} {null_name} ({fmt_num(null)}).", v)
    return Claim(f"{subject}: {quantity} {est}, not distinguishable from {null_name} ({fmt_num(null)}).", v)
