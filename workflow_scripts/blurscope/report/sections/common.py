"""What every section builder shares: the :class:`Context`, table helpers and result-row helpers.

A section builder is ``section(src: Sources, ctx: Context) -> Section``: it
reads its stage's tables by input name from ``src`` and states only what they
support (through :mod:`blurscope.report.claims`). A *result row* is a row of a
difference table of :mod:`blurscope.stats` (``diff``, ``diff_ci_low``, ``diff_ci_high``,
``n_replicates``, ``n_replicates_reference``, ...), as a ``pandas.Series``, a dict or a
named tuple from ``DataFrame.itertuples``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..claims import as_float, fmt_interval, fmt_num, layer_label
from ..document import Figure, Section, Table
from ..sources import Sources


@dataclass
class Context:
    """What every section builder needs besides the tables: the resolved config and report options.

    ``alpha``: significance level; ``max_rows``: longest table printed
    (``report.max_table_rows``); ``n_representative``: representative neurons
    listed per layer; ``sources_file``: where ``sources.tsv`` is written (shown
    in the data-sources appendix).
    """

    config: dict
    alpha: float = 0.05
    max_rows: int = 60
    n_representative: int = 3
    sources_file: str = "results/report/sources.tsv"

    @property
    def sigmas(self) -> list[float]:
        """The configured training σ (px at 224 px), ascending."""
        return sorted(float(s) for s in self.config.get("sigmas", [0]))

    @property
    def layers(self) -> list[str]:
        """The analysed layers (``analysis.layers``), in config order."""
        return [str(x) for x in self.config.get("analysis", {}).get("layers", [])]

    def level(self, section: str, key: str = "ci", default: float = 0.95) -> float:
        """The confidence level ``config[section][key]`` (``default`` when not set)."""
        v = as_float(self.config.get(section, {}).get(key))
        return v if v is not None else default

    def order_layers(self, layers: Iterable[str]) -> list[str]:
        """``layers`` without duplicates, in config order; unknown layers last, by name."""
        known = self.layers
        layers = list(dict.fromkeys(str(x) for x in layers))
        return sorted(layers, key=lambda x: (known.index(x) if x in known else len(known), x))


def not_run(sec: Section, stage: str, expected: str) -> Section:
    """``sec`` saying that ``stage`` did not run (the report has no input named ``expected``); no headlines."""
    sec.para(
        f"The {stage} stage is not part of this workflow run: none of its outputs "
        f"(e.g. the report input `{expected}`) is an input of the report, so this section is empty."
    )
    sec.headlines = []
    return sec


def stage_table(src: Sources, sec: Section, stage: str, name: str, columns: Iterable[str]) -> pd.DataFrame | None:
    """The table of the report input ``name`` of ``stage`` (its ``columns`` checked); ``None`` once ``sec``
    says that the stage is not part of this run (:func:`not_run`: the report has no input ``name``)."""
    if not src.has(name):
        not_run(sec, stage, name)
        return None
    return src.table(name, columns)


def limit_rows(df: pd.DataFrame, max_rows: int) -> tuple[pd.DataFrame, str]:
    """The first ``max_rows`` rows of ``df`` and a note saying so (``""`` when nothing was cut)."""
    if len(df) > max_rows:
        return (
            df.head(max_rows),
            f"First {max_rows} of {len(df)} rows (report.max_table_rows); the full table is in the source file.",
        )
    return df, ""


def limited_table(df: pd.DataFrame, caption: str, source: str, max_rows: int) -> Table:
    """A :class:`Table` of the first ``max_rows`` rows of ``df``, its note saying when rows were cut."""
    df, note = limit_rows(df, max_rows)
    return Table(df, caption, source, note)


def first_row(df: pd.DataFrame, **where: Any) -> pd.Series | None:
    """The first row whose columns equal ``where`` (compared as strings); None when there is none."""
    sel = df
    for k, v in where.items():
        sel = sel[sel[k].astype(str) == str(v)]
    return None if sel.empty else sel.iloc[0]


def layer_figure(src: Any, name: str, title: str, layer: str) -> Figure | None:
    """The figure ``<name>/<layer>`` of :class:`blurscope.report.sources.Sources` ``src``, titled
    "<title>, <layer>", with caption ``report/<name>.rst`` (None when the stage did not make it)."""
    return src.figure(f"{name}/{layer}", f"{title}, {layer_label(layer)}", caption=name, layer=layer)


def field(row: Any, key: str) -> Any:
    """Column ``key`` of a result row (Series, dict or named tuple)."""
    return row[key] if isinstance(row, Mapping | pd.Series) else getattr(row, key)


def diff_interval(row: Any) -> str:
    """A result row's difference with its CI, "0.12 [0.05, 0.2]"; "n/a" without a row."""
    if row is None:
        return "n/a"
    return fmt_interval(field(row, "diff"), field(row, "diff_ci_low"), field(row, "diff_ci_high"))


def runs_pair(row: Any) -> str:
    """A result row's training runs behind each side, "2 / 1"."""
    return f"{fmt_num(field(row, 'n_replicates'))} / {fmt_num(field(row, 'n_replicates_reference'))}"


