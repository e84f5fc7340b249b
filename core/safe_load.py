"""Checkpoints are data, never code: every .pt facelm opens goes through `load_checkpoint_dict`.

A .pt is a pickle, and a pickle can call any function while it is read. So before any object
is rebuilt, the pickle's opcodes are scanned (nothing executed) for the globals it names, in
the order it names them; one outside the allow-list refuses the file with one line naming the
file and that global. What passes is read by PyTorch's weights-only unpickler with exactly the
globals it named registered, so even an opcode the scan could not see cannot call anything else.

The allow-list (core.allowlist) is built from the installed packages: the nn.Module classes of
ultralytics' modules and of torch.nn, the pose model class, ultralytics' loss and assigner
classes (an interrupted training's last.pt holds them), its train-args namespace, facelm's own
layer for pruned networks, numpy scalars as ultralytics' trainer saves its metrics, and
PyTorch's own tensor globals (its default list). tests/test_safe_load.py loads checkpoints of
every family, pruned and trained ones and ultralytics' own `YOLO(...).save()` through it, so a
release that pickles a new class fails a test, not a user's run.

A user who trusts a file gives `--trust-checkpoint` (FACELM_TRUST_CHECKPOINT=1 in the
environment, so sweep workers inherit it): it loads with full pickle, and manifests and tables
say so (`load_mode`)."""
from __future__ import annotations

import io
import os
import pickletools
import threading
import zipfile
from pathlib import Path

from facelm.core.allowlist import explicit, resolve
from facelm.core.errors import UserError

WEIGHTS_ONLY = "weights-only"
TRUSTED = "trusted (full pickle)"
TRUST_ENV = "FACELM_TRUST_CHECKPOINT"
#: ultralytics model classes of other tasks: the file is refused as "not a pose model" before
#: any of it is rebuilt, with today's words.
OTHER_TASKS = {"DetectionModel": "detect", "SegmentationModel": "segment", "ClassificationModel": "classify",
               "OBBModel": "obb", "WorldModel": "detect", "RTDETRDetectionModel": "detect",
               "YOLOEModel": "detect", "YOLOESegModel": "segment"}

_LOCK = threading.Lock()


class RefusedFileError(UserError):
    """A file from elsewhere that would make facelm run or read something it names (a pickle
    global outside the allow-list, ONNX data outside the model's folder): refused before any of
    it is used. A whole run stops on it (exit 2), where an unreadable file is only a failed row."""


def trusted() -> bool:
    """Whether this run was told to trust its checkpoints (full pickle)."""
    return os.environ.get(TRUST_ENV, "") not in ("", "0")


def set_trust(on: bool) -> None:
    """`--trust-checkpoint`: every .pt of this run (and of processes it starts) loads with full pickle."""
    if on:
        os.environ[TRUST_ENV] = "1"
    else:
        os.environ.pop(TRUST_ENV, None)


def check_sources(paths) -> None:
    """Refuse, before any work, every .pt among paths that names a global outside the allow-list
    and every .onnx whose external data lies outside its folder (RefusedFileError, one line). A
    file that is merely unreadable passes here: where it is used, it fails as it always has."""
    for p in paths:
        if p is None or not Path(p).is_file():
            continue
        try:
            if Path(p).suffix == ".pt":
                check_checkpoint(Path(p))
            elif Path(p).suffix == ".onnx":
                check_onnx(Path(p))
        except RefusedFileError:
            raise
        except UserError:
            continue


def check_onnx(path: Path) -> None:
    """Refuse an ONNX file whose tensors keep their data in a file outside the model's folder
    (an absolute location, or one that climbs out with ..): ONNX tools read what it names."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - any parse failure is the user's one line
        raise UserError(f"{path}: not a readable ONNX model ({type(e).__name__}: {_first(e)})") from None
    folder = path.resolve().parent
    for t in onnx.external_data_helper._get_all_tensors(model):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        where = next((e.value for e in t.external_data if e.key == "location"), "")
        target = (folder / where).resolve()
        if not where or Path(where).is_absolute() or folder not in target.parents:
            raise RefusedFileError(f"{path}: refused: tensor {t.name!r} keeps its data at {where!r}, outside the model's "
                            "folder")


def _first(e: BaseException) -> str:
    """An exception's first line; for PyTorch's weights-only refusal, the reason it gives."""
    text = str(e)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    return " ".join(((text.strip().split("\n\n") or ["no details"])[0]).split())[:200]


def load_mode() -> str:
    """How this run loads checkpoints, as manifests and tables record it."""
    return TRUSTED if trusted() else WEIGHTS_ONLY


def _pickle_bytes(path: Path) -> bytes:
    """The checkpoint's data.pkl, read without unpickling; UserError for anything else."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if any(n.endswith("/constants.pkl") for n in names):
                raise UserError(f"{path}: a TorchScript archive, not an ultralytics checkpoint")
            pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
            if not pkl:
                raise UserError(f"{path}: not a readable ultralytics checkpoint (a zip without a pickle: "
                                "not a torch.save file)")
            return z.read(pkl[0])
    except (zipfile.BadZipFile, EOFError):
        raise UserError(f"{path}: not a readable ultralytics checkpoint (not a zip archive: truncated, or not "
                        "a torch.save file)") from None


def checkpoint_globals(path: Path, data: bytes | None = None) -> list[str]:
    """The globals (module.name) the checkpoint's pickle names, in order, without rebuilding
    anything. Raises UserError for a file that is not a torch.save zip with a readable pickle."""
    path = Path(path)
    data = _pickle_bytes(path) if data is None else data
    try:
        return _scan(data)
    except (ValueError, EOFError, IndexError) as e:
        raise UserError(f"{path}: not a readable ultralytics checkpoint (damaged pickle: {e})") from None


