"""facelm: compile pose checkpoints to ONNX/TFLite and score every artifact on every runtime. Each
command parses its options and calls one library function; heavy imports wait, so --help is instant."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from facelm import __version__
from facelm.train.device import ACTIVATIONS
from facelm.train.run import ARCHS, OPTIMIZERS
from facelm.vocabulary import (CONDITIONS, JOBS, LATENCY_RUNS, PATH, REPORT, THREADS, TRUST, Group, calib_data,
                               calib_images, data, faces, option, out)


@click.group(cls=Group)
@click.option("--debug", is_flag=True, help="Show the whole traceback of any error.")
@click.version_option(__version__, prog_name="facelm")
def main(debug):
    """Facial-landmark model compiler and evaluator."""
    from facelm.core.offline import prepare

    prepare()


@main.command()
@click.argument("checkpoint", required=False, type=PATH)
@click.option("--imgsz", type=int, help="Input size (default: the checkpoint's training size).")
@out(None, "Build folder (default: build/<checkpoint-stem>).")
@click.option("--targets", default=None, help="Comma-separated stages (default: all but the INT8 variants tflite_int16x8 and tflite_int8_mixed).")
@click.option("--opset", type=int, default=17, show_default=True, help="ONNX opset of the export.")
@calib_data()
@calib_images()
@data("Faces for the checks and the INT8 guard (default: the default evaluation faces).", old=("--verify-data",))
@TRUST
def compile(checkpoint, imgsz, out, targets, opset, calib_data, calib_images, data):
    """Compile CHECKPOINT (.pt or .onnx, or a built-in model's name: face51-s, face51-m, face51-xs;
    default: face51-s) into verified artifacts."""
    from facelm import api

    build = api.compile(checkpoint or "face51-s", out=out, targets=targets, imgsz=imgsz, calib_data=calib_data,
                        data=data, calib_images=calib_images, opset=opset)
    click.echo(build.table())
    _exit_on_failed_rows([(r.stage, r.failed) for r in build.rows])


@main.command()
@click.argument("paths", nargs=-1, type=PATH)
@click.option("--all", "all_", is_flag=True, help="Every artifact under the build folder(s).")
@click.option("--build", type=PATH, help="Build folder to score (default: every one under build/).")
@data("Faces: .pts folder, images/+labels/, YOLO data YAML, or images (default: the default evaluation faces).")
@click.option("--runtimes", default=None, help="Comma-separated: pytorch,onnxruntime,tflite (default: all that fit).")
@click.option("--normaliser", type=click.Choice(["inter-ocular", "inter-pupil", "bbox"]), default="inter-ocular", show_default=True)
@THREADS
@LATENCY_RUNS
@click.option("--no-latency", is_flag=True, help="Accuracy and cost only, no timing (the same as --latency-runs 0).")
@click.option("--scales", default="1", show_default=True, help="Also score faces shrunk into clutter: e.g. 1,0.5,0.35.")
@CONDITIONS
@click.option("--stability", is_flag=True, help="Also measure jitter: each face in 5 copies moved a few pixels, the "
              "landmarks' spread once mapped back.")
@click.option("--max-images", type=click.IntRange(min=1), help="Score only the first N images.")
@click.option("--imgsz", type=int, help="Input size for .pt files scored alone.")
@out(None, "Where to write scores.json/.md/.csv (default: build/scores/<faces>).")
@REPORT
@click.option("--update-baselines", is_flag=True, help="Rescore the built-in model's build; rewrite scores/baselines/.")
@TRUST
def score(paths, all_, build, data, runtimes, normaliser, threads, latency_runs, no_latency, scales, conditions,
          stability, max_images, imgsz, out, report_dir, update_baselines):
    """Score PATHS (.pt/.onnx/.tflite) or, with --all, every build's artifacts. Exit 0: all scored; 1: a row failed."""
    if update_baselines:  # the only way baselines change (eval.scoring.update_baselines)
        from facelm.eval.scoring import update_baselines as rewrite

        return click.echo(rewrite(build))
    from facelm import api
    from facelm.eval.defaults import BUILD
    from facelm.eval.scoring import artifacts_to_score

    scores = api.score(artifacts_to_score(paths, all_, build), data=data, runtimes=runtimes, threads=threads,
                       latency=not no_latency, latency_runs=latency_runs, scales=scales.split(","),
                       conditions=conditions, stability=stability, max_images=max_images, imgsz=imgsz, normaliser=normaliser)
    out = Path(out) if out else BUILD / "scores" / scores.rows[0].dataset
    click.echo(scores.table() + f"\n\nsaved {', '.join(map(str, scores.save(out)))}")
    _report(out, report_dir)
    _exit_on_failed_rows([(r.artifact, r.error) for r in scores.rows])


