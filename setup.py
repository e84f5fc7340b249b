"""facelm: a model compiler and evaluator for low-power facial-landmark detection.

Installed, everything is one import name, `facelm`: the repository's top-level folders (core/,
eval/, compiler/, ...) become facelm.core, facelm.eval, facelm.compiler, ..., and cli.py becomes
facelm.cli (facelm/__init__.py does the same mapping in a checkout)."""
import re
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: The layering (tests/test_layers.py), bottom up; each becomes facelm.<name>.
LAYERS = ["core", "models", "scores", "eval", "calib", "train", "compiler", "explore", "submit", "htmlreport"]
SUBPACKAGES = find_packages(include=[p for name in LAYERS for p in (name, f"{name}.*")])
VERSION = re.search(r'^__version__ = "([^"]+)"', (HERE / "facelm" / "__init__.py").read_text(), re.M).group(1)


class BuildPy(build_py):
    """cli.py, at the checkout's top level, is facelm.cli in the wheel (an editable install finds
    it where it is, through facelm/__init__'s mapping of the checkout)."""

    def run(self):
        super().run()
        if not getattr(self, "editable_mode", False):
            self.copy_file(str(HERE / "cli.py"), str(Path(self.build_lib) / "facelm" / "cli.py"))


setup(
    name="facelm",
    version=VERSION,
    description="Compile YOLO-pose face-landmark checkpoints to ONNX/TFLite (fp32, fp16, INT8) and score "
                "every artifact on every runtime with one evaluator.",
    python_requires=">=3.11,<3.12",
    packages=["facelm", *(f"facelm.{p}" for p in SUBPACKAGES)],
    package_dir={"facelm": "facelm", **{f"facelm.{p}": p.replace(".", "/") for p in SUBPACKAGES}},
    # The built-in models, the baselines and the submission runner are package data, so an
    # installed facelm works from any folder.
    package_data={"facelm.models": ["*.pt", "*.card.json", "MODEL_CARD.md"], "facelm.scores": ["baselines/*.json"],
                  "facelm.submit": ["templates/*.py"], "facelm.htmlreport": ["templates/*.j2"]},
    cmdclass={"build_py": BuildPy},
    # Exact versions that fit together live in requirements.lock (install it with --no-deps:
    # onnx2tf names `tensorflow`, the lock carries the smaller, identical tensorflow-cpu).
    install_requires=[
        "click>=8.1", "tabulate>=0.9", "tqdm>=4.66", "numpy==1.26.4", "opencv-python-headless>=4.9",
        "onnx==1.19.1", "onnxruntime==1.23.0", "onnxsim==0.4.36", "onnxslim>=0.1.90", "onnx2tf==1.29.24",
        "tensorflow-cpu==2.19.0", "ai-edge-litert==2.1.0", "ultralytics==8.4.190", "torch==2.14.1",
        "torchvision==0.29.1", "torch-pruning==1.6.1", "menpo==0.11.1", "psutil>=5.9", "pyyaml>=6", "matplotlib>=3.8", "Jinja2>=3.1", "ray==2.60.0",
    ],
    extras_require={"test": ["pytest>=8", "tox>=4"],
                    "docs": ["mkdocs>=1.6,<2", "mkdocs-material>=9.8", "mkdocstrings-python>=2.0"]},
    entry_points={"console_scripts": ["facelm=facelm.cli:main"]},
)
