"""Where training runs: device resolution, data-loader workers, and an AMP self-check that never
touches the network (ultralytics' own check downloads a model to compare against)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from facelm.core.errors import UserError

#: --act names -> the activation ultralytics' model YAML takes (SiLU is its default)
ACTIVATIONS = {"silu": None, "relu6": "nn.ReLU6()", "relu": "nn.ReLU()", "hardswish": "nn.Hardswish()",
               "leakyrelu": "nn.LeakyReLU(0.1)"}


@dataclass(frozen=True)
class Device:
    spec: str        # what ultralytics takes: "cpu", "0", "0,1"
    describe: str    # for the model card
    workers: int
    amp: bool

    @property
    def cuda(self) -> bool:
        return self.spec != "cpu"


def resolve_device(spec: str = "auto", workers: int | None = None) -> Device:
    """auto: the first GPU when torch sees one, else every CPU core; cpu; or CUDA indices."""
    import torch

    spec = (spec or "auto").strip().lower()
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if spec == "auto":
        spec = "0" if n else "cpu"
    if spec != "cpu":
        try:
            ids = [int(i) for i in spec.split(",")]
        except ValueError:
            raise UserError(f"--device {spec}: expected auto, cpu, or CUDA indices such as 0 or 0,1") from None
        if not n:
            raise UserError(f"--device {spec}: no CUDA device is visible (torch sees none); use --device cpu")
        if max(ids) >= n or min(ids) < 0:
            raise UserError(f"--device {spec}: only {n} CUDA device(s) visible (0..{n - 1})")
        names = ", ".join(torch.cuda.get_device_name(i) for i in ids)
        return Device(spec, f"CUDA {spec} ({names}), amp on", 6 if workers is None else workers, True)
    # ultralytics uses no data-loader workers on CPU whatever it is told
    return Device("cpu", f"CPU ({os.cpu_count()} cores), amp off", 0 if workers is None else workers, False)


def offline_amp_check(model) -> bool:
    """AMP is kept when the model's mixed-precision forward is finite on a random batch: the
    network is never asked for (ultralytics' check_amp downloads a reference model)."""
    import torch

    try:
        device = next(model.parameters()).device
    except StopIteration:
        return False
    if device.type != "cuda":
        return False
    x = torch.rand(2, 3, 64, 64, device=device)
    with torch.no_grad(), torch.autocast("cuda"):
        out = model(x)
    outs = out if isinstance(out, (list, tuple)) else [out]
    flat = [t for o in outs for t in (o if isinstance(o, (list, tuple)) else [o]) if torch.is_tensor(t)]
    return all(bool(torch.isfinite(t.float()).all()) for t in flat)
