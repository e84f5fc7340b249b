"""Structured channel pruning of a trained pose network with torch-pruning (`train --prune`),
before the fine-tune that recovers its accuracy.

Every convolution loses the same fraction of its output channels, ranked by the L2 norm of
their weights (torch-pruning's MagnitudeImportance over each dependency group, so a channel goes
from every layer that shares it); the head's last convolutions keep their outputs (box bins,
scores, points) and the DFL stays fixed. C2f blocks are split first (core/pruned.py)."""
from __future__ import annotations


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

    from core.pruned import split_c2f

    if not 0 < ratio < 1:
        raise ValueError(f"prune {ratio}: a fraction of channels in (0, 1)")
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
