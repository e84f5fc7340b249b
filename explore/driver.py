"""The sweep's driver: cached jobs are read back, the rest run in a process pool (or as Ray
tasks, explore/ray_pool.py), every artifact is then timed on this machine in interleaved
rounds (unless --latency-on worker), and the report is written."""
from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path

from facelm.explore.jobs import (Job, SweepOptions, find_checkpoints, job_dir, job_key, load_cached,
                            run_job, save_cached)
from facelm.core.errors import UserError
from facelm.core.files import sha256
from facelm.explore.pareto import SweepPoint, mark_fronts


def default_workers(n_jobs: int) -> int:
    """Keep every core busy without running out of memory (a 224 px INT8 compile peaks near 2.5 GB)."""
    import psutil

    by_mem = int(psutil.virtual_memory().available / 3e9)
    return max(1, min(os.cpu_count() or 1, by_mem, n_jobs))


def _job_args(job: Job, folder: Path, opts: SweepOptions) -> tuple:
    lat = opts.latency if opts.latency_on == "worker" else None
    return (str(job.checkpoint), job.imgsz, tuple(opts.precisions), str(folder),
            str(opts.data) if opts.data else None, str(opts.calib_data) if opts.calib_data else None, opts.calib_n, lat,
            tuple(opts.scales), opts.threads, tuple(opts.conditions))


def _pool(todo: list, opts: SweepOptions, done):
    """Run jobs in worker processes (spawned: TensorFlow and torch do not survive a fork)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if not todo:
        return
    n = opts.workers or default_workers(len(todo))
    if n == 1:
        for job, folder, key in todo:
            done(job, folder, key, run_job(*_job_args(job, folder, opts)))
        return
    with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as ex:
        futs = {ex.submit(run_job, *_job_args(j, f, opts)): (j, f, k) for j, f, k in todo}
        for fut in as_completed(futs):
            done(*futs[fut], fut.result())


def sweep(inputs, out: Path, opts: SweepOptions = SweepOptions()) -> tuple[list[SweepPoint], dict]:
    """Returns the points (one per job x precision; a failed job gives a row per precision
    with its error) and the report's files."""
    from facelm.core.progress import progress

    from facelm.eval.cost.profile import machine
    from facelm.explore.report import write_report

    out = Path(out).absolute()
    jobs, results, todo = [], {}, []
    from facelm.core.safe_load import check_sources

    candidates = find_checkpoints(inputs)
    check_sources(candidates)  # every candidate before any job: a refused file is one line, exit 2
    for ckpt in candidates:
        digest = sha256(ckpt) if ckpt.is_file() else "missing"
        for s in opts.imgsz:
            job = Job(ckpt, int(s))
            jobs.append(job)
            folder, key = job_dir(out, job, digest), job_key(job, digest, opts)
            cached = load_cached(folder, key)
            if cached:
                results[job] = (folder, key, cached["result"], cached.get("latency") or {})
            else:
                todo.append((job, folder, key))
    bar = progress(total=len(jobs), initial=len(jobs) - len(todo), desc="sweep", unit="job", enabled=opts.progress)

    def done(job, folder, key, res):
        results[job] = (folder, key, res, res.get("latency") or {})
        if "rows" in res:
            save_cached(folder, key, res, res.get("latency"))
        bar.update(1)
        bar.write(_summary(job, res))

    try:
        if opts.ray:
            from facelm.explore.ray_pool import run_on_ray

            run_on_ray(todo, opts, done)
        else:
            _pool(todo, opts, done)
    finally:
        bar.close()
    refs = _references(opts)
    if opts.latency is not None and (opts.latency_on == "driver" or refs):  # None: --latency-runs 0, no timing
        _time_on_driver(jobs, results, opts, refs)
    points = mark_fronts([p for job in jobs for p in _points(job, *results[job], opts)] + list(refs.values()),
                         opts.max_miss)
    cpu = machine()
    return points, write_report(points, opts.budgets, out, cpu, opts.max_miss)


