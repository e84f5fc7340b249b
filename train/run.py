"""`train`: a thin layer over ultralytics pose training, on a GPU or every CPU core, offline."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path

from facelm.core.errors import InputError, UserError
from facelm.core.offline import prepare
from facelm.train.shape import PRUNED


@dataclass(frozen=True)
class TrainOptions:
    n_kpts: int = 51
    imgsz: int = 224
    epochs: int = 300
    hours: float | None = None  # ultralytics re-plans the epoch count to fit this budget
    batch: int = 16
    arch: str = "yolov8"        # the pose family (ARCHS); the built-in models are YOLOv8
    width: float = 0.25  # channel multiple; 0.25 is YOLOv8n, smaller is faster (bench/latency.py)
    seed: int = 0
    threads: int | None = None  # torch threads on CPU; default every core
    device: str = "auto"        # auto, cpu, 0, 0,1
    workers: int | None = None  # data-loader workers; default 6 on a GPU, none on CPU
    act: str = "silu"           # train.device.ACTIVATIONS
    # The network's shape beyond the width multiple (train/shape.py): face51-xs's levers.
    kpt_channels: int | None = None  # keypoint head width; None: ultralytics' max(channels / 4, 3 x points)
    max_channels: int | None = None  # widest layer (channels after --width); None: YOLOv8n's 1024 x width
    levels: tuple = (3, 4, 5)        # pyramid levels that carry the head (strides 8, 16, 32)
    prune: float | None = None       # fraction of channels torch-pruning removes from --init's network
    resume: bool = False        # continue out/run/weights/last.pt
    init: Path | None = None    # start from this checkpoint's weights (every layer whose shape fits)
    teacher: Path | None = None  # distil: the training faces' points softened towards its landmarks
    teacher_weight: float = 0.5  # the teacher's share of each soft target (train/teacher.py)
    # The schedule. ultralytics' "auto" picks SGD at lr0 0.01 for long runs (AdamW 0.002 for short
    # ones) after 3 warm-up epochs whose bias lr starts at 0.1: a schedule for training from
    # scratch. A fine-tune names a small lr0 and no warm-up (face51-m: SGD 0.002, 0 epochs).
    optimizer: str = "auto"     # auto, SGD, AdamW (ultralytics' names)
    lr0: float | None = None    # initial learning rate; needs a named optimizer (auto chooses its own)
    warmup_epochs: float = 3.0
    # Augmentation beyond ultralytics' defaults (translate, scale, colour, flips with flip_idx).
    degrees: float = 0.0        # random rotation, +-degrees (faces roll: AFW's 99th percentile is 24)
    mosaic: float = 1.0         # mosaic probability; it is turned off for the last 10 epochs anyway
    scale: float = 0.5          # random zoom in 1 -+ scale (ultralytics' own default 0.5): small faces need more
    zoom_out: tuple = ()        # extra training copies, each face shrunk by these factors into clutter
    conditions: tuple = ()      # one extra training copy, each image under one of these conditions

    def __post_init__(self):
        if self.n_kpts not in (51, 68):
            raise InputError(f"n_kpts must be 51 or 68, not {self.n_kpts}")
        if self.imgsz % 32:
            raise InputError(f"imgsz {self.imgsz} is not a multiple of the stride 32")
        if not 0.0625 <= self.width <= 1.0:
            raise InputError(f"width {self.width} is outside 0.0625..1")
        from facelm.eval.data.conditions import check_conditions
        from facelm.train.device import ACTIVATIONS
        from facelm.train.shape import parse_levels

        object.__setattr__(self, "levels", parse_levels(self.levels))
        if self.prune is not None and (not 0 < self.prune < 1 or self.init is None):
            raise InputError(f"prune {self.prune}: a fraction of channels in (0, 1), of the network --init names")
        for name in ("kpt_channels", "max_channels"):
            if getattr(self, name) is not None and not 8 <= getattr(self, name) <= 1024:
                raise InputError(f"{name.replace('_', '-')} {getattr(self, name)} is outside 8..1024")
        if not 0 < self.teacher_weight <= 1:
            raise InputError(f"teacher-weight {self.teacher_weight}: the teacher's share of a target, in (0, 1]")
        if self.act not in ACTIVATIONS:
            raise InputError(f"act {self.act!r}: choose from {', '.join(ACTIVATIONS)}")
        if self.arch not in ARCHS:
            raise InputError(f"arch {self.arch!r}: choose from {', '.join(ARCHS)}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer {self.optimizer!r}: choose from {', '.join(OPTIMIZERS)}")
        if self.lr0 is not None and (self.optimizer == "auto" or not 0 < self.lr0 < 1):
            raise InputError(f"lr0 {self.lr0}: give a named optimizer (auto picks its own rate) and 0 < lr0 < 1")
        if self.warmup_epochs < 0:
            raise InputError(f"warmup_epochs {self.warmup_epochs} is negative")
        if isinstance(self.zoom_out, str):  # "0.5,0.7" from the command line
            try:
                object.__setattr__(self, "zoom_out", tuple(float(z) for z in self.zoom_out.split(",") if z.strip()))
            except ValueError:
                raise InputError(f"zoom_out {self.zoom_out!r}: expected factors like 0.5,0.7") from None
        if any(not 0 < z < 1 for z in self.zoom_out):
            raise InputError(f"zoom_out {','.join(map(str, self.zoom_out))}: factors must be in (0, 1)")
        object.__setattr__(self, "conditions", tuple(f"{n}:{v}" for n, v in check_conditions(self.conditions)))
        if not 0 <= self.degrees <= 180 or not 0 <= self.mosaic <= 1 or not 0 <= self.scale < 1:
            raise InputError(f"degrees {self.degrees} / mosaic {self.mosaic} / scale {self.scale}: need 0..180, 0..1 "
                             "and 0..<1")

    def augmentation(self) -> str:
        """The augmentation beyond ultralytics' defaults, for the card."""
        return ", ".join(["fliplr 0.5 with flip_idx", *self._changed("degrees", "mosaic", "scale", "zoom_out", "conditions")])

    def shape(self) -> str:
        """The shape options that differ from YOLOv8n's, for the card: ', kpt-channels 32, ...'."""
        return "".join(", " + p for p in self._changed("kpt_channels", "max_channels", "levels", "prune"))

    def _changed(self, *names: str) -> list[str]:
        """'name value' of each named option that differs from its default."""
        return [f"{f.name.replace('_', '-')} {_text(getattr(self, f.name))}" for f in fields(self)
                if f.name in names and getattr(self, f.name) != f.default]

    def recipe(self) -> dict:
        """The optimizer, warm-up and augmentation arguments of ultralytics' train()."""
        out = dict(optimizer=self.optimizer, warmup_epochs=self.warmup_epochs, degrees=self.degrees,
                   mosaic=self.mosaic, scale=self.scale)
        if self.lr0 is not None:
            out["lr0"] = self.lr0
        return out


