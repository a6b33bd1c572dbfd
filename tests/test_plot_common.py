"""Shared plotting helpers: the display-size formula, the one label / marker / colour per model, error bars."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from blurscope import plot_common as pc
from blurscope.plot_common import ci_err

REPO = Path(__file__).resolve().parents[1]
MODELS = {"sigma0": 0.0, "sigma0-seed1": 0.0, "sigma2": 2.0, "sigma4": 4.0, "sigma6": 6.0, "sigma6-seed1": 6.0,
          "blurpool": 0.0, "ref-sigma2": 2.0, "ref-sigma4": 4.0, "ref-sigma6": 6.0}


def test_ci_err_draws_an_interval_that_misses_its_point_estimate() -> None:
    """A percentile interval need not contain the point: the bar on that side has length 0, NaN → 0."""
    err = ci_err([0.5, 0.5, 0.5], [0.6, 0.4, float("nan")], [0.9, 0.45, 0.7])
    np.testing.assert_allclose(err, [[0.0, 0.1, 0.0], [0.4, 0.0, 0.2]])
    assert ci_err(1.0, 0.5, 2.0).shape == (2, 1)


def test_display_size_of_a_font_follows_the_css_pixel() -> None:
    """12 pt at 120 dpi is 20 image px tall; a 10-inch figure (1200 px) is shown 1102 CSS px wide, so the
    text is 20 · 1102 / 1200 = 18.37 CSS px = 13.78 pt (1 CSS px = 0.75 pt). An image narrower than the
    report is shown at its own size: 9 pt at 96 dpi reads 9 pt, at 120 dpi 11.25 pt."""
    assert pc.display_pt(12, 120, 1200) == pytest.approx(20 * 1102 / 1200 * 0.75)
    assert pc.display_pt(9, 96, 600) == pytest.approx(9.0)
    assert pc.display_pt(9, 120, 800) == pytest.approx(11.25)
    assert pc.display_pt(10, 300, 3000) == pytest.approx(pc.display_pt(10, 150, 1500))  # shrunk: dpi cancels
    for width_in, dpi in ((9.18, 120), (15.0, 120), (6.0, 60), (9.18, 300)):
        assert pc.display_pt(pc.font_pt(9, width_in, dpi), dpi, width_in * dpi) == pytest.approx(9.0)
    with pytest.raises(ValueError, match="dpi"):
        pc.display_pt(9, 0, 100)


def test_report_image_width_is_the_one_the_stylesheet_gives() -> None:
    """REPORT_IMAGE_PX = main's max-width − its side padding − the figure box's side padding and border."""
    css = (REPO / "workflow_scripts/blurscope/report/templates/style.css").read_text()
    main = re.search(r"main\{max-width:(\d+)px;margin:[^;]+;padding:\d+px (\d+)px", css)
    fig = re.search(r"figure\{margin:[^;]+;padding:(\d+)px;border:(\d+)px", css)
    assert main and fig and "figure img{display:block;max-width:100%" in css
    assert pc.REPORT_IMAGE_PX == int(main[1]) - 2 * int(main[2]) - 2 * (int(fig[1]) + int(fig[2]))


def test_one_label_and_style_per_model_kind() -> None:
    """One display label per model id (the report's words), one marker per kind, σ colours in σ order."""
    from blurscope.report import claims

    for m in [*MODELS, "baseline", "my-checkpoint", "sigma1.5", "sigma2-seed3", "blurpool-seed1", "ref-sigma6-seed1"]:
        assert pc.model_label(m) == claims.model_label(m), m
    assert pc.model_label("sigma2") == "σ = 2" and pc.model_label("blurpool") == "BlurPool"
    assert pc.model_label("blurpool-seed1") == "BlurPool (seed 1)"
    kinds = {m: pc.model_kind(m) for m in [*MODELS, "blurpool-seed1", "baseline", "my-checkpoint"]}
    assert kinds == {"sigma0": "trained", "sigma0-seed1": "replicate", "sigma2": "trained", "sigma4": "trained",
                     "sigma6": "trained", "sigma6-seed1": "replicate", "blurpool": "blurpool",
                     "ref-sigma2": "reference", "ref-sigma4": "reference", "ref-sigma6": "reference",
                     "blurpool-seed1": "blurpool", "baseline": "other", "my-checkpoint": "other"}
    markers = {k: pc.KIND_STYLE[k]["marker"] for k in pc.KINDS}
    assert len(set(markers.values())) == len(pc.KINDS)
    colours = pc.sigma_colours(MODELS.values())
    assert list(colours) == [0.0, 2.0, 4.0, 6.0] and len(set(colours.values())) == 4
    assert pc.model_style("ref-sigma4", 4.0, colours)["color"] == colours[4.0]
    assert pc.model_style("sigma6-seed1", 6.0, colours)["color"] == colours[6.0]
    assert pc.model_style("blurpool", 0.0, colours)["color"] == "black"
    order = sorted(MODELS, key=lambda m: pc.model_sort_key(m, MODELS[m]))
    assert order == ["sigma0", "sigma0-seed1", "sigma2", "sigma4", "sigma6", "sigma6-seed1", "blurpool",
                     "ref-sigma2", "ref-sigma4", "ref-sigma6"]
    assert claims.order_models(list(MODELS)) == order  # the report's order
    assert pc.id_sigma("ref-sigma4") == 4.0 and pc.id_sigma("sigma6-seed1") == 6.0 and pc.id_sigma("blurpool") is None
    with pytest.raises(ValueError, match="plots.palette"):
        pc.configure({"palette": "no-such-map"})
