"""csCreateTrainIdInstanceImgs: write ``*_instanceTrainIds.png`` beside every polygon file.

Run with no arguments to process ``$CITYSCAPES_DATASET`` as the original;
``--help`` lists the new options (dataset, splits, outputs, workers, ...).
"""
import sys

from .prepare import run


def main(argv=None):
    return run(sys.argv[1:] if argv is None else argv, "instanceTrainIds",
               "Create *_instanceTrainIds.png (and other encodings) from Cityscapes polygon annotations.")


if __name__ == "__main__":
    sys.exit(main())
