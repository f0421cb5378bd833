"""Times one public API call of whichever cityscapesscripts the running Python imports.

Run by bench.py with this package's Python and with the original's (a scratch
venv), so both sides execute the same calls:

    python driver.py TASK DATA_DIR [extra]      -> prints {"seconds", "cpu", "score"} as JSON

``cpu`` is the CPU time of the call in this process and in the worker
processes it waited for (steadier than wall time on a shared machine).

TASK: pixel, instance, instance-coco, panoptic-eval, panoptic-prep, prep-label,
prep-instance, prep-all (the five encodings: one pass for us, one call per
encoding for the original's json2labelImg / json2instanceImg).
"""
import contextlib
import glob
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time


class Timed:
    """Wall and CPU seconds of a block (CPU of this process and of the workers it waited for)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, _cpu() - self.cpu


def _cpu():
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def pixel(data):
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as E
    gts = sorted(glob.glob(os.path.join(data, "gtFine", "val", "*", "*_gtFine_labelIds.png")))
    E.args.predictionPath, E.args.predictionWalk = os.path.join(data, "results", "semantic"), None
    E.args.JSONOutput, E.args.quiet = False, True
    preds = [E.getPrediction(E.args, g) for g in gts]
    with Timed() as timer:
        result = E.evaluateImgLists(preds, gts, E.args)
    return timer, result["averageScoreClasses"]


def instance(data, predictions="instance"):
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as E
    gts = sorted(glob.glob(os.path.join(data, "gtFine", "val", "*", "*_gtFine_instanceIds.png")))
    E.args.predictionPath = os.path.abspath(os.path.join(data, "results", predictions))
    E.args.predictionWalk = None
    E.args.JSONOutput, E.args.quiet = False, True
    E.args.gtInstancesFile = os.path.join(tempfile.mkdtemp(), "gtInstances.json")  # cold cache, as a first run
    preds = [E.getPrediction(g, E.args) for g in gts]
    with Timed() as timer:
        result = E.evaluateImgLists(preds, gts, E.args)
    return timer, result["averages"]["allAp"]


def instance_coco(data, predictions="instance_heavy"):
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as E
    gts = sorted(glob.glob(os.path.join(data, "gtFine", "val", "*", "*_gtFine_instanceIds.png")))
    E.args.JSONOutput, E.args.quiet = False, True
    with Timed() as timer:
        result = E.evaluate_coco_json(os.path.join(data, "results", predictions + ".json"), gts, E.args)
    return timer, result["averages"]["allAp"]


def panoptic_eval(data):
    import cityscapesscripts.evaluation.evalPanopticSemanticLabeling as E
    gt = os.path.join(data, "gtFine", "cityscapes_panoptic_val.json")
    pred = os.path.join(data, "results", "panoptic", "cityscapes_panoptic_val.json")
    out = os.path.join(tempfile.mkdtemp(), "pq.json")
    with Timed() as timer, contextlib.redirect_stdout(io.StringIO()):
        result = E.evaluatePanoptic(gt, gt[:-5], pred, pred[:-5], out)
    return timer, result["All"]["pq"]


def panoptic_prep(data):
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic
    out = tempfile.mkdtemp()
    with Timed() as timer, contextlib.redirect_stdout(io.StringIO()):
        convert2panoptic(os.path.join(data, "gtFine"), out, False, ["val"])
    shutil.rmtree(out)
    return timer, None


def prep_all(data):
    """Every encoding of every frame: the original needs one call per encoding."""
    files = sorted(glob.glob(os.path.join(data, "gtFine", "*", "*", "*_gtFine_polygons.json")))
    try:
        from cityscapesscripts.preparation.prepare import prepare_dataset
    except ImportError:  # the original: one call per encoding
        from cityscapesscripts.preparation.json2instanceImg import json2instanceImg
        from cityscapesscripts.preparation.json2labelImg import json2labelImg
        with Timed() as timer:
            for f in files:
                base = f[:-len("_polygons.json")]
                json2labelImg(f, base + "_labelIds.png", "ids")
                json2labelImg(f, base + "_labelTrainIds.png", "trainIds")
                json2labelImg(f, base + "_color.png", "color")
                json2instanceImg(f, base + "_instanceIds.png", "ids")
                json2instanceImg(f, base + "_instanceTrainIds.png", "trainIds")
    else:
        with Timed() as timer:
            summary = prepare_dataset(data, ["labelIds", "labelTrainIds", "color", "instanceIds", "instanceTrainIds"],
                                      progress=False)
        assert not summary["failed"], summary["failed"][:3]
    return timer, None


def main():
    task, data = sys.argv[1], sys.argv[2]
    extra = sys.argv[3:]
    functions = {"pixel": pixel, "instance": instance, "instance-coco": instance_coco,
                 "panoptic-eval": panoptic_eval, "panoptic-prep": panoptic_prep, "prep-all": prep_all}
    cwd = tempfile.mkdtemp()
    os.chdir(cwd)  # the original writes matches.json into the working directory
    timer, score = functions[task](data, *extra)
    shutil.rmtree(cwd, ignore_errors=True)
    print(json.dumps({"seconds": timer.wall, "cpu": timer.cpu, "score": score}))


if __name__ == "__main__":
    main()
