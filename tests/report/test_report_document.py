"""blurscope.report.document: the document model rendered through the Jinja2 templates.

Exact renderings of every block kind (markdown line by line, the HTML
fragments), inline marks and escaping, and the self-contained page of the
fixture results (tests/report/conftest.py).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd
import pytest

from blurscope import report as R
from blurscope.report import document


def _doc(tmp_path: Path) -> R.Document:
    png = tmp_path / "figures" / "a.png"
    png.parent.mkdir()
    png.write_bytes(
        base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYGAAAAAEAAH2FzhVAAAAAElFTkSuQmCC")
    )
    sec = R.Section("one", "First <part>", short="First")
    sec.para("Edge density **falls** with `σ`;", "p < 0.05.")
    sec.add(
        R.Heading("layer 4.2"),
        R.Bullets(["a | b", "c"]),
        R.Bullets([]),
        R.Figure(str(png), "results/figures/a.png", "A & B", "Caption with `code`."),
        R.Table(
            pd.DataFrame({"model": ["sigma0", "x|y"], "Δ [95 % CI]": ["−0.5 [−1, 0]", None]}),
            "Cap.",
            "results/t.tsv",
            "Note.",
        ),
    )
    sec.number = "3.1"
    doc = R.Document("T & T", "", "now", [sec], ["**First.** a"], subtitle="sub")
    doc.number_figures()
    return doc


def test_markdown_renders_every_block_kind(tmp_path: Path) -> None:
    md = R.render_markdown(_doc(tmp_path), tmp_path / "report")
    assert md == (
        "# T & T\n\n*sub*\n\n*generated now by blurscope*\n\n## Executive summary\n\n"
        "- **First.** a\n\n## List of figures\n\n- Figure 3.1.1: A & B\n\n"
        "## 3.1. First <part>\n\n"
        "Edge density **falls** with `σ`; p < 0.05.\n\n"
        "### layer 4.2\n\n"
        "- a | b\n- c\n\n"
        "**Figure 3.1.1: A & B.**\n\n![A & B](../figures/a.png)\n\n*Caption with `code`.* `results/figures/a.png`\n\n"
        "*Cap.* `results/t.tsv`\n\n| model | Δ [95 % CI] |\n|---|---|\n| sigma0 | −0.5 [−1, 0] |\n| x\\|y |  |\n\n"
        "*Note.*\n\n"
    )


def test_html_renders_every_block_kind(tmp_path: Path) -> None:
    html = R.render_html(_doc(tmp_path))
    lines = html.splitlines()
    assert lines[:4] == [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>T &amp; T</title>",
    ]
    css = (Path(document.__file__).parent / "templates" / "style.css").read_text()
    assert f"<style>\n{css}</style></head><body><main>" in html
    assert '<li><a href="#one">3.1. First &lt;part&gt;</a></li>' in lines
    assert '<ul class="summary"><li><strong>First.</strong> a</li></ul>' in lines
    assert '<li><a href="#fig-3.1-1">Figure 3.1.1</a>: A &amp; B</li>' in lines
    body = lines[lines.index('<section id="one"><h2>3.1. First &lt;part&gt;</h2>') + 1 :]
    assert body[0] == "<p>Edge density <strong>falls</strong> with <code>σ</code>; p &lt; 0.05.</p>"
    assert body[1] == "<h3>layer 4.2</h3>"
    assert body[2] == "<ul><li>a | b</li><li>c</li></ul>"
    assert body[3] == "", "an empty list renders as nothing"
    assert re.fullmatch(
        r'<figure id="fig-3\.1-1"><img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="A &amp; B" '
        r'data-source="results/figures/a\.png"><figcaption><b>Figure 3\.1\.1: A &amp; B\.</b> Caption with '
        r'<code>code</code>\. <span class="src">results/figures/a\.png</span></figcaption></figure>',
        body[4],
    ), body[4][:200]
    assert body[5] == (
        '<div class="tablewrap"><table><caption>Cap. <span class="src">results/t.tsv</span></caption>'
        "<thead><tr><th>model</th><th>Δ [95 % CI]</th></tr></thead><tbody>"
        '<tr><td>sigma0</td><td class="num">−0.5 [−1, 0]</td></tr><tr><td>x|y</td><td></td></tr>'
        '</tbody></table><div class="note">Note.</div></div>'
    )
    assert body[6:] == ["</section>", "</main></body></html>"] and html.endswith("</html>\n")


def test_inline_marks_escape_first() -> None:
    assert document.inline_html("a < b & **c** `<d>`") == "a &lt; b &amp; <strong>c</strong> <code>&lt;d&gt;</code>"
    assert document.md_cell(float("nan")) == "" and document.md_cell("a|b\nc") == "a\\|b c"


def test_an_unknown_image_type_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.tiff").write_bytes(b"II*\0")
    with pytest.raises(R.ReportInputError, match=r"cannot embed .*x\.tiff: unknown image type 'tiff'"):
        document.data_uri(tmp_path / "x.tiff")


def test_html_is_self_contained(results: Path, build_report, n_figures: int) -> None:
    html = R.render_html(build_report(results))
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == n_figures  # every figure of the fixture, per-layer ones once per layer
    for tag in imgs:
        src = re.search(r'src="([^"]+)"', tag).group(1)
        assert src.startswith("data:image/png;base64,")
        raw = base64.b64decode(src.split(",", 1)[1])
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert hrefs and all(h.startswith("#") for h in hrefs)
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert {h[1:] for h in hrefs} <= ids, "every internal link has a target"
    assert "<title>Test report</title>" in html and "By A. Tester" in html


def test_write_html_and_md(results: Path, build_report, tmp_path: Path) -> None:
    doc = build_report(results)
    out = results / "report"
    text = R.write_html(doc, out / "report.html")
    assert (out / "report.html").read_text(encoding="utf-8") == text == R.render_html(doc)
    md = R.write_md(doc, out / "report.md")
    assert (out / "report.md").read_text(encoding="utf-8") == md == R.render_markdown(doc, out)
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md"], "no temporary file left"


def test_public_names_resolve_lazily() -> None:
    """Every name in ``blurscope.report.__all__`` resolves; an unknown name is an AttributeError."""
    for name in R.__all__:
        assert getattr(R, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'build_document'"):
        R.build_document  # noqa: B018
