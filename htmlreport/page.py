"""`report`: read what score / inspect / sweep wrote, draw, render one page. The folder is written
atomically: a failed report never leaves a half page, nor replaces a good one."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from facelm.core.contract import QUANTISED_KINDS
from facelm.core.files import atomic_output
from facelm.htmlreport.figures import ced_curves, ced_plot, condition_plot, region_table, short
from facelm.htmlreport.gallery import Drawer, pick
from facelm.htmlreport.inputs import ReportInputs, load_inputs


def make_report(target: Path, out: Path, n: int = 8, builds_root: Path | None = None) -> Path:
    """Write out/report.html (images beside it); returns the page's path."""
    t0 = time.perf_counter()
    inp = load_inputs(target, builds_root)
    out = Path(out)
    with atomic_output(out) as tmp:
        tmp.mkdir(parents=True)
        ctx = {"title": f"facelm report: {inp.source.name}", "machine": inp.machine, "source": str(inp.source)}
        if inp.sweep is not None:
            ctx["sweep"] = _sweep(inp, tmp)
        else:
            ctx.update(_scores(inp, tmp, n))
        ctx["seconds"] = round(time.perf_counter() - t0, 1)
        (tmp / "report.html").write_text(render(ctx))
    return out / "report.html"


def render(ctx: dict) -> str:
    from jinja2 import Environment, FileSystemLoader

    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
    env.globals["pct"] = lambda v: "-" if v is None else f"{v:.2f}%"
    return env.get_template("report.html.j2").render(**ctx)


def _score_table(rows, machine) -> tuple[str, str]:
    """The terminal's table (same columns, same order) as HTML, and its footer."""
    from facelm.scores.table import score_table

    text = score_table(rows, "html", machine)
    table, _, footer = text.partition("</table>")
    return table + "</table>", footer.strip()  # the template escapes the footer


def _scores(inp: ReportInputs, tmp: Path, n: int) -> dict:
    table, footer = _score_table(inp.rows, inp.machine)
    regions, region_rows = region_table(inp.rows)
    clean = [f for f in inp.faces if not f.get("set")]  # faces.csv also holds the conditions' faces
    curves = ced_curves(clean, inp.rows)
    ctx = {"table": table, "footer": footer, "regions": regions, "region_rows": region_rows,
           "ced": ced_plot(curves, tmp / "ced.png").name if curves else None,
           "misses": [{"label": short(r.artifact, r.runtime),
                       "faces": [f"{Path(f['image']).name}#{f['face']}" for f in clean
                                 if f["artifact"] == r.artifact and f["runtime"] == r.runtime and f["missed"]]}
                      for r in inp.rows if r.miss],
           "galleries": _galleries(inp, clean, tmp, n), "inspects": [_inspect(rep, tmp) for rep in inp.inspects]}
    png = condition_plot(inp.rows, tmp / "conditions.png")
    if png:
        ctx["conditions"] = {"png": png.name, "galleries": _condition_galleries(inp, tmp, n)}
    return ctx


def _condition_galleries(inp: ReportInputs, tmp: Path, n: int) -> list[dict]:
    """Per condition, the worst faces of each shipped row (the quantised ones, else every row)
    under it, drawn from the rendered faces in the cache."""
    drawer, out = Drawer(inp.data, tmp), []
    rows = [r for r in inp.rows if not r.error and r.conditions]
    rows = [r for r in rows if r.kind in QUANTISED_KINDS] or rows
    for c in dict.fromkeys(k for r in rows for k in r.conditions):
        faces = [f for f in inp.faces if f.get("set") == c]
        for i, r in enumerate(rows):
            stem = f"cond_{c.replace(':', '')}_{i}"
            out.append({"condition": c, "label": short(r.artifact, r.runtime), "artifact": r.artifact,
                        "runtime": r.runtime, "imitates": r.conditions.get(c, {}).get("imitates"),
                        "worst": [drawer.draw(f, None, f"{stem}_{j}.jpg")
                                  for j, f in enumerate(pick(faces, r.artifact, r.runtime, "nme", n))]})
    return out


def _galleries(inp: ReportInputs, faces: list, tmp: Path, n: int) -> list[dict]:
    """For each quantised row with a float parent: its largest drifts, then its worst faces."""
    drawer, out = Drawer(inp.data, tmp), []
    scored = {(r.artifact, r.runtime) for r in inp.rows if not r.error}
    nme = {(f["artifact"], f["runtime"], f["image"], f["face"]): f["nme"] for f in faces}
    for i, r in enumerate(inp.rows):
        if r.error or r.kind not in QUANTISED_KINDS:
            continue
        parent = _parent_row(r, scored)
        g = {"label": short(r.artifact, r.runtime), "artifact": r.artifact, "runtime": r.runtime,
             "parent": short(*parent) if parent else None, "drift": [], "worst": []}
        if parent:
            g["drift"] = [{**drawer.draw(f, parent, f"drift_{i}_{j}.jpg"),
                           "parent_nme": nme.get((*parent, f["image"], f["face"]))}
                          for j, f in enumerate(pick(faces, r.artifact, r.runtime, "drift", n))]
        g["worst"] = [drawer.draw(f, None, f"worst_{i}_{j}.jpg") for j, f in
                      enumerate(pick(faces, r.artifact, r.runtime, "nme", n))]
        out.append(g)
    return out


def _parent_row(row, scored: set) -> tuple | None:
    """The float parent's (artifact, runtime), as the evaluator paired them for drift."""
    from facelm.eval.infer.runtimes import runtimes_for

    for art, rt in scored:
        if row.parent and Path(art).resolve() == Path(row.parent):
            names = runtimes_for(Path(art))
            if rt == (row.runtime if row.runtime in names else names[0]):
                return art, rt
    return None


def _inspect(rep: dict, tmp: Path) -> dict:
    from facelm.eval.quant.report import sqnr_plot

    png = sqnr_plot(rep, tmp / f"inspect_{rep['artifact']}.png")
    top = [{"op": t["op"], "depth": t["depth"], "sqnr": t["sqnr_db"], "rmse": t["rmse_steps"],
            "clipped": t["clipped"], "name": t["name"]} for t in rep["tensors"][:15]]
    return {"artifact": rep["artifact"], "parent": rep["parent"], "png": png.name, "top": top,
            "outputs": rep["outputs"]}


def _sweep(inp: ReportInputs, tmp: Path) -> dict:
    from dataclasses import fields

    from facelm.explore.pareto import Budgets, SweepPoint
    from facelm.explore.report import headline, table

    names = {f.name for f in fields(SweepPoint)}
    points = [SweepPoint(**{k: v for k, v in p.items() if k in names}) for p in inp.sweep["points"]]
    budgets = Budgets(**inp.sweep["budgets"])
    png = None
    if inp.sweep_png:
        png = shutil.copyfile(inp.sweep_png, tmp / "pareto.png").name
    return {"table": table(points, "html"), "headline": headline(points, budgets), "png": png}
