"""Every figure of the report is readable at 100 % zoom: each figure function is drawn on small synthetic
tables of every model kind (σ models, a further training run, filter-only references, BlurPool) at the
default dpi, and every text it draws is measured in the saved PNG as the report shows it.

Checks per figure: every drawn text reads at least 9 pt at the report's display width
(:func:`blurscope.plot_common.display_pt` with the PNG's own width), lies inside the image (nothing cut
off), no two horizontal texts overlap, and no legend covers a panel's data area.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from PIL import Image  # noqa: E402

from blurscope import plot_common as pc  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DPI = 120  # config/config.yaml plots.dpi (the default)
MODELS = {  # model id → σ: every kind the pipeline draws
    "sigma0": 0.0, "sigma0-seed1": 0.0, "sigma2": 2.0, "sigma4": 4.0, "sigma6": 6.0, "sigma6-seed1": 6.0,
    "blurpool": 0.0, "ref-sigma2": 2.0, "ref-sigma4": 4.0, "ref-sigma6": 6.0,
}


# --------------------------------------------------------------------------- measuring a saved figure


@dataclass
class Drawn:
    """What one saved figure drew: texts ``(text, fontsize pt, bbox as image fractions, rotation °)``,
    legends and axes (bboxes as image fractions), and the PNG's size."""

    path: Path
    dpi: int
    width_px: int = 0
    height_px: int = 0
    texts: list[tuple[str, float, np.ndarray, float]] = field(default_factory=list)
    legends: list[np.ndarray] = field(default_factory=list)
    axes: list[np.ndarray] = field(default_factory=list)

    def smallest_pt(self) -> tuple[float, str]:
        """Smallest text size at the report's display width (pt) and that text."""
        size, text = min((pc.display_pt(s, self.dpi, self.width_px), t) for t, s, _b, _r in self.texts)
        return size, text


def _fraction(bbox, w: float, h: float) -> np.ndarray:  # noqa: ANN001 (a matplotlib Bbox in image px)
    return np.array([bbox.x0 / w, bbox.y0 / h, bbox.x1 / w, bbox.y1 / h])


@contextmanager
def recording(drawn: Drawn) -> Iterator[None]:
    """Record every text and legend that a ``savefig`` inside draws (the saved image's px; the last draw
    counts: a figure with a layout engine is drawn once for the layout, then for the image)."""
    text_draw, legend_draw = Text.draw, Legend.draw
    raw: dict[int, tuple] = {}

    def draw_text(self, renderer):  # noqa: ANN001, ANN202
        text_draw(self, renderer)
        if self.get_visible() and self.get_text().strip():
            raw[id(self)] = ("text", self, self.get_window_extent(renderer))

    def draw_legend(self, renderer):  # noqa: ANN001, ANN202
        legend_draw(self, renderer)
        if self.get_visible():
            raw[id(self)] = ("legend", self, self.get_window_extent(renderer))

    Text.draw, Legend.draw = draw_text, draw_legend
    try:
        yield
    finally:
        Text.draw, Legend.draw = text_draw, legend_draw
    with Image.open(drawn.path) as im:
        drawn.width_px, drawn.height_px = im.size
    w, h = drawn.width_px, drawn.height_px
    for kind, artist, bbox in raw.values():
        if kind == "text":
            drawn.texts.append((artist.get_text(), float(artist.get_fontsize()), _fraction(bbox, w, h),
                                float(artist.get_rotation())))
        else:
            drawn.legends.append(_fraction(bbox, w, h))


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> list[Drawn]:
    """Every figure saved through :func:`blurscope.plot_common.save_figure`, measured."""
    out: list[Drawn] = []
    real_close = plt.close

    def save(fig, path, dpi):  # noqa: ANN001, ANN202
        d = Drawn(Path(path), pc.save_dpi(dpi))
        with recording(d):
            fig.savefig(path, dpi=pc.save_dpi(dpi))
        d.axes = [np.asarray(ax.get_position().extents) for ax in fig.axes if ax.get_visible() and ax.axison]
        out.append(d)
        real_close(fig)

    monkeypatch.setattr(pc, "save_figure", save)
    pc.configure({"font_size": 9, "palette": "viridis"})
    return out


