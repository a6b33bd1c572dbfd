"""The blurscope report: every number and every direction word comes from a result table.

Four layers, each usable (and unit-tested) without Snakemake:

* **Formatting and claims** — :func:`fmt_num`, :func:`fmt_p`, :func:`fmt_ci`;
  :func:`judge` decides whether an estimate is significant (from a p-value,
  a confidence interval, or both — when they disagree the claim says so);
  :func:`trend_sentence`, :func:`compare_sentence`, :func:`overlap_sentence`
  turn a table row into a sentence whose verb ("falls", "lowers", "is not
  significant") follows from that decision, never from the writer.
* **A small document model** (:class:`Section` with :class:`Para`,
  :class:`Bullets`, :class:`Figure`, :class:`Table`, :class:`Heading` blocks)
  rendered by :func:`render_html` (one self-contained file: figures as base64
  ``data:`` URIs, inline CSS, no scripts, no external URL) and
  :func:`render_markdown`.
* **Sources** — :class:`Sources` finds the rule's input files by their path
  below ``results/``, reads tables (identifier columns as strings), checks
  columns, refuses empty tables and records everything it used
  (``results/report/sources.tsv``).
* **Sections** — one builder per analysis, each a function of the tables its
  stage writes (see ``SECTION_BUILDERS``); the methods summary is rendered
  from the resolved config, the reproducibility section from
  ``results/pipeline_info/``. Plus the pipeline-info helpers
  (:func:`package_versions`, :func:`git_state`, :func:`aggregate_benchmarks`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import fnmatch
import html
import importlib.metadata
import json
import math
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MINUS = "\u2212"

# --------------------------------------------------------------------------- formatting


def _float(x: Any) -> float | None:
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
    v = _float(x)
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
    v = _float(p)
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
    v = _float(x)
    if v is None:
        return "n/a"
    s = f"{100 * v:+.{digits}g}" if abs(100 * v) >= 1 else f"{100 * v:+.1g}"
    return f"{s} %".replace("-", MINUS)


def ci_name(level: float) -> str:
    """``0.95`` → ``"95 % CI"``."""
    return f"{100 * float(level):g} % CI"


def fmt_ci(value: Any, low: Any, high: Any, level: float = 0.95, unit: str = "", digits: int = 3) -> str:
    """``"0.412 [95 % CI 0.398, 0.427]"`` (no nested parentheses inside sentences)."""
    u = f" {unit}" if unit and unit not in ("1", "fraction") else ""
    est = f"{fmt_num(value, digits)}{u}"
    if _float(low) is None or _float(high) is None:
        return f"{est} [CI n/a]"
    return f"{est} [{ci_name(level)} {fmt_num(low, digits)}, {fmt_num(high, digits)}]"


def fmt_interval(value: Any, low: Any, high: Any, digits: int = 3) -> str:
    """Compact table cell: ``"0.412 [0.398, 0.427]"``."""
    if _float(low) is None or _float(high) is None:
        return fmt_num(value, digits)
    return f"{fmt_num(value, digits)} [{fmt_num(low, digits)}, {fmt_num(high, digits)}]"


def sigma_label(sigma: Any) -> str:
    v = _float(sigma)
    return f"σ = {v:g}" if v is not None else "σ n/a"


def model_label(model: str) -> str:
    """Readable model name: sigma2 → "σ = 2", blurpool → "BlurPool", sigma2-seed1 → "σ = 2 (seed 1)"."""
    model = str(model)
    if model == "blurpool":
        return "BlurPool"
    if model == "baseline":
        return "random patches"
    m = re.fullmatch(r"sigma([0-9.]+)(?:-seed([0-9]+))?", model)
    if m:
        label = f"σ = {float(m.group(1)):g}"
        return f"{label} (seed {m.group(2)})" if m.group(2) else label
    return model


def layer_label(layer: Any) -> str:
    """``layer4.0`` stays ``layer4.0``; a bare name such as ``4.2`` becomes ``layer 4.2``."""
    layer = str(layer)
    return layer if layer.lower().startswith("layer") else f"layer {layer}"


def model_sort_key(model: str) -> tuple:
    m = re.fullmatch(r"sigma([0-9.]+)(?:-seed([0-9]+))?", str(model))
    if m:
        return (0, float(m.group(1)), int(m.group(2) or 0), "")
    return (1 if model == "blurpool" else 2, 0.0, 0, str(model))


def order_models(models: Iterable[str]) -> list[str]:
    """σ models by σ (replicates after their σ), then BlurPool, then the rest."""
    return sorted(dict.fromkeys(str(m) for m in models), key=model_sort_key)


def capitalize(text: str) -> str:
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
    pv, lo, hi, est = _float(p), _float(low), _float(high), _float(estimate)
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
        return self.text


def _stat_parts(parts: Sequence[str]) -> str:
    parts = [p for p in parts if p]
    return f" ({'; '.join(parts)})" if parts else ""


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
    r = _float(rho)
    stats = [f"{coefficient} = {fmt_num(rho, 2)}"]
    if _float(low) is not None and _float(high) is not None:
        stats.append(f"{ci_name(level)} [{fmt_num(low, 2)}, {fmt_num(high, 2)}]")
    if p is not None:
        stats.append(fmt_p(p, p_label))
    det = f"{details}" if details else ""
    if r is None:
        v = Verdict(None, 0, False, "none")
        return Claim(f"{capitalize(quantity)}: no trend estimate against {x} ({coefficient} undefined){det}.", v)
    v = judge(r, p, low, high, alpha=alpha, null=0.0)
    if v.significant is None:
        text = f"{capitalize(quantity)} has {coefficient} = {fmt_num(r, 2)} against {x}, without a test{det}."
    elif v.conflict:
        text = (
            f"{capitalize(quantity)} shows no consistent trend with {x}: the p-value and the CI disagree"
            f"{_stat_parts(stats)}{det}."
        )
    elif v.significant:
        verb = falls if v.direction < 0 else rises
        text = f"{capitalize(quantity)} {verb} with {x}{_stat_parts(stats)}{det}."
    else:
        text = f"{capitalize(quantity)} shows no significant trend with {x}{_stat_parts(stats)}{det}."
    return Claim(text, v)


def compact_trend(name: str, rho: Any, p: Any, *, alpha: float = 0.05, p_label: str = "p") -> str:
    """A trend as a clause for lists: "edge density falls (ρ = −0.8, Holm p = 0.003)"."""
    v = judge(rho, p, alpha=alpha)
    stats = f"(ρ = {fmt_num(rho, 2)}, {fmt_p(p, p_label)})"
    if _float(rho) is None:
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
    if _float(rel) is not None:
        stats.append(fmt_pct(rel))
    if effect:
        stats.append(effect)
    if p is not None:
        stats.append(fmt_p(p, p_label))
    inner = "; ".join(s for s in stats if s)
    if v.significant is None:
        text = f"{subject} vs {reference}, {quantity}{frm}: {inner} (no test available)."
    elif v.conflict:
        text = (
            f"{subject} has no consistent effect on {quantity} relative to {reference} "
            f"(the p-value and the CI disagree){frm}: {inner}."
        )
    elif v.significant:
        verb = lowers if v.direction < 0 else raises
        text = f"{subject} {verb} {quantity} relative to {reference}{frm}: {inner}."
    else:
        text = f"{subject} does not significantly change {quantity} relative to {reference}{frm}: {inner}."
    return Claim(text, v)


def intervals_disjoint(lo1: Any, hi1: Any, lo2: Any, hi2: Any) -> bool | None:
    a, b, c, d = (_float(x) for x in (lo1, hi1, lo2, hi2))
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
    v1, v2 = _float(value), _float(ref_value)
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


# --------------------------------------------------------------------------- document model


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Heading:
    text: str
    level: int = 3


@dataclass
class Figure:
    path: str  # file on disk
    source: str  # path as the pipeline names it (results/figures/x.png)
    title: str
    caption: str = ""
    number: str = ""
    anchor: str = ""


@dataclass
class Table:
    df: pd.DataFrame  # cells already formatted as strings
    caption: str
    source: str = ""
    note: str = ""


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Any] = field(default_factory=list)
    headlines: list[str] = field(default_factory=list)
    number: str = ""

    def add(self, *blocks: Any) -> Section:
        self.blocks.extend(b for b in blocks if b is not None)
        return self

    def para(self, *sentences: Any) -> Section:
        text = " ".join(str(s) for s in sentences if s)
        if text:
            self.blocks.append(Para(text))
        return self

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


@dataclass
class Document:
    title: str
    author: str
    generated: str
    sections: list[Section]
    summary: list[str]
    subtitle: str = ""

    def number(self) -> None:
        """Number sections (1, 2, …; appendices A, B) and figures (section.k)."""
        n = 0
        appendix = 0
        for sec in self.sections:
            if sec.key.startswith("appendix"):
                sec.number = "ABCDEFGH"[appendix]
                appendix += 1
            else:
                n += 1
                sec.number = str(n)
            for k, fig in enumerate(sec.figures, 1):
                fig.number = f"{sec.number}.{k}"
                fig.anchor = f"fig-{sec.number}-{k}"

    @property
    def figures(self) -> list[tuple[Section, Figure]]:
        return [(s, f) for s in self.sections for f in s.figures]


# --------------------------------------------------------------------------- sources


# identifier columns: always read as strings (a layer called "4.2" must stay "4.2")
ID_COLUMNS = {
    "model",
    "layer",
    "point",
    "ref_layer",
    "metric",
    "band",
    "head",
    "statistic",
    "kind",
    "region",
    "reference",
    "corruption",
    "test",
    "comparison",
    "source",
    "orientation",
    "f_rev_status",
    "method",
    "first_model",
    "last_model",
    "x",
    "y",
    "sigmas",
    "op",
    "unit",
    "alternative",
    "shape_bias_status",
    "strategy",
    "base_model",
    "standard",
    "blurpool",
    "rule",
    "wildcards",
    "role",
    "condition",
    "name",
    "standard_op",
    "blurpool_op",
    "blurpool_kind",
    "device",
    "file",
    "version",
}


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A tidy TSV with identifier columns as strings."""
    with open(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
    dtype = {c: str for c in header if c in ID_COLUMNS}
    return pd.read_csv(path, sep="\t", dtype=dtype, keep_default_na=True)


class ReportInputError(ValueError):
    """A result table the report needs is missing, empty or lacks columns."""


class Sources:
    """The rule's input files, addressed by their path below the results folder.

    Every table and figure a section uses goes through :meth:`table` /
    :meth:`figure`, which records it (``used``) for the data-sources appendix,
    for ``sources.tsv`` and for the tests.
    """

    def __init__(self, files: Iterable[str | os.PathLike], results: str | os.PathLike) -> None:
        self.results = os.path.normpath(str(results))
        self.files: dict[str, str] = {}
        for f in files:
            f = os.path.normpath(str(f))
            rel = os.path.relpath(f, self.results)
            if rel.startswith(".."):
                continue
            self.files[rel.replace(os.sep, "/")] = f
        self.used: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, pd.DataFrame] = {}

    def source(self, rel: str) -> str:
        """The path as the pipeline names it (``results/<rel>``)."""
        return f"{self.results}/{rel}".replace(os.sep, "/")

    def has(self, rel: str) -> bool:
        return rel in self.files

    def glob(self, pattern: str) -> list[str]:
        return sorted(r for r in self.files if fnmatch.fnmatchcase(r, pattern))

    def table(self, rel: str, columns: Iterable[str] = (), allow_empty: bool = False) -> pd.DataFrame:
        """Read ``results/<rel>``; raises :class:`ReportInputError` naming the file when it is
        not an input, empty, or lacks ``columns``."""
        if rel not in self.files:
            raise ReportInputError(f"report: {self.source(rel)} is not an input of the report rule")
        if rel not in self._cache:
            self._cache[rel] = read_table(self.files[rel])
        df = self._cache[rel]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ReportInputError(
                f"report: table {self.source(rel)} lacks columns {missing} " f"(has {list(df.columns)})"
            )
        if df.empty and not allow_empty:
            raise ReportInputError(f"report: table {self.source(rel)} has no rows")
        self.used[rel] = {"kind": "table", "path": self.source(rel), "rows": len(df), "columns": len(df.columns)}
        return df

    def json(self, rel: str) -> dict:
        if rel not in self.files:
            raise ReportInputError(f"report: {self.source(rel)} is not an input of the report rule")
        data = json.loads(Path(self.files[rel]).read_text())
        self.used[rel] = {"kind": "json", "path": self.source(rel), "rows": 1, "columns": len(data)}
        return data

    def figure(self, rel: str, title: str, caption: str = "") -> Figure | None:
        """A :class:`Figure` block for ``results/<rel>`` (None when the stage did not make it)."""
        if rel not in self.files:
            return None
        path = self.files[rel]
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise ReportInputError(f"report: figure {self.source(rel)} is missing or empty")
        self.used[rel] = {"kind": "figure", "path": self.source(rel), "rows": np.nan, "columns": np.nan}
        return Figure(path=path, source=self.source(rel), title=title, caption=caption)

    def used_table(self) -> pd.DataFrame:
        rows = [
            {"path": v["path"], "kind": v["kind"], "rows": v["rows"], "columns": v["columns"]}
            for v in self.used.values()
        ]
        return pd.DataFrame(rows, columns=["path", "kind", "rows", "columns"])


