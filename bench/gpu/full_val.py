"""A checkpoint trained on a GPU machine picked itself on a shrunk copy of AFW: rescore it on the
full-resolution faces and make those its card's val figures (the copy's stay in train.val_copy).

    python bench/gpu/full_val.py build/gpu/m3.pt 256 [--faces ../shared/data/faces]"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    from facelm.train.card import val_of, write_card

    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("side", type=int, help="the longest side of the shrunk copy it trained on")
    ap.add_argument("--faces", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data" / "faces")
    a = ap.parse_args()
    path = a.checkpoint.with_suffix(".card.json")
    card = json.loads(path.read_text())
    copy, afw = card["val"], a.faces / "afw"
    card["val"] = val_of(a.checkpoint, afw)
    t = card["train"]
    t["val_copy"] = (f"selected on a copy of afw shrunk to {a.side} px on the longest side (NME {copy['nme']}, "
                     f"{copy['missed']} missed); the val figures here are the full-resolution afw's")
    t["data"] = t["data"].replace("helen_train,", f"helen_train (a copy shrunk to {a.side} px on the longest side, "
                                                   "points alike),")
    write_card(card, path)
    print(json.dumps(card["val"]))


if __name__ == "__main__":
    main()
