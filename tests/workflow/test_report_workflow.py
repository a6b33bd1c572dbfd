"""The report of the smoke run: its files, its sources, pipeline_info, Snakemake's own
``--report``, what a plot option reruns, and the page in headless Chromium.

All tests read the session fixture ``smoke_run`` (tests/workflow/conftest.py)
and never modify it: tests that run Snakemake work on a copy. The browser tests
drive Debian's ``chromium`` over the DevTools protocol on a pipe
(``--remote-debugging-pipe``; no network, no extra package): every image must
decode (naturalWidth > 0) and the page must log no error. Without Chromium
they are skipped locally and FAIL in CI (``CI=true``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "tests" / "workflow" / "smoke.yaml"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# report sections and the table whose presence means their stage ran
STAGE_SECTIONS = {
    "evaluation/accuracy_matrix.tsv": "Models and accuracy",
    "figures/all_neurons_grid_*.png": "Feature visualisations",
    "stats/patch_spectra.tsv": "Power spectra of preferred patches",
    "stats/complexity_table.tsv": "Visual complexity of preferred patches",
    "stats/patch_trends.tsv": "Statistics: the run-level design and every preferred-patch test",
    "aliasing/stats/summary.tsv": "Aliasing and shift stability",
    "bands/band_summary.tsv": "Band interventions in feature maps",
    "frequency/summary.tsv": "Frequency preference and robustness",
    "saliency/*stats*.tsv": "Saliency: naive vs expert",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def run_snakemake(workdir: Path, *args: str, config: Path = SMOKE, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "--configfile",
        str(config),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def copy_of(run: Path, dst: Path) -> Path:
    """A copy of a finished run (results + .snakemake metadata, mtimes kept)."""
    shutil.copytree(run, dst, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return dst


def job_counts(text: str) -> dict[str, int]:
    """{rule: jobs} from the 'Job stats' table of a (dry) run; {} when nothing is to be done."""
    if "Job stats:" not in text:
        return {}
    table = text.split("Job stats:", 1)[1]
    out = {}
    for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M):
        if m.group(1) == "total":
            break
        out[m.group(1)] = int(m.group(2))
    return out


def md_sections(md: str) -> dict[str, str]:
    """{title: text} of the markdown report's numbered sections ("## 3.1. Title", "## A. Title")."""
    parts = re.split(r"^## (?:\d+(?:\.\d+)*|[A-Z])\. (.+)$", md, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


# --------------------------------------------------------------------------- the report files


@pytest.fixture(scope="session")
def report(smoke_run: Path) -> dict:
    res = smoke_run / "results"
    paths = {
        k: res / "report" / f for k, f in (("html", "report.html"), ("md", "report.md"), ("sources", "sources.tsv"))
    }
    missing = [str(p) for p in paths.values() if not p.is_file()]
    assert not missing, (
        f"the smoke run made no report {missing}: is rules/report.smk included in the "
        'Snakefile (include: "rules/report.smk")?'
    )
    return {
        "run": smoke_run,
        "results": res,
        "html": paths["html"].read_text(),
        "md": paths["md"].read_text(),
        "sources": pd.read_csv(paths["sources"], sep="\t"),
    }


@pytest.mark.workflow
def test_every_source_exists_and_every_table_is_non_empty(report: dict) -> None:
    run, src = report["run"], report["sources"]
    assert len(src) > 10
    for row in src.itertuples():
        path = run / row.path
        assert path.is_file() and path.stat().st_size > 0, f"report source {row.path} is missing or empty"
        if row.kind == "table":
            df = pd.read_csv(path, sep="\t")
            assert len(df) > 0 and len(df) == row.rows, f"{row.path}: {len(df)} rows, sources.tsv says {row.rows}"
    kinds = set(src.kind)
    assert {"table", "figure"} <= kinds


@pytest.mark.workflow
def test_every_figure_is_embedded_and_exists(report: dict) -> None:
    html, md, res, run = report["html"], report["md"], report["results"], report["run"]
    imgs = re.findall(r"<img\b[^>]*>", html)
    sources = set()
    for tag in imgs:
        src = re.search(r'\bsrc="([^"]+)"', tag).group(1)
        assert src.startswith("data:image/png;base64,"), tag[:120]
        source = re.search(r'data-source="([^"]+)"', tag).group(1)
        assert (run / source).is_file(), source
        sources.add(source)
    # every figure the pipeline made is in the report (no figure silently left out)
    made = {f"results/figures/{p.name}" for p in (res / "figures").glob("*.png")}
    assert made and made == sources, f"figures not in the report: {sorted(made - sources)}"
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", md)
    assert len(links) == len(imgs)
    for link in links:
        assert (res / "report" / link).resolve().is_file(), link


@pytest.mark.workflow
def test_report_is_self_contained(report: dict) -> None:
    html = report["html"]
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//""", html, re.I), "external reference"
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "<link" not in html.lower()
    hrefs = re.findall(r'href="([^"]+)"', html)
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    assert all(h.startswith("#") and h[1:] in ids for h in hrefs)


@pytest.mark.workflow
def test_every_stage_that_ran_has_its_section(report: dict) -> None:
    sections = md_sections(report["md"])
    for needed in ("Executive summary", "List of figures", "Methods summary", "Reproducibility", "Data sources"):
        assert any(needed in t for t in sections) or f"## {needed}" in report["md"], needed
    for pattern, title in STAGE_SECTIONS.items():
        ran = bool(list(report["results"].glob(pattern)))
        text = sections.get(title)
        assert text is not None, f"section {title!r} missing"
        if ran:
            assert "is not part of this workflow run" not in text, f"{title}: the stage ran but the section is empty"


def _findings(res: Path) -> pd.DataFrame:
    tab = pd.read_csv(res / "stats" / "findings.tsv", sep="\t", dtype={"layer": str, "model": str, "reference": str})
    for col in ("layer", "model", "reference", "note", "claim"):
        tab[col] = tab[col].fillna("").astype(str)
    return tab


def _supported(r: pd.Series, alpha: float) -> str:
    """The verdict the row's own test supports at α (Holm p in the primary family, else p; the t interval on
    the same side)."""
    p = r["p_holm"] if r["family"] == "primary" else r["p"]
    if not np.isfinite(p):
        return "not testable"
    side = r["diff_ci_high"] < 0 or r["diff_ci_low"] > 0
    if p < alpha and side:
        return "lower" if r["diff"] < 0 else "higher"
    return "no detectable change"


@pytest.mark.workflow
def test_summary_and_findings_table_agree_with_sections_and_tables(report: dict) -> None:
    """Issue 28: every number and verdict in the summary and the findings table equals the one in the section and
    the table it comes from (results/stats/findings.tsv); no direction word without a test that supports it at
    the stated α."""
    from blurscope.report import runlevel as rl

    res, md = report["results"], report["md"]
    alpha = yaml.safe_load((res / "pipeline_info" / "config.yaml").read_text())["report"]["alpha"]
    tab = _findings(res)
    head, body = md.split("## List of figures", 1)
    summary = head.split("## Executive summary", 1)[1]
    bullets = [line[2:] for line in summary.splitlines() if line.startswith("- **")]
    assert 1 <= len(bullets) <= 5, "the report opens with at most five sentences"
    # the findings table: each row's cells are its findings.tsv row, formatted; its verdict is the test's
    lines = [line for line in summary.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split(" | ")]
    assert header == ["finding", "comparison", "family", "from", "to", "change [95 % CI]", "p", "runs", "verdict"]
    by_key = {(rl.name(r), rl.comparison_text(r)): r for _, r in tab.iterrows()}
    shown = [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in lines[1:]]
    assert sum(1 for c in shown if c[2] == "primary") == int((tab["family"] == "primary").sum())
    for cells in shown:
        r = by_key[(cells[0], cells[1])]
        assert cells == list(rl.table_rows(pd.DataFrame([r]))[0].values()), cells
        assert r["verdict"] in ("uninformative", _supported(r, alpha)), (cells, r["p"], r["p_holm"])
        # the same claim, the same numbers and verdict, in a section (subject aside)
        tail = rl.sentence(r).text.split(f" ({rl.comparison_text(r)}, ", 1)[1]
        assert f"({rl.comparison_text(r)}, {tail}" in body, f"no section states {cells[0]} / {cells[1]} as the table"
    # the summary: each clause is a row's clause (its numbers and verdict), and "lower"/"higher" occur only there
    clause = re.compile(r"([^;:.—]+?(?:, layer ?[\w.]+)?): (lower|higher|no detectable change) \(Δ = ([^,]+), "
                        r"((?:Holm )?p [=<] [^)]+)\)")
    text = " ".join(bullets)
    compact = {rl.compact(r): r for _, r in tab.iterrows()}
    found = 0
    for m in clause.finditer(text):
        candidates = [c for c in compact if c.endswith(m.group(0).strip()) or m.group(0).strip().endswith(c)]
        assert candidates, f"summary clause without a findings row: {m.group(0)}"
        r = compact[max(candidates, key=len)]
        assert m.group(2) == r["verdict"] == _supported(r, alpha), m.group(0)
        found += m.group(2) in ("lower", "higher")
    words = re.findall(r"\b(lower|higher)\b", text)
    assert len(words) == found, f"a direction word in the summary without its test: {text}"
    for word in ("falls", "rises", "lowers", "raises", "increase", "decrease", "reduces"):
        assert word not in text, f"direction word {word!r} outside the verdict vocabulary in the summary"
    # the runs behind the claims are stated
    assert any(b.startswith("**Training runs.**") for b in bullets)


@pytest.mark.workflow
def test_generated_statements_match_the_tables(report: dict) -> None:
    """Spot checks: accuracy and the σ contrast of each layer's HF power are those of the result tables."""
    res, md = report["results"], report["md"]
    trends = pd.read_csv(res / "stats" / "patch_trends.tsv", sep="\t", dtype={"layer": str})
    tab = _findings(res)
    for r in trends[trends["metric"] == "hf_fraction"].itertuples():
        row = tab[tab["claim"] == f"patches/{r.layer}/hf_fraction/sigma"].iloc[0]
        assert row["diff"] == r.diff and row["family"] == "primary"
    acc = pd.read_csv(res / "evaluation" / "accuracy_matrix.tsv", sep="\t")
    own = acc[(acc.model == "sigma0") & (acc.test_sigma == acc.train_sigma)].iloc[0]
    assert f"{own.accuracy:.3g} [{own.ci_low:.3g}, {own.ci_high:.3g}]".replace("-", "−") in md


@pytest.mark.workflow
def test_pipeline_info(report: dict) -> None:
    info = report["results"] / "pipeline_info"
    cfg = yaml.safe_load((info / "config.yaml").read_text())
    smoke = yaml.safe_load(SMOKE.read_text())
    assert cfg["sigmas"] == smoke["sigmas"] and cfg["analysis"]["layers"] == smoke["analysis"]["layers"]
    assert set(cfg["report"]) >= {"title", "alpha", "max_table_rows", "n_representative"}, "schema defaults resolved"
    versions = pd.read_csv(info / "versions.tsv", sep="\t")
    v = dict(zip(versions["name"].str.lower(), versions["version"].astype(str)))
    from importlib.metadata import version

    assert v["snakemake"] == version("snakemake") and v["torch"] == version("torch") and "python" in v
    git = dict(line.split(": ", 1) for line in (info / "git.txt").read_text().splitlines() if ": " in line)
    assert {"commit", "dirty", "command_line", "workdir", "snakemake"} <= set(git)
    assert "snakemake" in git["command_line"] and git["dirty"] in {"true", "false", "unknown"}
    dot = (info / "rulegraph.dot").read_text()
    nodes = set(re.findall(r'label = "([^"]+)"', dot))
    assert {"all", "report", "pipeline_info", "train_baseline", "evaluate"} <= nodes and "->" in dot
    bench = pd.read_csv(info / "benchmarks.tsv", sep="\t")
    files = {str(p.relative_to(report["results"])) for p in (report["results"] / "benchmarks").rglob("*.tsv")}
    assert set(bench["file"]) == files - {"benchmarks/pipeline_info/all.tsv", "benchmarks/report/all.tsv"}
    assert (bench["s"] >= 0).all() and nodes - {"all", "report", "pipeline_info"} <= set(bench["rule"])


@pytest.mark.workflow
def test_reproducibility_section_shows_runtimes_and_versions(report: dict) -> None:
    text = md_sections(report["md"])["Reproducibility"]
    bench = pd.read_csv(report["results"] / "pipeline_info" / "benchmarks.tsv", sep="\t")
    assert f"{len(bench)} jobs" in text
    for rule in bench["rule"].unique():
        assert f"| {rule} |" in text, rule
    assert "git commit" in text and "Command line: `snakemake" in text and "| snakemake | " in text


def html_figures(html: str) -> dict[str, tuple[str, str]]:
    """{figure source: (number of its HTML section, its caption as HTML)}."""
    out = {}
    for number, body in re.findall(r'<section id="[^"]+"><h2>([0-9A-Z.]+)\. .*?</h2>(.*?)</section>', html, re.S):
        for source, caption in re.findall(
            r'<img [^>]*data-source="([^"]+)"><figcaption><b>Figure [^<]*</b> (.*?) <span class="src">', body
        ):
            out[source] = (number, caption)
    return out


@pytest.fixture(scope="module")
def smoke_figures(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The figures the rules register for Snakemake's report with the smoke config, as Snakemake parses them."""
    import smokerun

    work = smokerun.copy_workflow(tmp_path_factory.mktemp("parsed") / "w")
    return smokerun.reported_figures(smokerun.parse_workflow(work, smokerun.SMOKE_CONFIG))


def registered_figures(run: Path, figures: list[dict]) -> list[dict]:
    """The registered ``figures`` this run made (``source``: the path below the run folder)."""
    # e.g. frequency_shape_bias.png only with cue-conflict images
    return [{**fig, "source": fig["path"]} for fig in figures if (run / fig["path"]).is_file()]


@pytest.mark.workflow
def test_sections_are_numbered_as_snakemake_categories(report: dict, smoke_figures: list[dict]) -> None:
    """A figure registered under category "N. Name" in rules/*.smk is in section N (or N.k) of the HTML."""
    from blurscope.report import categories

    figures, numbers = html_figures(report["html"]), categories()
    registered = registered_figures(report["run"], smoke_figures)
    assert {f["source"] for f in registered} == set(figures), "every figure of the report is registered, and back"
    for fig in registered:
        number = numbers[fig["category"]]
        section = figures[fig["source"]][0]
        assert section == number or section.startswith(
            number + "."
        ), f"{fig['source']}: category {fig['category']!r} (rule {fig['rule']}), section {section} of report.html"
    toc = re.findall(r'<li><a href="#[^"]+">([0-9A-Z.]+)\. ', report["html"])
    assert toc[:6] == ["1", "2.1", "2.2", "3.1", "3.2", "4"], toc  # 2.2: feature visualisation


@pytest.mark.workflow
def test_figure_captions_come_from_the_rst_files(report: dict, smoke_figures: list[dict]) -> None:
    """report.html shows, for each figure, the caption Snakemake's report shows (the same report/*.rst)."""
    from blurscope.report import Captions
    from blurscope.report.document import inline_html

    config = yaml.safe_load((report["results"] / "pipeline_info" / "config.yaml").read_text())
    captions = Captions(sorted((REPO / "report").glob("*.rst")), config)
    figures = html_figures(report["html"])
    for fig in registered_figures(report["run"], smoke_figures):
        wildcards = {"layer": fig["layer"]} if fig["layer"] else {}
        assert figures[fig["source"]][1] == inline_html(captions.text(fig["caption"], **wildcards)), fig["source"]


# --------------------------------------------------------------------------- Snakemake's own report


@pytest.mark.workflow
def test_snakemake_report_zip(report: dict, tmp_path: Path) -> None:
    work = copy_of(report["run"], tmp_path / "run")
    out = tmp_path / "report.zip"
    run_snakemake(work, "--report", str(out), timeout=600)
    assert out.is_file()
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        main = [n for n in names if n.count("/") == 1 and n.endswith("/report.html")]
        assert main, names[:20]
        html = z.read(main[0]).decode("utf-8", "replace")
    # the workflow description (report/workflow.rst, rendered with the config) and our own report
    assert "trains one classifier per Gaussian training blur" in html
    embedded = {Path(n).name for n in names}
    assert {"report.html", "benchmarks.tsv", "versions.tsv"} <= embedded
    # the figures of every stage are registered with report()
    figures = {p.name for p in (report["results"] / "figures").glob("*.png")}
    assert figures <= embedded, f"figures not in snakemake --report: {sorted(figures - embedded)}"


# --------------------------------------------------------------------------- reruns


def _figure_rules(work: Path) -> set[str]:
    """Rules that write into results/figures/ (from --detailed-summary of the run)."""
    proc = run_snakemake(work, "--detailed-summary", timeout=600)
    rows = [ln.split("\t") for ln in proc.stdout.splitlines() if "\t" in ln]
    head = rows[0]
    i_file, i_rule = head.index("output_file"), head.index("rule")
    return {r[i_rule] for r in rows[1:] if r[i_file].startswith("results/figures/")}


@pytest.mark.workflow
def test_plot_option_reruns_only_figures_and_report(report: dict, tmp_path: Path) -> None:
    work = copy_of(report["run"], tmp_path / "run")
    figure_rules = _figure_rules(work)
    assert "accuracy_matrix" in figure_rules and len(figure_rules) >= 2
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg.setdefault("plots", {})["dpi"] = int(cfg.get("plots", {}).get("dpi", 120)) + 7
    variant = tmp_path / "plots.yaml"
    variant.write_text(yaml.safe_dump(cfg, sort_keys=False))  # key order matters to params
    proc = run_snakemake(work, "-n", "--rerun-triggers", "params", "--quiet", "rules", config=variant, timeout=600)
    plan = job_counts(proc.stdout + proc.stderr)
    allowed = figure_rules | {"report", "pipeline_info", "all"}
    assert set(plan) <= allowed, f"a plot option reran non-figure jobs: {sorted(set(plan) - allowed)}"
    assert {"report", "accuracy_matrix"} <= set(plan), plan
    # a report-only option reruns the report (and pipeline_info, which records the config), nothing else
    cfg["plots"]["dpi"] -= 7
    cfg.setdefault("report", {})["title"] = "another title"
    variant.write_text(yaml.safe_dump(cfg, sort_keys=False))  # key order matters to params
    proc = run_snakemake(work, "-n", "--rerun-triggers", "params", "--quiet", "rules", config=variant, timeout=600)
    assert set(job_counts(proc.stdout + proc.stderr)) == {"report", "pipeline_info", "all"}


# --------------------------------------------------------------------------- browser


class DevTools:
    """Chromium's DevTools protocol over ``--remote-debugging-pipe`` (fd 3: commands in, fd 4: out)."""

    def __init__(self, exe: str, user_data_dir: str) -> None:
        r_child, w_parent = os.pipe()
        r_parent, w_child = os.pipe()
        # move the child's ends above 10 so that dup2 onto 3 and 4 cannot clobber one another
        hi_r = fcntl.fcntl(r_child, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(w_child, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(r_child)
        os.close(w_child)

        def child() -> None:
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(hi_r)
        os.close(hi_w)
        self.w, self.r = w_parent, r_parent
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            if select.select([self.r], [], [], left)[0]:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium closed the pipe: {self.proc.stderr.read().decode()[-2000:]}")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"DevTools {method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str, timeout: float = 60) -> dict:
        for m in self.events:
            if m.get("method") == method:
                return m
        deadline = time.time() + timeout
        while True:
            m = self._read(deadline)
            self.events.append(m)
            if m.get("method") == method:
                return m

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)


def open_in_chromium(page: Path, timeout: float = 120) -> tuple[list[dict], list[str]]:
    """Load ``page`` from its file:// URL; return its images (naturalWidth …) and every error logged."""
    with tempfile.TemporaryDirectory(prefix="blurscope-chromium-") as user_data:
        dt = DevTools(CHROMIUM, user_data)
        try:
            target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            sid = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                dt.send(f"{domain}.enable", session=sid)
            dt.send("Page.navigate", {"url": page.resolve().as_uri()}, session=sid)
            dt.wait_event("Page.loadEventFired", timeout)
            res = dt.send(
                "Runtime.evaluate",
                {
                    "returnByValue": True,
                    "expression": (
                        "JSON.stringify(Array.from(document.images).map(i => ({width: i.naturalWidth, "
                        "height: i.naturalHeight, complete: i.complete, source: i.dataset.source || "
                        "i.currentSrc.slice(0, 60)})))"
                    ),
                },
                session=sid,
            )
            images = json.loads(res["result"]["value"])
            time.sleep(0.5)
            dt.send("Runtime.evaluate", {"expression": "0"}, session=sid)  # collect late events
        finally:
            dt.close()
    errors = []
    for e in dt.events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(f"exception: {p['exceptionDetails'].get('text', '')}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(
                "console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            )
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            errors.append(f"log: {p['entry'].get('text', '')} {p['entry'].get('url', '')}")
    return images, errors


@pytest.fixture(scope="session")
def chromium() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if in_ci():
            pytest.fail(message + " — required in CI")
        pytest.skip(message)
    return CHROMIUM


@pytest.mark.browser
def test_browser_check_catches_broken_pages(chromium: str, tmp_path: Path) -> None:
    """The checker itself: a missing image and a console error are caught (so a pass means something)."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="missing.png" data-source="missing">'
        '<script>console.error("boom")</script></body></html>'
    )
    images, errors = open_in_chromium(page)
    assert images == [{"width": 0, "height": 0, "complete": True, "source": "missing"}]
    assert any("boom" in e for e in errors) and any("ERR_FILE_NOT_FOUND" in e for e in errors), errors


@pytest.mark.workflow
@pytest.mark.browser
def test_report_opens_in_chromium(report: dict, chromium: str) -> None:
    page = report["results"] / "report" / "report.html"
    images, errors = open_in_chromium(page)
    n_figures = len(re.findall(r"<img\b", report["html"]))
    assert len(images) == n_figures > 0
    broken = [i for i in images if not i["complete"] or i["width"] <= 0 or i["height"] <= 0]
    assert not broken, f"images that did not load: {broken}"
    assert not errors, f"errors while loading the report: {errors}"
