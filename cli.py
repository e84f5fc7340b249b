"""facelm: compile pose checkpoints to ONNX/TFLite and score every artifact on every runtime. Each
command parses its options and calls one library function; heavy imports wait, so --help is instant."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from core.errors import UserError
from core.safe_load import set_trust
from train.device import ACTIVATIONS
from train.run import ARCHS, OPTIMIZERS


class Group(click.Group):
    """Turns UserError (and option errors) into one line and exit code 2 (--debug: the traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (UserError, ValueError, FileNotFoundError) as e:
            if ctx.params.get("debug") or "--debug" in sys.argv:
                raise
            click.echo(f"error: {e}", err=True)
            sys.exit(2)


#: Every command that opens a .pt reads it weights-only unless the user vouches for the file.
TRUST = click.option("--trust-checkpoint", is_flag=True, expose_value=False, help="Read .pt files with full "
                     "pickle, which can run code: only files you trust (default: weights-only, allow-listed).",
                     callback=lambda _ctx, _param, on: set_trust(True) if on else None)
REPORT = click.option("--report", "report_dir", type=click.Path(path_type=Path), help="Also write the HTML report here.")


@click.group(cls=Group)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def main(debug):
    """Facial-landmark model compiler and evaluator."""
    from core.offline import prepare

    prepare()


@main.command()
@click.argument("checkpoint", required=False, type=click.Path(path_type=Path))
@click.option("--imgsz", type=int, help="Input size (default: the checkpoint's training size).")
@click.option("--out", type=click.Path(path_type=Path), help="Build folder (default: build/<checkpoint-stem>).")
@click.option("--targets", default=None, help="Comma-separated stages (default: all but the INT8 variants tflite_int16x8 and tflite_int8_mixed).")
@click.option("--opset", type=int, default=17, show_default=True)
@click.option("--calib", "calib_data", type=click.Path(path_type=Path), help="Face folder for INT8 calibration.")
@click.option("--calib-n", type=int, default=100, show_default=True, help="Calibration images to select.")
@click.option("--verify-data", type=click.Path(path_type=Path), help="Face folder for verification and the INT8 guard.")
@TRUST
def compile(checkpoint, imgsz, out, targets, opset, calib_data, calib_n, verify_data):
    """Compile CHECKPOINT (.pt or .onnx, or a built-in model's name: face51-s, face51-m, face51-xs;
    default: face51-s) into verified artifacts."""
    from compiler.pipeline import DEFAULT_TARGETS, CompileOptions, compile_checkpoint
    from eval.defaults import DEFAULT_MODEL, resolve_model
    from scores.table import compile_table

    opts = CompileOptions(imgsz=imgsz, opset=opset, calib_data=calib_data, calib_n=calib_n, verify_data=verify_data,
                          targets=tuple(t.strip() for t in targets.split(",")) if targets else DEFAULT_TARGETS)
    results = compile_checkpoint(resolve_model(checkpoint) if checkpoint else DEFAULT_MODEL, out, opts)
    click.echo(compile_table(results))
    _exit_on_failed_rows([(r.stage, r.failed) for r in results])


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--all", "all_", is_flag=True, help="Every artifact under the build folder(s).")
@click.option("--build", type=click.Path(path_type=Path), help="Build folder to score (default: every one under build/).")
@click.option("--data", type=click.Path(path_type=Path), help="Faces: .pts folder, images/+labels/, YOLO data YAML, or images.")
@click.option("--runtimes", default=None, help="Comma-separated: pytorch,onnxruntime,tflite (default: all that fit).")
@click.option("--normaliser", type=click.Choice(["inter-ocular", "inter-pupil", "bbox"]), default="inter-ocular", show_default=True)
@click.option("--threads", default="1,2", show_default=True, help="Thread counts for latency.")
@click.option("--latency-runs", type=click.IntRange(min=0), default=100, show_default=True, help="Timed invokes (and >= 1 s); 0: none.")
@click.option("--no-latency", is_flag=True, help="Accuracy and cost only, no timing (the same as --latency-runs 0).")
@click.option("--scales", default="1", show_default=True, help="Also score faces shrunk into clutter: e.g. 1,0.5,0.35.")
@click.option("--max-images", type=int, help="Score only the first N images.")
@click.option("--imgsz", type=int, help="Input size for .pt files scored alone.")
@click.option("--out", type=click.Path(path_type=Path), help="Where to write scores.json/.md/.csv.")
@REPORT
@click.option("--update-baselines", is_flag=True, help="Rescore the built-in model's build; rewrite scores/baselines/.")
@TRUST
def score(paths, all_, build, data, runtimes, normaliser, threads, latency_runs, no_latency, scales, max_images, imgsz,
          out, report_dir, update_baselines):
    """Score PATHS (.pt/.onnx/.tflite) or, with --all, every build's artifacts. Exit 0: all scored; 1: a row failed."""
    if update_baselines:  # the only way baselines change (eval.scoring.update_baselines)
        from eval.scoring import update_baselines as rewrite

        return click.echo(rewrite(build))
    from eval.datasets import load_dataset
    from eval.defaults import BUILD, default_eval_data
    from eval.profile import LatencyOptions, machine, thread_counts
    from eval.runtimes import check_names
    from eval.scales import check_scales
    from eval.scoring import ScoreOptions, artifacts_to_score, score_paths
    from scores.table import score_table, write_scores

    rts = check_names([r.strip() for r in runtimes.split(",") if r.strip()]) if runtimes else None
    files = artifacts_to_score(paths, all_, build)
    ds = load_dataset(data or default_eval_data())
    opts = ScoreOptions(normaliser=normaliser, threads=thread_counts(threads), max_images=max_images, imgsz=imgsz,
                        latency=LatencyOptions(min_runs=max(latency_runs, 1)),
                        time_latency=latency_runs > 0 and not no_latency, scales=check_scales(scales.split(",")))
    rows = score_paths(files, ds, opts, rts, faces := [])
    out = Path(out) if out else BUILD / "scores" / ds.name
    written = write_scores(rows, faces, out, cpu := machine(), data or default_eval_data())
    click.echo(score_table(rows, machine=cpu) + f"\n\nsaved {', '.join(map(str, written))}")
    _report(out, report_dir)
    _exit_on_failed_rows([(r.artifact, r.error) for r in rows])


@main.command()
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("report"), show_default=True)
@click.option("--build", type=click.Path(path_type=Path), help="A build folder (its newest scores), as SOURCE.")
@click.option("--n", "n", type=int, default=8, show_default=True, help="Faces per gallery.")
def report(source, out, build, n):
    """One HTML page (report.html, images beside it) from SOURCE: a scores folder, a build folder
    (its newest scores) or a sweep folder (default: the built-in model's build)."""
    from eval.defaults import BUILD, DEFAULT_MODEL

    _report(source or build or BUILD / DEFAULT_MODEL.stem, out, n)


