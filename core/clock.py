"""Where a compile stage's seconds go: named parts timed inside the stage that runs them, kept in
its manifest (report.parts) and printed by bench/compile_profile.py.

    with recording() as parts:        # the pipeline, around one stage
        with part("saved_model write"):
            ...
    parts  # {"saved_model write": 1.4}

Outside recording() a part costs one clock read and is not kept. A part entered twice (one per
attempt, say) adds up; names say what they time, so one table reads across stages. A part
timed inside another is kept as "· name" (one dot per level), listed after its outer part
and counted in it."""
from __future__ import annotations

import time
from contextlib import contextmanager

_parts: dict | None = None
_depth = 0


@contextmanager
def part(name: str):
    global _depth
    key = "· " * _depth + name
    if _parts is not None:
        _parts.setdefault(key, 0.0)  # entered first: an outer part is listed before its inner ones
    _depth += 1
    t = time.perf_counter()
    try:
        yield
    finally:
        _depth -= 1
        if _parts is not None:
            _parts[key] = round(_parts[key] + time.perf_counter() - t, 3)


@contextmanager
def recording():
    """Collect the parts timed until the block ends (nested: the inner block keeps its own)."""
    global _parts, _depth
    outer, _parts, depth, _depth = _parts, {}, _depth, 0
    try:
        yield _parts
    finally:
        _parts, _depth = outer, depth


def timed_import(module: str):
    """Import module, timing it as 'import <module>' the first time this process pays for it."""
    import importlib
    import sys

    if module in sys.modules:
        return sys.modules[module]
    with part(f"import {module}"):
        return importlib.import_module(module)
