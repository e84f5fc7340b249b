"""What a report reads, found from one folder: a scores folder (scores.json + faces.csv), a build
folder (the newest scores.json under build/scores that scored its artifacts, and the inspect
reports beside them), or a sweep folder (sweep.json). Bad input is one line naming the file."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from facelm.core.errors import UserError


@dataclass
class ReportInputs:
    source: Path
    rows: list = field(default_factory=list)       # scores.records.ScoreRow
    faces: list = field(default_factory=list)      # faces.csv records
    machine: dict = field(default_factory=dict)
    data: Path | None = None                       # the labelled faces that were scored
    inspects: list = field(default_factory=list)   # inspect reports (dicts)
    sweep: dict | None = None                      # sweep.json
    sweep_png: Path | None = None
    scores_file: Path | None = None


def load_inputs(target: Path, builds_root: Path | None = None) -> ReportInputs:
    """target: a folder holding scores.json, sweep.json, or a build folder."""
    target = Path(target)
    if not target.is_dir():
        raise UserError(f"{target}: no such folder (give a scores, build or sweep folder)")
    inp = ReportInputs(target)
    if (target / "sweep.json").is_file():
        inp.sweep = _json(target / "sweep.json", ("points", "budgets", "machine"))
        inp.machine = inp.sweep["machine"]
        inp.sweep_png = target / "pareto.png" if (target / "pareto.png").is_file() else None
        return inp
    scores = target / "scores.json" if (target / "scores.json").is_file() else _scores_of_build(target, builds_root)
    _read_scores(inp, scores)
    inp.inspects = [_json(p, ("tensors", "outputs", "artifact")) for p in _inspect_files(inp.rows)]
    return inp


def _json(path: Path, keys: tuple) -> dict:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: unreadable ({e})") from None
    missing = [k for k in keys if k not in d]
    if missing:
        raise UserError(f"{path}: from an older layout (no {', '.join(missing)}); rerun the command that wrote it")
    return d


def _read_scores(inp: ReportInputs, path: Path) -> None:
    from facelm.scores.records import ScoreRow, read_faces

    d = _json(path, ("rows", "machine", "data"))
    known = {f.name for f in fields(ScoreRow)}
    try:
        inp.rows = [ScoreRow(**r) for r in d["rows"]]
    except TypeError:
        odd = sorted({k for r in d["rows"] for k in r} ^ known)
        raise UserError(f"{path}: from an older layout (fields {', '.join(odd)}); rerun score") from None
    faces = path.with_name("faces.csv")
    if not faces.is_file():
        raise UserError(f"{faces}: missing (score writes it beside scores.json); rerun score")
    try:
        inp.faces = read_faces(faces)
    except ValueError as e:
        raise UserError(str(e)) from None
    inp.machine, inp.data, inp.scores_file = d["machine"], Path(d["data"]) if d["data"] else None, path


def _scores_of_build(build: Path, builds_root: Path | None) -> Path:
    """The newest scores.json whose rows include an artifact of this build."""
    root = builds_root or build.parent
    mine = {str(p.resolve()) for p in build.iterdir()}
    found = []
    for f in root.glob("scores/*/scores.json"):
        try:
            rows = json.loads(f.read_text()).get("rows", [])
        except (OSError, ValueError):
            continue
        if any(str(Path(r.get("artifact", "")).resolve()) in mine for r in rows):
            found.append(f)
    if not found:
        raise UserError(f"{build}: no scores.json under {root / 'scores'} scores this build (run score first)")
    return max(found, key=lambda f: f.stat().st_mtime)


def _inspect_files(rows) -> list[Path]:
    out = []
    for r in rows:
        f = Path(r.artifact).with_name(Path(r.artifact).name + ".inspect.json")
        if f.is_file() and f not in out:
            out.append(f)
    return out
