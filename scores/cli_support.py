"""The library call behind `cli.py score`: resolve what to score, run it, save, print."""
from __future__ import annotations

from pathlib import Path

import click

from eval.errors import UserError


def resolve_paths(paths, all_: bool, build: Path | None) -> list[Path]:
    from eval.defaults import BUILD
    from scores.run import find_artifacts

    if paths:
        return [Path(p) for p in paths]
    if not all_ and not build:
        raise UserError("score: give artifact paths, --build DIR, or --all")
    if build:
        return find_artifacts(build)
    builds = sorted(d for d in BUILD.glob("*") if d.is_dir() and d.name != "scores" and any(d.glob("*.json")))
    if not builds:
        raise UserError(f"{BUILD}: no build folders (run `python cli.py compile` first)")
    return [p for b in builds for p in find_artifacts(b)]


def run_score(paths, all_, build, data, runtimes, normaliser, threads, max_images, imgsz, out) -> list:
    from eval.datasets import load_dataset
    from eval.defaults import BUILD, default_eval_data
    from scores.records import save_rows
    from scores.run import ScoreOptions, score_paths
    from scores.table import score_table, write_tables

    files = resolve_paths(paths, all_, build)
    ds = load_dataset(data or default_eval_data())
    try:
        th = tuple(int(t) for t in str(threads).split(","))
    except ValueError:
        raise UserError(f"--threads {threads!r}: expected numbers like 1,2") from None
    opts = ScoreOptions(normaliser=normaliser, threads=th, max_images=max_images, imgsz=imgsz)
    rts = tuple(r.strip() for r in runtimes.split(",")) if runtimes else None
    rows = score_paths(files, ds, opts, rts)
    out = Path(out) if out else BUILD / "scores" / ds.name
    save_rows(rows, out / "scores.json")
    written = write_tables(rows, out)
    click.echo(score_table(rows))
    click.echo(f"\nsaved {out / 'scores.json'}, {written['md']}, {written['csv']}")
    return rows


def update_baselines(build: Path | None) -> None:
    """The only way baselines change: rescore, rewrite, and print what moved."""
    from eval.defaults import BUILD, DEFAULT_MODEL
    from scores.regression import regression_dataset, regression_rows, write_baselines
    from scores.table import score_table

    build = Path(build) if build else BUILD / DEFAULT_MODEL.stem
    if not build.is_dir():
        raise UserError(f"{build}: no build of the built-in model (run `python cli.py compile` first)")
    # One runtime at a time, exactly as the per-runtime tests (and tox environments) score:
    # drift against a parent that only another runtime can run is then absent in both.
    from eval.runtimes import REGISTRY

    rows = [r for rt in REGISTRY for r in regression_rows(build, rt)]
    errors = [r for r in rows if r.error]
    if errors:
        raise UserError(f"{errors[0].artifact} [{errors[0].runtime}]: {errors[0].error}; baselines not written")
    click.echo(score_table(rows))
    diff = write_baselines(rows, {"model": DEFAULT_MODEL.name, "dataset": regression_dataset().name})
    click.echo("\nbaseline changes:\n" + ("\n".join(diff) if diff else "  none"))
