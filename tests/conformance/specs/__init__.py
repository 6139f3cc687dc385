"""One adapter per platform description: `load() -> list[Spec]`."""

from __future__ import annotations

import functools
import importlib
import pkgutil

from ..model import Spec


@functools.cache
def all_specs() -> tuple[Spec, ...]:
    """Every description the adapters in this package load."""
    specs: list[Spec] = []
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        specs.extend(importlib.import_module(f"{__name__}.{module}").load())
    return tuple(specs)
