"""Tables people read: the compile summary and the score table (terminal, Markdown, CSV)."""
from __future__ import annotations


def _size_mb(p) -> float:
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 1e6
    return p.stat().st_size / 1e6


def compile_table(results, seconds: float | None = None) -> str:
    """The stage table; with seconds (the whole compile's), a last line with the total and the
    slowest stage."""
    from tabulate import tabulate

    rows = []
    for r in results:
        rep = r.report
        check = rep.get("max_abs_diff") and max(v for v in rep["max_abs_diff"].values() if v is not None)
        guard = rep.get("guard")
        note = (f"max diff {check:.2g}" if check is not None and check is not False else "")
        if guard:
            best = next(a for a in guard["attempts"] if a["remedy"] == guard["chosen"])
            verdict = ("NOT JUDGED" if not guard.get("judged", True) else "ok" if guard["passed"] else "FAILS GUARD")
            faces = f" on {guard['faces']} faces" if "faces" in guard else ""
            held = guard.get("held_out")
            held = f"; the {held['faces']} held out: {_guard_figures(held)}" if held else ""
            on = f"chosen on {guard['chosen_on']}: " if held else ""
            note = f"{verdict}{faces}: {on}{_guard_figures(best)}{held} ({guard['chosen']}, {len(guard['attempts'])} tried)"
        if rep.get("source_load", "").startswith("trusted"):
            note += ("; " if note else "") + "checkpoint read with full pickle (--trust-checkpoint)"
        if r.error:
            rows.append([r.stage, str(r.path), "", "", "", f"FAILED: {r.error}", ""])
            continue
        rows.append([r.stage, str(r.path), f"{_size_mb(r.path):.2f}", rep.get("kind", ""),
                     "cached" if r.cached else f"{r.seconds:.1f}", note, _speed(rep.get("latency_vs_parent"))])
    table = tabulate(rows, headers=["stage", "artifact", "MB", "kind", "seconds", "check", "ms vs parent (1 thread)"])
    return table + (f"\n{_total_line(results, seconds)}" if seconds is not None else "")


def _total_line(results, seconds: float) -> str:
    built = [r for r in results if not r.cached and not r.error]
    if not built:
        return f"{seconds:.1f} s in all: every artifact was current"
    slow = max(built, key=lambda r: r.seconds)
    cached = sum(r.cached for r in results)
    return (f"{seconds:.1f} s in all ({len(built)} built{f', {cached} current' if cached else ''}; stages beside "
            f"each other overlap); slowest stage: {slow.stage} {slow.seconds:.1f} s")


def _guard_figures(a: dict) -> str:
    if "child_nme" in a and "parent_nme" in a and a.get("parent_faces"):
        return f"NME x{a['child_nme'] / a['parent_nme']:.3f}, misses {a['child_missed']} vs {a['parent_missed']}{_lost(a)}"
    if not a.get("parent_faces", 1):  # what the guard judged: the float parent found no face
        return f"anchor drift {a['anchor_drift_pct']}% (the parent finds no face)"
    return f"drift {a['drift_nme']}%"


def _lost(a: dict) -> str:
    """What the extra misses were: faces the parent was sure of, or marginal ones (compiler.guard)."""
    if a.get("lost_sure"):
        return f", {a['lost_sure']} sure face{'s' * (a['lost_sure'] != 1)} lost"
    if a.get("lost_sure") == 0 and a["child_missed"] > a["parent_missed"]:
        return " (marginal)"
    return ""


def _speed(s: dict | None) -> str:
    """A quantised artifact's inference call against its float parent's, measured side by side."""
    if not s:
        return ""
    text = f"{s['ms']:.2f} vs {s['parent_ms']:.2f} (x{s['ratio']:.2f})"
    return text + " SLOWER than its parent here" if s["ratio"] > 1 else text


def _cells(row, cols, names: dict):
    return ["" if v is None else v for v in
            (names.get(row.artifact, row.artifact) if c == "artifact" else _value(row, c) for c in cols)]


def _value(row, col: str):
    """A row's cell; "latency_ms:4" is its median at 4 threads."""
    if col.startswith("latency_ms:"):
        return row.latency_ms.get(col.split(":")[1])
    return getattr(row, col)


