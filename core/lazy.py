"""Packages that export their modules' public names without importing those modules: importing
the package stays cheap, and a module (or a challenge submission, which vendors what its runner
imports) takes along only what it uses."""
from __future__ import annotations

import importlib


def exports(package: str, names: dict[str, str]):
    """(__getattr__, __all__) for `package`: names maps each exported name to its module."""
    def __getattr__(name):
        if name in names:
            return getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(names)