def _report(source: Path, out: Path | None, n: int = 8) -> None:
    if out is not None:
        from htmlreport.page import make_report

        click.echo(f"report: {make_report(source, out, n)}")


def _exit_on_failed_rows(named_errors: list) -> None:
    """Exit code 1 when any row failed (its files are written by then), naming the first."""
    failed = [(n, e) for n, e in named_errors if e]
    if failed:
        click.echo(f"error: {len(failed)} of {len(named_errors)} rows failed; first: {failed[0][0]}: {failed[0][1]}",
                   err=True)
        sys.exit(1)


@main.command()
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--imgsz", default="96,128,160,224", show_default=True, help="Input sizes (multiples of 32).")
@click.option("--precision", default="fp32,fp16,int8", show_default=True, help="TFLite precisions.")
@click.option("--data", type=click.Path(path_type=Path), help="Faces to score (default: the default evaluation faces).")
@click.option("--calib", "calib_data", type=click.Path(path_type=Path), help="Face folder for INT8 calibration.")
@click.option("--calib-n", type=int, default=100, show_default=True)
@click.option("--budget-ms", type=float, help="Latency budget (ms, 1 thread).")
@click.option("--budget-mb", type=float, help="Size budget (MB).")
@click.option("--budget-gflops", type=float, help="Compute budget (GFLOPs).")
@click.option("--workers", type=int, help="Parallel jobs (default: what cores and memory allow).")
@click.option("--ray", "ray_address", help="Run the jobs on a Ray cluster: auto, local, or HOST:PORT.")
@click.option("--latency-on", type=click.Choice(["driver", "worker"]), default="driver", show_default=True, help="Where to time.")
@click.option("--latency-runs", type=int, default=100, show_default=True)
@click.option("--scales", default="1", show_default=True, help="Also score faces shrunk into clutter: e.g. 1,0.5,0.35.")
@click.option("--reference", multiple=True, type=click.Path(path_type=Path), help="A foreign .tflite/.onnx scored and timed beside.")
@click.option("--max-miss", type=float, default=1.0, show_default=True, help="Miss budget, %: above it no front, no pick.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("sweep"), show_default=True)
@REPORT
@TRUST
def sweep(checkpoints, imgsz, precision, data, calib_data, calib_n, budget_ms, budget_mb, budget_gflops, workers,
          ray_address, latency_on, latency_runs, scales, reference, max_miss, out, report_dir):
    """Which checkpoint, input size and precision to ship: compile and score every combination of
    CHECKPOINTS (files or folders of .pt) and write a Pareto report (pareto.png, sweep.md/.csv/.json).
    Exit code 1 when any job or artifact failed (the report is still written)."""
    from explore.jobs import SweepOptions
    from explore.driver import check_imgsz, sweep as run
    from eval.profile import LatencyOptions
    from eval.scales import check_scales
    from explore.pareto import Budgets
    from explore.reference import check_references
    from explore.report import excluded, headline, table

    opts = SweepOptions(imgsz=check_imgsz([s.strip() for s in imgsz.split(",") if s.strip()]), precisions=tuple(p.strip() for p in precision.split(",") if p.strip()),
                        data=data, calib_data=calib_data, calib_n=calib_n, scales=check_scales(scales.split(",")),
                        budgets=Budgets(budget_ms, budget_mb, budget_gflops), workers=workers, ray=ray_address,
                        latency_on=latency_on, latency=LatencyOptions(min_runs=latency_runs), max_miss=max_miss,
                        references=check_references(reference))
    points, files = run(checkpoints, out, opts)
    click.echo("\n".join([table(points), "", *filter(None, (excluded(points, max_miss), headline(points, opts.budgets))),
                           "", f"saved {files['png']}, {files['md']}, {files['csv']}, {files['json']}"]))
    _report(out, report_dir)
    _exit_on_failed_rows([(p.label, p.error) for p in points])


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("images", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for one .txt per image.")
@click.option("--conf", type=float, help="Score threshold (default: the decoder's, as in score).")
@TRUST
def predict(model, images, out, conf):
    """Write the challenge's 51-point .pts text files for IMAGES (a folder or a list file)."""
    from eval.decode import DecodeOptions
    from eval.predict import predict as run

    r = run(model, images, out, DecodeOptions(conf=conf) if conf is not None else DecodeOptions())
    click.echo(f"wrote {r['written']} files to {out}" + (f"; {len(r['unreadable'])} unreadable" if r["unreadable"] else ""))


@main.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--n", "n", type=int, default=100, show_default=True, help="Images to select.")
@click.option("--imgsz", type=int, default=224, show_default=True)
def calib(folder, n, imgsz):
    """Show which faces of FOLDER INT8 calibration would use (default: the default calibration faces)."""
    from calib.select import CalibOptions, build_calibration, describe_selection
    from eval.defaults import default_calib_data

    cs = build_calibration(Path(folder or default_calib_data()), CalibOptions(n=n, imgsz=(imgsz, imgsz)))
    click.echo(describe_selection(cs))


@main.command()
@click.option("--train", "train_dir", type=click.Path(path_type=Path), help="Labelled faces to train on.")
@click.option("--val", "val_dir", type=click.Path(path_type=Path), help="Labelled faces to validate on.")
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
@click.option("--workers", type=int, help="Data-loader workers (default: 6 on a GPU, none on CPU).")
@click.option("--act", type=click.Choice(list(ACTIVATIONS)), default="silu", show_default=True, help="Activation of every convolution.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="auto", show_default=True, help="auto: ultralytics' choice.")
@click.option("--lr0", type=float, help="Initial learning rate (needs a named --optimizer); small for a fine-tune.")
@click.option("--warmup-epochs", type=float, default=3.0, show_default=True, help="0 for a fine-tune.")
@click.option("--degrees", type=float, default=0.0, show_default=True, help="Random rotation (+-degrees).")
@click.option("--mosaic", type=float, default=1.0, show_default=True, help="Mosaic probability (0: none).")
@click.option("--scale", type=float, default=0.5, show_default=True, help="Random zoom 1 -+ SCALE (small faces: more).")
@click.option("--zoom-out", default="", help="Extra training copies of every face shrunk into clutter, e.g. 0.5,0.7.")
@click.option("--resume", is_flag=True, help="Continue the interrupted training in --out.")
@click.option("--init", type=click.Path(path_type=Path, exists=True, dir_okay=False), help="Start from this checkpoint's weights (fine-tune).")
@click.option("--teacher", type=click.Path(path_type=Path), help="Distil: soften the training points towards this model's.")
@click.option("--teacher-weight", type=float, default=0.5, show_default=True, help="The teacher's share of each target.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/train"), show_default=True)
@TRUST
def train(train_dir, val_dir, kpts, out, **opts):
    """Train a pose face model (YOLOv8n's shape by default; --arch yolo11, yolo26) on .pts folders, offline.
    Defaults: the shared faces. Writes best.pt and best.card.json (its scores on --val)."""
    from train.card import summary
    from train.run import TrainOptions, face_folders, train as run

    best = run(*face_folders(train_dir, val_dir), out,
               TrainOptions(n_kpts=int(kpts), **opts), command="python cli.py " + " ".join(sys.argv[1:]))
    click.echo(summary(best))


@main.command()
@click.argument("target", required=False, type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), help="Face folder (default: the default evaluation faces).")
@click.option("--n", "n", type=int, default=32, show_default=True, help="Faces to run.")
@click.option("--top", type=int, default=15, show_default=True, help="Tensors shown per artifact.")
def inspect(target, data, n, top):
    """Where INT8 error comes from: every quantised artifact of TARGET (a build folder, or one
    int8 .tflite / .int8.onnx) against its float parent, tensor by tensor, on real faces.
    Writes <artifact>.inspect.json, .csv and .png beside it (default: the built-in model's build)."""
    from eval.defaults import BUILD, DEFAULT_MODEL, default_eval_data
    from eval.quant_report import inspect_target

    for text in inspect_target(target or BUILD / DEFAULT_MODEL.stem, data or default_eval_data(), n, top):
        click.echo(text)


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("submission"), show_default=True)
@click.option("--artifact", type=click.Choice(["int8", "int8_fio", "fp32", "fp16"]), default=None,
              help="Which TFLite of a build folder (default: full-integer int8, else the next of SHIP_ORDER).")
@click.option("--verify", "verify", is_flag=True, help="SOURCE is a submission folder: verify it in a fresh venv.")
@click.option("--images", type=click.Path(path_type=Path), help="Images for --verify (default: 8 default faces).")
def package(source, out, artifact, verify, images):
    """Write a challenge submission from a build folder or .tflite, or --verify one."""
    if verify:
        from eval.predict import list_images
        from submit.verify import default_images, verify_package

        r = verify_package(source, list_images(images) if images else default_images())
        diff = "no face found to compare" if r["max_px_diff"] is None else \
            f"max landmark difference {r['max_px_diff']} px from the evaluator"
        click.echo(f"{source}: verified: {r['images']} images, {r['faces']} faces, {diff}")
        return
    from submit.build import build_package

    folder = build_package(source, out, f"tflite_{artifact}" if artifact else None)
    click.echo(f"wrote {folder}/ and {folder.with_suffix('.zip')}")


if __name__ == "__main__":
    main()
