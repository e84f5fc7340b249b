"""One option vocabulary for every command, defined once: the same name means the same thing
everywhere (cli.py builds its commands from these).

    --data          the faces a command scores, verifies against, predicts on or trains on
    --calib-data    faces for INT8 calibration          --val-data  train's validation faces
    --calib-images  calibration images to select        --faces     faces to run or show
    --jobs          parallel jobs                       --workers   data-loader workers
    --threads       thread counts to time               --latency-runs  timed invokes; 0: no timing
    --out           where it writes (default: under build/<command>/)

Spellings of earlier releases keep working for one release: hidden from --help, each use prints
one deprecation line. Errors: a UserError is one line and exit code 2; anything else is a bug,
its last traceback line and exit code 1; --debug shows the whole traceback."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from facelm.core.errors import UserError

PATH = click.Path(path_type=Path)


class Renamed(click.Option):
    """An option with its earlier spellings (`old`) still accepted, but not shown in --help."""

    def __init__(self, decls, old=(), **kw):
        super().__init__([*decls, *old], **kw)
        self.old = tuple(old)

    def get_help_record(self, ctx):
        shown, self.opts = self.opts, [o for o in self.opts if o not in self.old]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


class Command(click.Command):
    """Prints one deprecation line for each earlier spelling used."""

    def parse_args(self, ctx, args):
        given = args[:args.index("--")] if "--" in args else args
        for p in self.params:
            for old in getattr(p, "old", ()):
                if any(a == old or a.startswith(old + "=") for a in given):
                    new = next(o for o in p.opts if o not in p.old)
                    click.echo(f"warning: {old} is now {new}; the old spelling goes in the next release", err=True)
        return super().parse_args(ctx, args)


class Group(click.Group):
    """Builds its commands as `Command`s, and sorts failures: the user's mistakes (UserError, a
    usage error) are one line and exit code 2; anything else is a bug: exit code 1."""
    command_class = Command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.UsageError as e:
            click.echo(f"error: {e.format_message()}{_hint(e)}", err=True)
            sys.exit(2)
        except Exception as e:  # noqa: BLE001 - sorted into the user's mistakes and bugs below
            if ctx.params.get("debug") or "--debug" in sys.argv:
                raise
            if isinstance(e, UserError):
                click.echo(f"error: {e}", err=True)
                sys.exit(2)
            import traceback

            where = traceback.extract_tb(e.__traceback__)[-1]
            click.echo(f"error: a bug in facelm: {type(e).__name__}: {e} ({where.filename}:{where.lineno}; --debug "
                       "shows the traceback)", err=True)
            sys.exit(1)


def _hint(e: click.UsageError) -> str:
    cmd = e.ctx.command_path if e.ctx else "facelm"
    return f" (see {cmd} --help)"


def option(*decls, old=(), **kw):
    """A click option that also accepts its earlier spellings `old` (deprecated)."""
    return click.option(*decls, cls=Renamed, old=tuple(old), **kw)


def data(help_: str, old=(), **kw):
    return option("--data", "data", type=PATH, old=old, help=help_, **kw)


def calib_data(old=("--calib",)):
    return option("--calib-data", "calib_data", type=PATH, old=old,
                  help="Faces for INT8 calibration (default: the default calibration faces).")


def calib_images(default: int = 100, old=("--calib-n",)):
    return option("--calib-images", "calib_images", type=click.IntRange(min=1), default=default, old=old,
                  show_default=True, help="Calibration images to select.")


def faces(default: int, help_: str, old=("--n",)):
    return option("--faces", "faces", type=click.IntRange(min=1), default=default, old=old, show_default=True,
                  help=help_)


def out(default, help_: str = "Where to write.", **kw):
    return option("--out", "out", type=PATH, default=default, show_default=default is not None, help=help_, **kw)


def _threads(ctx, param, value):
    from facelm.eval.cost.profile import thread_counts

    try:
        return thread_counts(value)
    except UserError as e:
        raise click.BadParameter(str(e).removeprefix("--threads "), ctx, param) from None


THREADS = option("--threads", default="1,2", show_default=True, callback=_threads,
                 help="Thread counts to time, each a column (e.g. 1,2,4).")
LATENCY_RUNS = option("--latency-runs", type=click.IntRange(min=0), default=100, show_default=True,
                      help="Timed invokes (and >= 1 s) per artifact; 0: no timing.")
JOBS = option("--jobs", "jobs", type=click.IntRange(min=1), old=("--workers",),
              help="Parallel jobs (default: what cores and memory allow).")
CONDITIONS = option("--conditions", default="", help="Also score the faces under conditions, each NAME or NAME:SEVERITY "
                    "(1-3, default 2): dark,bright,blur,motion,noise,jpeg,roll,occlude, or all.")
REPORT = option("--report", "report_dir", type=PATH, help="Also write the HTML report here.")


def _trust(ctx, param, on):
    if on:
        from facelm.core.safe_load import set_trust

        set_trust(True)


#: Every command that opens a .pt reads it weights-only unless the user vouches for the file.
TRUST = click.option("--trust-checkpoint", is_flag=True, expose_value=False, callback=_trust,
                     help="Read .pt files with full pickle, which can run code: only files you trust "
                          "(default: weights-only, allow-listed).")