OPTIMIZERS = ("auto", "SGD", "AdamW")
#: --arch -> ultralytics' YAML of the family; each starts from its nano scale's depth, and
#: --width, --act and the shape levers mean the same for all of them.
ARCHS = {"yolov8": "yolov8n-pose.yaml", "yolo11": "yolo11n-pose.yaml", "yolo26": "yolo26n-pose.yaml"}


def _text(v) -> str:
    return ",".join(x if isinstance(x, str) else f"{x:g}" for x in v) if isinstance(v, tuple) else str(v)


def face_folders(train_dir, val_dir) -> tuple[Path, Path]:
    """The faces to train and validate on: each given, else the shared faces' HELEN and AFW."""
    from facelm.eval.defaults import shared_faces

    s = shared_faces()
    if (train_dir is None or val_dir is None) and s is None:
        raise UserError("train: give --data and --val-data (the shared faces are not beside the checkout)")
    return Path(train_dir or s / "helen_train"), Path(val_dir or s / "afw")


def train(train_dir: Path, val_dir: Path, out: Path, opts: TrainOptions, command: str = "") -> Path:
    """Convert the face folders, train, and return the path of the best checkpoint.

    Beside it, best.card.json: the run's epochs and wall time and the checkpoint's scores on
    val_dir from the project's evaluator."""
    prepare()
    t0 = time.perf_counter()
    from facelm.core.safe_load import check_sources
    from facelm.train.device import resolve_device

    dev = resolve_device(opts.device, opts.workers)
    check_sources([opts.init, opts.teacher, out / "run" / "weights" / "last.pt" if opts.resume else None])
    model, args = _model_and_args(train_dir, val_dir, out, opts, dev)
    model.train(**args)
    return finish_run(train_dir, val_dir, out, opts, command=command or repr(opts),
                      wall_seconds=time.perf_counter() - t0, device=dev.describe)