@main.command()
@click.argument("source", required=False, type=PATH)
@out(Path("build/report"))
@click.option("--build", type=PATH, help="A build folder (its newest scores), as SOURCE.")
@faces(8, "Faces per gallery.")
def report(source, out, build, faces):
    """One HTML page (report.html, images beside it) from SOURCE: a scores folder, a build folder
    (its newest scores) or a sweep folder (default: the built-in model's build)."""
    _report(source or build, out, faces)


def _report(source: Path | None, out: Path | None, n: int = 8) -> None:
    if out is not None:
        from facelm import api

        click.echo(f"report: {api.report(source, out=out, faces=n)}")


def _exit_on_failed_rows(named_errors: list) -> None:
    """Exit code 1 when any row failed (its files are written by then), naming the first."""
    failed = [(n, e) for n, e in named_errors if e]
    if failed:
        click.echo(f"error: {len(failed)} of {len(named_errors)} rows failed; first: {failed[0][0]}: {failed[0][1]}",
                   err=True)
        sys.exit(1)


@main.command()
@click.argument("checkpoints", nargs=-1, required=True, type=PATH)
@click.option("--imgsz", default="96,128,160,224", show_default=True, help="Input sizes (multiples of 32).")
@click.option("--precision", default="fp32,fp16,int8", show_default=True, help="TFLite precisions.")
@data("Faces to score (default: the default evaluation faces).")
@calib_data()
@calib_images()
@click.option("--budget-ms", type=float, help="Latency budget (ms, at --threads).")
@click.option("--budget-mb", type=float, help="Size budget (MB).")
@click.option("--budget-gflops", type=float, help="Compute budget (GFLOPs).")
@JOBS
@click.option("--ray", "ray_address", help="Run the jobs on a Ray cluster: auto, local, or HOST:PORT.")
@click.option("--latency-on", type=click.Choice(["driver", "worker"]), default="driver", show_default=True, help="Where to time.")
@LATENCY_RUNS
@option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
        help="The thread count to time at (the latency front's axis).")
@click.option("--scales", default="1", show_default=True, help="Also score faces shrunk into clutter: e.g. 1,0.5,0.35.")
@CONDITIONS
@click.option("--reference", multiple=True, type=PATH, help="A foreign .tflite/.onnx scored and timed beside.")
@click.option("--max-miss", type=float, default=1.0, show_default=True, help="Miss budget, %: above it no front, no pick.")
@out(Path("build/sweep"))
@REPORT
@TRUST
def sweep(checkpoints, imgsz, precision, data, calib_data, calib_images, budget_ms, budget_mb, budget_gflops, jobs,
          ray_address, latency_on, latency_runs, threads, scales, conditions, reference, max_miss, out, report_dir):
    """Which checkpoint, input size and precision to ship: compile and score every combination of
    CHECKPOINTS (files or folders of .pt) and write a Pareto report (pareto.png, sweep.md/.csv/.json).
    Exit code 1 when any job or artifact failed (the report is still written)."""
    from facelm import api
    from facelm.eval.cost.profile import LatencyOptions
    from facelm.eval.data.scales import check_scales
    from facelm.explore.driver import check_imgsz
    from facelm.explore.jobs import SweepOptions
    from facelm.explore.pareto import Budgets
    from facelm.explore.reference import check_references
    from facelm.explore.report import excluded, headline, table

    opts = SweepOptions(imgsz=check_imgsz([s.strip() for s in imgsz.split(",") if s.strip()]),
                        precisions=tuple(p.strip() for p in precision.split(",") if p.strip()),
                        data=data, calib_data=calib_data, calib_n=calib_images, scales=check_scales(scales.split(",")),
                        budgets=Budgets(budget_ms, budget_mb, budget_gflops), workers=jobs, ray=ray_address,
                        latency_on=latency_on, latency=LatencyOptions(min_runs=latency_runs) if latency_runs else None,
                        max_miss=max_miss, references=check_references(reference), threads=threads,
                        conditions=conditions)
    points, files = api.sweep(checkpoints, out=out, options=opts)
    click.echo("\n".join([table(points), "", *filter(None, (excluded(points, max_miss), headline(points, opts.budgets))),
                          "", f"saved {files['png']}, {files['md']}, {files['csv']}, {files['json']}"]))
    _report(out, report_dir)
    _exit_on_failed_rows([(p.label, p.error) for p in points])


