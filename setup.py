"""facelm: a model compiler and evaluator for low-power facial-landmark detection.

Installed, everything is one import name, `facelm`: the repository's top-level folders (core/,
eval/, compiler/, ...) become facelm.core, facelm.eval, facelm.compiler, ..., and cli.py becomes
facelm.cli (facelm/__init__.py does the same mapping in a checkout)."""
import re
import runpy
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: The layering (tests/test_layers.py), bottom up; each becomes facelm.<name>.
LAYERS = ["core", "models", "scores", "eval", "calib", "train", "compiler", "explore", "submit", "htmlreport"]
SUBPACKAGES = find_packages(include=[p for name in LAYERS for p in (name, f"{name}.*")])
#: Version ranges (core/ranges.py imports nothing, so it is read here without importing facelm).
REQUIRES = runpy.run_path(str(HERE / "core" / "ranges.py"))["REQUIRES"]
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
    python_requires=">=3.11",
    packages=["facelm", *(f"facelm.{p}" for p in SUBPACKAGES)],
    package_dir={"facelm": "facelm", **{f"facelm.{p}": p.replace(".", "/") for p in SUBPACKAGES}},
    # The built-in models, the baselines and the submission runner are package data, so an
    # installed facelm works from any folder.
    package_data={"facelm.models": ["*.pt", "*.card.json", "MODEL_CARD.md"], "facelm.scores": ["baselines/*.json"],
                  "facelm.submit": ["templates/*.py"], "facelm.htmlreport": ["templates/*.j2"]},
    cmdclass={"build_py": BuildPy},
    # Ranges (core/ranges.py); the exact set that was tested together is requirements.lock
    # (install it with --no-deps: onnx2tf 1.29 pins exact versions of its own, and names
    # `tensorflow` where the lock carries the smaller, identical tensorflow-cpu).
    install_requires=[f"{name}{spec}" for name, spec in REQUIRES.items()],
    extras_require={"test": ["pytest>=8", "tox>=4"],
                    "docs": ["mkdocs>=1.6,<2", "mkdocs-material>=9.8", "mkdocstrings-python>=2.0"]},
    entry_points={"console_scripts": ["facelm=facelm.cli:main"]},
)
