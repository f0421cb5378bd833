"""The Cityscapes calls of detectron2, mmsegmentation, mmdetection and panoptic-deeplab, replayed.

Each ``replay_*`` function follows one client's published code: the files it
writes in its ``process`` / ``update`` step, the module-level ``args`` it
sets, the functions it calls in its ``evaluate`` / ``compute_metrics`` step,
with their argument order, and the result keys it reads.  Only the
framework around them is replaced (tensors by NumPy arrays, mmcv / fvcore
I/O by Pillow and ``open``), and the model outputs come from the golden
predictions.  The module imports nothing but ``cityscapesscripts``, NumPy
and Pillow, so ``fixtures/make_original_fixtures.py`` runs the same replays
on the original 2.3.0 package to record the expected numbers.

Sources (read from the clients' repositories):

* detectron2 ``detectron2/evaluation/cityscapes_evaluation.py``:
  ``CityscapesInstanceEvaluator`` and ``CityscapesSemSegEvaluator``;
* mmsegmentation 1.x ``mmseg/evaluation/metrics/citys_metric.py``
  (``CityscapesMetric``) and ``tools/dataset_converters/cityscapes.py``;
* mmdetection 3.x ``mmdet/evaluation/metrics/cityscapes_metric.py``
  (``CityScapesMetric``) with ``mmdet/evaluation/functional/cityscapes_utils.py``;
* panoptic-deeplab ``segmentation/evaluation/panoptic.py``
  (``CityscapesPanopticEvaluator``), fed as ``tools/test_net_single_core.py`` does.
"""
import contextlib
import glob
import io
import json
import os
import shutil
import sys
import tempfile

import numpy as np
from PIL import Image

# the 19 Cityscapes train ids of the models, and the 8 classes of instance models
TRAIN_ID_TO_EVAL_ID = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
THING_CLASSES = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]


# ---- model outputs, from the golden predictions --------------------------------------
def frames(golden):
    """``[(leftImg8bit path, frame id)]`` of a golden set, sorted."""
    images = sorted(glob.glob(os.path.join(golden, "leftImg8bit", "val", "*", "*_leftImg8bit.png")))
    return [(path, os.path.basename(path)[:-len("_leftImg8bit.png")]) for path in images]


def semantic_logits_argmax(golden, frame):
    """What a 19-class model's argmax gives: the golden prediction in train ids.

    Classes a model cannot predict (train id 255) become train id 0.
    """
    from cityscapesscripts.helpers.labels import labels
    to_train = np.zeros(256, dtype=np.int64)
    for label in labels:
        if label.id >= 0 and label.trainId not in (255, -1):
            to_train[label.id] = label.trainId
    pred = np.asarray(Image.open(os.path.join(golden, "results", "semantic", frame + "_pred.png")))
    return to_train[pred]


def instance_outputs(golden, frame):
    """``[(mask (H, W) bool, class name, score)]`` of the golden prediction, things only."""
    from cityscapesscripts.helpers.labels import id2label
    txt = os.path.join(golden, "results", "instance", frame + "_pred.txt")
    out = []
    with open(txt) as f:
        for line in f.read().splitlines():
            if not line.strip():
                continue
            mask_path, label_id, score = line.split()
            name = id2label[int(label_id)].name
            if name in THING_CLASSES:
                mask = np.asarray(Image.open(os.path.join(os.path.dirname(txt), mask_path)).convert("L")) != 0
                out.append((mask, name, float(score)))
    return out