def assert_readable(d: Drawn, min_pt: float = 9.0) -> None:
    """≥ ``min_pt`` at the report's display width, every text inside the image, no legend over a panel."""
    assert d.texts, f"{d.path.name}: no text drawn"
    size, text = d.smallest_pt()
    assert size >= min_pt - 1e-6, f"{d.path.name}: {text!r} reads {size:.2f} pt at the report's display width"
    tol = 1.0 / min(d.width_px, d.height_px)  # one pixel
    for t, _s, (x0, y0, x1, y1), _r in d.texts:
        assert x0 >= -tol and y0 >= -tol and x1 <= 1 + tol and y1 <= 1 + tol, f"{d.path.name}: {t!r} is cut off"
    flat = [(t, b) for t, _s, b, r in d.texts if r % 360 == 0]
    for i, (ta, (ax0, ay0, ax1, ay1)) in enumerate(flat):
        for tb, (bx0, by0, bx1, by1) in flat[i + 1:]:
            tx, ty = 1.0 / d.width_px, 1.0 / d.height_px
            overlap = min(ax1, bx1) - max(ax0, bx0) > 2 * tx and min(ay1, by1) - max(ay0, by0) > 2 * ty
            assert not overlap, f"{d.path.name}: {ta!r} overlaps {tb!r}"
    for lx0, ly0, lx1, ly1 in d.legends:
        for ax0, ay0, ax1, ay1 in d.axes:
            overlap = min(lx1, ax1) - max(lx0, ax0) > tol and min(ly1, ay1) - max(ly0, ay0) > tol
            assert not overlap, f"{d.path.name}: a legend covers a panel"


# --------------------------------------------------------------------------- synthetic tables


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _ci(v: np.ndarray | float, w: float = 0.05) -> dict:
    return {"ci_low": np.asarray(v) - w, "ci_high": np.asarray(v) + w}


POINTS = ["conv1", "maxpool", "layer2.0.conv1", "layer2.0.downsample.0", "layer3.0.conv1",
          "layer3.0.downsample.0", "layer4.0.conv1", "layer4.0.downsample.0"]


def aliasing_tables() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame], pd.DataFrame]:
    rng = _rng()
    rows, corr = [], []
    for m, s in MODELS.items():
        aa = int(m == "blurpool")
        for i, p in enumerate(POINTS):
            for met in ("avr_radial", "avr_separable"):
                v = 0.3 * np.exp(-s / 4) / (1 + aa) + 0.02 * i
                rows.append({"model": m, "group": m.split("-")[0], "sigma": s, "antialiased": aa, "point": p,
                             "layer": p, "metric": met, "mean": v, "ci_low": v - 0.02, "ci_high": v + 0.03})
            corr.append({"model": m, "point": p, "region": "radial", "pearson_r": rng.uniform(-1, 1),
                         "rho": rng.uniform(-1, 1)})
        for met, v in (("sis", 0.01 + 0.002 * s), ("consistency", 0.9 - 0.01 * s)):
            rows.append({"model": m, "group": m.split("-")[0], "sigma": s, "antialiased": aa, "point": "output",
                         "layer": "output", "metric": met, "mean": v, "ci_low": v * 0.9, "ci_high": v * 1.1})
    tables = {m: pd.DataFrame({"point": np.repeat(POINTS, 30), "avr_radial": rng.uniform(0, 0.4, 30 * len(POINTS)),
                               "sis": rng.uniform(0, 0.05, 30 * len(POINTS))}) for m in ("sigma0", "blurpool")}
    sweep = []
    for src in ("direct", "sigma0", "blurpool"):
        for k, p in enumerate(POINTS[:1] if src == "direct" else POINTS):
            for o in ("horizontal", "vertical", "diagonal"):
                for f in np.linspace(0.05, 0.95, 10):
                    sweep.append({"source": src, "layer": p, "order": k, "orientation": o, "freq_axis": f,
                                  "avr_radial": float(f > 0.5), "avr_separable": float(f > 0.45)})
    return pd.DataFrame(rows), pd.DataFrame(corr), tables, pd.DataFrame(sweep)


def band_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, shift = [], []
    bands = ["ultra-low", "low", "mid", "high"]
    for m, s in MODELS.items():
        for layer in ("maxpool", "layer1.0"):
            for head in ("own", "mlp"):
                for j, b in enumerate([*bands, "unmodified"]):
                    acc = 0.9 if b == "unmodified" else 0.8 - 0.1 * j * (1 + s / 6)
                    rows.append({"model": m, "sigma": s, "antialiased": m == "blurpool", "layer": layer,
                                 "head": head, "band": b, "kind": "control" if b == "unmodified" else "band",
                                 "accuracy": acc, "gt_rank": 1 + 4 * (1 - acc), "n_freqs": 0 if b == "high" and
                                 layer == "layer1.0" else 10, "chance_accuracy": 0.1, "chance_gt_rank": 5.5})
                for stat in ("centroid_rank", "centroid_acc"):
                    if m == "blurpool" or "seed" in m:
                        continue
                    v = 0.4 - 0.03 * s
                    shift.append({"model": m, "sigma": s, "antialiased": False, "layer": layer, "head": head,
                                  "statistic": stat, "value": v, **_ci(v, 0.03), "reference": "sigma0"})
    return pd.DataFrame(rows), pd.DataFrame(shift)


