"""Lazy re-exports: a package's public names, imported from their submodule on first use.

A package's ``__init__`` stays free of heavy imports (torch, matplotlib), so a statistics
job that imports ``blurscope.aliasing.stats`` never loads torch through ``blurscope.aliasing``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps a public name to its submodule
    (relative to ``package``, e.g. ``{"avr": "measure"}``), imported when the name is first read."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
