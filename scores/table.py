"""Tables people read: the compile summary and the score table (terminal, Markdown, CSV)."""
from __future__ import annotations


def _size_mb(p) -> float:
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 1e6
    return p.stat().st_size / 1e6


def compile_table(results) -> str:
    from tabulate import tabulate

    rows = []
    for r in results:
        rep = r.report
        check = rep.get("max_abs_diff") and max(rep["max_abs_diff"].values())
        guard = rep.get("guard")
        note = (f"max diff {check:.2g}" if check is not None and check is not False else "")
        if guard:
            best = next(a for a in guard["attempts"] if a["remedy"] == guard["chosen"])
            note = (f"{'ok' if guard['passed'] else 'OVER LIMIT'}: drift {best['drift_nme']}% "
                    f"({guard['chosen']}, {len(guard['attempts'])} tried)")
        rows.append([r.stage, str(r.path), f"{_size_mb(r.path):.2f}", rep.get("kind", ""),
                     "cached" if r.cached else f"{r.seconds:.1f}", note])
    return tabulate(rows, headers=["stage", "artifact", "MB", "kind", "seconds", "check"])


def _cells(row, cols):
    out = []
    for c in cols:
        v = getattr(row, c)
        if c == "artifact":
            v = _short_path(v)
        out.append("" if v is None else v)
    return out


def _short_path(p: str) -> str:
    from pathlib import Path

    path = Path(p)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def score_table(rows, fmt: str = "simple") -> str:
    """One table, lower-is-better marked in the headers; a footer counts skipped files."""
    from tabulate import tabulate

    from scores.records import COLUMNS

    cols = [c for c in COLUMNS if c != "error" or any(r.error for r in rows)]
    body = [_cells(r, cols) for r in rows]
    text = tabulate(body, headers=[COLUMNS[c][0] for c in cols], tablefmt=fmt, floatfmt="g")
    skipped = {s[0] for r in rows for s in r.skipped}
    if skipped:
        text += f"\n\n{len(skipped)} file(s) skipped (unreadable images or malformed annotations); names in the JSON."
    return text


def write_tables(rows, out_dir) -> dict:
    """Write the table as Markdown and CSV beside the JSON; returns their paths."""
    import csv
    import io
    from pathlib import Path

    from scores.records import COLUMNS

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "scores.md"
    md.write_text(score_table(rows, "github") + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(list(COLUMNS))
    for r in rows:
        w.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in COLUMNS])
    (out_dir / "scores.csv").write_text(buf.getvalue())
    return {"md": md, "csv": out_dir / "scores.csv"}