def frequency_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    summ, curves, corr = [], [], []
    corruptions = ["gaussian_noise", "shot_noise", "defocus_blur", "motion_blur", "contrast", "fog", "jpeg",
                   "pixelate", "brightness"]
    for m, s in MODELS.items():
        if "seed" in m:  # replicates are not drawn (frequency_figures leaves them out)
            continue
        frev, fhalf = 0.3 - 0.03 * s, 0.25 - 0.02 * s
        summ.append({"model": m, "sigma": s, "f_rev_cpp": frev, "f_rev_ci_low_cpp": frev - 0.02,
                     "f_rev_ci_high_cpp": frev + 0.02, "f_half_cpp": fhalf, "f_half_ci_low_cpp": fhalf - 0.02,
                     "f_half_ci_high_cpp": fhalf + 0.02, "corruption_acc": 0.5 + 0.03 * s,
                     "corruption_acc_ci_low": 0.48 + 0.03 * s, "corruption_acc_ci_high": 0.52 + 0.03 * s,
                     "shape_bias": 0.9, "shape_bias_ci_low": 0.85, "shape_bias_ci_high": 0.95})
        for f in np.linspace(0.02, 0.5, 12):
            p = 1 / (1 + np.exp((f - frev) * 30))
            curves.append({"model": m, "f_mix_cpp": f, "p_low": p, "p_high": 1 - p, **{
                f"p_low_{k}": v for k, v in _ci(p, 0.03).items()}})
        corr.append({"model": m, "corruption": "clean", "severity": 0, "accuracy": 0.92})
        for c in corruptions:
            for sev in range(1, 6):
                corr.append({"model": m, "corruption": c, "severity": sev, "accuracy": 0.9 - 0.1 * sev + 0.02 * s})
    return pd.DataFrame(summ), pd.DataFrame(curves), pd.DataFrame(corr)


def spectra_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    freqs = np.geomspace(0.02, 0.5, 12)
    spec, comp = [], []
    for m, s in {**MODELS, "baseline": np.nan}.items():
        for f in freqs:
            v = f ** -2 * np.exp(-f * (s if np.isfinite(s) else 0))
            spec.append({"model": m, "sigma": s, "freq": f, "mean": v, "ci_low": 0.9 * v, "ci_high": 1.1 * v,
                         "ratio": np.exp(-f * (s if np.isfinite(s) else 0)), "ratio_ci_low": 0.9, "ratio_ci_high": 1.1})
        for k, met in enumerate(["compression_ratio", "entropy", "edge_density", "edge_strength", "wavelet_approx",
                                 "wavelet_detail", "wavelet_energy"]):
            comp.append({"model": m, "sigma": s, "metric": met, "mean": 1 + k - 0.05 * (s if np.isfinite(s) else 0),
                         "sem": 0.05})
    return pd.DataFrame(spec), pd.DataFrame(comp)


# --------------------------------------------------------------------------- every figure


