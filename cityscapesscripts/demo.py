"""csDemo: the whole job on a synthetic sample: generate, prepare, evaluate, print the scores and statistics.

    csDemo [--keep DIR] [--frames N] [--size 2048x1024]

Without ``--keep`` (or the folder as an argument) the files go to a temporary
folder, removed at the end.  Every step goes through the same public functions
the console scripts use.
"""
import contextlib
import glob
import io
import os
import sys
import tempfile
import time

from . import cli, sample
from .errors import ArgumentError
from .evaluation import evalInstanceLevelSemanticLabeling as instance_eval
from .evaluation import evalPanopticSemanticLabeling as panoptic_eval
from .evaluation import evalPixelLevelSemanticLabeling as pixel_eval
from .io import layout
from .preparation import createPanopticImgs, prepare
from .stats import report as stats_report
from .stats.files import dataset_statistics


def run(out, frames=6, width=2048, height=1024, jobs=None, quiet=False):
    """Run every step on a fresh sample in ``out``; returns ``{step: result}``.  ``quiet``: print only the scores."""
    say = cli.printer(quiet)
    steps = {}
    t = time.perf_counter()
    sample.generate(out, frames, width, height, predictions=True, jobs=jobs, progress=False)
    say(f"1. generated {frames} synthetic frames ({width}x{height}) in {out}  [{time.perf_counter() - t:.1f} s]")
    t = time.perf_counter()
    summary = prepare.prepare_dataset(out, ["labelTrainIds", "instanceTrainIds"], jobs=jobs, progress=False)
    say(f"2. csCreateTrainIdLabelImgs / csCreateTrainIdInstanceImgs: {len(summary['written'])} files written, "
          f"{len(summary['failed'])} failed  [{time.perf_counter() - t:.1f} s]")
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        createPanopticImgs.convert2panoptic(os.path.join(out, layout.FINE), os.path.join(out, "panoptic"),
                                            setNames=["val"], jobs=jobs, progress=False, quiet=True)
    say(f"3. csCreatePanopticImgs: {layout.panoptic_json(os.path.join(out, 'panoptic'), 'val')}  "
          f"[{time.perf_counter() - t:.1f} s]")

    gts = sorted(glob.glob(layout.ground_truth_search(out, "val", "labelIds")))
    a = pixel_eval.args
    a.predictionPath, a.predictionWalk, a.JSONOutput, a.quiet, a.jobs = (
        os.path.join(out, "results", "semantic"), None, False, True, jobs)
    t = time.perf_counter()
    pixel = pixel_eval.evaluateImgLists([pixel_eval.getPrediction(a, g) for g in gts], gts, a)
    print(f"4. csEvalPixelLevelSemanticLabeling: IoU classes {pixel['averageScoreClasses']:.3f}, "
          f"iIoU classes {pixel['averageScoreInstClasses']:.3f}, IoU categories "
          f"{pixel['averageScoreCategories']:.3f}  [{time.perf_counter() - t:.1f} s]")
    steps["pixel"] = pixel

    inst_gts = [layout.sibling(g, "instanceIds") for g in gts]
    b = instance_eval.args
    b.predictionPath, b.predictionWalk, b.JSONOutput, b.quiet, b.jobs = (
        os.path.join(out, "results", "instance"), None, False, True, jobs)
    b.gtInstancesFile = os.path.join(out, "gtInstances.json")
    t = time.perf_counter()
    instance = instance_eval.evaluateImgLists([instance_eval.getPrediction(g, b) for g in inst_gts], inst_gts, b)
    print(f"5. csEvalInstanceLevelSemanticLabeling: AP {instance['averages']['allAp']:.3f}, "
          f"AP50 {instance['averages']['allAp50%']:.3f}  [{time.perf_counter() - t:.1f} s]")
    steps["instance"] = instance

    gt_json, pred_json = sample.panoptic_json(out, "gt", "val"), sample.panoptic_json(out, "pred", "val")
    t = time.perf_counter()
    pq = panoptic_eval.evaluatePanoptic(gt_json, layout.panoptic_png_folder(gt_json),
                                        pred_json, layout.panoptic_png_folder(pred_json),
                                        os.path.join(out, "resultPanopticSemanticLabeling.json"), jobs, quiet=True)
    print(f"6. csEvalPanopticSemanticLabeling: PQ {pq['All']['pq']:.3f} (things {pq['Things']['pq']:.3f}, "
          f"stuff {pq['Stuff']['pq']:.3f})  [{time.perf_counter() - t:.1f} s]")
    steps["panoptic"] = pq

    t = time.perf_counter()
    stats = dataset_statistics(out, ["val"], train_ids=True, jobs=jobs, progress=False)
    print(f"7. csStats --train-ids: {stats['images']} images, pixels and class weights per train class  "
          f"[{time.perf_counter() - t:.1f} s]")
    print(stats_report.format_table(stats))
    steps["stats"] = stats
    return steps


@cli.entry_point
def main(argv=None):
    parser = cli.parser("Run preparation and every evaluation on a synthetic sample.")
    parser.add_argument("out", nargs="?", metavar="DIR", help="the same as --keep DIR")
    parser.add_argument("--keep", metavar="DIR", help="write the sample, prepared ground truth and results to DIR and "
                                                      "keep them (default: a temporary folder, removed at the end)")
    parser.add_argument("--frames", type=int, default=6, help="number of frames (default 6)")
    cli.add_size_option(parser)
    cli.add_jobs_option(parser)
    cli.add_quiet_option(parser, "print only the scores")
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if opts.out and opts.keep and opts.out != opts.keep:
        raise ArgumentError("give the output folder once: DIR or --keep DIR")
    keep = opts.keep or opts.out
    say = cli.printer(opts.quiet)
    if keep:
        say(f"Writing to {keep} (kept)")
        run(keep, opts.frames, *opts.size, opts.jobs or None, opts.quiet)
        return cli.OK
    with tempfile.TemporaryDirectory(prefix="cityscapes-demo-") as out:
        say(f"Working in {out} (removed at the end; --keep DIR keeps the files)")
        run(out, opts.frames, *opts.size, opts.jobs or None, opts.quiet)
    return cli.OK


if __name__ == "__main__":
    sys.exit(main())
