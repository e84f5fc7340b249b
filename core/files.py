"""Manifests and atomic writes: every artifact has a JSON record beside it, and nothing that
looks whole is ever half written. The one implementation of both for every package (and,
vendored, for the submission runner): stdlib only."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(files) -> str:
    """A cheap identity of a set of files (resolved path, size, modification time): what a
    cache keys face folders by, so changed data is noticed without reading every image."""
    h = hashlib.sha256()
    for f in files:
        st = Path(f).stat()
        h.update(f"{Path(f).resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def manifest_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".json")


def read_manifest(artifact: Path) -> dict | None:
    p = manifest_path(artifact)
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def write_text_atomic(path: Path, text: str) -> Path:
    """Write text to a temporary file beside path, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, data) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


@contextmanager
def atomic_output(final: Path):
    """Yield a temp path beside `final`; on success move it into place, on failure remove it
    (the previous good artifact, if any, stays untouched)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.{os.getpid()}-")) / final.name
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"{final.name}: the stage wrote nothing")
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary folders atomic_output left in folder when the process writing them
    was killed outright (kill -9, a power cut): each names its writer's process id, and only those
    of processes no longer running go. Returns what was removed."""
    gone = []
    for d in folder.glob(".*.*-*"):
        pid = d.name.rsplit(".", 1)[-1].split("-", 1)[0]
        if d.is_dir() and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d)
    return gone


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: another user's process, running
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def is_current(artifact: Path, key: dict) -> bool:
    """True when the artifact exists, is intact, and was made from the same inputs/options."""
    m = read_manifest(artifact)
    if not m or not artifact.exists() or m.get("key") != key:
        return False
    return artifact.is_dir() or m.get("sha256") == sha256(artifact)