@main.command()
@click.argument("model", type=PATH)
@click.argument("images", required=False, type=PATH)
@data("Images to predict on: a folder or a list file (or IMAGES).")
@out(Path("build/predict"), "Folder for one .txt per image.")
@click.option("--conf", type=float, help="Score threshold (default: the decoder's, as in score).")
@TRUST
def predict(model, images, data, out, conf):
    """Write the challenge's 51-point .pts text files for the images of --data (a folder or a list file)."""
    from facelm import api
    from facelm.core.errors import UserError

    if images is not None:
        click.echo("warning: predict MODEL IMAGES is now predict MODEL --data IMAGES; the old spelling goes in the "
                   "next release", err=True)
    if (images or data) is None:
        raise UserError("predict: give --data, the images to predict on")
    r = api.predict(model, images or data, out, conf=conf)
    click.echo(f"wrote {r['written']} files to {out}" + (f"; {len(r['unreadable'])} unreadable" if r["unreadable"] else ""))


@main.command()
@click.argument("folder", required=False, type=PATH)
@data("Faces to choose from (default: the default calibration faces).")
@calib_images(old=("--n",))
@click.option("--imgsz", type=int, default=224, show_default=True)
def calib(folder, data, calib_images, imgsz):
    """Show which faces of --data INT8 calibration would use."""
    from facelm.calib.select import CalibOptions, build_calibration, describe_selection
    from facelm.eval.defaults import default_calib_data

    if folder is not None:
        click.echo("warning: calib FOLDER is now calib --data FOLDER; the old spelling goes in the next release",
                   err=True)
    cs = build_calibration(Path(folder or data or default_calib_data()), CalibOptions(n=calib_images, imgsz=(imgsz, imgsz)))
    click.echo(describe_selection(cs))


