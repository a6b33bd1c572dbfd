"""One style for every figure: text sizes that hold at the report's display width, one label, marker and
line style per model kind, one colour map for σ, error bars and the atomic save.

Text size on screen. The HTML report (``report/templates/style.css``) shows a figure's PNG at its own
pixel width, shrunk to at most :data:`REPORT_IMAGE_PX` CSS px. A font of ``F`` pt in a figure saved at
``D`` dpi is ``F · D / 72`` image px tall; the image is shown at ``min(1, X / image_px)`` CSS px per
image px, and a CSS pt is 96 / 72 CSS px, so it reads as

    F · D · min(image_px, X) / (96 · image_px)  pt        (:func:`display_pt`)

— ``F · D / 96`` for an image shown at its own size, ``F · X / (96 · W)`` for one of ``W`` inches that
is shrunk (the dpi then cancels). :func:`figure_style` sets every font from the figure's width, the dpi
and the smallest size wanted (config ``plots.font_size``, default 9 pt) through :func:`font_pt`, the
inverse; figures are at most :data:`REPORT_WIDTH_IN` wide, laid out with ``constrained_layout`` and saved
at no less than 120 dpi (:func:`save_dpi`) without ``bbox_inches="tight"``, so the saved width is the
width the sizes were computed for.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from blurscope import model_id as ids  # noqa: E402

from .io import atomic_path  # noqa: E402

REPORT_IMAGE_PX = 1102
"""Widest an image is shown in report.html, CSS px: ``main`` max-width 1180 − 2 × 28 padding − 2 × (10
padding + 1 border) of ``figure`` (report/templates/style.css; keep in step)."""
CSS_PX_PER_PT = 96 / 72
"""CSS: 1 in = 96 px = 72 pt."""
MIN_DPI = 120
"""Lowest resolution a figure is saved at (config ``plots.dpi`` below it is raised to it): a figure the
report's width then has :data:`REPORT_IMAGE_PX` pixels, and 9-pt text fits the layout. At a lower dpi the
text would need a larger share of the figure (``F · D / 96`` pt when shown at its own size) and crowd it."""
REPORT_WIDTH_IN = REPORT_IMAGE_PX / MIN_DPI
"""Width (inches) of a figure that fills the report at 120 dpi: figures are drawn this wide (or
narrower), so that at 120 dpi they are shown at their own size, and a higher dpi only adds pixels."""
MIN_DISPLAY_PT = 9.0
"""Smallest text size at the report's display width, pt (config ``plots.font_size``)."""
TITLE_SCALE = 1.1
SUPTITLE_SCALE = 1.2
DEFAULT_PALETTE = "viridis"
"""The one sequential colour map for σ (config ``plots.palette``)."""

_CONFIG = {"font_size": MIN_DISPLAY_PT, "palette": DEFAULT_PALETTE}


# --------------------------------------------------------------------------- text size on screen


def display_pt(font_pt: float, dpi: float, image_px: float, display_px: float = REPORT_IMAGE_PX) -> float:
    """Size (CSS pt) at which a ``font_pt`` font reads in an image ``image_px`` px wide saved at ``dpi``
    and shown at most ``display_px`` CSS px wide (at its own width when narrower)."""
    if image_px <= 0 or dpi <= 0:
        raise ValueError(f"display_pt: image width {image_px} px and dpi {dpi} must be > 0")
    return font_pt * dpi * min(image_px, display_px) / (96.0 * image_px)


def font_pt(min_display_pt: float, width_in: float, dpi: float, display_px: float = REPORT_IMAGE_PX) -> float:
    """Font size (pt in the figure) that reads as ``min_display_pt`` in a figure ``width_in`` inches wide
    saved at ``dpi`` (the inverse of :func:`display_pt`)."""
    image_px = width_in * dpi
    return min_display_pt / display_pt(1.0, dpi, image_px, display_px)


# --------------------------------------------------------------------------- configuration and style


def configure(plots: Mapping) -> None:
    """Take ``font_size`` (smallest text, pt at display width) and ``palette`` from config ``plots``.

    Raises:
        ValueError: ``plots.palette`` is not a matplotlib colormap, or ``plots.font_size`` is not > 0.
    """
    palette = str(plots.get("palette", DEFAULT_PALETTE))
    if palette not in plt.colormaps():
        raise ValueError(f"config key 'plots.palette': {palette!r} is not a matplotlib colormap")
    size = float(plots.get("font_size", MIN_DISPLAY_PT))
    if not size > 0:
        raise ValueError(f"config key 'plots.font_size': must be > 0 pt, got {size}")
    _CONFIG.update(font_size=size, palette=palette)