def panoptic_prediction(golden, frame):
    """panoptic-deeplab's panoptic map: ``train_id * 1000 + instance``, void as 255 * 1000."""
    from cityscapesscripts.helpers.labels import id2label
    folder = os.path.join(golden, "results", "panoptic")
    with open(os.path.join(folder, "cityscapes_panoptic_val.json")) as f:
        annotation = next(a for a in json.load(f)["annotations"] if a["image_id"] == frame)
    rgb = np.asarray(Image.open(os.path.join(folder, "cityscapes_panoptic_val", annotation["file_name"])),
                     dtype=np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    panoptic = np.full(ids.shape, 255 * 1000, dtype=np.int64)
    count = {}
    for segment in annotation["segments_info"]:
        label = id2label[segment["category_id"]]
        if label.trainId in (255, -1):
            continue
        if label.hasInstances:
            count[label.trainId] = count.get(label.trainId, 0) + 1
        panoptic[ids == segment["id"]] = label.trainId * 1000 + (count.get(label.trainId, 0)
                                                                 if label.hasInstances else 0)
    return panoptic


# ---- detectron2 ----------------------------------------------------------------------
def replay_detectron2_instance(golden, work):
    """``CityscapesInstanceEvaluator``: process() then evaluate(); returns ``ret["segm"]``."""
    from cityscapesscripts.helpers.labels import name2label
    temp_dir = os.path.join(work, "cityscapes_eval_instance")
    os.makedirs(temp_dir)
    for file_name, frame in frames(golden):
        basename = os.path.splitext(os.path.basename(file_name))[0]
        pred_txt = os.path.join(temp_dir, basename + "_pred.txt")
        with open(pred_txt, "w") as fout:
            for i, (mask, classes, score) in enumerate(instance_outputs(golden, frame)):
                class_id = name2label[classes].id
                png_filename = os.path.join(temp_dir, basename + "_{}_{}.png".format(i, classes))
                Image.fromarray(mask.astype("uint8") * 255).save(png_filename)
                fout.write("{} {} {}\n".format(os.path.basename(png_filename), class_id, score))

    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as cityscapes_eval
    cityscapes_eval.args.predictionPath = os.path.abspath(temp_dir)
    cityscapes_eval.args.predictionWalk = None
    cityscapes_eval.args.JSONOutput = False
    cityscapes_eval.args.colorized = False
    cityscapes_eval.args.gtInstancesFile = os.path.join(temp_dir, "gtInstances.json")
    gt_dir = os.path.join(golden, "gtFine", "val")
    groundTruthImgList = glob.glob(os.path.join(gt_dir, "*", "*_gtFine_instanceIds.png"))
    predictionImgList = []
    for gt in groundTruthImgList:
        predictionImgList.append(cityscapes_eval.getPrediction(gt, cityscapes_eval.args))
    results = cityscapes_eval.evaluateImgLists(predictionImgList, groundTruthImgList,
                                               cityscapes_eval.args)["averages"]
    return {"AP": results["allAp"] * 100, "AP50": results["allAp50%"] * 100}


def replay_detectron2_semantic(golden, work):
    """``CityscapesSemSegEvaluator``: process() then evaluate(); returns ``ret["sem_seg"]``."""
    from cityscapesscripts.helpers.labels import trainId2label
    temp_dir = os.path.join(work, "cityscapes_eval_semantic")
    os.makedirs(temp_dir)
    for file_name, frame in frames(golden):
        basename = os.path.splitext(os.path.basename(file_name))[0]
        pred_filename = os.path.join(temp_dir, basename + "_pred.png")
        output = semantic_logits_argmax(golden, frame)
        pred = 255 * np.ones(output.shape, dtype=np.uint8)
        for train_id, label in trainId2label.items():
            if label.ignoreInEval:
                continue
            pred[output == train_id] = label.id
        Image.fromarray(pred).save(pred_filename)

    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as cityscapes_eval
    cityscapes_eval.args.predictionPath = os.path.abspath(temp_dir)
    cityscapes_eval.args.predictionWalk = None
    cityscapes_eval.args.JSONOutput = False
    cityscapes_eval.args.colorized = False
    gt_dir = os.path.join(golden, "gtFine", "val")
    groundTruthImgList = glob.glob(os.path.join(gt_dir, "*", "*_gtFine_labelIds.png"))
    predictionImgList = []
    for gt in groundTruthImgList:
        predictionImgList.append(cityscapes_eval.getPrediction(cityscapes_eval.args, gt))
    results = cityscapes_eval.evaluateImgLists(predictionImgList, groundTruthImgList, cityscapes_eval.args)
    return {"IoU": 100.0 * results["averageScoreClasses"], "iIoU": 100.0 * results["averageScoreInstClasses"],
            "IoU_sup": 100.0 * results["averageScoreCategories"],
            "iIoU_sup": 100.0 * results["averageScoreInstCategories"]}


# ---- mmsegmentation ------------------------------------------------------------------
def replay_mmseg_metric(golden, work):
    """``CityscapesMetric``: process() then compute_metrics().

    Returns the metric dict, and the per-image pixel counts (keyed by file
    name) that ``evalPixelAccuracy = True`` adds to the result.
    """
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as CSEval
    import cityscapesscripts.helpers.labels as CSLabels
    output_dir = os.path.join(work, "mmseg_format")
    os.makedirs(output_dir)
    results = []
    for img_path, frame in frames(golden):
        pred_label = semantic_logits_argmax(golden, frame)
        result_copy = pred_label.copy()
        for trainId, label in CSLabels.trainId2label.items():
            result_copy[pred_label == trainId] = label.id
        basename = os.path.splitext(os.path.basename(img_path))[0]
        png_filename = os.path.abspath(os.path.join(output_dir, f"{basename}.png"))
        Image.fromarray(result_copy.astype(np.uint8)).convert("P").save(png_filename)
        city = frame.split("_")[0]
        seg_map_path = os.path.join(golden, "gtFine", "val", city, frame + "_gtFine_labelTrainIds.png")
        results.append((png_filename, seg_map_path.replace("labelTrainIds.png", "labelIds.png")))

    CSEval.args.evalInstLevelScore = True
    CSEval.args.predictionPath = os.path.abspath(output_dir)
    CSEval.args.evalPixelAccuracy = True
    CSEval.args.JSONOutput = False
    pred_list, gt_list = zip(*results)
    eval_results = dict()
    eval_results.update(CSEval.evaluateImgLists(pred_list, gt_list, CSEval.args))
    metric = {"averageScoreCategories": eval_results["averageScoreCategories"],
              "averageScoreInstCategories": eval_results["averageScoreInstCategories"]}
    per_image = {os.path.basename(k): {name: int(v) for name, v in counts.items()}
                 for k, counts in eval_results["perImageScores"].items()}
    return {"metric": metric, "perImageScores": per_image}


def replay_mmseg_converter(golden, work):
    """``tools/dataset_converters/cityscapes.py``: json2labelImg(json, *_labelTrainIds.png, 'trainIds')."""
    from cityscapesscripts.preparation.json2labelImg import json2labelImg
    written = {}
    for json_file in sorted(glob.glob(os.path.join(golden, "gtFine", "val", "*", "*_polygons.json"))):
        label_file = os.path.join(work, os.path.basename(json_file).replace("_polygons.json", "_labelTrainIds.png"))
        json2labelImg(json_file, label_file, "trainIds")
        written[os.path.basename(label_file)] = label_file
    return written


# ---- mmdetection 3.x -----------------------------------------------------------------
def replay_mmdet_metric(golden, work):
    """``CityScapesMetric.process`` / ``compute_metrics`` with ``functional.evaluateImgLists``."""
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as CSEval
    import cityscapesscripts.helpers.labels as CSLabels
    outfile_prefix = os.path.join(work, "mmdet", "results")
    os.makedirs(outfile_prefix)
    results = []
    for filename, frame in frames(golden):
        basename = os.path.splitext(os.path.basename(filename))[0]
        pred_txt = os.path.join(outfile_prefix, basename + "_pred.txt")
        with open(pred_txt, "w") as f:
            for i, (mask, class_name, mask_score) in enumerate(instance_outputs(golden, frame)):
                class_id = CSLabels.name2label[class_name].id
                png_filename = os.path.join(outfile_prefix, basename + f"_{i}_{class_name}.png")
                Image.fromarray(mask.astype(np.uint8)).save(png_filename)  # mmcv.imwrite of a 0/1 mask
                f.write(f"{os.path.basename(png_filename)} {class_id} {mask_score}\n")
        img_path = filename.replace("leftImg8bit.png", "gtFine_instanceIds.png")
        results.append(({"file_name": img_path.replace("leftImg8bit", "gtFine")}, {"pred_txt": pred_txt}))

    gts, preds = zip(*results)
    CSEval.args.JSONOutput = False
    CSEval.args.colorized = False
    CSEval.args.gtInstancesFile = os.path.join(outfile_prefix, "gtInstances.json")
    groundTruthImgList = [gt["file_name"] for gt in gts]
    predictionImgList = [pred["pred_txt"] for pred in preds]
    averages = _mmdet_evaluateImgLists(predictionImgList, groundTruthImgList, CSEval.args)["averages"]
    return {"mAP": averages["allAp"], "AP@50": averages["allAp50%"]}


def _mmdet_evaluateImgLists(prediction_list, groundtruth_list, args):
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as CSEval
    from cityscapesscripts.helpers.csHelpers import writeDict2JSON
    CSEval.setInstanceLabels(args)
    if os.path.isfile(args.gtInstancesFile):
        with open(args.gtInstancesFile) as json_file:
            gt_instances = json.load(json_file)
    else:
        gt_instances = _mmdet_instances2dict(groundtruth_list)
        writeDict2JSON(gt_instances, args.gtInstancesFile)
    matches = {}
    for pred, gt in zip(prediction_list, groundtruth_list):
        gt_image = np.array(Image.open(gt))  # mmcv.imfrombytes(..., flag='unchanged', backend='pillow')
        pred_info = _mmdet_readPredInfo(pred)
        cur_gt_instances_orig = CSEval.filterGtInstances(gt_instances[gt], args)
        cur_gt_instances, cur_pred_instances = CSEval.assignGt2Preds(cur_gt_instances_orig, gt_image, pred_info,
                                                                     args)
        matches[gt] = {"groundTruth": cur_gt_instances, "prediction": cur_pred_instances}
    apScores = CSEval.evaluateMatches(matches, args)
    avgDict = CSEval.computeAverages(apScores, args)
    resDict = CSEval.prepareJSONDataForResults(avgDict, apScores, args)
    CSEval.printResults(avgDict, args)
    return resDict


def _mmdet_readPredInfo(prediction_file):
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as CSEval
    printError = CSEval.printError
    predInfo = {}
    if not os.path.isfile(prediction_file):
        printError(f"Infofile '{prediction_file}' for the predictions not found.")
    with open(prediction_file) as f:
        for line in f:
            splittedLine = line.split(" ")
            if len(splittedLine) != 3:
                printError("Invalid prediction file.")
            filename = os.path.join(os.path.dirname(prediction_file), splittedLine[0])
            predInfo[filename] = {"labelID": int(float(splittedLine[1])), "conf": float(splittedLine[2])}
    return predInfo


def _mmdet_instances2dict(image_list):
    from cityscapesscripts.evaluation.instance import Instance
    from cityscapesscripts.helpers.csHelpers import id2label, labels
    instanceDict = {}
    for image_name in image_list:
        imgNp = np.array(Image.open(image_name))
        instances = {label.name: [] for label in labels}
        for instanceId in np.unique(imgNp):
            instanceObj = Instance(imgNp, instanceId)
            instances[id2label[instanceObj.labelID].name].append(instanceObj.toDict())
        instanceDict[image_name] = instances
    return instanceDict


# ---- panoptic-deeplab ----------------------------------------------------------------
def replay_panoptic_deeplab(golden, work):
    """``CityscapesPanopticEvaluator``: update() per image, then evaluate(); returns the results dict."""
    import cityscapesscripts.evaluation.evalPanopticSemanticLabeling as cityscapes_eval
    output_dir = os.path.join(work, "panoptic")
    panoptic_dir = os.path.join(output_dir, "predictions")
    os.makedirs(panoptic_dir)
    label_divisor, void_label = 1000, 255000
    predictions = []
    for image_path, frame in frames(golden):
        image_filename = os.path.basename(image_path)[:-len(".png")]
        image_id = "_".join(image_filename.split("_")[:3])
        panoptic = panoptic_prediction(golden, frame)
        panoptic[panoptic == void_label] = 0
        segments_info = []
        for pan_lab in np.unique(panoptic):
            pred_class = TRAIN_ID_TO_EVAL_ID[pan_lab // label_divisor]
            segments_info.append({"id": int(pan_lab), "category_id": int(pred_class)})
        rgb = np.zeros(panoptic.shape + (3,), dtype=np.uint8)
        rest = panoptic.copy()
        for i in range(3):
            rgb[..., i] = rest % 256
            rest //= 256
        with open("%s/%s.png" % (panoptic_dir, image_filename), mode="wb") as f:
            Image.fromarray(rgb.astype(dtype=np.uint8)).save(f, "PNG")
        predictions.append({"image_id": image_id, "file_name": image_filename + ".png",
                            "segments_info": segments_info})

    gt_json_file = os.path.join(golden, "gtFine", "cityscapes_panoptic_val.json")
    gt_folder = os.path.join(golden, "gtFine", "cityscapes_panoptic_val")
    pred_json_file = os.path.join(output_dir, "predictions.json")
    with open(gt_json_file) as f:
        json_data = json.load(f)
    json_data["annotations"] = predictions
    with open(pred_json_file, "w") as f:
        f.write(json.dumps(json_data))
    with contextlib.redirect_stdout(io.StringIO()):
        results = cityscapes_eval.evaluatePanoptic(gt_json_file, gt_folder, pred_json_file, panoptic_dir,
                                                   os.path.join(output_dir, "resultPanopticSemanticLabeling.json"))
    return results


REPLAYS = {"detectron2_instance": replay_detectron2_instance, "detectron2_semantic": replay_detectron2_semantic,
           "mmseg_metric": replay_mmseg_metric, "mmdet_metric": replay_mmdet_metric,
           "panoptic_deeplab": replay_panoptic_deeplab}
SETS = ("small", "edge")


def plain(value):
    """JSON-ready: NumPy scalars and arrays to Python numbers and lists, keys to strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


@contextlib.contextmanager
def restored_args():
    """Put back the module-level ``args`` of the evaluation modules as they were (clients change them)."""
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as instance_eval
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as pixel_eval
    saved = [(module.args, dict(vars(module.args))) for module in (instance_eval, pixel_eval)]
    try:
        yield
    finally:
        for args, state in saved:
            vars(args).clear()
            vars(args).update(state)


def run_all(golden_root):
    """``{set: {replay: result}}`` for every replay on every set (used to record the original's numbers)."""
    out = {}
    for name in SETS:
        out[name] = {}
        for replay, function in REPLAYS.items():
            work = tempfile.mkdtemp()
            try:
                with contextlib.redirect_stdout(sys.stderr), restored_args():
                    out[name][replay] = plain(function(os.path.join(golden_root, name), work))
            finally:
                shutil.rmtree(work)
    return out
