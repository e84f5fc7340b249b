"""The INT8-friendly pose head: the trained ultralytics network with its decoding rewritten.

ultralytics' export packs boxes and keypoints in input pixels (0..640) with 0..1 scores in one
tensor, and decodes as (raw * 2 + anchor - 0.5) * stride, whose middle term spans the whole
grid, so a single int8 scale must cover ranges far wider than the result: full-integer pose
exports lose their faces. Here:
- boxes [1,N,4] (cx, cy, w, h, divided by the input size, clipped to [0, 1]), scores [1,N,nc],
  offsets [1,N,2K] (x of every point, then y, from its anchor's grid point (column and row
  times the stride, ultralytics' origin), divided by the input size) and, for (x, y, visibility) points, visibility [1,N,K]: the anchors are added by the
  shared decoder, in float, outside the graph. Measured on a 224 px YOLOv8n-pose (face51-m's
  predecessor): adding
  them in the graph cost four int8 requantisations of a tensor spanning the whole input (steps
  of 0.9 to 1.5 px each, since the visibility shared its concatenation's scale), more than the
  whole precision budget of full-integer INT8;
- box decoding is raw * scale[n] + offset[n] with each anchor's stride and position folded
  into constants, so every intermediate tensor already has the small range of the result;
  for keypoints the scale is folded further, into each level's last 1x1 convolution, so the
  convolution itself outputs offsets from the anchor in units of KPT_REACH of the input, and
  those are clipped to [-1, 1] (a clip the converter fuses into the convolution): without it,
  far-off predictions of empty background anchors set the int8 range, and the faces' points
  lost pixels to it;
- only 3-D tensors, levels concatenated before decoding (onnx2tf re-lays out 4-D tensors as
  images, and per-level 3-D tensors whose sizes coincide become ambiguous to it), each level
  turned channels-last first ([1, H x W, C], anchor-major as the outputs): the converter's
  images are NHWC already, so the head adds no TRANSPOSE (face51-xs's full integer had 38,
  20 of them around the DFL; now 18, all in C2f blocks, and 2% less invoke time)."""
from __future__ import annotations

import torch
from torch import nn


#: How far (fraction of the input size) a keypoint may lie from its anchor: a face as large as
#: the input, centred off its anchor by a cell, still fits.
KPT_REACH = 0.75


#: The pose heads this wrapper follows, by class: YOLOv8 and YOLO11 `Pose` (DFL boxes, keypoints
#: (2 raw + grid) x stride) and YOLO26 `Pose26` (reg_max 1 boxes, keypoints from `cv4_kpts` on
#: the `cv4` trunk, (raw + grid + 0.5) x stride; `cv4_sigma` and the flow model train only).
HEADS = ("Pose", "Pose26")


class Branch:
    """The modules of the branch a fused head runs: the one-to-one (NMS-free) branch of an
    end-to-end head (ultralytics' fuse() drops the other), else the one-to-many."""

    def __init__(self, head: nn.Module):
        pre = "one2one_" if getattr(head, "end2end", False) and getattr(head, "one2one_cv2", None) is not None else ""
        self.one2one = bool(pre)
        self.name = "one-to-one (end-to-end, NMS-free)" if pre else "one-to-many"
        self.box, self.cls, cv4 = (getattr(head, pre + n) for n in ("cv2", "cv3", "cv4"))
        kpts = getattr(head, pre + "cv4_kpts", None)
        # trunk[i]: the keypoint features; kpts[i]: the 1x1 convolution that makes the points
        self.trunk = [c if kpts is not None else c[:-1] for c in cv4]
        self.kpts = list(kpts) if kpts is not None else [c[-1] for c in cv4]
        # keypoint offset from the grid point (column x stride), in strides: a * raw + b
        self.kpt_a, self.kpt_b = (1.0, 0.5) if kpts is not None else (2.0, 0.0)


