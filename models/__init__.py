"""The built-in models, shipped as package data: name -> checkpoint, each with a .card.json
beside it (what `score` says of it, and the command that made it); MODEL_CARD.md shows the
cards as one table. Imports nothing, so any layer may read the registry."""
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: face51-s, the low-power default (96 px); face51-m, the accuracy-first model (256 px);
#: face51-xs, the smallest (64 px, pruned from face51-s; loading it needs facelm's core.pruned).
BUILTIN = {"face51-s": HERE / "face51_s.pt", "face51-m": HERE / "face51_m.pt", "face51-xs": HERE / "face51_xs.pt"}
DEFAULT = "face51-s"
