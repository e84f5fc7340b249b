"""facelm: a model compiler and evaluator for low-power facial-landmark detection.

One import name. Installed, the wheel holds `facelm` alone; its sub-packages are `facelm.core`,
`facelm.eval`, `facelm.compiler`, ... and `facelm.cli`. In a checkout they are the folders beside
this one (core/, eval/, compiler/, ..., cli.py): this package's path reaches the checkout's root,
so `import facelm.eval` there is ./eval and `python cli.py` works as it always has.

The Python API (facelm.api) loads on first use, so `import facelm` stays instant."""
import os as _os

__version__ = "0.2.0.dev0"

_here = _os.path.dirname(_os.path.abspath(__file__))
_root = _os.path.dirname(_here)
if not _os.path.isdir(_os.path.join(_here, "core")) and _os.path.isfile(_os.path.join(_root, "cli.py")) \
        and _os.path.isdir(_os.path.join(_root, "core")):
    __path__.append(_root)  # a checkout: the sub-packages are the top-level folders

from facelm.core.errors import UserError  # noqa: E402 - after the path is set

#: What `facelm.<name>` gives, from facelm.api, imported when first asked for.
API = ("compile", "score", "predict", "train", "sweep", "report", "inspect", "Build", "Scores")
__all__ = ["__version__", "UserError", *API]


def __getattr__(name):
    if name in API:
        # by name, not an import statement: a challenge submission vendors what its runner
        # reaches through import statements (submit.build), and the runner needs no API
        import importlib

        return getattr(importlib.import_module("facelm.api"), name)
    raise AttributeError(f"module 'facelm' has no attribute {name!r}")
