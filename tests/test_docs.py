"""The manual: the README stays a short manual, the docs site builds strictly and offline, every
command's page carries every option and names no option the command lacks, a broken link or an
unlisted page fails the build, the pages render in headless Chromium without a console error,
the model card is its .card.json files, and the changelog has the running version."""
import html
import json
import re
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
GLOBAL = {"--debug", "--version", "--help"}
#: options of other programs the pages quote, each with its owner
FOREIGN = {"--no-deps": "pip", "--head": "ray start", "--ckpt": "bench/families.py", "--families": "bench/families.py",
           "--before": "bench/compile_profile.py", "--sweep": "bench/compile_profile.py", "--after": "bench/versions.py",
           "--models": "bench/versions.py"}


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict`, with no network where a namespace can be made (nothing it needs may
    be fetched). Not -q: with it MkDocs 1.6 does not count warnings, and --strict passes a broken link."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        cmd = ["unshare", "-n", *cmd]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(site.parent), "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=config.parent, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs")
    out = tmp_path_factory.mktemp("site") / "site"
    p = mkdocs_build(ROOT / "mkdocs.yml", out)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return out


def commands() -> dict:
    from facelm.cli import main

    return main.commands


def visible_options(cmd: click.Command) -> set:
    """The spellings --help shows (earlier spellings of a renamed option are hidden)."""
    ctx = click.Context(cmd)
    shown = set()
    for p in cmd.get_params(ctx):
        if isinstance(p, click.Option) and (rec := p.get_help_record(ctx)):
            shown |= set(OPTION.findall(rec[0]))
    return shown


def all_options(cmd: click.Command) -> set:
    return {o for p in cmd.params for o in [*p.opts, *p.secondary_opts] if o.startswith("--")} | GLOBAL


def nav_pages() -> set:
    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for n in node:
                yield from walk(n)
        elif isinstance(node, dict):
            for n in node.values():
                yield from walk(n)

    return set(walk(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]))


def page_text(site: Path, page: str) -> str:
    """A built page's text, tags stripped."""
    rel = page.removesuffix(".md")
    path = site / (rel.removesuffix("index") if rel.endswith("index") else rel) / "index.html"
    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text()))


def test_readme_is_a_short_manual():
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines"
    head = "\n".join(lines[:12])
    assert "pip install --no-deps -r requirements.lock" in head and "python -m pytest -q" in head
    for name in commands():  # the commands table names every command
        assert f"| `{name}" in text, name
    for link in re.findall(r"\]\(([^)#]+)", text):  # every relative link of the README resolves
        assert link.startswith("http") or (ROOT / link).exists(), link


def test_every_command_has_a_listed_page_with_every_option(site):
    nav = nav_pages()
    for name, cmd in commands().items():
        page = f"commands/{name}.md"
        assert page in nav and (ROOT / "docs" / page).is_file(), f"{name}: no page in the docs' nav"
        assert f"::: facelm-options {name}" in (ROOT / "docs" / page).read_text()
        text = page_text(site, page)
        missing = sorted(o for o in visible_options(cmd) if o not in text)
        assert not missing, f"docs/{page} lacks {missing}"


def test_pages_name_only_options_that_exist():
    """A documented option that a command does not have (renamed, removed, misspelt) fails: any
    --option on any page must be some command's, and in a `facelm CMD ...` or `python cli.py CMD
    ...` line, CMD's own."""
    cmds = commands()
    every = set().union(*(all_options(c) for c in cmds.values())) | set(FOREIGN)
    pages = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
    call = re.compile(r"(?:facelm|cli\.py)\s+(?:--debug\s+)?(" + "|".join(cmds) + r")\b([^\n`|&;#]*)")
    bad = []
    for page in pages:
        if page.name == "log.md":  # the results log keeps each round's own words
            continue
        text = page.read_text()
        bad += [f"{page.name}: {o}" for o in OPTION.findall(text) if o not in every and not o.startswith("--8<")]
        for name, rest in call.findall(text):
            bad += [f"{page.name}: {name} {o}" for o in OPTION.findall(rest) if o not in all_options(cmds[name])]
    assert not bad, bad


