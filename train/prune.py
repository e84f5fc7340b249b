"""Structured channel pruning of a trained pose network with torch-pruning (`train --prune`),
before the fine-tune that recovers its accuracy.

Every convolution loses the same fraction of its output channels, ranked by the L2 norm of
their weights (torch-pruning's MagnitudeImportance over each dependency group, so a channel goes
from every layer that shares it); the head's last convolutions keep their outputs (box bins,
scores, points) and the DFL stays fixed. C2f blocks are split first (core/pruned.py)."""
from __future__ import annotations

from facelm.core.errors import InputError


def head_outputs(head) -> list:
    """The head's convolutions whose output channels are the contract (and the fixed DFL)."""
    out = [head.dfl]
    for pre in ("", "one2one_"):  # an end-to-end head has both branches until it is fused
        get = lambda name: getattr(head, pre + name, None) or []  # noqa: E731
        out += [seq[-1] for seq in (*get("cv2"), *get("cv3"))]
        # YOLO26 makes its points (and sigmas) in 1x1s of their own; YOLOv8/11 in cv4's last layer
        out += [*get("cv4_kpts"), *get("cv4_sigma")] if hasattr(head, "cv4_kpts") else [seq[-1] for seq in get("cv4")]
    return out


def prune_model(model, ratio: float, imgsz: int) -> dict:
    """Prune `ratio` of every prunable layer's channels in place; returns the cost before and
    after (GFLOPs at imgsz, parameters in millions)."""
    import torch
    import torch_pruning as tp

    from facelm.core.pruned import split_c2f

    if not 0 < ratio < 1:
        raise InputError(f"prune {ratio}: a fraction of channels in (0, 1)")
    split_c2f(model)
    x = torch.zeros(1, 3, imgsz, imgsz)
    was_training = model.training
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    before = tp.utils.count_ops_and_params(model, x)
    pruner = tp.pruner.MetaPruner(model, x, importance=tp.importance.MagnitudeImportance(p=2), pruning_ratio=ratio,
                                  ignored_layers=head_outputs(model.model[-1]))
    pruner.step()
    after = tp.utils.count_ops_and_params(model, x)
    model.train(was_training)
    return {"ratio": ratio, "gflops_before": round(2 * before[0] / 1e9, 4), "gflops_after": round(2 * after[0] / 1e9, 4),
            "params_m_before": round(before[1] / 1e6, 3), "params_m_after": round(after[1] / 1e6, 3)}


def reshape_pruned(model, act: str | None, kpt_channels: int | None) -> dict:
    """What a pruned network's YAML cannot change, done to its trained weights in place: every
    Conv's activation replaced by `act` (ultralytics' YAML spelling, e.g. "nn.ReLU()": the
    fine-tune adapts the weights; int8 fuses ReLU into the convolution, where SiLU costs a
    lookup and a multiply per layer), and each level's keypoint trunk narrowed to
    `kpt_channels` by dropping its lowest-L2 channels. Returns what was done, for the card."""
    from torch import nn
    from ultralytics.nn.modules import Conv

    done = {}
    if act:
        make = eval(act, {"nn": nn})  # noqa: S307 - one of train.device.ACTIVATIONS' fixed strings
        for m in model.modules():
            if isinstance(m, Conv) and not isinstance(m.act, nn.Identity):
                m.act = make
        done["activation"] = act
    if kpt_channels:
        head = model.model[-1]
        levels = []  # (trunk's first Conv, its second, the convolutions that read the second)
        for pre in ("", "one2one_"):
            for i, branch in enumerate(getattr(head, pre + "cv4", None) or []):
                # YOLO26 makes its points (and sigmas) in 1x1s of their own; YOLOv8/11 in cv4's last layer
                after = [getattr(head, pre + n)[i] for n in ("cv4_kpts", "cv4_sigma")] \
                    if hasattr(head, "cv4_kpts") else [branch[2]]
                levels.append((branch[0], branch[1], after))
        width = min(b.conv.out_channels for _, b, _ in levels)
        if width <= kpt_channels:
            raise InputError(f"kpt-channels {kpt_channels}: the pruned network's keypoint head is "
                             f"{width} wide already; on a pruned network it can only narrow")
        for a, b, after in levels:
            _narrow(a, [b.conv], kpt_channels)
            _narrow(b, after, kpt_channels)
        done["kpt_channels"] = kpt_channels
    return done


def _narrow(conv, readers: list, keep: int) -> None:
    """Keep the `keep` output channels of an ultralytics Conv with the largest L2 weight norm,
    and the matching input channels of the convolutions that read it."""
    import torch
    import torch_pruning as tp

    norms = conv.conv.weight.detach().flatten(1).norm(dim=1)
    if keep >= len(norms):
        return
    drop = sorted(torch.argsort(norms, descending=True)[keep:].tolist())
    tp.prune_conv_out_channels(conv.conv, drop)
    tp.prune_batchnorm_out_channels(conv.bn, drop)
    for r in readers:
        tp.prune_conv_in_channels(r, drop)
