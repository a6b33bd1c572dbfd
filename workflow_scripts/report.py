"""Rule report: results/report/report.html (self-contained) + report.md + sources.tsv.

Inputs: the rule's named inputs (rules/report.smk), passed to ``blurscope.report.build``
by name: every stage's tables and figures, the figure captions (report/*.rst), the
resolved config and the rest of results/pipeline_info/.
"""

from blurscope import io, report, runlog

sm = snakemake  # type: ignore[name-defined]  # noqa: F821
log = runlog.start(sm.log[0], sm.threads)
doc = report.build(dict(sm.input.items()), dict(sm.params.items()))
for sec in doc.sections:
    log.info(
        "section %s %s: %d blocks, %d figures, %d headlines",
        sec.number,
        sec.key,
        len(sec.blocks),
        len(sec.figures),
        len(sec.headlines),
    )
html_text = report.write_html(doc, sm.output.html)
report.write_md(doc, sm.output.md)
io.write_tsv(doc.sources, sm.output.sources)
log.info(
    "report: %d sections, %d figures, %d tables/files read, %.1f MB HTML",
    len(doc.sections),
    len(doc.figures),
    len(doc.sources),
    len(html_text) / 1e6,
)
