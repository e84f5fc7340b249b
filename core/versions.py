"""The runtimes and converter facelm is about to use, checked against core.ranges before any
artifact is written: a release older than the range (installed with --no-deps, or left from an
older environment) is refused in one line; a newer one runs (a patch written for one release
says for itself when it stands aside)."""
from __future__ import annotations

import importlib.metadata as md

from facelm.core.errors import UserError
from facelm.core.ranges import REQUIRES

#: Distributions that provide one import: the first installed is the one checked.
ALIASES = {"tensorflow-cpu": ("tensorflow-cpu", "tensorflow")}


def installed(name: str) -> str | None:
    for dist in ALIASES.get(name, (name,)):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            continue
    return None


def _release(v: str) -> tuple:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(v).release
    except InvalidVersion:
        return ()


def lower_bound(name: str) -> str | None:
    return next((s[2:] for s in REQUIRES[name].split(",") if s.startswith(">=")), None)


def require(*names: str) -> None:
    """UserError (exit 2) for the first installed package older than its range; a package that is
    not installed is left to the import that needs it."""
    for name in names:
        found, low = installed(name), lower_bound(name)
        if found and low and _release(found) < _release(low):
            raise UserError(f"{name} {found} is installed; facelm needs {name}{REQUIRES[name]} "
                            f"(pip install '{name}{REQUIRES[name]}')")


def within(name: str, spec: str) -> bool:
    """Whether the installed release of name satisfies spec (e.g. '>=1.29,<1.30')."""
    from packaging.specifiers import SpecifierSet

    found = installed(name)
    return found is not None and SpecifierSet(spec).contains(found, prereleases=True)
