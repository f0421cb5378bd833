"""csStats: statistics and class weights of a Cityscapes tree.

    csStats [ROOT] [--split NAME] [--train-ids] [--labels FILE] [--json OUT] [--csv OUT]
            [--plot OUT.png|DIR] [--images] [--check] [-j N] [--scheduler ADDRESS] [-q]

ROOT defaults to ``$CITYSCAPES_DATASET``; every split by default.  Prints a
table per class (pixels, images, instances, polygons, class weights), one
``WARNING:`` line per consistency finding, and one ``ERROR:`` line per
unreadable frame (the others are counted; exit status 1).
"""
import sys

from .. import cli, plotting
from ..io import layout
from ..io.jsonfile import write_json
from . import report
from .files import collect_statistics


@cli.entry_point
def main(argv=None):
    parser = cli.parser("Statistics and class weights of a Cityscapes tree (pixels, images and instances per "
                        "class, split and city; Datumaro's 'datum stats' numbers; consistency findings).")
    parser.add_argument("root", nargs="?", help="dataset root (default: $CITYSCAPES_DATASET)")
    cli.add_split_option(parser, None)
    cli.add_train_ids_option(parser, "classes and weights by train id (the 19 classes and 'ignore')")
    cli.add_labels_option(parser)
    cli.add_json_option(parser)
    parser.add_argument("--csv", metavar="OUT", help="write the per-class table and weights to OUT (CSV)")
    parser.add_argument("--plot", metavar="OUT", help="save the plots: a .png names the class-frequency plot and "
                        "the others go beside it, any other name is a folder for all of them")
    parser.add_argument("--images", action="store_true", help="read the camera images too: mean / std (RGB) per "
                        "split and repeated images")
    parser.add_argument("--check", action="store_true", help="decode every map and compare labelIds with "
                        "instanceIds and with the polygons drawn (slower)")
    cli.add_jobs_option(parser)
    cli.add_quiet_option(parser)
    cli.add_scheduler_option(parser)
    cli.add_max_pixels_option(parser)
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if opts.plot:
        plotting.pyplot()  # a missing matplotlib is said before the tree is read
    root = layout.dataset_root(opts.root)
    splits = None if not opts.split or cli.ALL_SPLITS in opts.split else cli.splits_of(opts, root)
    label_set = cli.label_set_of(opts)
    with cli.run_of(opts) as run:
        total, failures = collect_statistics(root, splits, label_set, opts.images, opts.check,
                                             run, False if opts.quiet else None)
    result = total.result(opts.train_ids)
    print(report.format_table(result))
    if not opts.quiet:
        for finding in result["findings"]:
            cli.print_warning(finding)
    if opts.json:
        write_json(opts.json, result, indent=1)
    if opts.csv:
        report.write_csv(opts.csv, result)
    if opts.plot:
        from .plots import save_plots
        for path in save_plots(result, opts.plot, label_set):
            if not opts.quiet:
                print(f"saved {path}")
    for failure in failures:
        cli.print_error(failure)
    return cli.FAILED if failures else cli.OK


if __name__ == "__main__":
    sys.exit(main())