def finish_run(train_dir: Path, val_dir: Path, out: Path, opts: TrainOptions, *, command: str,
               wall_seconds: float, device: str) -> Path:
    """Pick the run's best checkpoint by the project's NME and write its card beside it."""
    best = out / "run" / "weights" / "best.pt"
    if not best.exists():
        raise RuntimeError(f"{best}: training finished without a checkpoint")
    from facelm.train.card import card_for, pick_by_nme, write_card
    from facelm.train.device import ACTIVATIONS
    from facelm.train.teacher import TEACHER

    best, summary, why = pick_by_nme(best.parent, val_dir)
    card = card_for(best, val_dir, summary, command=command, wall_seconds=wall_seconds,
                    train_desc=f"{train_dir.name}, {_labelled_faces(out / 'dataset', 'train')} faces",
                    arch=f"{ARCHS[opts.arch]} (ultralytics) at width {opts.width}, {opts.act}, 1 class{opts.shape()}",
                    device=f"{device}, {opts.augmentation()}")
    card["train"]["selected"] = why
    if opts.teacher and (out / "dataset" / TEACHER).is_file():  # train --teacher: what it softened
        card["train"]["teacher"] = json.loads((out / "dataset" / TEACHER).read_text())
    if (out / "run" / PRUNED).is_file():  # train --prune: what torch-pruning took from --init's network
        card["train"]["pruned"] = json.loads((out / "run" / PRUNED).read_text())
    init_card = Path(opts.init).with_suffix(".card.json") if opts.init else None
    if init_card and init_card.is_file():  # the run it started from: the recipe stays whole
        before = json.loads(init_card.read_text())
        card["train"]["init"] = {"checkpoint": str(opts.init), "train": before["train"]}
        if "pruned" in before["train"] or ", prune " in before.get("architecture", ""):
            # a pruned network keeps its shape, but for what --act and --kpt-channels change
            changed = ([opts.act] if ACTIVATIONS[opts.act] else []) + \
                ([f"kpt-channels {opts.kpt_channels}"] if opts.kpt_channels else []) + opts._changed("levels")
            card["architecture"] = before["architecture"] + (", then " + ", ".join(changed) if changed else "")
    write_card(card, best.with_suffix(".card.json"))
    return best


def _model_and_args(train_dir: Path, val_dir: Path, out: Path, opts: TrainOptions, dev):
    """The ultralytics model (new from YAML, or last.pt to resume) and its train() arguments."""
    import torch
    from ultralytics import YOLO
    import ultralytics.engine.trainer as trainer

    from facelm.core.safe_load import load_checkpoint_dict, route_ultralytics
    from facelm.train.device import offline_amp_check
    from facelm.train.yolo_data import build_yolo_dataset

    trainer.check_amp = offline_amp_check  # ultralytics' own check downloads a reference model
    route_ultralytics()  # --init, --resume and the trainer's own loads: weights-only
    run_args = dict(device=dev.spec, workers=dev.workers, amp=dev.amp)
    if opts.resume:  # the dataset and every other argument are the interrupted run's own
        last = out / "run" / "weights" / "last.pt"
        if not last.is_file():
            raise UserError(f"{last}: nothing to resume (no interrupted training in {out})")
        if load_checkpoint_dict(last).get("epoch", -1) < 0:
            raise UserError(f"{last}: that training finished; nothing to resume (train anew, or to more epochs)")
        model, args = YOLO(str(last)), dict(resume=True, **run_args)
    else:
        # --teacher is checked (train.teacher.soft_targets) before any dataset file is written
        data = build_yolo_dataset(train_dir, val_dir, out / "dataset", opts.n_kpts, opts.zoom_out,
                                  (opts.teacher, opts.teacher_weight) if opts.teacher else None, opts.conditions)
        (out / "run" / PRUNED).unlink(missing_ok=True)  # an earlier run's, in the same folder
        model = YOLO(str(model_config(opts, out)), task="pose")
        if opts.init:
            if not Path(opts.init).is_file():
                raise UserError(f"{opts.init}: no such checkpoint to start from")
            model = _init(model, Path(opts.init), opts)
        extra = {"time": opts.hours} if opts.hours else {}
        args = dict(data=str(data), imgsz=opts.imgsz, epochs=opts.epochs, batch=opts.batch, plots=False,
                    cache="ram", seed=opts.seed, deterministic=False, project=str(out.resolve()), name="run",
                    exist_ok=True, fliplr=0.5, verbose=False, **opts.recipe(), **run_args, **extra)
    from facelm.train.shape import face_trainer

    args["trainer"] = face_trainer()  # builds the network the config describes, keypoint head width included
    if not dev.cuda:
        # ultralytics trains on cpu_count-1 torch threads: one of this machine's two cores sat
        # idle (86 s an epoch at 224). Every core, set again at each epoch start because
        # select_device resets it.
        threads = opts.threads or os.cpu_count() or 1
        for event in ("on_pretrain_routine_end", "on_train_epoch_start"):
            model.add_callback(event, lambda _trainer: torch.set_num_threads(threads))
    return model, args