#: Columns shown only when a row has a value in them.
OPTIONAL = ("error", "note", "jitter", "jitter_x")


def columns(rows) -> list[str]:
    """The table's columns: one latency column per thread count any row was timed at (in rising
    order), the note and error columns only when a row has one."""
    from facelm.scores.records import COLUMNS

    threads = sorted({t for r in rows for t in r.latency_ms}, key=int)
    cols = []
    for c in COLUMNS:
        if c == "latency_ms":
            cols += [f"latency_ms:{t}" for t in threads]
        elif c not in OPTIONAL or any(getattr(r, c) not in (None, "") for r in rows):
            cols.append(c)
    return cols


def header(col: str) -> str:
    from facelm.scores.records import COLUMNS

    return COLUMNS["latency_ms"].format(col.split(":")[1]) if col.startswith("latency_ms:") else COLUMNS[col]


def short_paths(paths) -> dict:
    """Each path by its last two parts (folder/file), or as many more as tell it apart from the
    others (two runs' weights/best.pt read as a/run/weights/best.pt and b/run/weights/best.pt)."""
    from pathlib import PurePath

    parts = {p: PurePath(p).parts for p in paths}
    depth = {p: min(2, len(v)) for p, v in parts.items()}
    while True:
        names = {p: PurePath(*parts[p][-depth[p]:]).as_posix() for p in parts}
        seen: dict = {}
        for p, n in names.items():
            seen.setdefault(n, []).append(p)
        clash = [p for group in seen.values() if len(group) > 1 for p in group if depth[p] < len(parts[p])]
        if not clash:
            return names
        for p in clash:
            depth[p] += 1


def scale_keys(rows) -> list[str]:
    """The extra scales any row was scored at, largest first."""
    return sorted({k for r in rows for k in r.scales}, key=float, reverse=True)


def scale_cells(row, keys) -> list:
    """NME and miss rate at each extra scale (blank where the row has none)."""
    return [("" if row.scales.get(k, {}).get(m) is None else row.scales[k][m]) for k in keys for m in ("nme", "miss")]


def condition_keys(rows) -> list[str]:
    """The conditions any row was scored under, in the order first met."""
    return list(dict.fromkeys(k for r in rows for k in r.conditions))


def condition_cell(row, k: str) -> str:
    """NME under a condition, with the miss rate beside it where faces were missed."""
    c = row.conditions.get(k) or {}
    if c.get("nme") is None:
        return ""
    return f"{c['nme']:g}" + (f" ({c['miss']:g}%)" if c.get("miss") else "")


def score_table(rows, fmt: str = "simple", machine: dict | None = None) -> str:
    """One table, better direction marked in the headers; a footer says how latency was
    measured and on what CPU, and counts skipped files."""
    from tabulate import tabulate

    cols, scales, conds = columns(rows), scale_keys(rows), condition_keys(rows)
    names = short_paths({r.artifact for r in rows})
    body = [_cells(r, cols, names) + scale_cells(r, scales) + [condition_cell(r, k) for k in conds] for r in rows]
    headers = ([header(c) for c in cols] + [h for k in scales for h in (f"NME% @{k} ↓", f"miss% @{k} ↓")]
               + [f"{k} NME% (miss) ↓" for k in conds])
    text = tabulate(body, headers=headers, tablefmt=fmt, floatfmt="g")
    runs = sorted({r.latency_runs for r in rows if r.latency_runs})
    if runs:
        text += (f"\n\nms: median of the inference call alone ({runs[0]}-{runs[-1]} invokes each, interleaved "
                 "rounds, after warm-up); I/O ms: input/output conversion around it, not included.")
    for k in scales:
        px = sorted({r.scales[k]["face_px"] for r in rows if r.scales.get(k, {}).get("face_px")})
        span = "" if not px else f"{px[0]:g}" if px[0] == px[-1] else f"{px[0]:g}-{px[-1]:g}"
        size = f"; median face {span} px in the models' inputs" if px else ""
        text += f"\n@{k}: every face shrunk to {k} of its size on a canvas of other images{size}."
    for k in conds:
        said = next((r.conditions[k].get("imitates") for r in rows if r.conditions.get(k)), None)
        text += f"\n{k}: {said}." if said else ""
    if "jitter" in cols:
        text += ("\njitter%: each face in moved copies (a few pixels, +-2% zoom), the landmarks mapped back; their RMS "
                 "spread, % of the normaliser, median over faces; x parent: against the float parent's.")
    if machine:
        text += f"\nCPU: {machine.get('cpu')}, {machine.get('cores')} cores, " + \
            (", ".join(machine.get("features") or []) or "no AVX2/AVX-512/VNNI") + "."
    skipped = {s[0] for r in rows for s in r.skipped}
    if skipped:
        text += f"\n\n{len(skipped)} file(s) skipped (unreadable images or malformed annotations); names in the JSON."
    return text