def palette() -> str:
    """The σ colour map set by :func:`configure` (default ``viridis``)."""
    return str(_CONFIG["palette"])


def save_dpi(dpi: float) -> int:
    """The resolution a figure is saved at for config ``plots.dpi`` = ``dpi``: at least :data:`MIN_DPI`."""
    return max(int(round(dpi)), MIN_DPI)


def base_pt(width_in: float, dpi: float, min_pt: float | None = None) -> float:
    """The smallest font (pt in the figure) of a figure ``width_in`` inches wide for config ``plots.dpi`` =
    ``dpi`` (saved at :func:`save_dpi`): ``min_pt`` (default config ``plots.font_size``) at the report's
    display width (:func:`font_pt`)."""
    return font_pt(float(_CONFIG["font_size"]) if min_pt is None else min_pt, width_in, save_dpi(dpi))


def style(width_in: float, dpi: float, min_pt: float | None = None) -> dict[str, object]:
    """matplotlib rc settings for a figure ``width_in`` inches wide for config ``plots.dpi`` = ``dpi``
    (saved at :func:`save_dpi`): every text at least
    ``min_pt`` (default: config ``plots.font_size``) at the report's display width; titles ×1.1, the
    figure title ×1.2; constrained layout."""
    base = base_pt(width_in, dpi, min_pt)
    return {
        "font.size": base, "axes.labelsize": base, "xtick.labelsize": base, "ytick.labelsize": base,
        "legend.fontsize": base, "legend.title_fontsize": base, "axes.titlesize": TITLE_SCALE * base,
        "figure.titlesize": SUPTITLE_SCALE * base, "figure.labelsize": base, "figure.constrained_layout.use": True,
        "legend.frameon": False, "axes.grid": False, "lines.markersize": 0.6 * base,
    }


@contextmanager
def figure_style(width_in: float, dpi: float, min_pt: float | None = None) -> Iterator[float]:
    """Draw (and save) a figure ``width_in`` inches wide inside this context; yields the base font
    size (pt in the figure). Tick labels are made when the figure is drawn, so save inside it too,
    or call :func:`finish` before leaving it."""
    rc = style(width_in, dpi, min_pt)
    with plt.rc_context(rc):
        yield float(rc["font.size"])  # type: ignore[arg-type]


def finish(fig: plt.Figure) -> plt.Figure:
    """Lay out and make every text of ``fig`` now (inside :func:`figure_style`), for a figure saved later."""
    fig.draw_without_rendering()
    return fig


def save_figure(fig: plt.Figure, path: str | os.PathLike, dpi: int) -> None:
    """Save ``fig`` atomically at :func:`save_dpi` (``dpi``, at least 120) at its own size (the sizes of
    :func:`style` hold) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=save_dpi(dpi))
    plt.close(fig)


def figure_legend(fig: plt.Figure, axes: Iterable | None = None, *, where: str = "below", ncols: int = 3,
                  title: str | None = None, extra: Sequence[tuple[object, str]] = ()):
    """One legend for the whole figure, outside the panels (``where``: ``below`` or ``right``): every
    distinct label of ``axes`` (default: all; first occurrence kept), then ``extra`` ``(handle, label)``
    pairs. Returns the legend (None without labels)."""
    handles: dict[str, object] = {}
    for ax in fig.axes if axes is None else np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab and not lab.startswith("_"):
                handles.setdefault(lab, h)
    for h, lab in extra:
        handles.setdefault(lab, h)
    if not handles:
        return None
    if where not in ("below", "right"):
        raise ValueError(f"figure_legend: where must be 'below' or 'right', got {where!r}")
    loc = "outside lower center" if where == "below" else "outside right upper"
    n = min(ncols, len(handles)) if where == "below" else ncols
    return fig.legend(list(handles.values()), list(handles), loc=loc, ncols=n, title=title)


def plain_log_labels(axis) -> None:  # noqa: ANN001 (a matplotlib Axis on a log scale)
    """Label a log axis's decades as plain numbers (``100``, ``10,000``, ``0.01``) instead of 10^k, whose
    superscript is drawn at 70 % of the font size; minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def category_colours(n: int) -> list[tuple]:
    """``n`` distinct colours for things that are not σ (layers, bands, stride points, corruption
    types): ``tab10`` (``tab20`` beyond 10), never the σ colour map."""
    cm = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cm(i % cm.N) for i in range(n)]