def _summary(job: Job, res: dict) -> str:
    head = f"{job.checkpoint.name} @ {job.imgsz}: "
    if "error" in res:
        return head + f"FAILED in {res['seconds']} s: {res['error']}"
    figs = ", ".join(f"{r['kind']} NME {r['nme']}" for r in res["rows"])
    return head + f"{res['seconds']} s; {figs}"


def _references(opts: SweepOptions) -> dict:
    """path -> its SweepPoint (accuracy and cost; latency is added with the candidates')."""
    from facelm.explore.reference import score_reference

    return {p: score_reference(p, opts.data, opts.scales, opts.conditions) for p in opts.references}


def _time_on_driver(jobs, results, opts: SweepOptions, refs: dict) -> None:
    """Every artifact without a latency from this machine, timed together in interleaved rounds.
    With references, every artifact is timed again beside them: one run, one machine state."""
    from facelm.eval.cost.profile import machine
    from facelm.eval.cost.profile import time_artifacts

    cpu = machine()["cpu"]
    stale = {}
    for job in jobs:
        folder, key, res, lat = results[job]
        for r in res.get("rows", []):
            have = lat.get(Path(r["artifact"]).name)
            fresh = have and have.get("cpu") == cpu and have.get("opts") == asdict(opts.latency) \
                and have.get("threads", 1) == opts.threads
            if r.get("error") is None and (refs or not fresh):
                stale[Path(r["artifact"])] = job
    ok_refs = [p for p, pt in refs.items() if pt.error is None]
    if not stale and not ok_refs:
        return
    timed = time_artifacts(list(stale) + ok_refs, opts.threads, opts.latency, progress=opts.progress)
    for p in ok_refs:
        t = timed.get(p)
        refs[p] = replace(refs[p], ms=_r(t.median_ms) if t else None, p90_ms=_r(t.p90_ms) if t else None, cpu=cpu,
                          threads=opts.threads)
    for path, job in stale.items():
        folder, key, res, lat = results[job]
        if path in timed:
            lat[path.name] = {**asdict(timed[path]), "cpu": cpu, "opts": asdict(opts.latency), "threads": opts.threads}
    for job in {j for j in stale.values()}:
        folder, key, res, lat = results[job]
        save_cached(folder, key, res, lat)


def _points(job: Job, folder, key, res: dict, lat: dict, opts: SweepOptions) -> list[SweepPoint]:
    base = dict(checkpoint=str(job.checkpoint), imgsz=job.imgsz)
    if "error" in res:
        return [SweepPoint(**base, precision=p, error=res["error"]) for p in opts.precisions]
    pts = []
    for r in res["rows"]:
        t = lat.get(Path(r["artifact"]).name) or {}
        pts.append(SweepPoint(**base, precision=r["precision"], artifact=r["artifact"], kind=r["kind"], nme=r["nme"],
                              miss=r["miss"], drift=r["drift"], ms=_r(t.get("median_ms")), p90_ms=_r(t.get("p90_ms")),
                              size_mb=r["size_mb"], gflops=r["gflops"], cpu=t.get("cpu") or res.get("cpu", ""),
                              threads=t.get("threads", 1),
                              error=r["error"], scales=r.get("scales") or {}, conditions=r.get("conditions") or {}))
    return pts


def _r(v):
    return None if v is None else round(float(v), 3)


def check_imgsz(sizes) -> tuple[int, ...]:
    """Input sizes for every YOLOv8/11 pose network (stride 32); a usage error lists valid ones."""
    from facelm.core.contract import resolve_imgsz

    try:
        return tuple(resolve_imgsz(int(s), 32, "--imgsz")[0] for s in sizes)
    except ValueError:
        raise UserError(f"--imgsz {','.join(map(str, sizes))}: expected numbers like 96,128,160,224") from None

