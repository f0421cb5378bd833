"""csCreatePanopticImgs: Cityscapes instanceIds to COCO panoptic ground truth, the original's face.

Writes ``cityscapes_panoptic_{set}[_trainId].json`` and a folder of
``*_panoptic.png`` per set.  Beyond the original: ``-j`` workers, a progress
bar, ``--skip-existing`` for PNGs already written, ``--labels`` for a custom
label set, and errors naming the file or the pattern searched.
"""
import argparse  # noqa: F401  (the original module's namespace)
import glob  # noqa: F401  (the original module's namespace)
import json  # noqa: F401  (the original module's namespace)
import os  # noqa: F401  (the original module's namespace)
import sys
import time

import numpy as np  # noqa: F401  (the original module's namespace)

from cityscapesscripts import cli
from cityscapesscripts.helpers.labels import id2label, labels  # noqa: F401  (the original module's namespace)
from cityscapesscripts.helpers.labelset import CITYSCAPES
from cityscapesscripts.io import layout
from cityscapesscripts.lazy import lazy_names
from cityscapesscripts.preparation import panoptic

# the original module's namespace, imported when first asked for (Pillow and the original helpers: the tool needs neither)
__getattr__ = lazy_names(__name__, {"Image": "PIL.Image", "printError": "cityscapesscripts.helpers.csHelpers:printError"})


def convert2panoptic(cityscapesPath=None, outputFolder=None, useTrainId=False, setNames=("val", "train", "test"),
                     label_set=CITYSCAPES, jobs=None, overwrite=True, progress=None, quiet=False):
    """Convert the sets ``setNames`` of a ``gtFine`` folder; returns the JSON paths written.

    ``cityscapesPath`` defaults to ``$CITYSCAPES_DATASET/gtFine``, the output
    folder to ``cityscapesPath``.  Raises :class:`LayoutError` naming the
    pattern when a set has no ``*_instanceIds.png``.
    """
    if cityscapesPath is None:
        cityscapesPath = layout.fine_folder(option="--dataset-folder GTFINE")
    outputFolder = cityscapesPath if outputFolder is None else outputFolder
    return panoptic.convert_sets(cityscapesPath, outputFolder, useTrainId, setNames, label_set, jobs, overwrite,
                                 progress, cli.printer(quiet))


@cli.entry_point
def main(argv=None):
    parser = cli.parser("Create COCO panoptic ground truth from Cityscapes instanceIds.")
    parser.add_argument("--dataset-folder", dest="cityscapesPath", default=None, metavar="GTFINE",
                        help="the Cityscapes 'gtFine' folder (default: $CITYSCAPES_DATASET/gtFine)")
    parser.add_argument("--output-folder", dest="outputFolder", default=None,
                        help="output folder (default: the dataset folder)")
    cli.add_train_ids_option(parser, "category ids are train ids", "--use-train-id")
    cli.add_split_option(parser, ["val", "train", "test"], "--set-names")
    cli.add_batch_options(parser)
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with cli.run_of(opts) as run:
        return _convert(opts, run)


def _convert(opts, run):
    start = time.perf_counter()
    label_set = cli.label_set_of(opts)
    gt_folder = opts.cityscapesPath or layout.fine_folder(option="--dataset-folder GTFINE")
    written = convert2panoptic(gt_folder, opts.outputFolder, opts.train_ids, cli.splits_of(opts, gt_folder, ""),
                               label_set, run, opts.overwrite, False if opts.quiet else None, opts.quiet)
    if not opts.quiet:
        print(f"{len(written)} set(s) converted in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