def wrap(text: str, width_in: float, size_pt: float) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``size_pt`` (a character ≈ 0.55 em)."""
    return textwrap.fill(text, width=max(10, int(width_in * 72 / (0.55 * size_pt))))


# --------------------------------------------------------------------------- models: label, kind, style

KINDS = (ids.TRAINED, ids.REPLICATE, ids.REFERENCE, ids.BLURPOOL, "other")
"""Model kinds drawn (:attr:`blurscope.model_id.ModelId.kind`): the first run of a σ ``sigma<σ>``, a further
training run ``sigma<σ>-seed<k>``, a filter-only reference ``ref-sigma<σ>[-seed<k>]`` (the σ 0 network
behind the σ blur), a BlurPool run, any other id."""
KIND_STYLE: dict[str, dict[str, object]] = {
    "trained": {"marker": "o", "linestyle": "-"},
    "replicate": {"marker": "^", "linestyle": "-"},
    "reference": {"marker": "s", "linestyle": ":", "markerfacecolor": "white"},
    "blurpool": {"marker": "D", "linestyle": "--", "color": "black"},
    "other": {"marker": "P", "linestyle": "-.", "color": "0.45"},
}
"""Marker and line style per model kind; σ series, replicates and references take their σ's colour."""


KIND_LABEL = {
    "trained": "trained at its σ",
    "replicate": "further training run of a σ",
    "reference": "filter only (σ 0 network behind the σ blur)",
    "blurpool": "BlurPool",
    "other": "other model",
}
"""Legend text of a model kind (:func:`kind_handles`)."""


def kind_handles(kinds: Iterable[str], colour: object = "0.35") -> list[tuple[object, str]]:
    """Legend ``(handle, label)`` pairs that explain the markers of ``kinds`` (in :data:`KINDS` order),
    drawn in one neutral colour (the colour of a point is its σ)."""
    from matplotlib.lines import Line2D

    out = []
    for kind in KINDS:
        if kind in set(kinds):
            st = {**KIND_STYLE[kind]}
            st.setdefault("color", colour)
            out.append((Line2D([], [], **st), KIND_LABEL[kind]))
    return out


def model_label(model: str) -> str:
    """The display label of a model id, the report's (:attr:`blurscope.model_id.ModelId.label`): ``sigma2`` →
    ``σ = 2``, ``blurpool`` → ``BlurPool``, ``baseline`` → ``random patches``; any other id as it is."""
    return ids.label(model)


def model_kind(model: str) -> str:
    """One of :data:`KINDS` for a model id (the baseline and ids outside the grammar: ``other``)."""
    mid = ids.ModelId.try_parse(model)
    return "other" if mid is None or mid.kind == ids.BASELINE else mid.kind


def sigma_colours(sigmas: Iterable[float], cmap: str | None = None) -> dict[float, tuple]:
    """One colour per σ on the σ colour map (dark = smallest σ; the lightest 10 % is left out so that
    points stay visible on white)."""
    uniq = sorted({float(s) for s in sigmas if s is not None and np.isfinite(float(s))})
    try:
        cm = matplotlib.colormaps[cmap or palette()]
    except KeyError:
        raise ValueError(f"config key 'plots.palette': {cmap!r} is not a matplotlib colormap") from None
    return {s: cm(0.9 * i / max(1, len(uniq) - 1)) for i, s in enumerate(uniq)}


def model_style(model: str, sigma: float | None, colours: Mapping[float, tuple]) -> dict[str, object]:
    """matplotlib keywords (``color marker linestyle``, open face for references) of a model: its kind's
    :data:`KIND_STYLE`, coloured by its σ (``colours`` from :func:`sigma_colours`) unless the kind has
    its own colour."""
    kind = model_kind(model)
    out = dict(KIND_STYLE[kind])
    if "color" not in out:
        s = None if sigma is None else float(sigma)
        out["color"] = colours.get(s, "0.45") if s is not None and np.isfinite(s) else "0.45"
    return out


