"""Build of cityscapesscripts: pure-Python package plus one Cython extension.

The extension is optional at run time (NumPy twins stand in), but ``pip
install .`` always builds it: Cython and NumPy are build requirements.
"""
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "README.md"), encoding="utf-8") as f:
    long_description = f.read()

extensions = cythonize(
    [Extension("cityscapesscripts._kernels", ["cityscapesscripts/_kernels.pyx"],
               include_dirs=[numpy.get_include()],
               define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
               extra_compile_args=["-O3"] if os.name != "nt" else [])],
    compiler_directives={"language_level": 3},
)

setup(
    name="cityscapesscripts",
    version="3.0.0",
    description="Cityscapes ground-truth preparation and evaluation: the original's face, an exact, fast engine",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["cityscapesscripts", "cityscapesscripts.*"]),
    package_data={"cityscapesscripts": ["_kernels.pyx", "web/static/*"]},
    ext_modules=extensions,
    # deflate (libdeflate) halves PNG writing time; without it the writer falls back to zlib
    install_requires=["numpy>=1.23", "pillow>=11.2", "tqdm", "deflate>=0.7"],
    extras_require={
        "plot": ["matplotlib"],
        # the browser tests drive Debian's chromium through its chromedriver
        "test": ["pytest", "pytest-timeout", "matplotlib", "selenium>=4.10"],
    },
    entry_points={
        "console_scripts": [
            "csSampleDataset = cityscapesscripts.sample:main",
            "csDemo = cityscapesscripts.demo:main",
            "csDownload = cityscapesscripts.download.downloader:main",
            "csConvert = cityscapesscripts.dataset.convert:main",
            "csCreateTrainIdLabelImgs = cityscapesscripts.preparation.createTrainIdLabelImgs:main",
            "csCreateTrainIdInstanceImgs = cityscapesscripts.preparation.createTrainIdInstanceImgs:main",
            "csCreatePanopticImgs = cityscapesscripts.preparation.createPanopticImgs:main",
            "csEvalPixelLevelSemanticLabeling = cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling:main",
            "csEvalInstanceLevelSemanticLabeling = cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling:main",
            "csEvalPanopticSemanticLabeling = cityscapesscripts.evaluation.evalPanopticSemanticLabeling:main",
        ],
    },
    zip_safe=False,
)
