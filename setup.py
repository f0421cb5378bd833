"""Build of cityscapesscripts: pure-Python package plus two optional Cython extensions.

``pip install .`` compiles the extensions (``cityscapesscripts._kernels``: PNG
codecs, evaluation counting) when a C compiler is there; when the build fails
the package installs anyway and runs on the NumPy twins of the kernels
(``optional=True``).  The kernels use plain C types, not NumPy's C API,
so NumPy is no build requirement.
"""
import os
import re

from setuptools import Extension, find_packages, setup

try:
    from Cython.Build import cythonize
except ImportError:  # pip install . gets Cython itself (pyproject.toml); a bare setup.py call does not
    raise SystemExit("setup.py needs Cython to compile cityscapesscripts._kernels: pip install Cython setuptools "
                     "(pip install . installs it by itself)") from None

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "README.md"), encoding="utf-8") as f:
    long_description = f.read()
with open(os.path.join(here, "cityscapesscripts", "__init__.py"), encoding="utf-8") as f:
    version = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)  # the one version string

extensions = cythonize(
    [Extension(f"cityscapesscripts._kernels.{name}", [f"cityscapesscripts/_kernels/{name}.pyx"],
               extra_compile_args=["-O3"] if os.name != "nt" else [], optional=True)
     for name in ("png", "count")],
    compiler_directives={"language_level": 3},
)

setup(
    name="cityscapesscripts",
    version=version,
    description="Cityscapes ground-truth preparation and evaluation: the original's face, an exact, fast engine",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["cityscapesscripts", "cityscapesscripts.*"]),
    package_data={"cityscapesscripts": ["_kernels/*.pyx", "_kernels/*.pxd", "web/static/*"]},
    ext_modules=extensions,
    # deflate (libdeflate) halves PNG writing time; without it the writer falls back to zlib
    install_requires=["numpy>=1.23", "pillow>=11.2", "tqdm", "deflate>=0.7"],
    extras_require={
        "plot": ["matplotlib"],
        "dask": ["dask[distributed]"],
        "fast": ["msgspec"],  # JSON parsing about 1.5x faster, same values (io/jsonfile.py)
        # the training-loop adapters (cityscapesscripts.integrations; docs/training-loops.md): tensors on any
        # device, mmengine's metrics (mmseg / mmdet 3.x); detectron2 is not on the package index (see its docs)
        "torch": ["torch>=2.1"],
        "mmengine": ["mmengine>=0.10", "torch>=2.1"],
        # the browser tests drive Debian's chromium through its chromedriver
        "test": ["pytest", "pycocotools", "pytest-timeout", "dask[distributed]", "matplotlib", "selenium>=4.10",
                 "msgspec", "mypy", "torch==2.13.0", "torchmetrics", "mmengine"],
    },
    entry_points={
        "console_scripts": [
            "csSampleDataset = cityscapesscripts.sample:main",
            "csDemo = cityscapesscripts.demo:main",
            "csStats = cityscapesscripts.stats.command:main",
            "csDownload = cityscapesscripts.download.downloader:main",
            "csConvert = cityscapesscripts.dataset.convert:main",
            "csViewer = cityscapesscripts.viewer.cityscapesViewer:main",
            "csCreateTrainIdLabelImgs = cityscapesscripts.preparation.createTrainIdLabelImgs:main",
            "csCreateTrainIdInstanceImgs = cityscapesscripts.preparation.createTrainIdInstanceImgs:main",
            "csCreatePanopticImgs = cityscapesscripts.preparation.createPanopticImgs:main",
            "csEvalPixelLevelSemanticLabeling = cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling:main",
            "csEvalInstanceLevelSemanticLabeling = cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling:main",
            "csEvalPanopticSemanticLabeling = cityscapesscripts.evaluation.evalPanopticSemanticLabeling:main",
            "csEvalObjectDetection3d = cityscapesscripts.evaluation.evalObjectDetection3d:main",
            "csPlot3dDetectionResults = cityscapesscripts.evaluation.plot3dResults:main",
            "csLabelTool = cityscapesscripts.annotation.cityscapesLabelTool:main",
        ],
    },
    zip_safe=False,
)
