"""The network's shape beyond ultralytics' width multiple: which levels carry the pose head, the
widest layer, and the keypoint head's own width.

ultralytics sizes the keypoint head's convolutions by the point count (max(channels / 4, 3 x
points) = 153 channels of 3x3 convolutions on every level for 51 points): at a 64 px input that
is 40% of face51-s's GFLOPs. Its YAML cannot say otherwise, so the trainer below builds the
network from the YAML and then narrows each level's keypoint branch to `kpt_channels`. The
checkpoint pickles the narrowed modules (plain Conv and Conv2d), so ultralytics itself, the
compiler and the evaluator load it as any other pose checkpoint; a resume reads the width back
from the YAML the checkpoint keeps (key `kpt_channels`). With `prune` in the config the trainer
instead takes --init's trained network and prunes it (train/prune.py); a pruned network is
trained as it is, since no YAML describes its shape."""
from __future__ import annotations

from pathlib import Path

from facelm.core.files import write_json_atomic
from facelm.core.errors import InputError

#: Beside a run's results.csv: what train --prune took from the network (train/prune.py).
PRUNED = "pruned.json"
#: The pose head's inputs in yolov8-pose.yaml, by pyramid level (P3: stride 8 ... P5: stride 32).
LEVELS = (3, 4, 5)


def parse_levels(text) -> tuple[int, ...]:
    """'4,5' -> (4, 5): consecutive levels of 3..5, the decoder's doubling strides."""
    try:
        lv = tuple(sorted({int(x) for x in str(text).split(",") if x.strip()})) if not isinstance(text, tuple) else text
    except ValueError:
        raise InputError(f"levels {text!r}: expected pyramid levels like 4,5") from None
    if not lv or any(x not in LEVELS for x in lv):
        raise InputError(f"levels {text!r}: the network has levels {','.join(map(str, LEVELS))} (strides 8, 16, 32)")
    if lv != tuple(range(lv[0], lv[-1] + 1)):
        raise InputError(f"levels {text!r}: levels must be consecutive (the strides double level to level)")
    return lv


def apply_levels(cfg: dict, levels: tuple[int, ...]) -> None:
    """Point the pose head of a yolov8-pose config at `levels` and drop the neck layers that only
    fed the levels above the highest one (Conv, Concat, C2f per level), so no unused layer runs."""
    head = cfg["head"]
    pose = head[-1]
    if len(pose[0]) != len(LEVELS):
        raise InputError(f"the config's pose head reads {len(pose[0])} levels, not {len(LEVELS)}: cannot choose levels")
    drop = 3 * (LEVELS[-1] - levels[-1])
    body = head[:-1][:len(head) - 1 - drop]
    cfg["head"] = body + [[[pose[0][LEVELS.index(lv)] for lv in levels], *pose[1:]]]


def narrow_keypoint_head(model, channels: int | None) -> None:
    """Rebuild each level's keypoint branch of a PoseModel at `channels` wide (None: as built):
    YOLOv8/11's cv4 (two 3x3 convolutions and the 1x1 that makes the points), YOLO26's cv4 trunk
    with its cv4_kpts and cv4_sigma 1x1s, and an end-to-end head's one-to-one copies alike."""
    if not channels:
        return
    import copy

    from torch import nn
    from ultralytics.nn.modules import Conv

    head = model.model[-1]
    ins = [branch[0].conv.in_channels for branch in head.cv4]
    split = hasattr(head, "cv4_kpts")  # YOLO26: the 1x1s live apart from the trunk
    trunk = [[Conv(c, channels, 3), Conv(channels, channels, 3)] for c in ins]
    head.cv4 = nn.ModuleList(nn.Sequential(*t, *([] if split else [nn.Conv2d(channels, head.nk, 1)])) for t in trunk)
    if split:
        head.cv4_kpts = nn.ModuleList(nn.Conv2d(channels, head.nk, 1) for _ in ins)
        head.cv4_sigma = nn.ModuleList(nn.Conv2d(channels, head.nk_sigma, 1) for _ in ins)
    for name in ("cv4", "cv4_kpts", "cv4_sigma"):
        if getattr(head, "one2one_" + name, None) is not None:
            setattr(head, "one2one_" + name, copy.deepcopy(getattr(head, name)))


def face_trainer():
    """ultralytics' PoseTrainer whose model follows the config's `kpt_channels`."""
    from ultralytics.models.yolo.pose import PoseTrainer
    from ultralytics.nn.tasks import yaml_model_load

    class FacePoseTrainer(PoseTrainer):
        def get_model(self, cfg=None, weights=None, verbose=True):
            spec = cfg if isinstance(cfg, dict) else yaml_model_load(cfg) if cfg else {}
            if weights is not None and is_pruned(weights):  # a pruned network is its own shape
                return weights
            if spec.get("prune") and weights is not None:  # train --prune: the init's weights, pruned
                import copy

                from facelm.train.prune import prune_model, reshape_pruned

                model = copy.deepcopy(weights).float()
                report = prune_model(model, spec["prune"], int(self.args.imgsz))
                report.update(reshape_pruned(model, spec.get("activation"), spec.get("kpt_channels")))
                write_json_atomic(Path(self.save_dir) / PRUNED, report)  # for the card
                return model
            model = super().get_model(cfg=cfg, weights=None, verbose=verbose)
            narrow_keypoint_head(model, spec.get("kpt_channels"))
            if weights:
                model.load(weights)  # every tensor whose shape fits
            return model

    return FacePoseTrainer


def is_pruned(model) -> bool:
    """True for a network train --prune made (its C2f blocks split, channels cut)."""
    from facelm.core.pruned import C2fSplit

    return any(isinstance(m, C2fSplit) for m in model.modules())


def keep_levels(model, levels: tuple[int, ...]) -> None:
    """Cut a built pose network (a pruned one included) down to the head's `levels`, in place:
    the head's per-level branches of the other levels go, and so do the neck's last layers that
    fed only a dropped top level (ultralytics runs every layer in order, used or not). The kept
    branches keep their trained weights; a fine-tune then teaches them the faces the dropped
    level found."""
    import math

    from torch import nn

    head = model.model[-1]
    have = tuple(int(math.log2(s)) for s in head.stride.tolist())
    if any(lv not in have for lv in levels):
        raise InputError(f"levels {','.join(map(str, levels))}: the network's head has levels {','.join(map(str, have))}")
    keep = [have.index(lv) for lv in levels]
    for name in ("cv2", "cv3", "cv4", "cv4_kpts", "cv4_sigma"):
        for pre in ("", "one2one_"):
            if getattr(head, pre + name, None) is not None:
                setattr(head, pre + name, nn.ModuleList(getattr(head, pre + name)[i] for i in keep))
    head.f = [head.f[i] for i in keep]
    head.nl, head.stride = len(keep), head.stride[keep]
    model.stride = head.stride
    body = list(model.model)[:-1]
    if levels[-1] != have[-1]:  # the neck layers after the new top level's input fed only dropped levels
        body = body[:max(head.f) + 1]
    head.i = len(body)
    model.model = nn.Sequential(*body, head)
    model.save = sorted({x % m.i for m in list(model.model)[1:] for x in ([m.f] if isinstance(m.f, int) else m.f)
                         if x != -1})  # the outputs a later layer reads, as ultralytics' parse_model keeps them