# --------------------------------------------------------------------------- context


@dataclass
class Context:
    """What every section builder needs besides the tables."""

    config: dict
    alpha: float = 0.05
    max_rows: int = 60
    n_representative: int = 3

    @property
    def sigmas(self) -> list[float]:
        return sorted(float(s) for s in self.config.get("sigmas", [0]))

    @property
    def layers(self) -> list[str]:
        return [str(x) for x in self.config.get("analysis", {}).get("layers", [])]

    def level(self, section: str, key: str = "ci", default: float = 0.95) -> float:
        v = _float(self.config.get(section, {}).get(key))
        return v if v is not None else default

    def order_layers(self, layers: Iterable[str]) -> list[str]:
        known = self.layers
        layers = list(dict.fromkeys(str(x) for x in layers))
        return sorted(layers, key=lambda x: (known.index(x) if x in known else len(known), x))


def _not_run(sec: Section, stage: str, expected: str) -> Section:
    sec.para(
        f"The {stage} stage is not part of this workflow run: none of its outputs "
        f"(e.g. `{expected}`) is an input of the report, so this section is empty."
    )
    sec.headlines = []
    return sec


def _fmt_table(df: pd.DataFrame, max_rows: int) -> tuple[pd.DataFrame, str]:
    if len(df) > max_rows:
        return (
            df.head(max_rows),
            f"First {max_rows} of {len(df)} rows (report.max_table_rows); the full table is in the source file.",
        )
    return df, ""


def _row(df: pd.DataFrame, **where: Any) -> pd.Series | None:
    sel = df
    for k, v in where.items():
        sel = sel[sel[k].astype(str) == str(v)]
    return None if sel.empty else sel.iloc[0]


# --------------------------------------------------------------------------- metric vocabulary

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
# the seeds' central claim: these fall with training σ
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
    return PATCH_METRICS.get(metric, (metric.replace("_", " "), ""))[0]


def metric_unit(metric: str) -> str:
    return PATCH_METRICS.get(metric, ("", ""))[1]


# --------------------------------------------------------------------------- section 1: models