def _scan(data: bytes) -> list[str]:
    found: list[str] = []
    strings: list = []  # the last values pushed, for STACK_GLOBAL (protocol 4)
    memo: dict = {}
    for op, arg, _ in pickletools.genops(io.BytesIO(data)):
        name = op.name
        if name == "GLOBAL":
            g = arg.replace(" ", ".", 1)
        elif name == "STACK_GLOBAL":
            module, attr = (strings[-2:] + [None, None])[:2] if len(strings) >= 2 else (None, None)
            g = f"{module}.{attr}" if isinstance(module, str) and isinstance(attr, str) else "<unnamed STACK_GLOBAL>"
        else:
            if "UNICODE" in name or name.endswith("STRING"):
                strings.append(arg)
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                strings.append(memo.get(arg))
            elif name in ("MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"):
                memo[len(memo) if name == "MEMOIZE" else arg] = strings[-1] if strings else None
            elif name not in ("FRAME", "PROTO"):
                strings.append(None)
            del strings[:-4]
            continue
        strings.append(None)  # the global itself
        if g not in found:
            found.append(g)
    return found


def check_checkpoint(path: Path) -> list[str]:
    """The globals the file names, after refusing it (UserError, one line) when one of them is
    outside the allow-list or names a model of another task. Nothing of the file is rebuilt.

    PyTorch's own opcode scan (fast, unordered) serves a file that passes; the ordered scan
    names the first global of one that does not."""
    import pickle

    from torch import _weights_only_unpickler as wou

    path = Path(path)
    data = _pickle_bytes(path)
    try:
        names = sorted(wou.get_globals_in_pkl(io.BytesIO(data)))
        readable = True
    except (pickle.UnpicklingError, EOFError, ValueError):  # an opcode the weights-only reader has not
        names, readable = checkpoint_globals(path, data), False
    for g in names:
        module, _, attr = g.rpartition(".")
        if module == "ultralytics.nn.tasks" and attr in OTHER_TASKS:
            raise UserError(f"{path}: not a pose model (task: {OTHER_TASKS[attr]}); a keypoint head is required")
    if trusted():
        return names
    default = wou._get_allowed_globals()
    bad = [g for g in names if g not in default and resolve(g) is None]
    if bad or not readable:
        ordered = checkpoint_globals(path, data)
        first = next((g for g in ordered if g in bad or (g not in default and resolve(g) is None)), None)
        asks = f"its pickle asks for {first}, which is not part of an ultralytics pose checkpoint" if first else \
            "its pickle uses an opcode the weights-only reader does not take"
        raise RefusedFileError(f"{path}: refused: {asks} (nothing of it was run); if you trust this file, "
                                    "give --trust-checkpoint to load it with full pickle")
    return names


def load_checkpoint_dict(path: Path):
    """The checkpoint's object (a dict for ultralytics checkpoints), read weights-only after
    `check_checkpoint`, or with full pickle when this run trusts its checkpoints."""
    import pickle

    import torch

    path = Path(path)
    names = check_checkpoint(path)
    if trusted():
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_legacy_pickle())
    entries = [(obj, g) for g in names if (obj := resolve(g)) is not None]
    if "numpy.dtype" in names:  # numpy.dtype(...) builds its dtype class, which the scan cannot see
        entries += [(obj, g) for g, obj in explicit().items() if g.startswith("numpy.dtypes.")]
    with _LOCK:
        # registered for the process, not scoped: safe_globals' exit would strip them from a
        # concurrent load; only allow-listed objects are ever registered
        torch.serialization.add_safe_globals(entries)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # an opcode the scan let through that the unpickler refuses
        raise RefusedFileError(f"{path}: refused by the weights-only reader ({_first(e)}); if you trust this "
                                    "file, give --trust-checkpoint") from None
    except (RuntimeError, EOFError) as e:
        raise UserError(f"{path}: not a readable ultralytics checkpoint ({type(e).__name__}: {_first(e)})") from None


def route_ultralytics() -> None:
    """Make ultralytics' own loader (YOLO(path), a trainer's resume, a teacher) read .pt files
    through `load_checkpoint_dict`: every `load_checkpoint` it makes looks `torch_safe_load` up
    in its tasks module."""
    import ultralytics.nn.tasks as tasks

    if getattr(tasks.torch_safe_load, "_facelm", False):
        return

    def torch_safe_load(weight, safe_only=None):  # noqa: ARG001 - ultralytics' signature
        ckpt = load_checkpoint_dict(Path(weight))
        if not isinstance(ckpt, dict):
            raise UserError(f"{weight}: not an ultralytics checkpoint (the file holds a {type(ckpt).__name__}, "
                            "not a checkpoint dict)")
        return ckpt, str(weight)

    torch_safe_load._facelm = True
    tasks.torch_safe_load = torch_safe_load


def _legacy_pickle():
    """pickle, with the module names checkpoints used before facelm was one import name
    (core.pruned) read as today's (facelm.core.pruned): for full-pickle loads."""
    import pickle
    import types

    from facelm.core.allowlist import LEGACY

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            return super().find_class(LEGACY.get(module, module), name)

    module = types.ModuleType("facelm_legacy_pickle")
    module.__dict__.update({k: getattr(pickle, k) for k in dir(pickle) if not k.startswith("__")})
    module.Unpickler = Unpickler
    return module
