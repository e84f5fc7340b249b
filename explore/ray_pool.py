"""The sweep's jobs as Ray tasks. No shared file system is assumed: the checkpoint and the face
folders travel to the workers through Ray's object store, each task compiles and scores in a
temporary folder of its worker, and the artifacts, manifests and score rows come back the same
way. Workers need facelm installed (the README's first command) and run offline."""
from __future__ import annotations

import io
import os
import socket
import tarfile
import tempfile
from pathlib import Path

from facelm.core.errors import UserError

ENV = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "false", "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0",
       "TF_CPP_MIN_LOG_LEVEL": "3"}


def _check_address(address: str) -> None:
    """An explicit host:port must answer before Ray is asked to join it (Ray itself retries for
    a long time)."""
    if address in ("auto", "local"):
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3):
            pass
    except (OSError, ValueError) as e:
        raise UserError(f"--ray {address}: no Ray cluster answers there ({getattr(e, 'strerror', None) or e})") from None


def connect(address: str):
    os.environ.update(ENV)
    _check_address(address)
    import ray

    kw = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR", runtime_env={"env_vars": ENV})
    if address == "local" or address.rpartition(":")[0] in ("127.0.0.1", "localhost"):
        kw["_node_ip_address"] = "127.0.0.1"  # a cluster on this machine talks over loopback only
    try:
        ray.init(**kw) if address == "local" else ray.init(address=address, **kw)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise UserError(f"--ray {address}: cannot join the Ray cluster ({str(e).splitlines()[0][:160]})") from None
    return ray


def pack(path: Path | None) -> bytes | None:
    """A face folder (or a file with its folder) as tar bytes."""
    if path is None:
        return None
    path = Path(path)
    root = path if path.is_dir() else path.parent
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", dereference=True) as t:  # links travel as the files they name
        t.add(root, arcname=root.name)
    return buf.getvalue()


def _unpack(blob: bytes | None, original: str | None, work: Path) -> str | None:
    if blob is None:
        return None
    with tarfile.open(fileobj=io.BytesIO(blob)) as t:
        t.extractall(work, filter="data")
    o = Path(original)
    return str(work / (o.name if o.is_dir() or not o.suffix else f"{o.parent.name}/{o.name}"))


def remote_job(ckpt_name: str, ckpt: bytes, imgsz: int, precisions: tuple, data_blob, data_name, calib_blob,
               calib_name, calib_n: int, latency, scales: tuple = (), threads: int = 1, conditions: tuple = ()) -> dict:
    """One job on a worker: everything it needs arrives as bytes (Ray resolves the top-level
    object references), everything it makes goes back."""
    from facelm.explore.jobs import run_job

    with tempfile.TemporaryDirectory(prefix="facelm-sweep-") as tmp:
        work = Path(tmp)
        src = work / ckpt_name
        src.write_bytes(ckpt)
        d, c = _unpack(data_blob, data_name, work / "data"), _unpack(calib_blob, calib_name, work / "calib")
        res = run_job(str(src), imgsz, precisions, str(work / "out"), d, c, calib_n, latency, scales, threads, conditions)
        files = {}
        for r in res.get("rows", []):
            a = Path(r["artifact"])
            for f in (a, a.with_name(a.name + ".json")):
                files[f.name] = f.read_bytes()
        res["files"] = files
        return res


def run_on_ray(todo: list, opts, done) -> None:
    """Submit every job, write what comes back into its job folder, report as each finishes."""
    if not todo:
        return
    ray = connect(opts.ray)
    try:
        task = ray.remote(num_cpus=1)(remote_job)
        data = (ray.put(pack(opts.data)), str(opts.data) if opts.data else None)
        calib = (ray.put(pack(opts.calib_data)), str(opts.calib_data) if opts.calib_data else None)
        # no shared file system: default faces travel too, under the names the job would use
        data, calib = (_default(data, "eval"), _default(calib, "calib"))
        lat = opts.latency if opts.latency_on == "worker" else None
        refs = {}
        for job, folder, key in todo:
            ck = ray.put(job.checkpoint.read_bytes()) if job.checkpoint.is_file() else ray.put(b"")
            refs[task.remote(job.checkpoint.name, ck, job.imgsz, tuple(opts.precisions), *data, *calib, opts.calib_n,
                             lat, tuple(opts.scales), opts.threads, tuple(opts.conditions))] = (job, folder, key)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            job, folder, key = refs[ready[0]]
            try:
                res = _land(ray.get(ready[0]), folder)
            except Exception as e:  # noqa: BLE001  a task that died (worker lost, out of memory) is a row
                res = {"error": f"Ray task failed: {(str(e).strip().splitlines() or [''])[-1][:200]}", "seconds": 0}
            done(job, folder, key, res)
    finally:
        ray.shutdown()


def _default(pair: tuple, which: str) -> tuple:
    """(object ref, name) of the faces a job uses; the default folders are packed when none was given."""
    import ray

    if pair[1] is not None:
        return pair
    from facelm.eval.defaults import default_calib_data, default_eval_data

    folder = default_eval_data() if which == "eval" else default_calib_data()
    return ray.put(pack(folder)), str(folder)


def _land(res: dict, folder: Path) -> dict:
    """Write the returned artifacts and manifests into the job folder; rows point at them."""
    files = res.pop("files", {})
    folder.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():  # temp then rename: no half artifact that looks whole
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(blob)
        tmp.replace(folder / name)
    for r in res.get("rows", []):
        r["artifact"] = str(folder / Path(r["artifact"]).name)
        if r.get("parent"):
            r["parent"] = str(folder / Path(r["parent"]).name)
    return res