class SplitDecode(nn.Module):
    """The split head's decoding, from each level's raw tensors: forward(raw boxes, raw scores,
    keypoint trunks; one list entry per level) -> boxes, scores, offsets[, visibility]. Built
    from the family's keypoint convolutions (torch Conv2d, or ONNX weights: compiler/rewrite.py)."""

    def __init__(self, kpt_convs: list, strides: list[float], reg_max: int, kpt_shape: tuple, imgsz: tuple,
                 kpt_a: float, kpt_b: float):
        super().__init__()
        self.kpt_shape, self.imgsz, self.reg_max = tuple(kpt_shape), tuple(imgsz), int(reg_max)
        self.strides, self.kpt_a, self.kpt_b = [float(s) for s in strides], kpt_a, kpt_b
        self.register_buffer("bins", torch.arange(self.reg_max, dtype=torch.float32).view(1, 1, -1))
        ax, ay, s = self._anchors()
        ih, iw = imgsz
        for name, v in {"ax": ax / iw, "ay": ay / ih, "sx": s / iw, "sy": s / ih}.items():
            self.register_buffer(name, v.view(1, -1, 1))
        self.kpt_xy = nn.ModuleList(self._kpt_conv(c, st, xy=True) for c, st in zip(kpt_convs, self.strides))
        self.kpt_vis = nn.ModuleList(self._kpt_conv(c, st, xy=False) for c, st in zip(kpt_convs, self.strides)) \
            if self.kpt_shape[1] == 3 else None
        self.requires_grad_(False)  # an inference module: no autograd, without touching the process's switch

    def _kpt_conv(self, src: nn.Conv2d, st: float, xy: bool) -> nn.Conv2d:
        """A level's keypoint convolution cut to planar channels: xy (x of all points, then y)
        turned from the family's raw units into offsets from the grid point in units of
        KPT_REACH, or the visibility logits as they are."""
        k, d = self.kpt_shape
        ih, iw = self.imgsz
        rows = [p * d + c for c in range(2) for p in range(k)] if xy else [p * d + 2 for p in range(k)]
        conv = nn.Conv2d(src.in_channels, len(rows), 1, bias=True)
        scale, shift = torch.ones(len(rows)), torch.zeros(len(rows))
        if xy:  # offset = (a * raw + b) * stride / size / KPT_REACH
            a, b = self.kpt_a, self.kpt_b
            scale[:k], scale[k:] = a * st / iw / KPT_REACH, a * st / ih / KPT_REACH
            shift[:k], shift[k:] = b * st / iw / KPT_REACH, b * st / ih / KPT_REACH
        with torch.no_grad():
            conv.weight.copy_(src.weight[rows] * scale.view(-1, 1, 1, 1))
            conv.bias.copy_(src.bias[rows] * scale + shift)
        return conv

    def _anchors(self):
        """Anchor centres (input pixels) and strides of every level, in ultralytics' order."""
        ih, iw = self.imgsz
        xs, ys, ss = [], [], []
        for st in self.strides:
            h, w = int(ih // st), int(iw // st)
            gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                    indexing="ij")
            xs.append((gx.reshape(-1) + 0.5) * st)
            ys.append((gy.reshape(-1) + 0.5) * st)
            ss.append(torch.full((h * w,), float(st)))
        return torch.cat(xs), torch.cat(ys), torch.cat(ss)

    def forward(self, raw_boxes: list, raw_scores: list, trunks: list):
        d, r = self.kpt_shape[1], self.reg_max
        raw_box = _anchor_major(raw_boxes)
        raw_cls = _anchor_major(raw_scores)
        off = _anchor_major([self.kpt_xy[i](t).clamp(-1, 1) for i, t in enumerate(trunks)]) * KPT_REACH
        # Each side's distance in grid units: reg_max 1 (YOLO26) predicts it; else the DFL
        # expectation (0..reg_max-1) as a product and a sum over the last axis: LiteRT's int8
        # BATCH_MATMUL returned values 140 quantisation steps off here (`inspect` showed it).
        dist = raw_box if r == 1 else \
            (raw_box.reshape(1, -1, r).softmax(-1) * self.bins).sum(-1).reshape(1, -1, 4)
        lt_x, lt_y, rb_x, rb_y = (dist[..., j:j + 1] for j in range(4))
        boxes = torch.cat([self.ax + (rb_x - lt_x) * (self.sx * 0.5), self.ay + (rb_y - lt_y) * (self.sy * 0.5),
                           (lt_x + rb_x) * self.sx, (lt_y + rb_y) * self.sy], -1)
        outs = [boxes.clamp(0, 1), raw_cls.sigmoid(), off]
        if d == 3:
            outs.append(_anchor_major([self.kpt_vis[i](t) for i, t in enumerate(trunks)]).sigmoid())
        return tuple(outs)


def _anchor_major(levels: list) -> torch.Tensor:
    """Per-level [1, C, H, W] maps -> [1, anchors, C] in ultralytics' anchor order. Channels
    last from the start: the converter's images are already NHWC, so this costs no transpose."""
    return torch.cat([t.permute(0, 2, 3, 1).reshape(1, -1, t.shape[1]) for t in levels], 1)


class SplitPoseModel(nn.Module):
    """Wrap an ultralytics PoseModel; forward(image[1,3,H,W] in 0..1) -> boxes, scores, landmarks."""

    def __init__(self, pose_model: nn.Module, imgsz: tuple[int, int]):
        super().__init__()
        self.net = pose_model
        self.head = pose_model.model[-1]
        self.branch = Branch(self.head)
        # not registered here: the trunk's layers keep their names under the head (cv4.i.j), which
        # the float-head rule of ORT INT8 reads (compiler.convert.head_tail_nodes)
        self._trunk = [nn.Sequential(*t) for t in self.branch.trunk]
        self.imgsz = imgsz
        self.decode = SplitDecode(self.branch.kpts, self.head.stride.tolist(), self.head.reg_max, self.head.kpt_shape,
                                  imgsz, self.branch.kpt_a, self.branch.kpt_b)
        self.requires_grad_(False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Run every layer before the head, routing inputs as ultralytics' own forward does."""
        saved = []
        for m in self.net.model[:-1]:
            if m.f != -1:
                x = saved[m.f] if isinstance(m.f, int) else [x if j == -1 else saved[j] for j in m.f]
            x = m(x)
            saved.append(x if m.i in self.net.save else None)
        return [x if j == -1 else saved[j] for j in self.head.f]

    def forward(self, image: torch.Tensor):
        feats = self._features(image)
        br = self.branch
        return self.decode([br.box[i](f) for i, f in enumerate(feats)], [br.cls[i](f) for i, f in enumerate(feats)],
                           [self._trunk[i](f) for i, f in enumerate(feats)])
