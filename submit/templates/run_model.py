"""Challenge runner: python run_model.py image_list.txt out_dir

Writes one text file per image (.pts layout, 51 points per face, faces ordered right to
left, absolute pixels). Preprocessing, inference, decoding and the writer are the evaluator's
own modules, vendored unchanged under vendor/."""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "vendor"))

from facelm.core.contract import LAYOUT, ModelSpec  # noqa: E402
from facelm.eval.infer.decode import DecodeOptions  # noqa: E402
from facelm.eval.infer.runtimes.tflite_rt import TfliteRuntime  # noqa: E402
from facelm.eval.infer.writer import predict_image  # noqa: E402


def main(argv):
    if len(argv) != 3:
        print("usage: python run_model.py image_list.txt out_dir", file=sys.stderr)
        return 2
    cfg = json.loads((HERE / "model.json").read_text())
    model = HERE / cfg["model"]
    if not model.is_file():
        print(f"error: {model}: model file missing", file=sys.stderr)
        return 2
    spec = ModelSpec(tuple(cfg["kpt_shape"]), int(cfg["nc"]), tuple(cfg["imgsz"]), cfg.get("layout", LAYOUT))
    opts = DecodeOptions(**{k: cfg[k] for k in ("conf", "iou", "max_det", "vote") if k in cfg})
    rt = TfliteRuntime()
    rt.load(model, threads=int(cfg.get("threads", 1)))
    out = Path(argv[2])
    images = [Path(ln.strip()) for ln in Path(argv[1]).read_text().splitlines() if ln.strip()]
    bad = 0
    for path in images:
        if not predict_image(rt, spec, path, out, opts):
            bad += 1
            print(f"warning: {path}: unreadable image (its file lists no face)", file=sys.stderr)
    print(f"{len(images) - bad} images written to {out}" + (f", {bad} unreadable" if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
