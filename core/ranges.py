"""What facelm runs with, as version ranges: the lower bound is the oldest release tested, the
upper bound the next major where a break is known (or that nobody has run). requirements.lock is
the exact set the README and CI install; `tox -e latest` the newest the registries serve
(scores/latest-versions.txt). setup.py reads REQUIRES from this file, which imports nothing, and
facelm checks the runtimes it is about to use against it (core.versions)."""

REQUIRES = {
    "click": ">=8.1",
    "tabulate": ">=0.9",
    "tqdm": ">=4.66",
    "packaging": ">=23",
    "numpy": ">=1.26.4,<3",
    "opencv-python-headless": ">=4.9",
    "onnx": ">=1.19.1,<2",
    "onnxruntime": ">=1.23.0,<2",
    "onnxsim": ">=0.4.36,<1",
    "onnxslim": ">=0.1.90",
    # 2.x (Python >= 3.12 only) writes TFLite without TensorFlow; facelm's patches are for 1.29
    # and stand aside under any other release (compiler.onnx2tf_adds / onnx2tf_matmul)
    "onnx2tf": ">=1.29.24,<2",
    "tensorflow-cpu": ">=2.19.0,<3",
    "ai-edge-litert": ">=2.1.0,<3",
    "ultralytics": ">=8.4.190,<9",
    "torch": ">=2.13.0,<3",
    "torchvision": ">=0.28.0",
    "torch-pruning": ">=1.6.1,<2",
    "menpo": ">=0.11.1",
    "psutil": ">=5.9",
    "pyyaml": ">=6",
    "matplotlib": ">=3.8",
    "Jinja2": ">=3.1",
    "ray": ">=2.60.0,<3",
}