def write_scores(rows, faces: list, out_dir, machine: dict, data) -> list:
    """Everything `score` writes: scores.json (rows, machine, the faces scored), faces.csv, and
    the table as Markdown and CSV; returns their paths."""
    from pathlib import Path

    from facelm.scores.records import save_faces, save_rows

    out_dir = Path(out_dir)
    save_rows(rows, out_dir / "scores.json", machine, data)
    tables = write_tables(rows, out_dir, machine)
    return [out_dir / "scores.json", save_faces(faces, out_dir / "faces.csv"), tables["md"], tables["csv"]]


def write_tables(rows, out_dir, machine: dict | None = None) -> dict:
    """Write the table as Markdown and CSV beside the JSON; returns their paths."""
    import csv
    import io
    from pathlib import Path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "scores.md"
    md.write_text(score_table(rows, "github", machine) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    scales, conds = scale_keys(rows), condition_keys(rows)
    cols = [c for c in columns(rows) if c not in ("note", "error")] + ["note", "error"]
    w.writerow([c.replace("latency_ms:", "ms_") + ("t" if c.startswith("latency_ms:") else "") for c in cols]
               + [f"{m}@{k}" for k in scales for m in ("nme", "miss")] + [f"{m}@{k}" for k in conds for m in ("nme", "miss")])
    for r in rows:
        w.writerow(["" if _value(r, c) is None else _value(r, c) for c in cols] + scale_cells(r, scales)
                   + ["" if (r.conditions.get(k) or {}).get(m) is None else r.conditions[k][m] for k in conds
                      for m in ("nme", "miss")])
    (out_dir / "scores.csv").write_text(buf.getvalue())
    return {"md": md, "csv": out_dir / "scores.csv"}


def inspect_tables(rep: dict, top: int = 15) -> str:
    """`inspect`'s terminal view: the worst tensors, then what each output costs in landmarks."""
    from tabulate import tabulate

    head = f"{rep['artifact']} ({rep['kind']}) vs {rep['parent']}: {rep['images']} faces, {rep['seconds']} s"
    rows = [[i + 1, r["op"], "x".join(map(str, r["shape"])), r["depth"], f"{r['scale']:.3g}", f"{r['clipped']:.1%}",
             f"{r['rmse_steps']:.2f}", "exact" if r["sqnr_db"] is None else f"{r['sqnr_db']:.1f}", r["name"][:60]] for i, r in enumerate(rep["tensors"][:top])]
    t1 = tabulate(rows, ["#", "op", "shape", "depth", "scale", "clipped", "RMSE/scale", "SQNR dB", "tensor"])
    t2 = tabulate([[o["output"], o["drift_nme"], o["drift_px"], o["faces_lost"]] for o in rep["outputs"]],
                  ["quantised output (others float)", "landmark drift NME %", "drift px (input)", "faces lost"])
    clips = [f"{r['clipped']:.1%} {r['op']} {r['name'][:70]}" for r in rep["tensors"] if r["clipped"] > 0.01]
    clip_note = ("\nclipping over 1% of their values (error not in the SQNR above):\n  " + "\n  ".join(clips[:top])
                 if clips else "")
    return f"{head}\n{t1}{clip_note}\n\n{t2}"