def test_the_options_directive_is_checked(site):
    """A page that names a command facelm lacks fails the build instead of rendering nothing."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    options_markdown = hooks.options_markdown
    with pytest.raises(ValueError, match="no command 'compil'"):
        options_markdown("compil")
    assert "--calib-images" in options_markdown("compile") and "--verify-data" not in options_markdown("compile")


def _copy_docs(tmp: Path) -> Path:
    """The site's sources in a folder of their own (the API page without mkdocstrings' sources)."""
    work = tmp / "docs_copy"
    shutil.copytree(ROOT / "docs", work / "docs")
    for f in ("mkdocs.yml", "CHANGELOG.md", "models/MODEL_CARD.md"):
        (work / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / f, work / f)
    (work / "docs" / "api.md").write_text("# Python API\n\nThe reference.\n")
    return work


def test_a_broken_link_or_an_unlisted_page_fails_the_build(tmp_path):
    pytest.importorskip("mkdocs")
    work = _copy_docs(tmp_path)
    ok = mkdocs_build(work / "mkdocs.yml", tmp_path / "s0")
    assert ok.returncode == 0, ok.stderr[-3000:]  # the copy builds as it is: what follows is the change's doing
    index = work / "docs" / "index.md"
    good = index.read_text()
    index.write_text(good + "\nSee [the missing page](commands/nowhere.md).\n")
    broken = mkdocs_build(work / "mkdocs.yml", tmp_path / "s1")
    assert broken.returncode != 0 and "nowhere.md" in broken.stdout + broken.stderr
    index.write_text(good)
    (work / "docs" / "orphan.md").write_text("# Not in the nav\n")
    orphan = mkdocs_build(work / "mkdocs.yml", tmp_path / "s2")
    assert orphan.returncode != 0 and "orphan.md" in orphan.stdout + orphan.stderr


PROBE = """<script>
window.addEventListener('error', e => { (window.__errors = window.__errors || []).push(String(e.message)); }, true);
window.addEventListener('load', () => { const imgs = [...document.images];
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify({n: imgs.length, errors: window.__errors || [],
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
    h1: (document.querySelector('h1') || {}).textContent || ''});
  document.body.appendChild(pre); });
</script></body>"""


def test_pages_render_in_chromium_without_a_console_error(site, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    served = tmp_path / "served"
    shutil.copytree(site, served)
    pages = ["index.html", "getting-started/index.html", "commands/compile/index.html", "api/index.html",
             "model-card/index.html", "models/index.html", "changelog/index.html"]
    for p in pages:
        f = served / p
        f.write_text(f.read_text().replace("</body>", PROBE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            "--virtual-time-budget=5000", "--dump-dom"]
    try:
        for p in pages:
            try:
                dom = subprocess.run([*args, f"http://127.0.0.1:{server.server_port}/{p}"], capture_output=True,
                                     text=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired) as e:
                pytest.skip(f"chromium could not start here: {e}")
            if "<html" not in dom.stdout:
                pytest.skip(f"chromium printed no page: {dom.stderr.strip().splitlines()[-1:]}")
            result = json.loads(html.unescape(dom.stdout.split('<pre id="probe">')[1].split("</pre>")[0]))
            console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln and ("rror" in ln or "Uncaught" in ln)]
            assert result["broken"] == [] and result["errors"] == [] and console == [], (p, result, console)
            assert result["h1"].strip(), p
    finally:
        server.shutdown()
    assert "report.png" in (served / "index.html").read_text()


def builtin_cards() -> dict:
    """{name: card} of the built-in models, in the registry's order."""
    from facelm.models import BUILTIN

    return {name: json.loads(pt.with_suffix(".card.json").read_text()) for name, pt in BUILTIN.items()}


def test_model_card_is_its_card_files():
    from facelm.train.card import cards_table

    card = (ROOT / "models" / "MODEL_CARD.md").read_text()
    block = re.search(r"<!-- cards: generated.*?-->\n(.*?)\n<!-- cards: end -->", card, re.S)
    assert block, "models/MODEL_CARD.md lost its generated table"
    expected = cards_table(builtin_cards())
    assert block.group(1) == expected, f"models/MODEL_CARD.md's table differs from the cards; it should be:\n{expected}"


def test_every_fp32_figure_of_the_built_in_models_is_its_cards():
    """The README's and the models page's tables give fp32 NME and misses as the cards do."""
    for doc in (ROOT / "README.md", ROOT / "docs" / "models.md"):
        rows = {re.search(r"face51-\w+", ln).group(0): ln for ln in doc.read_text().splitlines()
                if re.match(r"\| (\*\*)?face51-", ln)}
        for name, c in builtin_cards().items():
            v = c["val"]
            assert f"{v['nme']:.3f} / " in rows[name] and f"| {v['missed']} / " in rows[name], (doc.name, name)


def test_changelog_names_the_running_version():
    import facelm

    text = (ROOT / "CHANGELOG.md").read_text()
    heads = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert heads and all(re.fullmatch(r"Unreleased|\d+\.\d+\.\d+", h) for h in heads), heads
    version = facelm.__version__
    if "dev" in version:
        first = re.search(r"^## \[.*$", text, re.M).group(0)
        assert heads[0] == "Unreleased" and f"({version})" in first
    else:
        assert heads[0] == version
    for section in re.findall(r"^### (.+)$", text, re.M):
        assert section in {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, section


def test_getting_started_example_runs(default_build, tmp_path, monkeypatch):
    """The Python example of docs/getting-started.md, as written, against the built-in build."""
    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "getting-started.md").read_text(), re.S).group(1)
    work = tmp_path / "work"
    shutil.copytree(default_build, work / "build" / "face51_s")
    monkeypatch.chdir(work)
    import facelm.eval.defaults as defaults

    monkeypatch.setattr(defaults, "BUILD", Path("build"))
    scope: dict = {}
    exec(compile(code, "getting-started.md", "exec"), scope)  # noqa: S102 - the page's own example
    assert scope["build"].ok and len(scope["scores"].rows) >= 8 and all(r.nme for r in scope["scores"].rows)
