"""The golden sets' frames as arrays, for the accumulators and the framework adapters: what a data loader
and a model would give (label ids, instance ids, predicted masks with labels and scores, panoptic id maps)."""
import json
import os

import numpy as np

from cityscapesscripts.evaluation import instance_files
from cityscapesscripts.io import png

from conftest import golden_files


def semantic_frames(root):
    """``[(frame, predicted label ids, label ids, instance ids)]`` of a golden set, in file order."""
    frames = []
    for gt in golden_files(root, "*_gtFine_labelIds.png"):
        frame = os.path.basename(gt)[:-len("_gtFine_labelIds.png")]
        prediction = png.read_label_map(os.path.join(root, "results", "semantic", frame + "_pred.png"))
        frames.append((frame, prediction, png.read_label_map(gt),
                       png.read_ids_16bit(gt.replace("labelIds", "instanceIds"))))
    return frames


def instance_frames(root):
    """``[(frame, (N, H, W) bool masks, label ids, scores, instance ids)]`` of a golden set, in file order."""
    frames = []
    for gt in golden_files(root, "*_gtFine_instanceIds.png"):
        frame = os.path.basename(gt)[:-len("_gtFine_instanceIds.png")]
        ids = png.read_ids_16bit(gt)
        entries = instance_files.read_prediction_list(os.path.join(root, "results", "instance", frame + "_pred.txt"))
        masks = np.stack([instance_files.read_mask(p.name) != 0 for p in entries]) if entries \
            else np.zeros((0,) + ids.shape, bool)
        frames.append((frame, masks, [p.label_id for p in entries], [p.confidence for p in entries], ids))
    return frames


def panoptic_frames(root):
    """``(categories, [(frame, predicted RGB ids, predicted segments, RGB ids, segments)])`` of a golden set,
    in the ground-truth JSON's order."""
    gt_json = os.path.join(root, "gtFine", "cityscapes_panoptic_val.json")
    pred_json = os.path.join(root, "results", "panoptic", "cityscapes_panoptic_val.json")
    with open(gt_json) as f:
        gt_data = json.load(f)
    with open(pred_json) as f:
        predictions = {a["image_id"]: a for a in json.load(f)["annotations"]}
    frames = []
    for g in gt_data["annotations"]:
        p = predictions[g["image_id"]]
        frames.append((g["image_id"], png.read_rgb(os.path.join(pred_json[:-5], p["file_name"])), p["segments_info"],
                       png.read_rgb(os.path.join(gt_json[:-5], g["file_name"])), g["segments_info"]))
    return {c["id"]: c for c in gt_data["categories"]}, frames
