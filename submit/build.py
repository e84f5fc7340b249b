"""`package`: a self-contained challenge submission (the .tflite, run_model.py, the evaluator's
own preprocessing/decoding/writer vendored unchanged, and a requirements.txt listing exactly
what those files import), written atomically as a folder and a zip."""
from __future__ import annotations

import ast
import importlib.metadata as md
import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from facelm.compiler.stages import SHIP_ORDER
from facelm.core.errors import UserError
from facelm.core.files import atomic_output, read_manifest

TEMPLATE = Path(__file__).resolve().parent / "templates" / "run_model.py"


def vendored() -> dict[str, Path]:
    """{path under vendor/: source file} of every facelm module run_model.py reaches through its
    import statements, at any depth (those inside functions too), with each package's __init__:
    the inference code by rule, copied verbatim (one code path, not a rewrite)."""
    import importlib.util

    out: dict[str, Path] = {}
    seen, todo = set(), [TEMPLATE]
    while todo:
        for name in _facelm_imports(todo.pop()):
            parts = name.split(".")
            for mod in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
                if mod in seen:
                    continue
                seen.add(mod)
                try:
                    spec = importlib.util.find_spec(mod)
                except ModuleNotFoundError:  # mod is a name inside a module
                    continue
                if spec is None or not (spec.origin or "").endswith(".py"):
                    continue  # a name imported from a module, not a module
                out[mod.replace(".", "/") + ("/__init__.py" if spec.submodule_search_locations else ".py")] = \
                    Path(spec.origin)
                todo.append(Path(spec.origin))
    return dict(sorted(out.items()))


def _facelm_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("facelm"):
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.startswith("facelm")]
    return names


def pick_tflite(src: Path, which: str | None) -> Path:
    """A .tflite itself, or the wanted stage's artifact of a build folder (default: the first
    of SHIP_ORDER the build has), found by the stage its manifest names."""
    src = Path(src)
    if src.is_file():
        if src.suffix != ".tflite":
            raise UserError(f"{src}: a submission needs a .tflite model")
        return src
    if not src.is_dir():
        raise UserError(f"{src}: no such build folder or .tflite")
    by_stage = {}
    for f in sorted(src.glob("*.tflite")):
        m = read_manifest(f)
        if m and m.get("stage"):
            by_stage.setdefault(m["stage"], f)
    for stage in ([which] if which else SHIP_ORDER):
        if stage in by_stage:
            return by_stage[stage]
    raise UserError(f"{src}: no {which or 'TFLite'} artifact in this build (run compile first)")


def third_party_imports(files: list[Path]) -> set[str]:
    """Top-level modules imported by files, minus the standard library, the vendored package,
    and optional fallbacks inside `except ImportError:` blocks."""
    mods = set()
    for f in files:
        tree = ast.parse(f.read_text())
        optional = {id(n) for h in ast.walk(tree) if isinstance(h, ast.Try)
                    for handler in h.handlers for n in ast.walk(handler)}
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                mods.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods.add(node.module.split(".")[0])
    return {m for m in mods if m not in sys.stdlib_module_names and m not in ("facelm", "__future__")}


def requirements(mods: set[str]) -> list[str]:
    """Pinned distributions for the modules, at the versions installed here."""
    dists = md.packages_distributions()
    lines = []
    for m in sorted(mods):
        names = dists.get(m)
        if not names:
            raise UserError(f"run_model.py imports {m!r}, which no installed distribution provides")
        name = sorted(names)[0]
        lines.append(f"{name}=={md.version(name)}")
    return lines


def build_package(src: Path, out: Path, which: str | None = None, zip_it: bool = True) -> Path:
    """Write the submission folder (and out.zip); returns the folder."""
    from facelm.eval.infer.artifact import describe
    from facelm.eval.infer.decode import DecodeOptions

    tfl = pick_tflite(src, which)
    art = describe(tfl)
    out = Path(out)
    with atomic_output(out) as tmp:
        (tmp / "vendor").mkdir(parents=True)
        files = vendored()
        for rel, source in files.items():
            dst = tmp / "vendor" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dst)
        shutil.copyfile(TEMPLATE, tmp / "run_model.py")
        shutil.copyfile(tfl, tmp / "model.tflite")
        (tmp / "model.json").write_text(json.dumps({
            "model": "model.tflite", "source": tfl.name, "kind": art.kind, "kpt_shape": list(art.spec.kpt_shape),
            "nc": art.spec.nc, "imgsz": list(art.spec.imgsz), "layout": art.spec.layout, **asdict(DecodeOptions()), "threads": 1}, indent=2))
        code = [tmp / "run_model.py", *[tmp / "vendor" / r for r in files]]
        (tmp / "requirements.txt").write_text("\n".join(requirements(third_party_imports(code))) + "\n")
    if zip_it:
        archive = shutil.make_archive(str(out) + ".tmp", "zip", out)
        Path(archive).replace(out.with_suffix(".zip"))
    return out
