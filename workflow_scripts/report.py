"""Rule report: results/report/report.html (self-contained) + report.md + sources.tsv.

Inputs: the rule's named inputs (rules/report.smk), passed to ``blurscope.report.build``
by name: every stage's tables and figures, the figure captions (report/*.rst), the
resolved config and the rest of results/pipeline_info/.
"""

from blurscope import io, report, runlog

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
doc = report.build(dict(smk.input.items()), dict(smk.params.items()))
for sec in doc.sections:
    log.info(
        "section %s %s: %d blocks, %d figures, %d headlines",
        sec.number,
        sec.key,
        len(sec.blocks),
        len(sec.figures),
        len(sec.headlines),
    )
html_text = report.write_html(doc, smk.output.html)
report.write_md(doc, smk.output.md)
io.write_tsv(doc.sources, smk.output.sources)
log.info(
    "report: %d sections, %d figures, %d tables/files read, %.1f MB HTML",
    len(doc.sections),
    len(doc.figures),
    len(doc.sources),
    len(html_text) / 1e6,
)
