"""The layering of the packages (README, Layout): each imports only those below it.

    core      the bottom layer: imports no sibling
    scores    plain data (records, tables, baselines): core only
    eval      datasets, runtimes, the scoring loop: core, scores
    calib     calibration faces: core, eval
    compiler  stages and PIPELINE: core, eval, calib, scores
    train     training recipe: core, eval
    cli.py    the only importer of click (with nothing else above it)

Every import counts, also those inside functions."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SIBLINGS = {"core", "scores", "eval", "calib", "compiler", "train", "cli", "click"}
ALLOWED = {
    "core": set(),
    "scores": {"core"},
    "eval": {"core", "scores"},
    "calib": {"core", "eval"},
    "compiler": {"core", "eval", "calib", "scores"},
    "train": {"core", "eval"},
}


def imported_siblings(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.add(node.module.split(".")[0])
    return mods & SIBLINGS


def violations(package: str, root: Path = ROOT) -> list[str]:
    out = []
    for f in sorted((root / package).rglob("*.py")):
        if "templates" in f.parts:  # the submission runner runs from its own vendor/ folder
            continue
        for m in sorted(imported_siblings(f) - ALLOWED[package] - {package}):
            out.append(f"{f.relative_to(root)} imports {m}")
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_forbidden_import(package):
    assert violations(package) == []


def test_the_check_can_fail(tmp_path):
    """A sideways import planted in a copy of a package is caught."""
    pkg = tmp_path / "eval"
    pkg.mkdir()
    (pkg / "ok.py").write_text("from core.errors import UserError\nfrom scores.records import ScoreRow\n")
    (pkg / "bad.py").write_text("def f():\n    from compiler.stages import PIPELINE\n    import click\n")
    assert violations("eval", tmp_path) == ["eval/bad.py imports click", "eval/bad.py imports compiler"]


def test_only_the_cli_imports_click():
    users = {f.relative_to(ROOT).as_posix() for f in ROOT.glob("*.py")} | {
        f.relative_to(ROOT).as_posix() for p in ALLOWED for f in (ROOT / p).rglob("*.py") if "click" in imported_siblings(f)}
    assert {u for u in users if "click" in imported_siblings(ROOT / u)} == {"cli.py"}


def test_the_module_and_function_size_limits():
    """No module over about 300 lines, no function over about 50."""
    too_long = []
    for f in [ROOT / "cli.py", *(f for p in ALLOWED for f in (ROOT / p).rglob("*.py"))]:
        text = f.read_text()
        if len(text.splitlines()) > 320:
            too_long.append(f"{f.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno > 55:
                too_long.append(f"{f.name}:{node.name}: {node.end_lineno - node.lineno} lines")
    assert too_long == []
