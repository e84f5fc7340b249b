"""The layering of the packages (README, Layout): each imports only those below it.

    core, models  the bottom: the model contract; the built-in checkpoints (data)
    scores        plain data (records, tables, baselines): core only
    eval          datasets, runtimes, the scoring loop: core, scores, models
    calib         calibration faces: core, eval
    train         training recipe: core, eval
    compiler      the pipeline alone (stages, checks, the INT8 guard): core, eval, calib, scores
    explore       the sweep (jobs, pool, Ray, Pareto report): compiler and below
    submit        the challenge submission (build, verify, runner template): compiler and below
    htmlreport    the HTML report: reads what score, inspect and sweep wrote (eval, scores, explore)
    facelm/       the Python API (facelm.compile, facelm.score, ...) over everything below, and
                  the option vocabulary of the CLI (vocabulary.py, with cli.py the only click users)
    cli.py        a thin layer over the API (nothing else above it)
    bench/        scripts above everything; nothing imports them

Every import counts, also those inside functions; a relative import counts as the absolute
name it resolves to, and facelm.<package> as <package> (installed, every folder is under the one
import name facelm; in a checkout, facelm/__init__.py maps the same names onto the folders). Every import of a sibling must name a module that exists (a move that
leaves a stale import in bench/ or in a lazy import fails here, not in a user's hands)."""
import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "models", "scores", "eval", "calib", "train", "compiler", "explore", "submit", "htmlreport")
SIBLINGS = {*PACKAGES, "cli", "click", "bench", "tests"}
ALLOWED = {
    "core": set(),
    "models": set(),
    "scores": {"core"},
    "eval": {"core", "scores", "models"},
    "calib": {"core", "eval"},
    "train": {"core", "eval"},
    "compiler": {"core", "eval", "calib", "scores"},
    "explore": {"core", "eval", "calib", "scores", "compiler"},
    "submit": {"core", "eval", "scores", "compiler"},
    "htmlreport": {"core", "eval", "scores", "explore"},
    "facelm": {*PACKAGES, "click"},  # click: its vocabulary.py alone (test_only_the_cli_imports_click)
    "bench": {*PACKAGES, "bench"},
}
assert set(ALLOWED) - {"bench", "facelm"} == set(PACKAGES)


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """Dotted names of every module path imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(), str(path))
    package = path.relative_to(root).parent.parts
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            mods.update(f"{name}.{a.name}" for a in node.names)
    return {m.removeprefix("facelm.") for m in mods}


def imported_siblings(path: Path, root: Path = ROOT) -> set[str]:
    return {m.split(".")[0] for m in imports(path, root)} & SIBLINGS


def violations(package: str, root: Path = ROOT) -> list[str]:
    out = []
    for f in sorted((root / package).rglob("*.py")):
        if "templates" in f.parts:  # the submission runner runs from its own vendor/ folder
            continue
        for m in sorted(imported_siblings(f, root) - ALLOWED[package] - {package}):
            out.append(f"{f.relative_to(root)} imports {m}")
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_forbidden_import(package):
    assert violations(package) == []


def test_the_check_can_fail(tmp_path):
    """A sideways import planted in a copy of a package is caught, relative ones included."""
    pkg = tmp_path / "eval"
    (pkg / "runtimes").mkdir(parents=True)
    (pkg / "ok.py").write_text("from facelm.core.errors import UserError\nfrom scores.records import ScoreRow\n"
                               "from . import decode\n")
    (pkg / "bad.py").write_text("def f():\n    from facelm.compiler.stages import PIPELINE\n    import click\n")
    (pkg / "runtimes" / "rel.py").write_text("from ...explore import driver\nfrom ..decode import decode\n")
    assert violations("eval", tmp_path) == ["eval/bad.py imports click", "eval/bad.py imports compiler",
                                            "eval/runtimes/rel.py imports explore"]


def test_compiler_is_the_pipeline_alone():
    """The sweep and the submission import the compiler, never the reverse."""
    assert not any(imported_siblings(f) & {"explore", "submit", "train"} for f in (ROOT / "compiler").rglob("*.py"))


def _all_sources():
    return [ROOT / "cli.py", *(f for p in ALLOWED for f in (ROOT / p).rglob("*.py"))]  # facelm/ included


def test_every_sibling_import_names_a_module_that_exists():
    missing = []
    for f in _all_sources():
        for m in sorted(imports(f)):
            top = m.split(".")[0]
            if top not in SIBLINGS - {"click"} or "templates" in f.parts:
                continue
            # `from pkg.mod import name`: pkg.mod.name is a module, or a name that pkg.mod defines
            module, _, name = m.rpartition(".")
            if not (_source(m) or (_source(module) and name in _top_level_names(_source(module)))):
                missing.append(f"{f.relative_to(ROOT)}: {m}")
    assert missing == []


def _source(dotted: str) -> Path | None:
    path = ROOT.joinpath(*dotted.split("."))
    for f in (path.with_suffix(".py"), path / "__init__.py"):
        if dotted and f.is_file():
            return f
    return None


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def test_only_the_cli_imports_click():
    users = {f.relative_to(ROOT).as_posix() for f in _all_sources() if "click" in imported_siblings(f)}
    assert users == {"cli.py", "facelm/vocabulary.py"}  # the CLI and its one option vocabulary


def test_nothing_imports_benchmarks_or_tests():
    users = [f.relative_to(ROOT).as_posix() for f in _all_sources()
             if "bench" not in f.parts and imported_siblings(f) & {"bench", "tests"}]
    assert users == []


def test_the_module_and_function_size_limits():
    """No module over 300 lines, no function over 50 (bench/ included)."""
    too_long = []
    for f in _all_sources():
        text = f.read_text()
        if len(text.splitlines()) > 300:
            too_long.append(f"{f.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno > 50:
                too_long.append(f"{f.name}:{node.name}: {node.end_lineno - node.lineno} lines")
    assert too_long == []


def test_packages_are_all_installed_by_setup():
    """Every package of the layering, and its data, is in the wheel (tests/test_install.py installs it)."""
    text = (ROOT / "setup.py").read_text()
    assert all(f'"{p}' in text for p in PACKAGES)
    assert importlib.util.find_spec("setuptools") is not None


#: eval's sub-packages, bottom up: each imports only those listed for it (and core, scores, models).
EVAL_LAYERS = {"data": set(), "infer": {"data"}, "metrics": {"data", "infer"}, "cost": {"data", "infer"},
               "quant": {"data", "infer", "metrics"}}


def test_eval_is_split_by_job_and_layered():
    out = []
    for sub, allowed in EVAL_LAYERS.items():
        for f in sorted((ROOT / "eval" / sub).rglob("*.py")):
            for m in sorted(imports(f)):
                parts = m.split(".")
                if parts[0] != "eval" or len(parts) < 2 or parts[1] == sub:
                    continue
                if parts[1] not in allowed:
                    out.append(f"{f.relative_to(ROOT)} imports eval.{parts[1]}")
    assert out == []
    loose = sorted(p.name for p in (ROOT / "eval").glob("*.py") if p.name != "__init__.py")
    assert loose == ["defaults.py", "scoring.py"]  # the loop that joins the jobs, and the defaults


def test_each_eval_package_exports_what_it_says():
    import importlib

    for sub in EVAL_LAYERS:
        pkg = importlib.import_module(f"facelm.eval.{sub}")
        doc = (pkg.__doc__ or "").strip().splitlines()
        assert len(doc) == 2, sub  # two lines say what it holds
        assert pkg.__all__ and all(getattr(pkg, name) is not None for name in pkg.__all__), sub
