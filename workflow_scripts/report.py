"""Rule report: results/report/report.html (self-contained) + report.md + sources.tsv.

Every section is a function of its stage's tables (``blurscope.report``); the
methods summary comes from the resolved config (results/pipeline_info/config.yaml),
the reproducibility section from results/pipeline_info/.
"""

from pathlib import Path

import yaml

from blurscope import io, runlog
from blurscope.report import Sources, build_document, render_html, render_markdown

sm = snakemake  # type: ignore[name-defined]  # noqa: F821
log = runlog.start(sm.log[0], sm.threads)
config = yaml.safe_load(Path(sm.input.config).read_text())
files = [*sm.input.targets, *sm.input.models]
src = Sources(files, sm.params.results)
info = {k: str(getattr(sm.input, k)) for k in ("versions", "git", "rulegraph", "benchmarks")}
doc = build_document(src, config, info, report_cfg=sm.params.cfg)
for sec in doc.sections:
    log.info(
        "section %s %s: %d blocks, %d figures, %d headlines",
        sec.number,
        sec.key,
        len(sec.blocks),
        len(sec.figures),
        len(sec.headlines),
    )
html_text = render_html(doc)
md_text = render_markdown(doc, Path(sm.output.md).parent)
with io.atomic_path(sm.output.html) as tmp:
    tmp.write_text(html_text, encoding="utf-8")
with io.atomic_path(sm.output.md) as tmp:
    tmp.write_text(md_text, encoding="utf-8")
io.write_tsv(src.used_table(), sm.output.sources)
log.info(
    "report: %d sections, %d figures, %d tables/files read, %.1f MB HTML",
    len(doc.sections),
    len(doc.figures),
    len(src.used),
    len(html_text) / 1e6,
)
