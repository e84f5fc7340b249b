"""Stages that run beside the TensorFlow lane, in a second process.

The TFLite stages wait on onnx2tf and TensorFlow (a third of a fresh compile); a stage that
needs none of them (ONNX Runtime INT8: the simplified ONNX and the calibration faces) can be
built meanwhile on the other core. It runs in a child process started as soon as its parents
exist, through the same run_stage: the same atomic writes, manifests and checks, so its artifact
is the file a sequential compile makes. The child is forked where TensorFlow is not loaded yet
(the command line: fork copies the process at no cost) and comes from a fork server where it is
(a notebook, or a sweep that compiled before: fork after TensorFlow's threads start is unsafe).
A check that fails there fails its stage alone, as in one process; an error there is raised
here once the main lane has landed its files. Ctrl-C, a kill of the
parent or a stop here ends the child through its own cleanup: no half artifact lands, and the
next run resumes from what did."""
from __future__ import annotations

import multiprocessing
import os
import signal
import traceback

#: The stages whose artifact TensorFlow makes: what the side lane overlaps.
TF_ROOT = "saved_model"


def side_stages(stages: list) -> list:
    """Stages of this run that need nothing TensorFlow makes and that nothing else needs; empty
    when there is no TensorFlow stage to overlap with, or FACELM_ONE_PROCESS is set (then all
    run in one process, in pipeline order)."""
    if os.environ.get("FACELM_ONE_PROCESS"):
        return []
    names = {s.name for s in stages}
    by = {s.name: s for s in stages}

    def needs_tf(name: str) -> bool:
        s = by.get(name)
        return s is not None and (name == TF_ROOT or needs_tf(s.builds_from) or needs_tf(s.checks_against))

    needed = {n for s in stages for n in (s.builds_from, s.checks_against)}
    side = [s for s in stages if s.name not in needed and not needs_tf(s.name)]
    return side if TF_ROOT in names and side else []


def run(stages: list, ctx, run_one, stale, bar) -> list:
    """The main lane in pipeline order, the side lane started beside it as soon as its parents
    exist and one of its artifacts is stale (stale(stage): not current; a rerun that has them
    starts no process); run_one(stage, ctx, failed) -> result (pipeline._run_or_skip). Results
    come back in pipeline order; bar (a progress bar) counts stages."""
    side = side_stages(stages)
    done, failed, lane, checked = {}, set(), None, False
    try:
        for stage in [s for s in stages if s not in side]:
            if side and not checked and ready(side, ctx, failed):
                checked = True
                if any(stale(s) for s in side if not {s.builds_from, s.checks_against} & failed):
                    lane = SideLane(side, ctx, failed, run_one)
            bar.set_description(f"compile {stage.name}")
            done[stage.name] = run_one(stage, ctx, failed)
            bar.update(1)
        if lane:
            bar.set_description("compile (waiting for " + ", ".join(s.name for s in side) + ")")
        side_results = lane.join() if lane else [run_one(s, ctx, failed) for s in side]
        done.update({r.stage: r for r in side_results})
        bar.update(len(side))
    finally:
        if lane:
            lane.stop()
        bar.close()
    return [done[s.name] for s in stages]


#: What a fork server loads once, so that each side lane it forks starts warm.
PRELOAD = ["facelm.compiler.pipeline", "facelm.compiler.guard", "onnxruntime.quantization"]


def start_method() -> str:
    """fork where TensorFlow is not loaded (the command line: free); else a fork server, a
    fresh interpreter started once per process (3-4 s, on the other core) that forks each later
    side lane warm (a notebook, a sweep, a test session compiling one model after another)."""
    import sys

    if "tensorflow" not in sys.modules:
        return "fork"
    multiprocessing.set_forkserver_preload(PRELOAD)
    return "forkserver"


class SideLane:
    """The side stages in a child process; results come back over a pipe."""

    def __init__(self, stages: list, ctx, failed: set, run):
        ctx_mp = multiprocessing.get_context(start_method())
        self._recv, send = ctx_mp.Pipe(duplex=False)
        # What the child needs to rebuild the context, by value (kept small: a spawned child reads
        # it from a pipe), and the stages by name (a stage's build may be a closure)
        job = (type(ctx), ctx.source, ctx.out, ctx.opts, dict(ctx.paths), set(failed), [s.name for s in stages])
        self._proc = ctx_mp.Process(target=_child, args=(job, run, send), daemon=True)
        self._proc.start()
        send.close()

    def join(self) -> list:
        """The side stages' results (raises what the child raised)."""
        try:
            kind, value = self._recv.recv()
        except EOFError:
            self._proc.join()
            raise RuntimeError(f"the side compile process ended without a result (exit {self._proc.exitcode})") \
                from None
        self._proc.join()
        if kind == "raise":
            raise value
        return value

    def stop(self) -> None:
        """End the child if it still runs (an interrupted or failed main lane): it removes its
        temporary files on the way out."""
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(30)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()


def ready(stages: list, ctx, failed: set) -> bool:
    """Every parent of the side stages is built (or failed) in this process."""
    done = set(ctx.paths) | failed
    return all(s.builds_from in done and s.checks_against in done for s in stages)


def _child(job, run, send) -> None:
    signal.signal(signal.SIGTERM, _raise_interrupt)  # terminate() unwinds through atomic_output
    _die_with_parent()
    try:
        from facelm.compiler.stages import STAGES
        from facelm.core.offline import prepare

        prepare()
        context, source, out, opts, paths, failed, names = job
        ctx = context(source, out, opts)
        ctx.paths.update(paths)
        send.send(("ok", [run(STAGES[n], ctx, failed) for n in names]))
    except KeyboardInterrupt:
        os._exit(130)
    except BaseException as e:  # noqa: BLE001 - handed to the parent, which raises it
        send.send(("raise", _picklable(e)))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _die_with_parent() -> None:
    """Linux: SIGTERM this child when its parent dies (a kill -9 of compile)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _picklable(e: BaseException) -> BaseException:
    import pickle

    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}\n{''.join(traceback.format_exception(e))[-2000:]}")