def section_models(src: Sources, ctx: Context) -> Section:
    sec = Section("models", "Models and accuracy")
    rel = "evaluation/accuracy_matrix.tsv"
    if not src.has(rel):
        return _not_run(sec, "training", src.source(rel))
    acc = src.table(rel, ["model", "train_sigma", "test_sigma", "accuracy", "ci_low", "ci_high", "n"])
    level = 0.95
    metas = {}
    for r in src.glob("models/*.json"):
        meta = src.json(r)
        metas[str(meta.get("model_id", Path(r).stem))] = meta
    models = order_models(acc["model"].unique())
    num_classes = {int(m["num_classes"]) for m in metas.values() if "num_classes" in m}
    chance = 1.0 / num_classes.pop() if len(num_classes) == 1 else None
    test_sigmas = sorted(acc["test_sigma"].astype(float).unique())
    s_max = max(test_sigmas)

    def cell(model: str, test_sigma: float) -> pd.Series | None:
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
    sec.add(
        src.figure(
            "figures/accuracy_matrix.png",
            "Accuracy: training σ × test σ",
            "Top-1 accuracy of every model (rows, by training σ) on test images blurred at every "
            "test σ (columns). Values annotated in each cell.",
        )
    )
    sec.add(
        Table(pd.DataFrame(rows), "Models and their accuracy (bracket: 95 % CI over test images).", src.source(rel))
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


# --------------------------------------------------------------------------- section 2: features


def _analysis_blur_sentence(analysis: dict) -> str:
    """Which input the feature analyses gave each model (``analysis.own_blur``)."""
    if analysis.get("own_blur", True):
        return (
            "Each model saw the clear analysis images through its own training blur, as it was trained "
            "(`analysis.own_blur: true`); patches are cropped from the clear images. The network-alone control "
            "(`analysis.own_blur: false`) removes the blur layer and measures only what fine-tuning changed in the weights."
        )
    return (
        "Network-alone control (`analysis.own_blur: false`): the clear analysis images reached each trained network "
        "without its training blur, so differences between σ come from the fine-tuned weights alone."
    )


def section_features(src: Sources, ctx: Context) -> Section:
    sec = Section("features", "Feature visualisations")
    grids = src.glob("figures/all_neurons_grid_*.png")
    if not grids:
        return _not_run(sec, "features", src.source("figures/all_neurons_grid_<layer>.png"))
    layers = ctx.order_layers(re.sub(r"^figures/all_neurons_grid_(.*)\.png$", r"\1", g) for g in grids)
    tk, pt = ctx.config.get("topk", {}), ctx.config.get("patches", {})
    sec.para(
        f"For every model and analysed layer, {fmt_num(tk.get('neurons_per_layer'))} neurons (channels, evenly spread, "
        f"the same ids in every model) were followed: their top {fmt_num(tk.get('k'))} analysis images by spatial-max "
        f"activation and, from those, the best {fmt_num(tk.get('n_show'))} patches "
        f"(method `{pt.get('method', 'n/a')}`). Grids: rows are models (σ ascending, then BlurPool), columns are neurons; "
        "each cell is a neuron's mosaic of its best patches, each patch contrast-stretched for display only "
        "(every number in this report is computed on the raw patches). "
        + _analysis_blur_sentence(ctx.config.get("analysis", {}))
    )
    n_rep = int(ctx.n_representative)
    for layer in layers:
        sec.add(Heading(layer_label(layer)))
        sec.add(
            src.figure(
                f"figures/all_neurons_grid_{layer}.png",
                f"Neuron features across blur levels, {layer_label(layer)}",
                f"Preferred patches of neurons of {layer_label(layer)} (columns) for every model (rows).",
            )
        )
        rep_rel = f"patches/representative_{layer}.tsv"
        if src.has(rep_rel):
            rep = src.table(rep_rel, ["neuron", "hf_first", "hf_last", "hf_drop", "first_model", "last_model"])
            rep = rep.sort_values("hf_drop", ascending=False).head(n_rep)
            items = [
                f"neuron {r.neuron}: HF power fraction {fmt_num(r.hf_first)} ({model_label(r.first_model)}) → "
                f"{fmt_num(r.hf_last)} ({model_label(r.last_model)})"
                for r in rep.itertuples()
            ]
            sec.para(
                f"Representative neurons of {layer_label(layer)}: the neurons whose patches lose the most HF power "
                f"from the smallest to the largest training σ (selected for that drop, so these per-neuron "
                f"values illustrate, they do not estimate; the population estimates with CIs are in the "
                f"next sections):"
            )
            sec.add(Bullets(items))
        sec.add(
            src.figure(
                f"figures/representative_neurons_grid_{layer}.png",
                f"Representative neurons, {layer_label(layer)}",
                "The representative neurons across models; each cell is annotated with its mean HF power fraction.",
            )
        )
        sec.add(
            src.figure(
                f"figures/patch_methods_{layer}.png",
                f"Patch methods compared, {layer_label(layer)}",
                "VITAL windows next to exact receptive-field crops for the representative neurons.",
            )
        )
    return sec


# --------------------------------------------------------------------------- sections 3-5: patch statistics


def _trend_claim(row: pd.Series, quantity: str, ctx: Context, unit: str = "") -> Claim:
    level = ctx.level("stats")
    lo = fmt_ci(row["mean_sigma_min"], row["ci_sigma_min_low"], row["ci_sigma_min_high"], level, unit)
    hi = fmt_ci(row["mean_sigma_max"], row["ci_sigma_max_low"], row["ci_sigma_max_high"], level, unit)
    det = f"; {sigma_label(row['sigma_min'])}: {lo}, {sigma_label(row['sigma_max'])}: {hi}"
    return trend_sentence(quantity, row["rho"], row["p_holm"], alpha=ctx.alpha, p_label="Holm-adjusted p", details=det)


TREND_COLUMNS = [
    "layer",
    "metric",
    "rho",
    "p_perm",
    "p_holm",
    "sigma_min",
    "mean_sigma_min",
    "ci_sigma_min_low",
    "ci_sigma_min_high",
    "sigma_max",
    "mean_sigma_max",
    "ci_sigma_max_low",
    "ci_sigma_max_high",
]
EFFECT_COLUMNS = ["layer", "metric", "model", "cohens_d", "diff", "diff_ci_low", "diff_ci_high"]


def _effect_claim(row: pd.Series, ctx: Context, quantity: str, unit: str) -> Claim:
    level = ctx.level("stats")
    return compare_sentence(
        f"In {layer_label(row['layer'])}, the {model_label(row['model'])} model",
        quantity,
        "σ = 0 (same neurons)",
        row["diff"],
        row["diff_ci_low"],
        row["diff_ci_high"],
        alpha=ctx.alpha,
        level=level,
        unit=unit,
        effect=f"Cohen's d = {fmt_num(row['cohens_d'], 2)}",
    )


def section_spectra(src: Sources, ctx: Context) -> Section:
    sec = Section("spectra", "Power spectra of preferred patches")
    rel_t, rel_s = "stats/patch_trends.tsv", "stats/patch_spectra.tsv"
    if not src.has(rel_t):
        return _not_run(sec, "spectra", src.source(rel_t))
    trends = src.table(rel_t, TREND_COLUMNS)
    spec = src.table(rel_s, ["model", "layer", "bin", "freq", "ratio", "ratio_ci_low", "ratio_ci_high"])
    summ = src.table("stats/patch_summary.tsv", ["model", "layer", "metric", "mean", "ci_low", "ci_high"])
    level = ctx.level("stats")
    cut = ctx.config.get("spectra", {}).get("hf_cutoff")
    sec.para(
        "Radial power spectra of the raw preferred patches (grey = mean RGB, mean removed, |FFT|², radial average; "
        "frequency in cycles/pixel) are compared with random patches of the same size from the same images "
        f"(the baseline). The HF power fraction is the power above {fmt_num(cut)} cycles/pixel over all non-DC power. "
        f"Intervals are {ci_name(level)}s of a neuron-level bootstrap "
        f"({fmt_num(ctx.config.get('stats', {}).get('bootstrap_iterations'))} resamples); trends over σ are Spearman ρ "
        "with a permutation p, Holm-adjusted over all metrics × layers."
    )
    layers = ctx.order_layers(trends["layer"].unique())
    rows = []
    for layer in layers:
        sec.add(Heading(layer_label(layer)))
        sec.add(
            src.figure(
                f"figures/models_relative_to_baseline_{layer}.png",
                f"Power spectra relative to the random-patch baseline, {layer_label(layer)}",
                "Top: radial power spectra of each model's preferred patches (95 % bootstrap band), the "
                "baseline dashed. Bottom: model / baseline ratio (1 = as random patches).",
            )
        )
        claims: list[Claim] = []
        tr = _row(trends, layer=layer, metric="hf_fraction")
        if tr is not None:
            claims.append(_trend_claim(tr, f"in {layer_label(layer)}, the HF power fraction of preferred patches", ctx))
        sl = spec[spec["layer"] == layer]
        if not sl.empty:
            top_bin = sl.loc[sl["freq"].astype(float).idxmax()]
            f_top = float(top_bin["freq"])
            for m in order_models(m for m in sl["model"].unique() if m != "baseline"):
                r = sl[(sl["model"] == m) & np.isclose(sl["freq"].astype(float), f_top)]
                if r.empty:
                    continue
                r = r.iloc[0]
                if m in ("sigma0", f"sigma{ctx.sigmas[-1]:g}", "blurpool"):
                    claims.append(
                        against_value_sentence(
                            f"{model_label(m)}, highest frequency bin ({fmt_num(f_top)} cycles/pixel)",
                            "power relative to random patches",
                            r["ratio"],
                            r["ratio_ci_low"],
                            r["ratio_ci_high"],
                            1.0,
                            "the baseline ratio",
                            level=level,
                            above="more HF power than random patches,",
                            below="less HF power than random patches,",
                        )
                    )
        eff = src.table("stats/patch_effects.tsv", EFFECT_COLUMNS) if src.has("stats/patch_effects.tsv") else None
        if eff is not None:
            e = _row(eff, layer=layer, metric="hf_fraction", model="blurpool")
            if e is not None:
                claims.append(_effect_claim(e, ctx, "the HF power fraction", ""))
        sec.add(Bullets([c.text for c in claims]))
        for m in order_models(summ.loc[summ["layer"] == layer, "model"].unique()):
            h = _row(summ, layer=layer, model=m, metric="hf_fraction")
            lo_bin = sl[sl["model"] == m].sort_values("freq")
            rows.append(
                {
                    "layer": layer,
                    "model": m,
                    "HF power fraction": fmt_interval(
                        *(h[["mean", "ci_low", "ci_high"]] if h is not None else [None] * 3)
                    ),
                    "ratio, lowest bin": (
                        fmt_interval(*lo_bin.iloc[0][["ratio", "ratio_ci_low", "ratio_ci_high"]])
                        if len(lo_bin)
                        else "n/a"
                    ),
                    "ratio, highest bin": (
                        fmt_interval(*lo_bin.iloc[-1][["ratio", "ratio_ci_low", "ratio_ci_high"]])
                        if len(lo_bin)
                        else "n/a"
                    ),
                }
            )
    df, note = _fmt_table(pd.DataFrame(rows), ctx.max_rows)
    sec.add(
        Table(
            df,
            f"HF power fraction and model/baseline power ratio at the lowest and highest frequency bins "
            f"(bracket: {ci_name(level)}).",
            src.source(rel_s),
            note,
        )
    )
    return sec


def section_complexity(src: Sources, ctx: Context) -> Section:
    sec = Section("complexity", "Visual complexity of preferred patches")
    rel_t = "stats/patch_trends.tsv"
    if not src.has(rel_t):
        return _not_run(sec, "spectra", src.source(rel_t))
    trends = src.table(rel_t, TREND_COLUMNS)
    sp = ctx.config.get("spectra", {})
    sec.para(
        f"Six complexity measures of the raw preferred patches (JPEG q = {fmt_num(sp.get('jpeg_quality'))} compression "
        f"ratio; grey-level entropy in bits; fraction of Sobel magnitudes > {fmt_num(sp.get('edge_threshold'))} "
        f"(edge density) and their mean (edge strength); {sp.get('wavelet', 'db4')} wavelet energy fractions over "
        f"{fmt_num(sp.get('wavelet_levels'))} levels and total wavelet energy), with neuron-level bootstrap "
        f"{ci_name(ctx.level('stats'))}s."
    )
    for layer in ctx.order_layers(trends["layer"].unique()):
        sec.add(Heading(layer_label(layer)))
        sec.add(
            src.figure(
                f"figures/models_complexity_comparison_{layer}.png",
                f"Complexity measures across models, {layer_label(layer)}",
                "One point per model (error bars: bootstrap SEM), colour = training σ, BlurPool grey "
                "diamond, random-patch baseline dashed.",
            )
        )
        claims = []
        for metric in COMPLEXITY_TEXT_METRICS:
            tr = _row(trends, layer=layer, metric=metric)
            if tr is not None:
                claims.append(_trend_claim(tr, f"{metric_name(metric)}", ctx, metric_unit(metric)))
        sec.add(Bullets([c.text for c in claims]))
    if src.has("stats/complexity_table.tsv"):
        ct = src.table("stats/complexity_table.tsv", ["model", "sigma", "layer"])
        metrics = [c[: -len("_mean")] for c in ct.columns if c.endswith("_mean") and f"{c[:-5]}_sem" in ct.columns]
        rows = []
        for r in ct.to_dict("records"):
            row = {"model": r["model"], "σ": fmt_num(r["sigma"]) if r["model"] != "baseline" else "–"}
            for m in metrics:
                row[metric_name(m)] = f"{fmt_num(r[f'{m}_mean'])} ± {fmt_num(r[f'{m}_sem'], 2)}"
            rows.append(row)
        layer = str(ct["layer"].iloc[0])
        sec.add(
            Table(
                pd.DataFrame(rows),
                f"Complexity summary, {layer_label(layer)}: mean ± bootstrap SEM (seed 000 §3.3).",
                src.source("stats/complexity_table.tsv"),
            )
        )
    return sec


def section_statistics(src: Sources, ctx: Context) -> Section:
    sec = Section("statistics", "Statistics: trends, effect sizes and confidence intervals")
    rel_t, rel_e = "stats/patch_trends.tsv", "stats/patch_effects.tsv"
    if not src.has(rel_t):
        return _not_run(sec, "spectra", src.source(rel_t))
    trends = src.table(rel_t, TREND_COLUMNS)
    level = ctx.level("stats")
    st = ctx.config.get("stats", {})
    verdicts = [judge(r.rho, r.p_holm, alpha=ctx.alpha) for r in trends.itertuples()]
    n_sig = sum(1 for v in verdicts if v.significant)
    falls = [
        f"{metric_name(r.metric)} ({r.layer})"
        for r, v in zip(trends.itertuples(), verdicts)
        if v.significant and v.direction < 0
    ]
    rises = [
        f"{metric_name(r.metric)} ({r.layer})"
        for r, v in zip(trends.itertuples(), verdicts)
        if v.significant and v.direction > 0
    ]
    sec.para(
        f"Bootstrap: neuron-level ({fmt_num(st.get('bootstrap_iterations'))} resamples of neurons with all their "
        f"patches, {ci_name(level)} = percentile interval). Trend: Spearman ρ between training σ and the neuron means "
        f"of the σ models, permutation p ({fmt_num(st.get('n_permutations'))} permutations of σ within neurons), "
        f"Holm-adjusted over all {len(trends)} metric × layer tests; significance level α = {fmt_num(ctx.alpha)}. "
        "Effect sizes: Cohen's d of the neuron means and the mean paired difference (same neurons) against σ = 0 with "
        "a bootstrap CI."
    )
    summary = Claim(
        f"{n_sig} of {len(trends)} metric × layer trends over training σ are significant after Holm adjustment "
        f"(α = {fmt_num(ctx.alpha)})"
        + (f"; falling: {', '.join(falls)}" if falls else "")
        + (f"; rising: {', '.join(rises)}" if rises else "")
        + ".",
        Verdict(n_sig > 0, 0, False, "p"),
    )
    sec.para(summary.text)
    for layer in ctx.order_layers(trends["layer"].unique()):
        parts = []
        for metric in KEY_METRICS:
            r = _row(trends, layer=layer, metric=metric)
            if r is not None:
                parts.append(
                    compact_trend(metric_name(metric), r["rho"], r["p_holm"], alpha=ctx.alpha, p_label="Holm p")
                )
        if parts:
            sec.headlines.append(f"Preferred patches in {layer_label(layer)}, against training σ: {'; '.join(parts)}.")
    sec.headlines.append(summary.text)
    rows = []
    for r, v in zip(trends.itertuples(), verdicts):
        rows.append(
            {
                "layer": r.layer,
                "metric": metric_name(r.metric),
                "ρ": fmt_num(r.rho, 2),
                "p (perm.)": fmt_pval(r.p_perm),
                "p (Holm)": fmt_pval(r.p_holm),
                f"σ = {fmt_num(r.sigma_min)}": fmt_interval(r.mean_sigma_min, r.ci_sigma_min_low, r.ci_sigma_min_high),
                f"σ = {fmt_num(r.sigma_max)}": fmt_interval(r.mean_sigma_max, r.ci_sigma_max_low, r.ci_sigma_max_high),
                "verdict": ("falls" if v.direction < 0 else "rises") if v.significant else "not significant",
            }
        )
    df, note = _fmt_table(pd.DataFrame(rows), ctx.max_rows)
    sec.add(Table(df, f"Trends over training σ (bracket: {ci_name(level)}).", src.source(rel_t), note))
    if src.has(rel_e):
        eff = src.table(rel_e, EFFECT_COLUMNS)
        top = f"sigma{ctx.sigmas[-1]:g}"
        keep = eff[eff["model"].isin([top, "blurpool"])]
        rows = []
        for r in keep.itertuples():
            v = judge(r.diff, None, r.diff_ci_low, r.diff_ci_high)
            rows.append(
                {
                    "layer": r.layer,
                    "metric": metric_name(r.metric),
                    "model vs σ = 0": model_label(r.model),
                    "Cohen's d": fmt_num(r.cohens_d, 2),
                    "Δ (model − σ = 0)": fmt_interval(r.diff, r.diff_ci_low, r.diff_ci_high),
                    "verdict": ("lower" if v.direction < 0 else "higher") if v.significant else "not significant",
                }
            )
        df, note = _fmt_table(pd.DataFrame(rows), ctx.max_rows)
        sec.add(
            Table(
                df,
                f"Effect sizes of the largest σ and of BlurPool against σ = 0 (same neurons; bracket: "
                f"{ci_name(level)} of the paired difference; significant = CI excludes 0).",
                src.source(rel_e),
                note,
            )
        )
    return sec


# --------------------------------------------------------------------------- section 6: aliasing


def section_aliasing(src: Sources, ctx: Context) -> Section:
    sec = Section("aliasing", "Aliasing and shift stability")
    rel_s, rel_p = "aliasing/stats/summary.tsv", "aliasing/stats/paired.tsv"
    if not src.has(rel_s):
        return _not_run(sec, "aliasing", src.source(rel_s))
    summ = src.table(rel_s, ["model", "point", "metric", "mean", "ci_low", "ci_high", "n"])
    paired = src.table(
        rel_p,
        [
            "model",
            "reference",
            "point",
            "metric",
            "mean_ref",
            "mean_treat",
            "mean_diff",
            "diff_ci_low",
            "diff_ci_high",
            "rel_change",
            "p_wilcoxon_holm",
        ],
    )
    level = 0.95
    std = str(ctx.config.get("aliasing", {}).get("standard_model", "sigma0"))
    sec.para(
        "AVR (alias violation ratio) = the share of a feature map's power that 2× subsampling folds back, measured at "
        "the input of every stride > 1 operation (radial region: normalised radius > 1/stride; separable region: "
        "max(|fx|, |fy|) > 1/stride). SIS (shift instability) = mean over the four one-pixel circular shifts of "
        "1 − cos(softmax(original), softmax(shifted)); consistency = the share of shifts that keep the top-1 class. "
        f"Intervals: {ci_name(level)}s of an image bootstrap; paired tests against the standard model "
        f"({model_label(std)}): Wilcoxon signed-rank, Holm-adjusted per model."
    )
    for name, title, cap in (
        (
            "aliasing_layers",
            "AVR at every downsampling point",
            "Mean AVR (95 % CI) per stride point, one line per σ model, BlurPool dashed; radial and separable regions.",
        ),
        (
            "aliasing_sis_sigma",
            "Shift instability against training σ",
            "SIS and consistency (mean, 95 % CI) against training σ; BlurPool as a dashed reference with its CI band.",
        ),
        (
            "aliasing_avr_sis",
            "AVR against SIS per image",
            "Per-image AVR (radial) against SIS at each point, standard vs BlurPool; r and ρ in the legends.",
        ),
        (
            "aliasing_sweep",
            "Frequency sweep with sinusoids",
            "AVR of periodic sinusoids against their frequency: directly and through the sweep models.",
        ),
    ):
        sec.add(src.figure(f"figures/{name}.png", title, cap))

    claims: list[Claim] = []

    def val(model: str, metric: str) -> str:
        r = _row(summ, model=model, metric=metric, point="output")
        return fmt_ci(r["mean"], r["ci_low"], r["ci_high"], level) if r is not None else "n/a"

    for metric, quantity in (("sis", "shift instability (SIS)"), ("consistency", "shift consistency")):
        r = _row(paired, model="blurpool", metric=metric)
        if r is not None:
            c = compare_sentence(
                "BlurPool",
                quantity,
                model_label(str(r["reference"])),
                r["mean_diff"],
                r["diff_ci_low"],
                r["diff_ci_high"],
                r["p_wilcoxon_holm"],
                alpha=ctx.alpha,
                level=level,
                rel=r["rel_change"],
                p_label="Wilcoxon p (Holm)",
                values=(val(str(r["reference"]), metric), val("blurpool", metric)),
            )
            claims.append(c)
            if metric == "sis":
                sec.headlines.append(c.text)
    if src.has("aliasing/stats/sigma_trend.tsv"):
        tr = src.table(
            "aliasing/stats/sigma_trend.tsv",
            ["point", "metric", "rho", "p_perm_holm", "mean_sigma_min", "mean_sigma_max"],
        )
        r = _row(tr, point="output", metric="sis")
        if r is not None:
            sig = sorted(float(x) for x in str(r.get("sigmas", "")).split(",") if x.strip()) or ctx.sigmas
            lo_m, hi_m = f"sigma{sig[0]:g}", f"sigma{sig[-1]:g}"
            c = trend_sentence(
                "SIS",
                r["rho"],
                r["p_perm_holm"],
                alpha=ctx.alpha,
                p_label="permutation p (Holm)",
                details=f"; {model_label(lo_m)}: {val(lo_m, 'sis')}, {model_label(hi_m)}: {val(hi_m, 'sis')}",
            )
            claims.append(c)
            sec.headlines.append(c.text)
        avr = tr[tr["metric"] == "avr_radial"]
        if len(avr):
            vs = [judge(x.rho, x.p_perm_holm, alpha=ctx.alpha) for x in avr.itertuples()]
            nf = sum(v.significant and v.direction < 0 for v in vs)
            nr = sum(v.significant and v.direction > 0 for v in vs)
            claims.append(
                Claim(
                    f"Radial AVR against training σ: significant fall at {nf}, rise at {nr}, no significant trend at "
                    f"{len(vs) - nf - nr} of {len(vs)} downsampling points (Spearman ρ, permutation p, Holm, "
                    f"α = {fmt_num(ctx.alpha)}).",
                    Verdict(nf + nr > 0, 0),
                )
            )
    bp = paired[(paired["model"] == "blurpool") & paired["metric"].isin(["avr_radial", "avr_separable"])]
    avr_table = None
    cor_items: list[str] = []
    if len(bp):
        rows = []
        counts = {"avr_radial": [0, 0, 0], "avr_separable": [0, 0, 0]}
        for r in bp.itertuples():
            v = judge(r.mean_diff, r.p_wilcoxon_holm, r.diff_ci_low, r.diff_ci_high, alpha=ctx.alpha)
            k = 0 if (v.significant and v.direction < 0) else 1 if (v.significant and v.direction > 0) else 2
            counts[r.metric][k] += 1
            rows.append(
                {
                    "point": r.point,
                    "BlurPool layer": getattr(r, "layer", ""),
                    "region": r.metric.replace("avr_", ""),
                    f"AVR {model_label(r.reference)}": fmt_num(r.mean_ref),
                    "AVR BlurPool": fmt_num(r.mean_treat),
                    "Δ [95 % CI]": fmt_interval(r.mean_diff, r.diff_ci_low, r.diff_ci_high),
                    "relative": fmt_pct(r.rel_change),
                    "p (Wilcoxon, Holm)": fmt_pval(r.p_wilcoxon_holm),
                    "verdict": (
                        ("lower" if v.direction < 0 else "higher")
                        if v.significant
                        else ("inconsistent" if v.conflict else "not significant")
                    ),
                }
            )
        for metric, (lo, hi, ns) in counts.items():
            if lo + hi + ns:
                claims.append(
                    Claim(
                        f"BlurPool vs {model_label(std)}, {metric.replace('avr_', '')} AVR: significantly lower at {lo}, "
                        f"higher at {hi}, not significantly different at {ns} of {lo + hi + ns} matched downsampling points.",
                        Verdict(lo + hi > 0, 0),
                    )
                )
        df, note = _fmt_table(pd.DataFrame(rows), ctx.max_rows)
        avr_table = Table(
            df,
            "AVR at matched downsampling points, BlurPool vs the standard model (paired over "
            f"images; bracket: {ci_name(level)}).",
            src.source(rel_p),
            note,
        )
    if src.has("aliasing/stats/correlation.tsv"):
        cor = src.table(
            "aliasing/stats/correlation.tsv",
            ["model", "point", "region", "pearson_r", "pearson_ci_low", "pearson_ci_high", "pearson_p_holm"],
        )
        sel = cor[(cor["model"] == std) & (cor["region"] == "radial")]
        if len(sel):
            items = []
            for r in sel.itertuples():
                v = judge(r.pearson_r, r.pearson_p_holm, r.pearson_ci_low, r.pearson_ci_high, alpha=ctx.alpha)
                word = ("positive" if v.direction > 0 else "negative") if v.significant else "no significant"
                items.append(
                    f"{r.point}: {word} correlation, r = {fmt_ci(r.pearson_r, r.pearson_ci_low, r.pearson_ci_high, level)}, "
                    f"{fmt_p(r.pearson_p_holm, 'p (Holm)')}"
                )
            n_sig = sum(1 for s in items if "no significant" not in s)
            claims.append(
                Claim(
                    f"Per-image AVR (radial) and SIS of the {model_label(std)} model correlate significantly "
                    f"at {n_sig} of {len(items)} downsampling points (Pearson r, Holm-adjusted p and "
                    f"{ci_name(level)} must agree).",
                    Verdict(n_sig > 0, 0),
                )
            )
            cor_items = items
    sec.add(Bullets([c.text for c in claims]))
    sec.add(avr_table)
    if cor_items:
        sec.para(f"AVR–SIS correlation per point ({model_label(std)}, radial region):")
        sec.add(Bullets(cor_items))
    if src.has("aliasing/timing.tsv"):
        t = src.table("aliasing/timing.tsv", ["model", "forward_ms_per_image", "forward_ratio_to_reference", "device"])
        r = _row(t, model="blurpool")
        if r is not None:
            # on a CPU shared with other jobs the wall clock measures the neighbours: prefer process CPU time
            cpu = str(r["device"]).startswith("cpu") and _float(r.get("forward_ratio_to_reference_cpu")) is not None
            ratio, ms, clock = (
                (r["forward_ratio_to_reference_cpu"], r.get("forward_cpu_ms_per_image"), "CPU time of the process")
                if cpu
                else (r["forward_ratio_to_reference"], r["forward_ms_per_image"], "wall clock")
            )
            sec.para(
                f"Cost: one BlurPool forward pass took {fmt_num(ratio)}× the time of the standard model's "
                f"({fmt_num(ms)} ms per image on {r['device']}, {clock}; median of interleaved timing rounds, "
                "a measurement, not a statistical estimate)."
            )
    return sec


# --------------------------------------------------------------------------- section 7: bands


def section_bands(src: Sources, ctx: Context) -> Section:
    sec = Section("bands", "Band interventions in feature maps")
    rel = "bands/band_summary.tsv"
    if not src.has(rel):
        return _not_run(sec, "bands", src.source(rel))
    summ = src.table(
        rel,
        [
            "model",
            "layer",
            "band",
            "kind",
            "head",
            "accuracy",
            "accuracy_ci_low",
            "accuracy_ci_high",
            "chance_accuracy",
            "n_freqs",
        ],
    )
    bcfg = ctx.config.get("bands", {})
    names = [str(b) for b in bcfg.get("names", [])] or list(summ.loc[summ["kind"] == "band", "band"].unique())
    edges = bcfg.get("edges", [])
    level = 0.95
    band_list = ", ".join("%s: [%s, %s)" % (n, fmt_num(a), fmt_num(b)) for n, a, b in zip(names, edges, edges[1:]))
    sec.para(
        "Each layer's output is Fourier-transformed per image and channel, one radial band is kept "
        + (
            f"({band_list} in normalised radius, 1 = Nyquist of the feature map) "
            if len(edges) == len(names) + 1
            else ""
        )
        + "and the forward pass continues. Heads: `own` = the model's remaining layers; `mlp` = an MLP trained on the "
        f"layer's unmodified features. Accuracy with {ci_name(level)}s of an image bootstrap; controls: `unmodified`, "
        "`union` (FFT round trip through all bands, must equal unmodified) and `empty` (all-zero map, chance)."
    )
    sec.add(
        src.figure(
            "figures/bands_accuracy.png",
            "Accuracy per layer × band",
            "Accuracy when only one band of a layer's feature map is kept; one panel column per model, one row per head; "
            "empty bands hatched.",
        )
    )
    sec.add(
        src.figure(
            "figures/bands_gt_rank.png",
            "Ground-truth rank per layer × band",
            "Mean rank of the true class (1 = best) when only one band is kept.",
        )
    )
    sec.add(
        src.figure(
            "figures/bands_shift.png",
            "Band centroid against training σ",
            "Accuracy-weighted centroid of the informative bands (normalised radius) per layer and head, with CIs.",
        )
    )
    claims: list[Claim] = []
    ref = str(bcfg.get("reference_model", "sigma0"))
    for layer in ctx.order_layers(summ["layer"].unique()):
        for head in sorted(summ["head"].unique()):
            s = summ[(summ["layer"] == layer) & (summ["head"] == head) & (summ["model"] == ref)]
            if s.empty:
                continue
            un = _row(s, band="unmodified")
            bands = s[s["kind"] == "band"]
            above = [
                f"{b.band} ({fmt_interval(b.accuracy, b.accuracy_ci_low, b.accuracy_ci_high)})"
                for b in bands.itertuples()
                if judge(
                    b.accuracy, None, b.accuracy_ci_low, b.accuracy_ci_high, null=float(b.chance_accuracy)
                ).significant
                and float(b.accuracy) > float(b.chance_accuracy)
            ]
            chance = float(s["chance_accuracy"].iloc[0])
            text = (
                f"{model_label(ref)}, {layer_label(layer)}, {head} head: unmodified accuracy "
                f"{fmt_ci(un['accuracy'], un['accuracy_ci_low'], un['accuracy_ci_high'], level) if un is not None else 'n/a'}; "
                + (
                    f"bands above chance ({fmt_num(chance)}) on their own: {', '.join(above)}."
                    if above
                    else f"no single band is above chance ({fmt_num(chance)}) on its own."
                )
            )
            claims.append(Claim(text, Verdict(bool(above), 0)))
    if src.has("bands/band_trend.tsv"):
        tr = src.table(
            "bands/band_trend.tsv", ["layer", "head", "statistic", "spearman_rho", "rho_ci_low", "rho_ci_high"]
        )
        undefined = []
        for r in tr.itertuples():
            what = {"centroid_acc": "accuracy centroid", "centroid_rank": "rank centroid"}.get(r.statistic, r.statistic)
            if _float(r.spearman_rho) is None:
                bd = _float(getattr(r, "boot_defined", None))
                undefined.append(
                    f"{layer_label(r.layer)} {r.head} head {what}"
                    + (f" (defined in {fmt_num(100 * bd, 2)} % of the resamples)" if bd is not None else "")
                )
                continue
            c = trend_sentence(
                f"in {layer_label(r.layer)} ({r.head} head), the {what} of the informative bands",
                r.spearman_rho,
                None,
                r.rho_ci_low,
                r.rho_ci_high,
                alpha=ctx.alpha,
                level=level,
                falls="falls (information moves to lower bands)",
                rises="rises (information moves to higher bands)",
                details=(
                    f"; defined in {fmt_num(100 * float(r.boot_defined), 2)} % of the resamples"
                    if _float(getattr(r, "boot_defined", None)) is not None and float(r.boot_defined) < 1
                    else ""
                ),
            )
            claims.append(c)
            if c.verdict.significant:
                sec.headlines.append(c.text)
        if undefined:
            claims.append(
                Claim(
                    "No trend estimate over training σ (Spearman ρ undefined: no band above chance, or "
                    "too few models with a defined centroid) for: " + "; ".join(undefined) + ".",
                    Verdict(None, 0),
                )
            )
        if not sec.headlines:
            n = len(tr)
            sec.headlines.append(
                f"No band-centroid trend over training σ is significant (0 of {n} layer × head × "
                f"centroid tests have a {ci_name(level)} of ρ excluding 0)."
            )
    sec.add(Bullets([c.text for c in claims]))
    rows = []
    b = summ[summ["kind"].isin(["band"]) | (summ["band"] == "unmodified")]
    for (model, layer, head), g in b.groupby(["model", "layer", "head"], sort=False):
        row = {"model": model, "layer": layer, "head": head}
        for band in ["unmodified", *names]:
            x = _row(g, band=band)
            row[band] = (
                "∅"
                if x is not None and band != "unmodified" and _float(x["n_freqs"]) == 0
                else (
                    fmt_interval(x["accuracy"], x["accuracy_ci_low"], x["accuracy_ci_high"]) if x is not None else "n/a"
                )
            )
        rows.append(row)
    df = pd.DataFrame(rows)
    if len(df):
        df = df.assign(
            _k=df["model"].map(model_sort_key),
            _l=df["layer"].map(lambda x: ctx.order_layers(summ["layer"].unique()).index(x)),
        )
        df = df.sort_values(["_l", "head", "_k"]).drop(columns=["_k", "_l"])
    df, note = _fmt_table(df, ctx.max_rows)
    sec.add(
        Table(
            df,
            f"Accuracy with one band kept (bracket: {ci_name(level)}; ∅ = the band holds no frequency "
            "at this map size).",
            src.source(rel),
            note,
        )
    )
    return sec


# --------------------------------------------------------------------------- section 8: frequency


FREQ_TRENDS = {
    ("sigma", "f_rev_cpp"): "the reversal frequency f_rev",
    ("sigma", "f_half_cpp"): "the PGD half-power frequency f_0.5",
    ("sigma", "shape_bias"): "the shape bias",
    ("sigma", "corruption_acc"): "the mean accuracy under corruptions",
    ("sigma", "clean_acc"): "the clean accuracy",
}


def section_frequency(src: Sources, ctx: Context) -> Section:
    sec = Section("frequency", "Frequency preference and robustness")
    rel = "frequency/summary.tsv"
    if not src.has(rel):
        return _not_run(sec, "frequency", src.source(rel))
    summ = src.table(
        rel,
        [
            "model",
            "sigma",
            "f_rev_cpp",
            "f_rev_ci_low_cpp",
            "f_rev_ci_high_cpp",
            "f_rev_status",
            "f_half_cpp",
            "f_half_ci_low_cpp",
            "f_half_ci_high_cpp",
            "clean_acc",
            "corruption_acc",
            "corruption_acc_ci_low",
            "corruption_acc_ci_high",
        ],
    )
    level = ctx.level("frequency")
    fq = ctx.config.get("frequency", {})
    sec.para(
        f"Hybrid images: the low frequencies of image A (normalised radius ≤ f_mix) plus the rest of image B "
        f"(another class), f_mix swept over (0, √2] in {fmt_num(fq.get('n_f_mix'))} steps on "
        f"{fmt_num(fq.get('n_pairs'))} pairs. f_rev = the first f_mix at which the low-frequency image wins; "
        f"f_0.5 = the radius below which half the power of PGD perturbations lies ({fq.get('pgd_norm', '')}, "
        f"ε = {fmt_num(fq.get('pgd_eps'))}, {fmt_num(fq.get('pgd_steps'))} steps). Both in cycles/pixel; a lower value = "
        f"a model that relies on lower frequencies. Shape bias on the cue-conflict split; robustness = mean accuracy "
        f"over {len(fq.get('corruptions', []))} corruptions × {len(fq.get('severities', []))} severities. "
        f"Intervals: {ci_name(level)}s of a bootstrap over image pairs / images; trends: Spearman ρ over the σ models "
        "with a permutation p (unadjusted)."
    )
    for name, title, cap in (
        (
            "frequency_preference",
            "Hybrid-image frequency preference",
            "p_low (solid) and p_high (dashed) against f_mix per model, ○ = f_rev; f_rev and f_0.5 against σ with CIs.",
        ),
        ("frequency_shape_bias", "Shape bias against training σ", "Shape bias on the cue-conflict images with CIs."),
        (
            "frequency_corruption_vs_frev",
            "Corruption robustness against f_rev",
            "Mean corruption accuracy against f_rev (CIs on both axes); per-type accuracy against f_rev.",
        ),
        (
            "frequency_corruption_heatmap",
            "Accuracy per corruption and severity",
            "Model × corruption type and model × severity accuracy.",
        ),
    ):
        sec.add(src.figure(f"figures/{name}.png", title, cap))
    claims: list[Claim] = []
    if src.has("frequency/trends.tsv"):
        tr = src.table("frequency/trends.tsv", ["x", "y", "spearman_rho", "p_permutation"])
        for r in tr.itertuples():
            if (r.x, r.y) in FREQ_TRENDS:
                q = FREQ_TRENDS[(r.x, r.y)]
                x = "training σ"
            elif r.y == "corruption_acc" and r.x == "f_rev_cpp":
                q, x = "the mean accuracy under corruptions", "f_rev (over all models)"
            else:
                q, x = r.y.replace("_", " "), r.x.replace("_", " ")
            c = trend_sentence(q, r.spearman_rho, r.p_permutation, alpha=ctx.alpha, x=x, p_label="permutation p")
            claims.append(c)
            if r.x == "sigma" and r.y in ("f_rev_cpp", "f_half_cpp", "shape_bias"):
                sec.headlines.append(c.text)
    base = _row(summ, model="sigma0")
    bp = _row(summ, model="blurpool")
    if base is not None and bp is not None:
        claims.append(
            overlap_sentence(
                "BlurPool",
                "f_0.5 (cycles/pixel)",
                model_label("sigma0"),
                bp["f_half_cpp"],
                bp["f_half_ci_low_cpp"],
                bp["f_half_ci_high_cpp"],
                base["f_half_cpp"],
                base["f_half_ci_low_cpp"],
                base["f_half_ci_high_cpp"],
                level=level,
            )
        )
        claims.append(
            overlap_sentence(
                "BlurPool",
                "mean accuracy under corruptions",
                model_label("sigma0"),
                bp["corruption_acc"],
                bp["corruption_acc_ci_low"],
                bp["corruption_acc_ci_high"],
                base["corruption_acc"],
                base["corruption_acc_ci_low"],
                base["corruption_acc_ci_high"],
                level=level,
            )
        )
    status = summ["f_rev_status"].astype(str)
    odd = summ[status != "crossed"]
    if len(odd):
        why = {
            "low_from_start": "low frequencies win from the first sweep point: f_rev is an upper bound",
            "never": "the low-frequency image never wins: f_rev undefined",
        }
        listed = ", ".join(
            f"{model_label(r.model)} ({why.get(r.f_rev_status, r.f_rev_status)})" for r in odd.itertuples()
        )
        claims.append(Claim(f"f_rev is censored or undefined for {listed}.", Verdict(None, 0)))
    sec.add(Bullets([c.text for c in claims]))
    rows = []
    has_shape = "shape_bias" in summ.columns
    for m in order_models(summ["model"].unique()):
        r = _row(summ, model=m)
        row = {
            "model": m,
            "f_rev (cycles/px)": fmt_interval(r["f_rev_cpp"], r["f_rev_ci_low_cpp"], r["f_rev_ci_high_cpp"]),
            "f_rev status": str(r["f_rev_status"]),
            "f_0.5 (cycles/px)": fmt_interval(r["f_half_cpp"], r["f_half_ci_low_cpp"], r["f_half_ci_high_cpp"]),
            "clean accuracy": fmt_num(r["clean_acc"]),
            "corruption accuracy": fmt_interval(
                r["corruption_acc"], r["corruption_acc_ci_low"], r["corruption_acc_ci_high"]
            ),
        }
        if has_shape:
            row["shape bias"] = fmt_interval(r["shape_bias"], r.get("shape_bias_ci_low"), r.get("shape_bias_ci_high"))
        rows.append(row)
    df, note = _fmt_table(pd.DataFrame(rows), ctx.max_rows)
    sec.add(
        Table(df, f"Frequency preference and robustness per model (bracket: {ci_name(level)}).", src.source(rel), note)
    )
    return sec


# --------------------------------------------------------------------------- section 9: saliency


SALIENCY_COMPARISONS = {
    "naive_clear_vs_blurred": "input effect on the naive model (clear vs blurred input)",
    "expert_clear_vs_blurred": "input effect on the expert model (clear vs blurred input)",
    "naive_vs_expert_blurred": "classifier effect (naive vs expert, blurred input)",
}


SALIENCY_METRICS = {
    "nn_distance": "nearest-neighbour focus distance",
    "rank_distance": "rank-matched focus distance",
    "iou": "focus IoU",
}


def section_saliency(src: Sources, ctx: Context) -> Section:
    sec = Section("saliency", "Saliency: naive vs expert")
    stats_rel = next(iter(src.glob("saliency/*stats*.tsv")), None)
    if stats_rel is None:
        return _not_run(sec, "saliency", src.source("saliency/stats.tsv"))
    st = src.table(
        stats_rel,
        [
            "test",
            "comparison",
            "reference",
            "metric",
            "mean",
            "mean_reference",
            "mean_diff",
            "ci_low",
            "ci_high",
            "p_holm",
        ],
    )
    sal = ctx.config.get("saliency", {})
    sec.para(
        f"SmoothGrad maps of the naive (σ = 0) and the expert (blur-trained, σ = {fmt_num(sal.get('expert_sigma'))}) "
        "model on clear and blurred inputs (blurred at the expert's σ); focus = "
        f"the top {fmt_num(sal.get('top_k_pixels'))} pixels. Focus distances are ≥ 0, so each is tested against the noise "
        "floor (the same model and input with two independent SmoothGrad noise seeds), paired over images, one-sided "
        "in the 'foci differ more' direction, Holm-adjusted over the whole table; mean differences with bootstrap "
        f"{ci_name(0.95)}s."
    )
    known = {
        "saliency_overlays": (
            "SmoothGrad saliency, naive vs expert",
            "Columns: naive clear, naive blurred, expert clear, expert blurred; saliency map of one "
            "noise seed, cyan circles = focus pixels.",
        ),
        "saliency_distances": (
            "Focus distances against the noise floor",
            "Per metric and comparison: grey lines from each image's noise floor to its value; "
            "black = means with the bootstrap CI of the difference; Holm p above.",
        ),
        "saliency_activations": (
            "Activation maps, naive vs expert",
            "Channel-mean and selected channel activations per layer for clear and blurred inputs.",
        ),
    }
    figs = src.glob("figures/saliency*.png")
    for fig in sorted(figs, key=lambda f: (list(known).index(Path(f).stem) if Path(f).stem in known else 99, f)):
        title, cap = known.get(Path(fig).stem, (Path(fig).stem.replace("_", " ").capitalize(), ""))
        sec.add(src.figure(fig, title, cap))
    claims: list[Claim] = []
    rows = []
    for r in st.itertuples():
        unit = str(getattr(r, "unit", "") or "")
        u = f" {unit}" if unit not in ("", "1", "nan") else ""
        comp = SALIENCY_COMPARISONS.get(r.comparison, r.comparison)
        v = judge(r.mean_diff, r.p_holm, r.ci_low, r.ci_high, alpha=ctx.alpha)
        alt = str(getattr(r, "alternative", "greater"))
        # one-sided tests: "the foci differ more" is the tested direction (larger distance, smaller IoU)
        more = bool(v.significant) and ((v.direction > 0) == (alt != "less"))
        stats = (
            f"{fmt_num(r.mean)} vs {fmt_num(r.mean_reference)}{u}; Δ = {fmt_ci(r.mean_diff, r.ci_low, r.ci_high)}; "
            f"{fmt_p(r.p_holm, 'p (Holm)')}"
        )
        metric = SALIENCY_METRICS.get(r.metric, r.metric.replace("_", " "))
        if r.reference == "noise_floor":
            verdict = (
                "the foci differ more than the noise floor"
                if more
                else "not significantly different from the noise floor"
            )
            text = f"{capitalize(comp)}, {metric}: {verdict} ({stats})."
        else:
            ref = SALIENCY_COMPARISONS.get(r.reference, r.reference)
            verdict = (
                "the classifier effect exceeds the "
                if more
                else "the classifier effect does not significantly exceed the "
            )
            text = f"{capitalize(metric)}: {verdict}{ref} (excess over the noise floor: {stats})."
        claims.append(Claim(text, v))
        rows.append(
            {
                "test": r.test,
                "comparison": r.comparison,
                "reference": r.reference,
                "metric": r.metric,
                "mean": fmt_num(r.mean),
                "reference mean": fmt_num(r.mean_reference),
                "Δ [95 % CI]": fmt_interval(r.mean_diff, r.ci_low, r.ci_high),
                "p (Holm)": fmt_pval(r.p_holm),
                "verdict": "differ more" if more else "not significant",
            }
        )
    sec.add(Bullets([c.text for c in claims]))
    sec.para(
        "Before reading the classifier effect as 'the expert attends to other parts of the object', look at the "
        "overlays and at the caveats in `docs/saliency.md` (focus in the image corner of barely trained networks)."
    )
    n_more = sum(1 for r in rows if r["verdict"] == "differ more")
    sec.headlines.append(
        f"{n_more} of {len(rows)} focus-distance tests are significant after Holm adjustment "
        f"(α = {fmt_num(ctx.alpha)})."
    )
    sec.headlines += [
        c.text
        for c, r in zip(claims, st.itertuples())
        if str(r.test).startswith("classifier_vs_input") and r.metric == str(st["metric"].iloc[0])
    ]
    df, note = _fmt_table(pd.DataFrame(rows), ctx.max_rows)
    sec.add(Table(df, "Focus-distance tests (paired over images).", src.source(stats_rel), note))
    return sec


# --------------------------------------------------------------------------- methods, reproducibility


def _get(cfg: dict, dotted: str, default: Any = "n/a") -> Any:
    cur: Any = cfg
    for k in dotted.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return default
        cur = cur[k]
    return cur


def _fmt_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt_value(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt_value(x)}" for k, x in v.items())
    if v is None:
        return "–"
    return str(v)


def section_methods(config: dict, alpha: float = 0.05) -> Section:
    """Methods summary rendered from the resolved config (``results/pipeline_info/config.yaml``)."""
    sec = Section("methods", "Methods summary")
    g = lambda k: _fmt_value(_get(config, k))  # noqa: E731
    ds = _get(config, "dataset", {})
    if ds.get("kind") == "embedded":
        e = ds.get("embedded", {})
        data = (
            f"embedded procedural dataset, {g('dataset.embedded.n_classes')} classes, "
            f"{g('dataset.embedded.n_train')}/{g('dataset.embedded.n_val')}/{g('dataset.embedded.n_test')} "
            f"train/val/test images, {g('dataset.embedded.n_cue_conflict')} cue-conflict images, "
            f"generator seed {e.get('seed', 'n/a')}"
        )
        if e.get("texture_coverage") is not None:
            data += f", class texture on {100 * float(e['texture_coverage']):.0f} % of each object's surface"
    else:
        data = f"ImageFolder at `{g('dataset.root')}`"
    sec.para(
        "All values below are read from the resolved configuration of this run "
        "(`results/pipeline_info/config.yaml`)."
    )
    items = [
        ("Data", f"{data}; image size {g('dataset.image_size')} px."),
        (
            "Model",
            f"{g('model.arch')}"
            + (f", widths {g('model.widths')}" if _get(config, "model.widths", None) else "")
            + (f", starting checkpoint `{g('model.weights')}`" if _get(config, "model.weights", None) else "")
            + ".",
        ),
        (
            "Training blur",
            f"σ ∈ {{{g('sigmas')}}} px at 224 px, scaled to the image size (σ_px = σ · "
            f"{g('dataset.image_size')}/224); plus a BlurPool model trained at σ = 0.",
        ),
        (
            "Training",
            f"mode {g('training.mode')} (fine-tune from: {g('training.finetune_from')}), "
            f"{g('training.epochs')} baseline epochs, {g('training.finetune_epochs')} fine-tune epochs, "
            f"lr {g('training.lr')} / {g('training.finetune_lr')}, batch {g('training.batch_size')}, "
            f"seed {g('training.seed')}, training seeds {g('training.seeds')}.",
        ),
        (
            "Analysis images",
            f"{g('analysis.n_images')} images of split `{g('analysis.split')}` (seed {g('analysis.seed')}); "
            f"layers {g('analysis.layers')}.",
        ),
        (
            "Top-k and patches",
            f"k = {g('topk.k')} images per neuron, {g('topk.n_show')} patches shown, "
            f"{g('topk.neurons_per_layer')} neurons per layer; patch method {g('patches.method')} "
            f"(window {g('patches.window_224')} px at 224).",
        ),
        (
            "Baseline patches",
            f"{g('baseline.n_patches')} random patches from {g('baseline.n_images')} images "
            f"(seed {g('baseline.seed')}).",
        ),
        (
            "Spectra and complexity",
            f"HF cutoff {g('spectra.hf_cutoff')} cycles/pixel; JPEG quality "
            f"{g('spectra.jpeg_quality')}; Sobel threshold {g('spectra.edge_threshold')}; "
            f"wavelet {g('spectra.wavelet')}, {g('spectra.wavelet_levels')} levels.",
        ),
        (
            "Statistics",
            f"neuron-level bootstrap, {g('stats.bootstrap_iterations')} iterations, CI {g('stats.ci')}; "
            f"{g('stats.n_permutations')} permutations; seed {g('stats.seed')}.",
        ),
        (
            "Aliasing",
            f"{g('aliasing.bootstrap_iterations')} bootstrap iterations, {g('aliasing.permutations')} "
            f"permutations, seed {g('aliasing.seed')}; standard model {g('aliasing.standard_model')}.",
        ),
        (
            "Bands",
            f"bands {g('bands.names')} with edges {g('bands.edges')} (normalised radius); "
            f"{g('bands.bootstrap')} bootstrap iterations, seed {g('bands.seed')}.",
        ),
        (
            "Frequency",
            f"{g('frequency.n_pairs')} hybrid pairs, {g('frequency.n_f_mix')} f_mix steps; PGD "
            f"{g('frequency.pgd_norm')} ε {g('frequency.pgd_eps')}, {g('frequency.pgd_steps')} steps on "
            f"{g('frequency.pgd_n_images')} images; corruptions {g('frequency.corruptions')} at severities "
            f"{g('frequency.severities')}; {g('frequency.bootstrap')} bootstrap iterations, seed {g('frequency.seed')}.",
        ),
    ]
    sal = _get(config, "saliency", {})
    if sal:
        items.append(("Saliency", ", ".join(f"{k} {_fmt_value(v)}" for k, v in sal.items()) + "."))
    items.append(
        (
            "Reporting",
            f"significance level α = {fmt_num(alpha)}; a direction is stated only when the "
            "test (p < α) and the CI agree; otherwise the text says 'not significant'.",
        )
    )
    sec.add(
        Table(pd.DataFrame([{"part": a, "settings": b} for a, b in items]), "Methods, from the resolved configuration.")
    )
    seeds = {
        k: _get(config, k, None)
        for k in (
            "dataset.embedded.seed",
            "training.seed",
            "analysis.seed",
            "baseline.seed",
            "stats.seed",
            "aliasing.seed",
            "bands.seed",
            "frequency.seed",
        )
    }
    sec.para("Seeds: " + ", ".join(f"`{k}` = {v}" for k, v in seeds.items() if v is not None) + ".")
    return sec


def section_reproducibility(info_dir_files: dict[str, str], config: dict, max_rows: int = 60) -> Section:
    """Reproducibility from ``results/pipeline_info``: git, command line, versions, runtimes."""
    sec = Section("reproducibility", "Reproducibility")
    git = parse_keyvalue(Path(info_dir_files["git"]).read_text()) if "git" in info_dir_files else {}
    items = []
    if git:
        items.append(
            f"Code: git commit `{git.get('commit', 'n/a')}`"
            + (f" (branch `{git['branch']}`)" if git.get("branch") else "")
            + (
                ", **with uncommitted changes**"
                if git.get("dirty") == "true"
                else (
                    ", no uncommitted changes"
                    if git.get("dirty") == "false"
                    else f", state: {git.get('dirty', 'unknown')}"
                )
            )
            + "."
        )
        if git.get("command_line"):
            items.append(f"Command line: `{git['command_line']}` (working directory `{git.get('workdir', 'n/a')}`).")
        if git.get("snakemake"):
            items.append(f"Snakemake {git['snakemake']}, Python {git.get('python', 'n/a')}, {git.get('platform', '')}.")
        if git.get("generated"):
            items.append(f"pipeline_info written {git['generated']}.")
    items.append(
        "Rerun: the same command line with `results/pipeline_info/config.yaml` as `--configfile` reproduces "
        "every table (every random choice takes its seed from the config)."
    )
    sec.add(Bullets(items))
    if "versions" in info_dir_files:
        v = read_table(info_dir_files["versions"])
        key = [
            "python",
            "platform",
            "snakemake",
            "torch",
            "torchvision",
            "timm",
            "antialiased-cnns",
            "numpy",
            "scipy",
            "pandas",
            "pillow",
            "pywavelets",
            "matplotlib",
            "seaborn",
            "safetensors",
            "captum",
            "pyyaml",
            "cuda",
        ]
        v["_k"] = v["name"].str.lower()
        sel = v[v["_k"].isin(key)].copy()
        sel["_o"] = sel["_k"].map(key.index)
        sel = sel.sort_values("_o")[["name", "version"]]
        sec.add(
            Table(
                sel.reset_index(drop=True),
                f"Key package versions ({len(v)} packages in " "`results/pipeline_info/versions.tsv`).",
                "results/pipeline_info/versions.tsv",
            )
        )
    if "benchmarks" in info_dir_files:
        b = read_table(info_dir_files["benchmarks"])
        if len(b):
            per = per_rule_runtimes(b)
            total = float(b["s"].sum())
            sec.para(
                f"Runtimes: {len(b)} jobs, {fmt_num(total)} s of job wall-clock time in total (from the "
                "`benchmark:` files; wall-clock on a shared machine, not statistical estimates)."
            )
            df = per.assign(
                **{
                    "total (s)": per["total_s"].map(fmt_num),
                    "max (s)": per["max_s"].map(fmt_num),
                    "max RSS (MB)": per["max_rss_mb"].map(fmt_num),
                    "share": (per["total_s"] / total).map(lambda x: f"{100 * x:.1f} %"),
                }
            )[["rule", "jobs", "total (s)", "max (s)", "max RSS (MB)", "share"]]
            df, note = _fmt_table(df, max_rows)
            sec.add(
                Table(
                    df,
                    "Per-rule runtimes (sum and maximum over the rule's jobs).",
                    "results/pipeline_info/benchmarks.tsv",
                    note,
                )
            )
    if "rulegraph" in info_dir_files:
        dot = Path(info_dir_files["rulegraph"]).read_text()
        rules = sorted(set(re.findall(r'label\s*=\s*"([^"]+)"', dot)))
        if rules:
            sec.para(
                f"Rule graph: {len(rules)} rules ({', '.join(f'`{r}`' for r in rules)}); Graphviz source in "
                "`results/pipeline_info/rulegraph.dot`."
            )
    return sec


def per_rule_runtimes(bench: pd.DataFrame) -> pd.DataFrame:
    """rule, jobs, total_s, max_s, max_rss_mb from an aggregated benchmark table."""
    b = bench.copy()
    b["s"] = pd.to_numeric(b["s"], errors="coerce")
    rss = pd.to_numeric(b["max_rss"], errors="coerce") if "max_rss" in b else pd.Series(np.nan, index=b.index)
    b["_rss"] = rss
    out = b.groupby("rule").agg(
        jobs=("s", "size"), total_s=("s", "sum"), max_s=("s", "max"), max_rss_mb=("_rss", "max")
    )
    return out.sort_values("total_s", ascending=False).reset_index()


def section_sources(src: Sources) -> Section:
    sec = Section("appendix-sources", "Data sources")
    t = src.used_table()
    t = t.assign(rows=t["rows"].map(lambda x: "–" if _float(x) is None else str(int(x))))
    sec.para(
        "Every table and figure this report read. Numbers in the text are taken from these files; "
        "`results/README.md` documents their columns and units."
    )
    sec.add(Table(t[["path", "kind", "rows"]], "Inputs of this report.", "results/report/sources.tsv"))
    return sec


def section_glossary() -> Section:
    sec = Section("appendix-glossary", "Glossary")
    sec.add(
        Bullets(
            [
                "**σ (training blur)**: standard deviation of the Gaussian blur applied to training images, in pixels at 224 px.",
                "**CI**: percentile bootstrap confidence interval; brackets [a, b] in tables are CIs at the level stated in the caption.",
                "**Spearman ρ**: rank correlation; here between training σ and a per-unit value; its p from a permutation test.",
                "**Holm adjustment**: step-down correction of p-values for the number of tests in a table.",
                "**Cohen's d**: standardised mean difference (pooled SD); 0.2 small, 0.5 medium, 0.8 large.",
                "**HF power fraction**: power above the cutoff frequency over all non-DC power of a patch.",
                "**AVR / SIS**: alias violation ratio / shift instability score (section on aliasing).",
                "**f_rev / f_0.5**: hybrid-image reversal frequency / half-power frequency of adversarial perturbations, cycles/pixel.",
            ]
        )
    )
    return sec


SHORT_TITLES = {
    "models": "Accuracy",
    "statistics": "Preferred patches",
    "aliasing": "Aliasing and shift stability",
    "bands": "Band interventions",
    "frequency": "Frequency preference",
    "saliency": "Saliency",
}

SECTION_BUILDERS: list[tuple[str, Callable[[Sources, Context], Section]]] = [
    ("models", section_models),
    ("features", section_features),
    ("spectra", section_spectra),
    ("complexity", section_complexity),
    ("statistics", section_statistics),
    ("aliasing", section_aliasing),
    ("bands", section_bands),
    ("frequency", section_frequency),
    ("saliency", section_saliency),
]


def build_document(
    src: Sources, config: dict, info_files: dict[str, str], report_cfg: dict | None = None, generated: str | None = None
) -> Document:
    """All sections, the executive summary and the numbering."""
    rc = {**(config.get("report") or {}), **(report_cfg or {})}
    ctx = Context(
        config=config,
        alpha=float(rc.get("alpha", 0.05)),
        max_rows=int(rc.get("max_table_rows", 60)),
        n_representative=int(rc.get("n_representative", 3)),
    )
    sections = [builder(src, ctx) for _, builder in SECTION_BUILDERS]
    sections.append(section_methods(config, ctx.alpha))
    sections.append(section_reproducibility(info_files, config, ctx.max_rows))
    sections.append(section_sources(src))
    sections.append(section_glossary())
    summary = [f"**{SHORT_TITLES.get(s.key, s.title)}.** " + " ".join(s.headlines) for s in sections if s.headlines]
    doc = Document(
        title=str(rc.get("title") or "blurscope report"),
        author=str(rc.get("author") or ""),
        generated=generated or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
        summary=summary,
        subtitle=(
            f"{len(ctx.sigmas)} training blur levels (σ = {', '.join(fmt_num(s) for s in ctx.sigmas)}) and a "
            f"BlurPool model; layers {', '.join(ctx.layers)}."
        ),
    )
    doc.number()
    return doc


# --------------------------------------------------------------------------- rendering

_CSS = """
:root{--fg:#1d232b;--muted:#5b6673;--line:#d9dee4;--accent:#2c5d8f;--bg:#ffffff;--soft:#f4f6f8}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.55 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 64px}
header.top{border-bottom:3px solid var(--accent);margin-bottom:18px;padding-bottom:10px}
h1{font-size:28px;margin:8px 0 4px}h2{font-size:22px;margin:38px 0 10px;padding-top:6px;border-top:1px solid var(--line)}
h3{font-size:17px;margin:22px 0 8px;color:var(--accent)}
.meta{color:var(--muted);font-size:13px}
nav.toc{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:10px 18px;margin:14px 0}
nav.toc ul{margin:4px 0;padding-left:4px;list-style:none;columns:2}nav.toc a{color:var(--accent);text-decoration:none}
.summary li{margin:4px 0}
figure{margin:18px 0 24px;padding:10px;border:1px solid var(--line);border-radius:6px;background:#fff}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{font-size:13px;color:var(--muted);margin-top:8px}figcaption b{color:var(--fg)}
.src{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px;color:var(--muted)}
table{border-collapse:collapse;margin:8px 0 4px;font-size:12.5px;width:auto;max-width:100%}
.tablewrap{overflow-x:auto;margin:10px 0 20px}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;font-size:13px;color:var(--muted);padding:4px 0}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;background:var(--soft);padding:0 3px;border-radius:3px}
ul.figlist{columns:2;font-size:13.5px}
.note{font-size:12px;color:var(--muted)}
@media print{figure{break-inside:avoid}}
"""


def _inline_html(text: str) -> str:
    """Escape, then the two inline marks the sections use: **bold** and `code`."""
    out = html.escape(str(text), quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return out


_NUMERIC = re.compile(r"^[\s−\-+0-9.,e%×\[\]∞<>=n/a]+$")


def _data_uri(path: str) -> str:
    ext = Path(path).suffix.lower().lstrip(".")
    mime = {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "svg": "image/svg+xml",
        "gif": "image/gif",
    }.get(ext)
    if mime is None:
        raise ReportInputError(f"report: cannot embed {path}: unknown image type {ext!r}")
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def _html_table(t: Table) -> str:
    cols = [str(c) for c in t.df.columns]
    head = "".join(f"<th>{_inline_html(c)}</th>" for c in cols)
    body = []
    for row in t.df.itertuples(index=False):
        cells = []
        for v in row:
            s = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            cls = ' class="num"' if s and _NUMERIC.match(s) else ""
            cells.append(f"<td{cls}>{_inline_html(s)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    src = f' <span class="src">{html.escape(t.source)}</span>' if t.source else ""
    note = f'<div class="note">{_inline_html(t.note)}</div>' if t.note else ""
    return (
        f'<div class="tablewrap"><table><caption>{_inline_html(t.caption)}{src}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}</div>"
    )


def _html_block(b: Any) -> str:
    if isinstance(b, Para):
        return f"<p>{_inline_html(b.text)}</p>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>" if b.items else ""
    if isinstance(b, Heading):
        return f"<h{b.level}>{_inline_html(b.text)}</h{b.level}>"
    if isinstance(b, Figure):
        cap = f" {_inline_html(b.caption)}" if b.caption else ""
        return (
            f'<figure id="{b.anchor}"><img src="{_data_uri(b.path)}" alt="{html.escape(b.title)}" '
            f'data-source="{html.escape(b.source)}"><figcaption><b>Figure {b.number}: {_inline_html(b.title)}.</b>'
            f'{cap} <span class="src">{html.escape(b.source)}</span></figcaption></figure>'
        )
    if isinstance(b, Table):
        return _html_table(b)
    raise TypeError(f"unknown block {type(b).__name__}")


def render_html(doc: Document) -> str:
    """One self-contained HTML page: inline CSS, figures as data: URIs, no scripts, no external URL."""
    byline = f"By {html.escape(doc.author)} · " if doc.author else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(doc.title)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f'<header class="top"><h1>{_inline_html(doc.title)}</h1>',
        f'<div class="meta">{_inline_html(doc.subtitle)}</div>',
        f'<div class="meta">{byline}generated {html.escape(doc.generated)} by blurscope</div></header>',
        '<nav class="toc"><b>Contents</b><ul>',
        '<li><a href="#summary">Executive summary</a></li><li><a href="#figures">List of figures</a></li>',
    ]
    parts += [f'<li><a href="#{s.key}">{s.number}. {_inline_html(s.title)}</a></li>' for s in doc.sections]
    parts.append("</ul></nav>")
    parts.append('<section id="summary"><h2>Executive summary</h2>')
    parts.append(
        "<p>Generated from the result tables of this run; every direction word follows from a test "
        "and its confidence interval (details and all caveats in the sections below).</p>"
    )
    parts.append(
        '<ul class="summary">' + "".join(f"<li>{_inline_html(s)}</li>" for s in doc.summary) + "</ul></section>"
    )
    parts.append('<section id="figures"><h2>List of figures</h2><ul class="figlist">')
    parts += [f'<li><a href="#{f.anchor}">Figure {f.number}</a>: {_inline_html(f.title)}</li>' for _, f in doc.figures]
    parts.append("</ul></section>")
    for s in doc.sections:
        parts.append(f'<section id="{s.key}"><h2>{s.number}. {_inline_html(s.title)}</h2>')
        parts += [_html_block(b) for b in s.blocks]
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _md_cell(s: Any) -> str:
    s = "" if s is None or (isinstance(s, float) and math.isnan(s)) else str(s)
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: Document, figure_base: str | os.PathLike) -> str:
    """Markdown twin of the HTML; figures linked relative to ``figure_base`` (the .md's folder)."""
    out = [
        f"# {doc.title}",
        "",
        f"*{doc.subtitle}*",
        "",
        f"*{'By ' + doc.author + ' · ' if doc.author else ''}generated {doc.generated} by blurscope*",
        "",
        "## Executive summary",
        "",
        "Generated from the result tables of this run; every direction word follows from a test and its "
        "confidence interval.",
        "",
    ]
    out += [f"- {s}" for s in doc.summary] + ["", "## List of figures", ""]
    out += [f"- Figure {f.number}: {f.title}" for _, f in doc.figures] + [""]
    for s in doc.sections:
        out += [f"## {s.number}. {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Para):
                out += [b.text, ""]
            elif isinstance(b, Bullets):
                out += [f"- {i}" for i in b.items] + ([""] if b.items else [])
            elif isinstance(b, Heading):
                out += [f"{'#' * b.level} {b.text}", ""]
            elif isinstance(b, Figure):
                rel = os.path.relpath(b.path, figure_base).replace(os.sep, "/")
                out += [
                    f"**Figure {b.number}: {b.title}.**",
                    "",
                    f"![{b.title}]({rel})",
                    "",
                    f"*{b.caption}* `{b.source}`" if b.caption else f"`{b.source}`",
                    "",
                ]
            elif isinstance(b, Table):
                cols = [str(c) for c in b.df.columns]
                out += [
                    f"*{b.caption}*" + (f" `{b.source}`" if b.source else ""),
                    "",
                    "| " + " | ".join(_md_cell(c) for c in cols) + " |",
                    "|" + "|".join("---" for _ in cols) + "|",
                ]
                out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in b.df.itertuples(index=False)]
                out += (["", f"*{b.note}*"] if b.note else []) + [""]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- pipeline info helpers


def parse_keyvalue(text: str) -> dict[str, str]:
    """``key: value`` lines (git.txt) into a dict."""
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def package_versions() -> pd.DataFrame:
    """``name version kind`` of the running interpreter: runtime rows, then every installed distribution."""
    rows = [
        {"name": "python", "version": platform.python_version(), "kind": "runtime"},
        {"name": "platform", "version": platform.platform(), "kind": "runtime"},
        {"name": "python-executable", "version": sys.executable, "kind": "runtime"},
    ]
    seen = set()
    dists = []
    for d in importlib.metadata.distributions():
        name = d.metadata["Name"]
        if not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        dists.append({"name": name, "version": d.version, "kind": "package"})
    rows += sorted(dists, key=lambda r: r["name"].lower())
    return pd.DataFrame(rows, columns=["name", "version", "kind"])


def git_state(repo: str | os.PathLike) -> dict[str, str]:
    """Commit, branch and dirty flag of ``repo`` (read-only git calls, no optional locks).

    Not a git repository, or git missing → ``commit: unknown`` and the reason.
    """

    def run(*args: str) -> str:
        return subprocess.run(
            ["git", "--no-optional-locks", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()

    try:
        top = run("rev-parse", "--show-toplevel")
    except (OSError, subprocess.SubprocessError) as exc:
        reason = "git not installed" if isinstance(exc, FileNotFoundError) else "not a git repository"
        return {"commit": "unknown", "dirty": "unknown", "reason": f"{reason} ({repo})"}
    out = {"repository": top}
    try:
        out["commit"] = run("rev-parse", "HEAD")
    except subprocess.SubprocessError:
        out["commit"] = "none (no commits yet)"
    try:
        out["branch"] = run("rev-parse", "--abbrev-ref", "HEAD")
    except subprocess.SubprocessError:
        out["branch"] = ""
    try:
        status = run("status", "--porcelain", "--untracked-files=normal")
        lines = [ln for ln in status.splitlines() if ln.strip()]
        out["dirty"] = "true" if lines else "false"
        out["modified_files"] = str(sum(1 for ln in lines if not ln.startswith("??")))
        out["untracked_files"] = str(sum(1 for ln in lines if ln.startswith("??")))
    except subprocess.SubprocessError:
        out["dirty"] = "unknown"
    return out


BENCHMARK_COLUMNS = [
    "s",
    "h:m:s",
    "max_rss",
    "max_vms",
    "max_uss",
    "max_pss",
    "io_in",
    "io_out",
    "mean_load",
    "cpu_time",
]


def aggregate_benchmarks(
    bench_dir: str | os.PathLike, keep: Iterable[str] | None = None, exclude_rules: Iterable[str] = ()
) -> pd.DataFrame:
    """One row per ``benchmark:`` file below ``bench_dir`` (``<rule>/<wildcards>.tsv``).

    Columns: ``rule wildcards file repeat`` then Snakemake's benchmark columns.
    ``keep``: only these files (paths relative to ``bench_dir``'s parent or
    absolute), e.g. the benchmark files of the jobs of the current DAG, so
    files left over from another configuration are not counted.
    ``exclude_rules``: rules left out (``pipeline_info`` and ``report`` run after
    the aggregation: their files, if any, are those of an earlier run).
    """
    bench_dir = Path(bench_dir)
    keep_set = None if keep is None else {os.path.normpath(os.path.abspath(k)) for k in keep}
    exclude = set(exclude_rules)
    frames = []
    for f in sorted(bench_dir.rglob("*.tsv")):
        if keep_set is not None and os.path.normpath(os.path.abspath(f)) not in keep_set:
            continue
        rel = f.relative_to(bench_dir)
        if rel.parts[0] in exclude:
            continue
        try:
            df = pd.read_csv(f, sep="\t")
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
        if df.empty or "s" not in df.columns:
            continue
        df.insert(0, "repeat", range(len(df)))
        df.insert(0, "file", str(Path(bench_dir.name) / rel))
        df.insert(0, "wildcards", str(rel.with_suffix("")).split(os.sep, 1)[1] if len(rel.parts) > 1 else "")
        df.insert(0, "rule", rel.parts[0] if len(rel.parts) > 1 else rel.stem)
        frames.append(df)
    cols = ["rule", "wildcards", "file", "repeat", *BENCHMARK_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    return out[[c for c in cols if c in out.columns] + [c for c in out.columns if c not in cols]]


def benchmark_paths_from_dryrun(text: str) -> list[str]:
    """``benchmark: <path>`` lines of a Snakemake dry run (the jobs of the current DAG)."""
    return [m.group(1).strip() for m in re.finditer(r"^\s*benchmark:\s*(\S+)\s*$", text, flags=re.M)]
