"""csCreateTrainIdLabelImgs: write ``*_labelTrainIds.png`` beside every polygon file.

Run with no arguments to process ``$CITYSCAPES_DATASET`` as the original;
``--help`` lists the new options (dataset, splits, outputs, workers, ...).
"""
import glob  # noqa: F401  (the original module's namespace)
import os  # noqa: F401  (the original module's namespace)
import sys

from cityscapesscripts.lazy import lazy_names
from cityscapesscripts.preparation.prepare import run

# the original module's namespace, imported when first asked for (with NumPy, which the tool does not need)
__getattr__ = lazy_names(__name__, {"printError": "cityscapesscripts.helpers.csHelpers:printError",
                                    "json2labelImg": "cityscapesscripts.preparation.json2labelImg:json2labelImg"})


def main(argv=None):
    return run(sys.argv[1:] if argv is None else argv, "labelTrainIds",
               "Create *_labelTrainIds.png (and other encodings) from Cityscapes polygon annotations.")


if __name__ == "__main__":
    sys.exit(main())
