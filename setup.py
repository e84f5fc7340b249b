"""facelm: a model compiler and evaluator for low-power facial-landmark detection."""
from setuptools import find_packages, setup

setup(
    name="facelm",
    version="0.1.0",
    description="Compile YOLO-pose face-landmark checkpoints to ONNX/TFLite (fp32, fp16, INT8) and score "
                "every artifact on every runtime with one evaluator.",
    python_requires=">=3.11,<3.12",
    # The layering (tests/test_layers.py); the built-in models, the baselines and the submission
    # runner are package data, so an installed facelm works from any folder.
    packages=find_packages(include=["core", "models", "scores", "eval", "eval.*", "calib", "train", "compiler",
                                    "explore", "submit", "htmlreport"]),
    py_modules=["cli"],
    package_data={"models": ["*.pt", "*.card.json", "MODEL_CARD.md"], "scores": ["baselines/*.json"],
                  "submit": ["templates/*.py"], "htmlreport": ["templates/*.j2"]},
    # Exact versions that fit together live in requirements.lock (install it with --no-deps:
    # onnx2tf names `tensorflow`, the lock carries the smaller, identical tensorflow-cpu).
    install_requires=[
        "click>=8.1", "tabulate>=0.9", "tqdm>=4.66", "numpy==1.26.4", "opencv-python-headless>=4.9",
        "onnx==1.19.1", "onnxruntime==1.23.0", "onnxsim==0.4.36", "onnxslim>=0.1.90", "onnx2tf==1.29.24",
        "tensorflow-cpu==2.19.0", "ai-edge-litert==2.1.0", "ultralytics==8.4.190", "torch==2.14.1",
        "torchvision==0.29.1", "torch-pruning==1.6.1", "menpo==0.11.1", "psutil>=5.9", "pyyaml>=6", "matplotlib>=3.8", "Jinja2>=3.1", "ray==2.60.0",
    ],
    extras_require={"test": ["pytest>=8", "tox>=4"]},
    entry_points={"console_scripts": ["facelm=cli:main"]},
)
