"""The report's inputs: the report rule's named inputs, read and recorded.

:class:`Sources` takes the mapping ``name -> path`` (or ``name -> [paths]``) of
the rule's named inputs (``rules/report.smk``): the paths are written once, in
the rule, and the sections address files by name. Per-layer outputs are named
``<name>/<layer>`` (e.g. ``all_neurons_grid/layer2.0``). Every table and figure
a section uses goes through :meth:`Sources.table`, :meth:`Sources.jsons` or
:meth:`Sources.figure`, which check it and record it for the data-sources
appendix, ``results/report/sources.tsv`` and the tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .captions import Captions
from .document import Figure, ReportInputError

# identifier columns: always read as strings (a layer called "4.2" must stay "4.2")
ID_COLUMNS = {
    "model",
    "group",
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
    "permutation_unit",
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

# the report rule's named inputs: {name: path} or {name: [paths]}
InputPaths = Mapping[str, "str | os.PathLike | Sequence[str | os.PathLike]"]


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A tidy TSV with identifier columns (:data:`ID_COLUMNS`) as strings."""
    with open(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
    dtype = {c: str for c in header if c in ID_COLUMNS}
    return pd.read_csv(path, sep="\t", dtype=dtype, keep_default_na=True)


def _norm(path: str | os.PathLike) -> str:
    """A path as the pipeline names it: normalised, with ``/`` separators."""
    return os.path.normpath(str(path)).replace(os.sep, "/")


class Sources:
    """The report rule's named input files; reads them and records what the sections used.

    ``inputs``: ``{name: path}`` or ``{name: [paths]}`` (Snakemake's
    ``snakemake.input.items()``); ``captions``: the figure captions
    (``report/*.rst``) that :meth:`figure` renders.
    """

    def __init__(self, inputs: InputPaths, captions: Captions | None = None) -> None:
        self.files: dict[str, str | list[str]] = {}
        for name, value in inputs.items():
            if isinstance(value, (str, os.PathLike)):
                self.files[str(name)] = _norm(value)
            else:
                self.files[str(name)] = [_norm(v) for v in value]
        self.captions = captions
        self.used: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, pd.DataFrame] = {}

    def has(self, name: str) -> bool:
        """Whether ``name`` is a named input of the report rule."""
        return name in self.files

    def path(self, name: str) -> str:
        """The one file of input ``name`` (not recorded as used); :class:`ReportInputError` if absent."""
        value = self.files.get(name)
        if value is None:
            raise ReportInputError(f"report: '{name}' is not a named input of the report rule (rules/report.smk)")
        if not isinstance(value, str):
            raise ReportInputError(f"report: input '{name}' is a list of {len(value)} files, expected one file")
        return value

    def paths(self, name: str) -> list[str]:
        """The files of input ``name`` (a list input; a single file gives a list of one)."""
        if name not in self.files:
            raise ReportInputError(f"report: '{name}' is not a named input of the report rule (rules/report.smk)")
        value = self.files[name]
        return [value] if isinstance(value, str) else list(value)

    def source(self, name: str) -> str:
        """The path of input ``name`` as the pipeline names it (``results/stats/x.tsv``)."""
        return self.path(name)

    def table(self, name: str, columns: Iterable[str] = (), allow_empty: bool = False) -> pd.DataFrame:
        """Read the table of input ``name``; :class:`ReportInputError` naming the file when it is
        not an input, empty, or lacks ``columns``."""
        path = self.path(name)
        if name not in self._cache:
            self._cache[name] = read_table(path)
        df = self._cache[name]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ReportInputError(f"report: table {path} lacks columns {missing} (has {list(df.columns)})")
        if df.empty and not allow_empty:
            raise ReportInputError(f"report: table {path} has no rows")
        self.used[path] = {"kind": "table", "path": path, "rows": len(df), "columns": len(df.columns)}
        return df

    def jsons(self, name: str) -> dict[str, dict]:
        """``{path: data}`` of the JSON files of list input ``name`` (e.g. the model descriptions),
        in path order."""
        out = {}
        for path in sorted(self.paths(name)):
            data = json.loads(Path(path).read_text())
            self.used[path] = {"kind": "json", "path": path, "rows": 1, "columns": len(data)}
            out[path] = data
        return out

    def figure(self, name: str, title: str, caption: str = "", **wildcards: str) -> Figure | None:
        """A :class:`Figure` for input ``name`` (None when the stage did not make it).

        ``caption``: the name of its caption file (``report/<caption>.rst``, the
        one Snakemake's report shows for the same output), rendered with
        ``wildcards`` (e.g. ``layer="layer2.0"``).
        """
        if name not in self.files:
            return None
        path = self.path(name)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise ReportInputError(f"report: figure {path} is missing or empty")
        text = ""
        if caption:
            if self.captions is None:
                raise ReportInputError(f"report: figure {path} needs caption {caption}.rst but no captions were given")
            text = self.captions.text(caption, **wildcards)
        self.used[path] = {"kind": "figure", "path": path, "rows": np.nan, "columns": np.nan}
        return Figure(path=path, source=path, title=title, caption=text)

    def used_table(self) -> pd.DataFrame:
        """``path kind rows columns`` of every file the sections used, in the order first used."""
        rows = [
            {"path": v["path"], "kind": v["kind"], "rows": v["rows"], "columns": v["columns"]}
            for v in self.used.values()
        ]
        return pd.DataFrame(rows, columns=["path", "kind", "rows", "columns"])