@main.command()
@data("Labelled faces to train on (default: the shared faces' HELEN split).", old=("--train",))
@option("--val-data", "val_data", type=PATH, old=("--val",), help="Labelled faces to validate on (default: AFW).")
@click.option("--kpts", type=click.Choice(["51", "68"]), default="51", show_default=True)
@click.option("--imgsz", type=int, default=224, show_default=True)
@click.option("--epochs", type=int, default=300, show_default=True)
@click.option("--hours", type=float, default=None, help="Time budget; the epoch count is re-planned to fit.")
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--arch", type=click.Choice(list(ARCHS)), default="yolov8", show_default=True, help="The pose family.")
@click.option("--width", type=float, default=0.25, show_default=True, help="Channel width multiple: 0.25 is YOLOv8n.")
@click.option("--max-channels", type=int, help="Widest layer in channels (default: 1024 x width).")
@click.option("--kpt-channels", type=int, help="Keypoint head width (default: ultralytics' 3 x points).")
@click.option("--levels", default="3,4,5", show_default=True, help="Pyramid levels that carry the head (strides 8-32).")
@click.option("--prune", type=float, help="Fraction of --init's channels torch-pruning removes before the fine-tune.")
@click.option("--device", default="auto", show_default=True, help="auto (a GPU, else every CPU core), cpu, 0 or 0,1.")
@click.option("--workers", type=click.IntRange(min=0), help="Data-loader workers (default: 6 on a GPU, none on CPU).")
@click.option("--act", type=click.Choice(list(ACTIVATIONS)), default="silu", show_default=True, help="Activation of every convolution.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="auto", show_default=True, help="auto: ultralytics' choice.")
@click.option("--lr0", type=float, help="Initial learning rate (needs a named --optimizer); small for a fine-tune.")
@click.option("--warmup-epochs", type=float, default=3.0, show_default=True, help="0 for a fine-tune.")
@click.option("--degrees", type=float, default=0.0, show_default=True, help="Random rotation (+-degrees).")
@click.option("--mosaic", type=float, default=1.0, show_default=True, help="Mosaic probability (0: none).")
@click.option("--scale", type=float, default=0.5, show_default=True, help="Random zoom 1 -+ SCALE (small faces: more).")
@click.option("--zoom-out", default="", help="Extra training copies of every face shrunk into clutter, e.g. 0.5,0.7.")
@click.option("--conditions", default="", help="One extra training copy of every face, each under one of these "
              "conditions drawn at random (as score --conditions names them), e.g. all or blur,noise,occlude.")
@click.option("--resume", is_flag=True, help="Continue the interrupted training in --out.")
@click.option("--init", type=click.Path(path_type=Path, exists=True, dir_okay=False), help="Start from this checkpoint's weights (fine-tune).")
@click.option("--teacher", type=click.Path(path_type=Path), help="Distil: soften the training points towards this model's.")
@click.option("--teacher-weight", type=float, default=0.5, show_default=True, help="The teacher's share of each target.")
@out(Path("build/train"))
@TRUST
def train(data, val_data, kpts, out, **opts):
    """Train a pose face model (YOLOv8n's shape by default; --arch yolo11, yolo26) on .pts folders, offline.
    Defaults: the shared faces. Writes best.pt and best.card.json (its scores on --val-data)."""
    from facelm import api
    from facelm.train.card import summary

    click.echo(summary(api.train(data=data, val_data=val_data, out=out, n_kpts=int(kpts), **opts,
                                 command="python cli.py " + " ".join(sys.argv[1:]))))


@main.command()
@click.argument("target", required=False, type=PATH)
@data("Faces to run (default: the default evaluation faces).")
@faces(32, "Faces to run.")
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True, help="Tensors shown per artifact.")
def inspect(target, data, faces, top):
    """Where INT8 error comes from: every quantised artifact of TARGET (a build folder, or one
    int8 .tflite / .int8.onnx) against its float parent, tensor by tensor, on real faces.
    Writes <artifact>.inspect.json, .csv and .png beside it (default: the built-in model's build)."""
    from facelm import api

    click.echo("\n".join(api.inspect(target, data=data, faces=faces, top=top)))


@main.command()
@click.argument("source", type=PATH)
@out(Path("build/package/submission"))
@click.option("--artifact", type=click.Choice(["int8", "int8_fio", "fp32", "fp16"]), default=None,
              help="Which TFLite of a build folder (default: full-integer int8, else the next of SHIP_ORDER).")
@click.option("--verify", "verify", is_flag=True, help="SOURCE is a submission folder: verify it in a fresh venv.")
@data("Images for --verify (default: 8 default faces).", old=("--images",))
def package(source, out, artifact, verify, data):
    """Write a challenge submission from a build folder or .tflite, or --verify one."""
    if verify:
        from facelm.eval.infer.predict import list_images
        from facelm.submit.verify import default_images, verify_package

        r = verify_package(source, list_images(data) if data else default_images())
        diff = "no face found to compare" if r["max_px_diff"] is None else \
            f"max landmark difference {r['max_px_diff']} px from the evaluator"
        click.echo(f"{source}: verified: {r['images']} images, {r['faces']} faces, {diff}")
        return
    from facelm.submit.build import build_package

    folder = build_package(source, out, f"tflite_{artifact}" if artifact else None)
    click.echo(f"wrote {folder}/ and {folder.with_suffix('.zip')}")


if __name__ == "__main__":
    main()
