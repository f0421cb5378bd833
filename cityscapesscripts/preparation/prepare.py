"""The batch preparation tool behind csCreateTrainIdLabelImgs / csCreateTrainIdInstanceImgs.

With no arguments it behaves as the original: every
``{gtFine,gtCoarse}/*/*/*_gt*_polygons.json`` under ``$CITYSCAPES_DATASET``
gets its image written beside it.  New flags choose the dataset, splits,
outputs, labels, workers and overwrite policy.  A bad file is reported with
its reason and the batch goes on; the exit status is non-zero if any failed.
"""
import functools
import os
import time

from ..helpers.labelset import CITYSCAPES
from ..io import layout
from ..io.files import remove_stale_temporaries
from .. import cli, parallel
from ..errors import ArgumentError, ItemError
from . import convert, rasterize


def prepare_dataset(root=None, outputs=("labelTrainIds",), splits=None, annotation_types=layout.ANNOTATION_TYPES,
                    label_set=CITYSCAPES, jobs=None, overwrite=True, from_png=False, progress=None):
    """Write ``outputs`` for every polygon file of a dataset.

    Returns a dict: ``written`` (paths), ``skipped`` (paths that existed,
    with ``overwrite=False``), ``failed`` (``[(json path, reason)]``),
    ``frames`` and ``seconds``.  Raises :class:`LayoutError` when no polygon
    file is found.
    """
    start = time.perf_counter()
    root = layout.dataset_root(root)
    files = layout.find_annotations(root, annotation_types, splits)
    if not files:
        patterns = layout.annotation_searches(root, annotation_types, splits)
        raise layout.LayoutError("did not find any polygon files; searched " + ", ".join(patterns))
    for encoding in outputs:
        if encoding not in rasterize.ENCODINGS:
            raise ArgumentError(f"unknown output {encoding!r}; expected some of {', '.join(rasterize.ENCODINGS)}")
    remove_stale_temporaries(os.path.dirname(f) for f in files)  # a killed run's, in the output folders
    task = functools.partial(_prepare_one, outputs=tuple(outputs), label_set=label_set,
                             overwrite=overwrite, from_png=from_png)
    summary = {"written": [], "skipped": [], "failed": [], "frames": len(files)}
    for result in parallel.map_items(task, files, jobs, "preparing", progress):
        if isinstance(result, ItemError):
            summary["failed"].append((result.item, result.reason))
        else:
            summary["written"] += result[0]
            summary["skipped"] += result[1]
    summary["seconds"] = time.perf_counter() - start
    return summary


def _prepare_one(json_path, outputs, label_set, overwrite, from_png):
    targets = {e: convert.output_path(json_path, e) for e in outputs}
    skipped = []
    if not overwrite:
        skipped = [p for p in targets.values() if os.path.exists(p)]
        targets = {e: p for e, p in targets.items() if p not in skipped}
    if not targets:
        return [], skipped
    run = convert.convert_frame_from_png if from_png else convert.convert_frame
    return run(json_path, targets, label_set), skipped


def build_parser(default_output, description):
    parser = cli.parser(description)
    parser.add_argument("--dataset", metavar="PATH", help="dataset root (default: $CITYSCAPES_DATASET)")
    cli.add_split_option(parser, None)
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--fine", dest="types", action="store_const", const=(layout.FINE,),
                      help="only gtFine annotations")
    kind.add_argument("--coarse", dest="types", action="store_const", const=(layout.COARSE,),
                      help="only gtCoarse annotations")
    parser.add_argument("--outputs", default=default_output, metavar="LIST",
                        help="comma-separated images to write per frame, of: " + ",".join(rasterize.ENCODINGS)
                        + f" (default: {default_output})")
    parser.add_argument("--from-png", action="store_true",
                        help="derive the images from the shipped *_labelIds.png / *_instanceIds.png "
                             "instead of the polygons, so they agree exactly with the evaluation ground truth")
    cli.add_batch_options(parser)
    return parser


@cli.entry_point
def run(argv, default_output, description):
    args = build_parser(default_output, description).parse_args(argv)
    with cli.run_of(args) as batch_run:
        return _prepare(args, batch_run)


def _prepare(args, batch_run):
    label_set = cli.label_set_of(args)
    outputs = [o.strip() for o in args.outputs.split(",") if o.strip()]
    types = args.types or layout.ANNOTATION_TYPES
    summary = prepare_dataset(args.dataset, outputs, cli.splits_of(args, layout.dataset_root(args.dataset), types), types,
                              label_set, batch_run, args.overwrite, args.from_png,
                              progress=False if args.quiet else None)
    failed = summary["failed"]
    if not args.quiet:
        print(f"{len(summary['written'])} files written for {summary['frames']} frames, "
              f"{len(summary['skipped'])} skipped, {len(failed)} failed, {summary['seconds']:.1f} s")
    for path, reason in failed:
        cli.print_error(f"{path}: {reason}")
    return cli.FAILED if failed else cli.OK
