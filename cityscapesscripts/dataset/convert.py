"""csConvert: convert a Cityscapes tree to Pascal VOC, COCO instances, COCO panoptic or Cityscapes, and back from VOC.

    csConvert --from cityscapes --to voc|coco-instances|coco-panoptic|cityscapes IN OUT [--split val]
              [--labels FILE] [--label-map cityscapes|source|FILE] [--save-images] [-j N]
    csConvert --from voc --to cityscapes VOC_ROOT OUT --split val
"""
import argparse
import os
import sys
import time

import numpy as np

from .. import cli
from ..errors import CityscapesError
from ..helpers.labelset import CITYSCAPES, LabelSet
from ..io import png
from . import cityscapes, coco, voc


def remap_table(source, target):
    """(256,) labelId table from one label set to another by name; returns it and the names missing."""
    table = np.full(256, target.background.id, dtype=np.uint8)
    missing = []
    for label in source.labels:
        if label.id < 0:
            continue
        other = target.name2label.get(label.name)
        if other is None or other.id < 0:
            if label.id != source.background.id:
                missing.append(label.name)
        else:
            table[label.id] = other.id
    return table, missing


def to_cityscapes(dataset, out, label_map="cityscapes", save_images=False, image_ext=".png", save_dataset_meta=True,
                  outputs=("labelIds", "instanceIds", "color")):
    """Write the frames of a :class:`CityscapesDataset` into a new tree under ``label_map``.

    label_map: ``'cityscapes'`` (the original table), ``'source'`` (the input's
    labels) or a label file.  Labels missing from the map become background
    and are returned (never silently dropped).
    """
    target = {"cityscapes": CITYSCAPES, "source": dataset.label_set}.get(label_map) or LabelSet.load(label_map)
    table, missing = remap_table(dataset.label_set, target)
    has_instances = np.array([target.id2label.get(i, target.background).hasInstances for i in range(256)])
    for frame in dataset:
        ids = frame.instance_ids().astype(np.int64)
        mapped = table[np.where(ids >= 1000, ids // 1000, ids)]  # the label ids, read once with the instances
        keep_instance = (ids >= 1000) & has_instances[mapped]
        instance_ids = np.where(keep_instance, mapped.astype(np.int64) * 1000 + ids % 1000, mapped)
        image = frame.image() if save_images and "leftImg8bit" in frame.paths else None
        cityscapes.write_frame(out, frame.split, frame.id, mapped, instance_ids, image, target,
                               outputs, image_ext, dataset.annotation_type)
    if save_dataset_meta:
        cityscapes.save_label_set(out, target, "dataset_meta")
    return missing


def from_voc(voc_root, out, split="val", label_set=CITYSCAPES, save_images=False):
    """A VOC segmentation set into the Cityscapes layout; returns ``(frame ids, names not in the label set)``.

    Class names are matched to ``label_set`` by name; VOC index 255 and
    unknown names become the background label; object indices of classes
    with instances become ``id * 1000 + k``.
    """
    names, items = voc.read_voc(voc_root, split)
    table = np.full(256, label_set.background.id, dtype=np.uint8)
    missing = []
    for index, name in enumerate(names):
        label = label_set.name2label.get(name)
        if label is not None and label.id >= 0:
            table[index] = label.id
        elif name != "background":
            missing.append(name)
    ids = []
    for position, (item, semantic, objects, image_path) in enumerate(items):
        frame_id = cityscapes.cityscapes_frame_id(item, position)
        label_ids = table[semantic]
        instance_ids = label_ids.astype(np.int64)
        if objects is not None:
            counters = {}
            for value in np.unique(objects).tolist():
                if value in (0, voc.IGNORE):
                    continue
                inside = objects == value
                label_id = int(np.bincount(label_ids[inside]).argmax())
                label = label_set.id2label.get(label_id)
                if label is not None and label.hasInstances:
                    k = counters.get(label_id, 0)
                    counters[label_id] = k + 1
                    instance_ids[inside & (label_ids == label_id)] = label_id * 1000 + k
        image = png.read_rgb(image_path) if save_images and image_path else None
        cityscapes.write_frame(out, split, frame_id, label_ids, instance_ids, image, label_set)
        ids.append(frame_id)
    return ids, missing


@cli.entry_point
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", choices=["cityscapes", "voc"], default="cityscapes")
    parser.add_argument("--to", dest="target", required=True,
                        choices=["voc", "coco-instances", "coco-panoptic", "cityscapes"])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--split", default="val")
    parser.add_argument("--labels", metavar="FILE", help="label set of the input (default: the dataset's own)")
    parser.add_argument("--label-map", default="cityscapes", help="cityscapes, source or a label file "
                                                                  "(--to cityscapes)")
    parser.add_argument("--voc-full-table", action="store_true", help="VOC classes: every label id, not the 19")
    parser.add_argument("--save-images", action="store_true")
    parser.add_argument("--image-ext", default=".png")
    parser.add_argument("-j", "--jobs", type=int, default=0)
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    try:
        label_set = LabelSet.load(opts.labels) if opts.labels else None
        if opts.source == "voc":
            if opts.target != "cityscapes":
                raise ValueError("a VOC set converts to 'cityscapes' only")
            ids, missing = from_voc(opts.input, opts.output, opts.split, label_set or CITYSCAPES, opts.save_images)
            print(f"{len(ids)} frames written to {opts.output}")
        else:
            dataset = cityscapes.CityscapesDataset(opts.input, opts.split, label_set=label_set)
            missing = []
            if opts.target == "voc":
                ids = voc.write_voc(dataset, opts.output, opts.voc_full_table, opts.save_images)
                print(f"{len(ids)} items written to {opts.output}")
            elif opts.target == "coco-instances":
                path = coco.write_coco_instances(dataset, os.path.join(
                    opts.output, f"instances_{dataset.split or 'all'}.json"), opts.jobs or None)
                print(f"wrote {path}")
            elif opts.target == "coco-panoptic":
                from ..preparation.createPanopticImgs import convert2panoptic
                convert2panoptic(os.path.join(dataset.root, dataset.annotation_type), opts.output, False,
                                 [dataset.split], dataset.label_set, opts.jobs or None, quiet=True)
                print(f"wrote {os.path.join(opts.output, f'cityscapes_panoptic_{dataset.split}.json')}")
            else:
                missing = to_cityscapes(dataset, opts.output, opts.label_map, opts.save_images, opts.image_ext)
                print(f"{len(dataset)} frames written to {opts.output}")
        for name in missing:
            print(f"WARNING: label {name!r} is not in the target label map; its pixels became background",
                  file=sys.stderr)
    except (CityscapesError, ValueError, OSError) as e:
        return cli.report(e)
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
