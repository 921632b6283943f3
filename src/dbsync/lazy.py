"""Package exports imported on first use (PEP 562 module ``__getattr__``).

A package whose ``__init__`` imports everything it exports makes every import of one of its
submodules pay for all of them: a page-converting worker process that needs the catalog's and
the config model's classes also imported the config parser, YAML and discovery's HTTP stack
(a third of its start-up). With this, ``from package import name`` still works as before.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps each exported name to the
    submodule defining it; the first access imports it and keeps the value in the package."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__
