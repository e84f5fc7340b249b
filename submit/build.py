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

from compiler.stages import SHIP_ORDER
from core.errors import UserError
from core.files import atomic_output, read_manifest

REPO = Path(__file__).resolve().parent.parent
#: The modules run_model.py needs, copied verbatim (one code path, not a rewrite).
VENDORED = ("core/__init__.py", "core/contract.py", "core/errors.py", "core/files.py",
            "eval/__init__.py", "eval/preprocess.py", "eval/decode.py", "eval/infer.py", "eval/writer.py",
            "eval/landmarks.py", "eval/runtimes/__init__.py", "eval/runtimes/tflite_rt.py")


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
    return {m for m in mods if m not in sys.stdlib_module_names and m not in ("core", "eval", "__future__")}


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
    from eval.artifact import describe
    from eval.decode import DecodeOptions

    tfl = pick_tflite(src, which)
    art = describe(tfl)
    out = Path(out)
    with atomic_output(out) as tmp:
        (tmp / "vendor").mkdir(parents=True)
        for rel in VENDORED:
            dst = tmp / "vendor" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / rel, dst)
        shutil.copyfile(Path(__file__).resolve().parent / "templates" / "run_model.py", tmp / "run_model.py")
        shutil.copyfile(tfl, tmp / "model.tflite")
        (tmp / "model.json").write_text(json.dumps({
            "model": "model.tflite", "source": tfl.name, "kind": art.kind, "kpt_shape": list(art.spec.kpt_shape),
            "nc": art.spec.nc, "imgsz": list(art.spec.imgsz), "layout": art.spec.layout, **asdict(DecodeOptions()), "threads": 1}, indent=2))
        code = [tmp / "run_model.py", *[tmp / "vendor" / r for r in VENDORED]]
        (tmp / "requirements.txt").write_text("\n".join(requirements(third_party_imports(code))) + "\n")
    if zip_it:
        archive = shutil.make_archive(str(out) + ".tmp", "zip", out)
        Path(archive).replace(out.with_suffix(".zip"))
    return out