def _figures(tmp: Path) -> dict[str, Callable[[], None]]:
    from blurscope.aliasing import plot as plot_aliasing
    from blurscope.bands import plot as plot_bands
    from blurscope.features import plot as plot_features
    from blurscope.featvis import plot as plot_featvis
    from blurscope.frequency import plot as plot_frequency
    from blurscope.saliency import plot as plot_saliency
    from blurscope.saliency.smoothgrad import COMPARISONS, METRICS
    from blurscope.spectra import plot as plot_spectra
    from blurscope.training import plot as plot_train

    summary, corr, tables, sweep = aliasing_tables()
    bsum, bshift = band_tables()
    fsum, fcurves, fcorr = frequency_tables()
    spec, comp = spectra_tables()
    rng = _rng(1)
    grid_models = ["sigma0", "sigma2", "sigma4", "sigma6", "blurpool", "ref-sigma6"]  # one row each
    labels = [pc.model_label(m) for m in grid_models]
    patches = [rng.integers(0, 255, (12, 16, 8, 8, 3), dtype=np.uint8) for _ in grid_models]
    neurons = np.arange(0, 120, 10)
    featvis = [rng.integers(0, 255, (12, 32, 32, 3), dtype=np.uint8) for _ in grid_models]
    fv_summary = pd.DataFrame([{"model": m, "sigma": s, "layer": "layer2.0", "metric": "hf_fraction",
                                "mean": 0.3 - 0.02 * s, **_ci(0.3 - 0.02 * s, 0.02)} for m, s in MODELS.items()])
    fv_spectra = [(m, s, np.geomspace(0.02, 0.5, 10), rng.uniform(1, 2, (12, 10))) for m, s in MODELS.items()]
    acc = pd.DataFrame([{"model": m, "train_sigma": s, "test_sigma": t, "accuracy": rng.uniform(0.2, 1)}
                        for m, s in MODELS.items() if not m.startswith("ref-") for t in (0, 2, 3, 4, 6)])
    stem = pd.DataFrame([{"model": m, "sigma": s, "weights": w, "mean": 0.5 - 0.05 * s * (w == "trained"),
                          **_ci(0.5, 0.04), "hf_cutoff": 0.25}
                         for m, s in MODELS.items() if not m.startswith("ref-") for w in ("init", "trained")])
    img = rng.uniform(0, 1, (6, 32, 32, 3))
    maps, focus = rng.uniform(0, 1, (2, 2, 6, 32, 32)), rng.integers(0, 32, (2, 2, 6, 20, 2))
    layers = ["layer1.0", "layer2.0", "layer3.0"]
    means = [rng.uniform(0, 1, (2, 2, 2, 8, 8)) for _ in layers]
    chans = [rng.uniform(0, 1, (2, 2, 2, 3, 8, 8)) for _ in layers]
    per_image = pd.DataFrame([{"comparison": c, "metric": k, "noise_floor": rng.uniform(0, 2),
                               "value": rng.uniform(0, 4)} for c in COMPARISONS for k in METRICS for _ in range(20)])
    dstats = pd.DataFrame([{"test": "vs_noise_floor", "comparison": c, "metric": k, "mean": 2.0,
                            "reference_mean": 1.0, "diff_ci_low": 0.5, "diff_ci_high": 1.5, "p_holm": 0.003}
                           for c in COMPARISONS for k in METRICS])
    ids = {"naive": "sigma0", "expert": "sigma2"}
    save = pc.save_figure  # the measuring stand-in (fixture `saved`)

    def p(name: str) -> Path:
        return tmp / f"{name}.png"

    return {
        "aliasing_layers": lambda: plot_aliasing.plot_layer_avr(summary, p("aliasing_layers"), POINTS, DPI),
        "aliasing_avr_sis": lambda: plot_aliasing.plot_avr_sis_scatter(tables, corr, p("aliasing_avr_sis"), POINTS,
                                                                       dpi=DPI),
        "aliasing_sweep": lambda: plot_aliasing.plot_frequency_sweep(sweep, p("aliasing_sweep"), DPI),
        "aliasing_sis_sigma": lambda: plot_aliasing.plot_sis_vs_sigma(summary, p("aliasing_sis_sigma"), DPI),
        "bands_accuracy": lambda: plot_bands.band_sigma_figure(bsum, "accuracy", p("bands_accuracy"), dpi=DPI),
        "bands_gt_rank": lambda: plot_bands.band_sigma_figure(bsum, "gt_rank", p("bands_gt_rank"), dpi=DPI),
        "bands_shift": lambda: plot_bands.shift_figure(bshift, p("bands_shift"), dpi=DPI),
        "frequency_preference": lambda: plot_frequency.plot_preference(fcurves, fsum, p("frequency_preference"), DPI),
        "frequency_shape_bias": lambda: plot_frequency.plot_shape_bias(fsum, p("frequency_shape_bias"), DPI),
        "frequency_corruption_vs_frev": lambda: plot_frequency.plot_corruption_vs_frev(
            fsum, fcorr, p("frequency_corruption_vs_frev"), DPI),
        "frequency_corruption_heatmap": lambda: plot_frequency.plot_corruption_heatmap(
            fsum, fcorr, p("frequency_corruption_heatmap"), DPI),
        "models_relative_to_baseline": lambda: plot_spectra.plot_relative_to_baseline(
            spec, "layer2.0", p("models_relative_to_baseline"), dpi=DPI),
        "models_complexity_comparison": lambda: plot_spectra.plot_complexity_comparison(
            comp, "layer2.0", p("models_complexity_comparison"), dpi=DPI),
        "all_neurons_grid": lambda: save(plot_features.neuron_grid(
            patches, labels, neurons, np.arange(12), "layer2.0: top 16 patches per neuron (vital), rows = training "
            "blur", dpi=DPI), p("all_neurons_grid"), DPI),
        "representative_neurons_grid": lambda: save(plot_features.neuron_grid(
            patches, labels, neurons, np.arange(4), "layer2.0: representative neurons (largest drop of patch HF "
            "power > 0.25 cyc/px, σ = 0 → σ = 6; vital)", [["HF 0.25"] * 4] * len(grid_models), dpi=DPI),
            p("representative_neurons_grid"), DPI),
        "patch_methods": lambda: save(plot_features.methods_figure(
            [x[:4] for x in patches], [x[:4] for x in patches], labels, neurons[:4],
            "layer2.0: VITAL windows (18 px) vs exact receptive field (35 px, fill mean)", dpi=DPI),
            p("patch_methods"), DPI),
        "featvis_grid": lambda: save(plot_featvis.featvis_grid(
            featvis, labels, neurons, "layer2.0: images optimised to excite each neuron (feature visualisation), "
            "rows = training blur", [["HF 0.31"] * 12] * len(grid_models), dpi=DPI), p("featvis_grid"), DPI),
        "featvis_spectra": lambda: save(plot_featvis.featvis_spectra_figure(
            fv_spectra, fv_summary, "layer2.0", dpi=DPI), p("featvis_spectra"), DPI),
        "accuracy_matrix": lambda: plot_train.plot_accuracy_matrix(acc, p("accuracy_matrix"), {"dpi": DPI}),
        "stem_hf": lambda: plot_train.plot_stem_hf(stem, p("stem_hf"), {"dpi": DPI}),
        "saliency_overlays": lambda: save(plot_saliency.saliency_overlays(
            img, img, maps, focus, [f"img {i} (label {i})" for i in range(6)], ids, dpi=DPI), p("saliency_overlays"),
            DPI),
        "saliency_activations": lambda: save(plot_saliency.activation_figure(
            img[:2], img[:2], layers, means, chans, [np.array([3, 17, 40])] * 3, ids, dpi=DPI),
            p("saliency_activations"), DPI),
        "saliency_distances": lambda: save(plot_saliency.distance_figure(per_image, dstats, dpi=DPI),
                                           p("saliency_distances"), DPI),
    }


