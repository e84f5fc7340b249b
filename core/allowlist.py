"""The allow-list of the weights-only reader (core.safe_load): which globals an ultralytics pose
checkpoint of the supported families may name, resolved from the installed packages by one rule.

- layers: the nn.Module subclasses defined in ultralytics' module files, facelm's pruned layer
  (core.pruned) and torch.nn.modules, but for DENIED;
- plain classes of ultralytics' loss and assigner files (an interrupted training's last.pt);
- the pose model class, the train-args namespaces, numpy scalars and dtypes (numpy 1's and 2's
  paths, as the trainer saves its metrics), the builtin set.

PyTorch's own default list (tensors, storages, OrderedDict) comes on top. Only the fixed modules
above are ever imported: a name in a file never makes this module import anything."""
from __future__ import annotations

import sys

#: Modules whose nn.Module subclasses are layers: state in, tensors out, nothing run on load.
LAYER_MODULES = ("ultralytics.nn.modules.block", "ultralytics.nn.modules.conv", "ultralytics.nn.modules.head",
                 "ultralytics.nn.modules.activation", "ultralytics.nn.modules.transformer", "facelm.core.pruned")
#: Where checkpoints pickled before facelm was one import name found facelm's own layer.
LEGACY = {"core.pruned": "facelm.core.pruned"}
#: Layers whose construction reaches outside the file (TorchVision builds a torchvision model and
#: may fetch its weights): a pose checkpoint of the supported families has none.
DENIED = frozenset({"ultralytics.nn.modules.block.TorchVision"})
#: Modules whose own plain classes an ultralytics training pickles (criterion and assigner).
CLASS_MODULES = ("ultralytics.utils.loss", "ultralytics.utils.tal")
_EXPLICIT: dict | None = None


def allowed_globals() -> dict:
    """{"module.Name": object} of every global a supported checkpoint may name beyond PyTorch's
    own default list, enumerated from the installed ultralytics, torch and numpy (for tests and
    for reading; a load resolves only the names its file asks for, by the same rule)."""
    import importlib
    import inspect

    import torch.nn.modules  # noqa: F401 - every layer file of torch.nn in sys.modules

    out = dict(explicit())
    mods = [importlib.import_module(m) for m in LAYER_MODULES + CLASS_MODULES]
    mods += [m for n, m in list(sys.modules.items()) if n.startswith("torch.nn.modules.")]
    for mod in mods:
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            name = f"{obj.__module__}.{obj.__qualname__}"
            if resolve(name) is obj:
                out[name] = obj
    for old, new in LEGACY.items():  # the same classes under the names older checkpoints use
        out.update({old + n[len(new):]: obj for n, obj in list(out.items()) if n.startswith(new + ".")})
    return out


def explicit() -> dict:
    """The named globals that are not layers: the pose model, the train-args namespaces, numpy
    scalars and dtypes (numpy 1's and 2's paths), the builtin set."""
    global _EXPLICIT
    if _EXPLICIT is None:
        import types

        import numpy as np
        from ultralytics.nn.tasks import PoseModel
        from ultralytics.utils import IterableSimpleNamespace

        if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
            from numpy._core.multiarray import scalar
        else:
            from numpy.core.multiarray import scalar
        out = {f"{c.__module__}.{c.__qualname__}": c for c in (PoseModel, IterableSimpleNamespace,
                                                              types.SimpleNamespace)}
        out.update({"numpy.core.multiarray.scalar": scalar,
                    "numpy._core.multiarray.scalar": scalar, "numpy.dtype": np.dtype,
                    "__builtin__.set": set, "builtins.set": set})
        for t in (np.float64, np.float32, np.float16, np.int64, np.int32, np.bool_):
            out[f"numpy.dtypes.{type(np.dtype(t)).__name__}"] = type(np.dtype(t))
        _EXPLICIT = out
    return _EXPLICIT


def resolve(name: str):
    """The object an allow-listed global names, else None. Layers are the nn.Module subclasses
    defined in ultralytics' module files, facelm's pruned layer and torch.nn.modules; ultralytics'
    loss and assigner files add their own classes. Only those fixed modules are ever imported."""
    import importlib

    if name in explicit():
        return explicit()[name]
    if name in DENIED:
        return None
    module, _, attr = name.rpartition(".")
    if module in LEGACY:
        obj = resolve(f"{LEGACY[module]}.{attr}")
        return obj
    if module in LAYER_MODULES or module in CLASS_MODULES:
        mod = importlib.import_module(module)
    elif module.startswith("torch.nn.modules."):
        mod = sys.modules.get(module)  # imported with torch; never an import by a file's word
    else:
        return None
    obj = getattr(mod, attr, None)
    if not isinstance(obj, type) or obj.__module__ != module:
        return None
    if module in CLASS_MODULES:
        return obj
    from torch import nn

    return obj if issubclass(obj, nn.Module) else None