def model_sort_key(model: str, sigma: float | None = None) -> tuple:
    """Order of models in figures, the report's (:attr:`blurscope.model_id.ModelId.sort_key`): σ series and
    replicates by σ (the first run before its replicates), then BlurPool, then the references by σ; any other
    model last, by ``sigma`` and name."""
    if model_kind(model) != "other":
        return ids.sort_key(model)
    s = float(sigma) if sigma is not None and np.isfinite(float(sigma)) else np.inf
    return (5, s, 0, str(model))


def id_sigma(model: str) -> float | None:
    """The σ of a ``sigma<σ>[-seed<k>]`` or ``ref-sigma<σ>[-seed<k>]`` id (None for any other id)."""
    mid = ids.ModelId.try_parse(model)
    return mid.sigma if mid is not None and mid.family in (ids.SIGMA, ids.REFERENCE) else None


def kind_offsets(sigmas: Iterable[float]) -> dict[str, float]:
    """Horizontal offset (σ units) of each model kind on a σ axis, so that models at one σ do not hide
    each other: 2.5 % of the σ range per step (replicates right, references left, BlurPool further right)."""
    vals = [float(s) for s in sigmas if s is not None and np.isfinite(float(s))]
    step = 0.025 * (max(vals) - min(vals)) if len(vals) > 1 and max(vals) > min(vals) else 0.1
    return {"trained": 0.0, "replicate": step, "reference": -step, "blurpool": 2 * step, "other": 2 * step}


def plot_vs_sigma(ax, models: Sequence[str], sigmas: Sequence[float], values: Sequence[float],  # noqa: ANN001
                  low: Sequence[float] | None = None, high: Sequence[float] | None = None, *,
                  colours: Mapping[float, tuple], colour: object = None, line: object = "0.5",
                  label: str | None = None, style: Mapping[str, object] | None = None) -> set[str]:
    """One point per model against training σ in its kind's style (:func:`model_style`; ``colour``
    overrides the σ colour, ``style`` any other keyword), with the interval ``low``–``high``; a solid
    ``line`` through the mean of the trained models (σ series and replicates) at each σ, a dotted one
    through the filter-only references (no lines when ``line`` is None). Replicates, references and
    BlurPool are offset by :func:`kind_offsets`. Returns the kinds drawn."""
    m = [str(x) for x in models]
    s = np.asarray(sigmas, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    lo = v if low is None else np.asarray(low, dtype=np.float64)
    hi = v if high is None else np.asarray(high, dtype=np.float64)
    kinds = [model_kind(x) for x in m]
    off = kind_offsets(s)
    for want, ls in ((("trained", "replicate"), "-"), (("reference",), ":")) if line is not None else ():
        sel = np.array([k in want for k in kinds]) & np.isfinite(s) & np.isfinite(v)
        if sel.any():
            xs = np.unique(s[sel])
            ys = [v[sel][s[sel] == x].mean() for x in xs]
            ax.plot(xs + (off["reference"] if want == ("reference",) else 0.0), ys, color=line, lw=1.2, ls=ls,
                    zorder=1, label=label if want != ("reference",) else None)
    for i, (model, kind) in enumerate(zip(m, kinds)):
        if not (np.isfinite(s[i]) and np.isfinite(v[i])):
            continue
        st = {**model_style(model, s[i], colours), "linestyle": "none"}
        if colour is not None:
            st["color"] = colour
        st.update(style or {})
        ax.errorbar([s[i] + off[kind]], [v[i]], yerr=ci_err(v[i], lo[i], hi[i]), capsize=3, zorder=2, **st)
    return set(kinds)


# --------------------------------------------------------------------------- error bars


def ci_err(value, low, high) -> np.ndarray:  # noqa: ANN001 (scalars, arrays or pandas Series)
    """Asymmetric error bars ``[2, n]`` for matplotlib from a value and its interval.

    A percentile bootstrap interval need not contain the point estimate (a skewed or
    few-unit statistic); the bar on that side is drawn with length 0 rather than
    refused by matplotlib. NaN → 0.
    """
    v, lo, hi = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (value, low, high))
    return np.nan_to_num(np.vstack([v - lo, hi - v]), nan=0.0).clip(min=0.0)