def _init(model, init: Path, opts: TrainOptions):
    """The model to train from --init: the YAML's network with every tensor of init whose shape
    fits, or init's own network when it was pruned (no YAML describes its shape), given a named
    --act and a narrower --kpt-channels on its trained weights (train.prune.reshape_pruned).
    --levels cuts init's head first (train.shape.keep_levels), so each kept level starts from
    its own trained branch."""
    from ultralytics import YOLO

    from facelm.train.device import ACTIVATIONS
    from facelm.train.prune import reshape_pruned
    from facelm.train.shape import LEVELS, is_pruned, keep_levels

    start = YOLO(str(init), task="pose")
    if opts.levels != LEVELS:  # before any weight moves: a level's branch loads only into its own level
        try:
            keep_levels(start.model, opts.levels)
        except ValueError as e:
            raise UserError(f"{init}: --{e}") from None
    if not is_pruned(start.model):
        return model.load(start.model)
    reshape_pruned(start.model, ACTIVATIONS[opts.act], opts.kpt_channels)
    return start


def _labelled_faces(dataset: Path, split: str) -> int:
    return sum(len(p.read_text().split("\n")) - 1 for p in (dataset / "labels" / split).glob("*.txt"))


def scaled_config(width: float, model_yaml: str = "yolov8n-pose.yaml") -> dict:
    """An ultralytics model config at its nano scale's depth with `width` as its channel multiple."""
    from ultralytics.nn.tasks import yaml_model_load

    cfg = yaml_model_load(model_yaml)
    depth, _, max_ch = cfg["scales"]["n"]
    cfg["scales"] = {"w": [depth, width, max_ch]}
    cfg["scale"] = "w"
    cfg.pop("yaml_file", None)
    return cfg


def model_config(opts: TrainOptions, out: Path) -> Path:
    """The ultralytics model YAML: the --arch family's nano depth at opts.width, opts.act, and a
    pose head for opts.n_kpts points with one class.

    The head's shape must be in the YAML: ultralytics' own yolov8n-pose.yaml builds a 17-point
    head, so --init would drop a 51-point checkpoint's keypoint head (36 tensors whose shapes do
    not fit) and fine-tune from a random one."""
    import yaml

    from facelm.train.device import ACTIVATIONS
    from facelm.train.shape import apply_levels

    cfg = scaled_config(opts.width, ARCHS[opts.arch])
    cfg.update(nc=1, kpt_shape=[opts.n_kpts, 3])
    if opts.max_channels:  # ultralytics caps a layer at max_channels before multiplying by the width
        cfg["scales"]["w"][2] = opts.max_channels / opts.width
    if opts.kpt_channels:
        cfg["kpt_channels"] = opts.kpt_channels  # read by train.shape.face_trainer
    if opts.prune:
        cfg["prune"] = opts.prune  # the same: prune --init's network before training it
    if opts.levels != (3, 4, 5):
        apply_levels(cfg, opts.levels)
    if ACTIVATIONS[opts.act]:
        cfg["activation"] = ACTIVATIONS[opts.act]
    # no yolov8<scale> in the name: ultralytics takes the only scale
    path = out / f"face-pose-{opts.n_kpts}-w{opts.width}-{opts.act}{opts.shape().replace(', ', '-').replace(' ', '')}.yaml"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