FIGURES = ["aliasing_layers", "aliasing_avr_sis", "aliasing_sweep", "aliasing_sis_sigma", "bands_accuracy",
           "bands_gt_rank", "bands_shift", "frequency_preference", "frequency_shape_bias",
           "frequency_corruption_vs_frev", "frequency_corruption_heatmap", "models_relative_to_baseline",
           "models_complexity_comparison", "all_neurons_grid", "representative_neurons_grid", "patch_methods",
           "featvis_grid", "featvis_spectra", "accuracy_matrix", "stem_hf", "saliency_overlays",
           "saliency_activations", "saliency_distances"]


def test_every_report_figure_is_listed_here(parsed_workflow: dict) -> None:
    """The figures above are the report's: every figure the rules register for it (the default config)."""
    import smokerun

    assert sorted({fig["name"] for fig in smokerun.reported_figures(parsed_workflow)}) == sorted(FIGURES)


@pytest.mark.parametrize("name", FIGURES)
def test_figure_is_readable_at_the_report_width(name: str, saved: list[Drawn], tmp_path: Path) -> None:
    _figures(tmp_path)[name]()
    assert len(saved) == 1 and saved[0].path.name == f"{name}.png"
    assert_readable(saved[0])


@pytest.mark.parametrize("dpi", [60, 300])
def test_a_lower_or_higher_dpi_keeps_the_layout(dpi: int, saved: list[Drawn], tmp_path: Path) -> None:
    """config plots.dpi = 60 (the smoke run's) is saved at 120: 1102 px wide, the same layout as the default;
    300 dpi has 2.5× the pixels and the same text size on screen."""
    from blurscope.aliasing import plot as plot_aliasing

    summary, *_ = aliasing_tables()
    plot_aliasing.plot_layer_avr(summary, tmp_path / "layers.png", POINTS, dpi)
    assert saved[0].width_px == (1102 if dpi == 60 else round(pc.REPORT_WIDTH_IN * 300))
    assert_readable(saved[0])
