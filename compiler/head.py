"""The INT8-friendly pose head: the trained ultralytics network with its decoding rewritten to
give three separate outputs, every coordinate normalised to the input size and clipped to
[0, 1]. Packing pixel coordinates (0..640) with 0..1 scores into one tensor is what makes
full-integer pose exports lose their faces: one int8 scale cannot serve both."""
from __future__ import annotations

import torch
from torch import nn

from compiler.layout import LAYOUT, OUTPUTS  # noqa: F401  (re-exported)


class SplitPoseModel(nn.Module):
    """Wrap an ultralytics PoseModel; forward(image[1,3,H,W] in 0..1) -> boxes, scores, landmarks."""

    def __init__(self, pose_model: nn.Module, imgsz: tuple[int, int]):
        super().__init__()
        self.net = pose_model
        self.head = pose_model.model[-1]
        self.imgsz = imgsz
        h, w = imgsz
        self.register_buffer("box_scale", torch.tensor([w, h, w, h], dtype=torch.float32).view(1, 4, 1))
        self.register_buffer("kpt_scale", torch.tensor([w, h], dtype=torch.float32).view(1, 1, 2, 1))

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Run every layer before the head, routing inputs as ultralytics' own forward does."""
        saved = []
        for m in self.net.model[:-1]:
            if m.f != -1:
                x = saved[m.f] if isinstance(m.f, int) else [x if j == -1 else saved[j] for j in m.f]
            x = m(x)
            saved.append(x if m.i in self.net.save else None)
        f = self.head.f
        return [x if j == -1 else saved[j] for j in f]

    def forward(self, image: torch.Tensor):
        from ultralytics.utils.tal import make_anchors

        head = self.head
        feats = self._features(image)
        raw = head.forward_head(feats, box_head=head.cv2, cls_head=head.cv3, pose_head=head.cv4)
        anchors, strides = (a.transpose(0, 1) for a in make_anchors(feats, head.stride, 0.5))
        boxes = head.decode_bboxes(head.dfl(raw["boxes"]), anchors.unsqueeze(0)) * strides
        boxes = (boxes / self.box_scale).clamp(0, 1)
        scores = raw["scores"].sigmoid()
        k, d = head.kpt_shape
        kp = raw["kpts"].view(image.shape[0], k, d, -1)
        xy = ((kp[:, :, :2] * 2.0 + (anchors - 0.5)) * strides / self.kpt_scale).clamp(0, 1)
        kp = torch.cat((xy, kp[:, :, 2:3].sigmoid()), 2) if d == 3 else xy
        n = kp.shape[-1]
        return (boxes.permute(0, 2, 1), scores.permute(0, 2, 1),
                kp.reshape(image.shape[0], k * d, n).permute(0, 2, 1))
