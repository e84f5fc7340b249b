"""The sweep report: sweep.json / sweep.md / sweep.csv (front members marked, the best artifact
under the budgets named at the top with the command that packages it) and pareto.png."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict
from pathlib import Path

from facelm.core.files import write_json_atomic, write_text_atomic
from facelm.explore.pareto import MAX_MISS, Budgets, SweepPoint, best_under
from facelm.scores.table import condition_cell

COLUMNS = (("label", "checkpoint@imgsz precision"), ("kind", "kind"), ("nme", "NME% ↓"), ("miss", "miss% ↓"),
           ("drift", "drift% ↓"), ("ms", "ms 1t ↓"), ("size_mb", "MB ↓"), ("gflops", "GFLOPs ↓"),
           ("front_ms", "front (ms)"), ("front_mb", "front (MB)"), ("status", "competes"), ("error", "error"))


def _cell(p: SweepPoint, c: str):
    if c == "status":
        return "no: reference" if p.reference else "no: over miss budget" if p.over_miss else "yes"
    v = p.label if c == "label" else getattr(p, c)
    if c.startswith("front_"):
        return "★" if v else ""
    return "" if v is None else v


def headline(points: list[SweepPoint], budgets: Budgets) -> str:
    if not budgets:
        return "No budget given: every front member is a candidate (--budget-ms/--budget-mb/--budget-gflops)."
    best = best_under(points, budgets)
    if best is None:
        return f"No artifact fits the budget ({budgets.describe()})."
    return (f"Best under the budget ({budgets.describe()}): {best.label}: NME {best.nme}%, {best.ms} ms, "
            f"{best.size_mb} MB, {best.gflops} GFLOPs ({best.artifact})\n"
            f"Package it: python cli.py package {best.artifact} --out submission/")


def table(points: list[SweepPoint], fmt: str = "simple") -> str:
    from tabulate import tabulate

    cols = [c for c in COLUMNS if c[0] != "error" or any(p.error for p in points)]
    if len({p.cpu for p in points if p.ms is not None}) > 1:  # heterogeneous workers: say where each ms is from
        cols.insert(6, ("cpu", "timed on"))
    scales = sorted({k for p in points for k in p.scales}, key=float, reverse=True)
    extra = [(k, m) for k in scales for m in ("nme", "miss")]
    conds = list(dict.fromkeys(k for p in points for k in p.conditions))
    body = [[_cell(p, c) for c, _ in cols] + [p.scales.get(k, {}).get(m, "") for k, m in extra]
            + [condition_cell(p, k) for k in conds] for p in points]
    heads = [h.replace("1t", f"{_threads(points)}t") if c == "ms" else h for c, h in cols]
    return tabulate(body, headers=heads + [f"{'NME' if m == 'nme' else 'miss'}% @{k} ↓" for k, m in extra]
                    + [f"{k} NME% (miss) ↓" for k in conds], tablefmt=fmt, floatfmt="g")


def _threads(points: list[SweepPoint]) -> int:
    """The thread count the sweep timed at (sweep --threads)."""
    return next((p.threads for p in points if p.ms is not None), 1)


def excluded(points: list[SweepPoint], max_miss: float) -> str:
    """The lines that say which artifacts compete for nothing, and why."""
    over = [p for p in points if p.over_miss and not p.reference]
    lines = [f"Over the miss budget ({max_miss:g}% of faces; drawn hollow, never on a front or picked): "
             + ", ".join(f"{p.label} ({p.miss}%)" for p in over)] if over else []
    refs = [p for p in points if p.reference]
    lines += [f"Reference: {p.label}: NME {p.nme}%, miss {p.miss}%, {p.ms} ms, {p.size_mb} MB, {p.gflops} GFLOPs "
              f"({p.artifact})" for p in refs]
    return "\n".join(lines)


def write_report(points: list[SweepPoint], budgets: Budgets, out: Path, machine: dict,
                 max_miss: float = MAX_MISS) -> dict:
    """Every file of the report; returns their paths."""
    out = Path(out)
    n = _threads(points)
    cpu = f"latency: the inference call alone, {n} thread{'s' * (n > 1)}, on {machine.get('cpu')} " \
          f"({', '.join(machine.get('features') or [])})"
    files = {"json": out / "sweep.json", "md": out / "sweep.md", "csv": out / "sweep.csv", "png": out / "pareto.png"}
    write_json_atomic(files["json"], {"machine": machine, "budgets": asdict(budgets), "max_miss": max_miss,
                                      "best": asdict(b) if (b := best_under(points, budgets)) and budgets else None,
                                      "points": [asdict(p) for p in points]})
    notes = excluded(points, max_miss)
    write_text_atomic(files["md"], f"{headline(points, budgets)}\n\n{notes + chr(10) * 2 if notes else ''}"
                                   f"{table(points, 'github')}\n\n★: on the Pareto front (NME against latency, or "
                                   f"against size). {cpu}.\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["checkpoint", "imgsz", "precision", *[c for c, _ in COLUMNS[1:]], "artifact"])
    for p in points:
        w.writerow([p.checkpoint, p.imgsz, p.precision, *[_cell(p, c) for c, _ in COLUMNS[1:]], p.artifact])
    write_text_atomic(files["csv"], buf.getvalue())
    plot(points, files["png"], budgets, cpu)
    return files


def plot(points: list[SweepPoint], path: Path, budgets: Budgets, caption: str) -> None:
    """Two panels, NME against latency and against size; every artifact a point, the front a
    labelled step line, budgets as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [p for p in points if p.error is None and p.nme is not None]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    n = _threads(points)
    for ax, x, flag, xlabel, limit in ((axes[0], "ms", "front_ms", f"latency, ms ({n} thread{'s' * (n > 1)})", budgets.ms),
                                       (axes[1], "size_mb", "front_mb", "size, MB", budgets.mb)):
        _scatter(ax, ok, x)
        fr = sorted((p for p in ok if getattr(p, flag)), key=lambda p: getattr(p, x))
        if fr:
            ax.step([getattr(p, x) for p in fr], [p.nme for p in fr], where="post", color="k", lw=1, label="front")
            for p in fr:
                ax.annotate(p.label, (getattr(p, x), p.nme), fontsize=7, xytext=(4, 4), textcoords="offset points")
        if limit is not None:
            ax.axvline(limit, ls="--", color="r", lw=1, label="budget")
        best = best_under(points, budgets) if budgets else None
        if best is not None and getattr(best, x) is not None:
            ax.scatter([getattr(best, x)], [best.nme], s=220, facecolors="none", edgecolors="r", lw=2,
                       label="best under budget")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("NME % (inter-ocular) ↓")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if not ok:
        axes[0].text(0.5, 0.5, "no artifact with an NME (no labelled face found)", ha="center",
                     transform=axes[0].transAxes)
    fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def _scatter(ax, ok: list[SweepPoint], x: str) -> None:
    """Candidates by precision (hollow when over the miss budget), references as labelled stars."""
    for i, (prec, marker) in enumerate((("fp32", "o"), ("fp16", "s"), ("int8", "^"))):
        for over in (False, True):
            pts = [p for p in ok if p.precision == prec and not p.reference and p.over_miss == over
                   and getattr(p, x) is not None]
            if pts:
                ax.scatter([getattr(p, x) for p in pts], [p.nme for p in pts], marker=marker, alpha=0.8,
                           facecolors="none" if over else f"C{i}", edgecolors=f"C{i}",
                           label=f"{prec}, over miss budget" if over else prec)
    refs = [p for p in ok if p.reference and getattr(p, x) is not None]
    for p in refs:
        ax.scatter([getattr(p, x)], [p.nme], marker="*", s=260, color="crimson", zorder=5,
                   label="reference" if p is refs[0] else None)
        ax.annotate(p.label, (getattr(p, x), p.nme), fontsize=8, color="crimson", xytext=(6, -10),
                    textcoords="offset points")
