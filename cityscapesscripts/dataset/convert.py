"""csConvert: convert a Cityscapes tree to Pascal VOC, CamVid, COCO instances, COCO panoptic or Cityscapes, and
back from VOC, CamVid, COCO, GTA5 and SYNTHIA.

    csConvert --from cityscapes --to voc|camvid|coco-instances|coco-panoptic|cityscapes IN OUT [--split val]
              [--labels FILE] [--label-map cityscapes|source|FILE] [--save-images] [-j N] [-q]
    csConvert --from voc|camvid --to cityscapes ROOT OUT --split val
    csConvert --from coco-instances|coco-panoptic --to cityscapes COCO_ROOT OUT --split val [--save-polygons]
    csConvert --from gta5|synthia --to cityscapes ROOT OUT [--split train] [--save-images]

COCO_ROOT is the folder a COCO export was written to: ours, or Datumaro's (with ``annotations/``).

GTA5 and SYNTHIA sets have no splits: ``--split`` names the split written (default ``train``).

``--split`` repeats (or takes a comma list): each split is converted in turn;
``all`` converts every split (of a Cityscapes tree: as one set).

A bad item is reported (one ``ERROR:`` line each) and the others are
converted; the exit status is then 1.
"""
import argparse
import functools
import os
import sys
import time

import numpy as np

from .. import cli, parallel
from ..errors import ArgumentError, ItemError
from ..helpers.labelset import CITYSCAPES, LabelSet, save_label_set
from ..io import layout
from ..io.files import make_folders, remove_stale_temporaries
from . import camvid, cityscapes, coco, synthetic, voc


def remap_table(source, target):
    """(256,) labelId table from one label set to another by name (spaces ignored); returns it and
    the names missing."""
    table = np.full(256, target.background.id, dtype=np.uint8)
    missing = []
    for label in source.labels:
        if label.id < 0:
            continue
        other = target.find(label.name)
        if other is None or other.id < 0:
            if label.id != source.background.id:
                missing.append(label.name)
        else:
            table[label.id] = other.id
    return table, missing


def target_label_set(label_map, source):
    """The label set ``--label-map`` names: ``cityscapes``, ``source`` or a label file."""
    return {"cityscapes": CITYSCAPES, "source": source}.get(label_map) or LabelSet.load(label_map)


def to_cityscapes(dataset, out, label_map="cityscapes", save_images=False, image_ext=".png", save_dataset_meta=True,
                  outputs=("labelIds", "instanceIds", "color"), jobs=None, progress=None):
    """Write the frames of a :class:`CityscapesDataset` into a new tree under ``label_map``.

    label_map: ``'cityscapes'`` (the original table), ``'source'`` (the input's
    labels) or a label file.  Frames keep their names and folders.  Returns
    ``(labels missing from the map, [ItemError] failed)``; missing labels
    became background (never silently dropped).
    """
    target = target_label_set(label_map, dataset.label_set)
    table, missing = remap_table(dataset.label_set, target)
    if save_dataset_meta:  # first: a label set that cannot be written stops before any frame
        make_folders(out)
        save_label_set(out, target, "dataset_meta")
    for split in sorted({frame.split for frame in dataset}):
        cityscapes.make_split_folders(out, split, dataset.annotation_type)
    task = functools.partial(_relabel_frame, out=out, table=table, target=target, save_images=save_images,
                             image_ext=image_ext, outputs=outputs)
    failed = [r for r in parallel.map_items(task, list(dataset), jobs, "cityscapes", progress, cityscapes.frame_name)
              if isinstance(r, ItemError)]
    return missing, failed


def _relabel_frame(frame, out, table, target, save_images, image_ext, outputs):
    mapped = instance_ids = None
    if frame.annotated:
        ids = frame.instance_ids().astype(np.int64)
        mapped = table[np.where(ids >= 1000, ids // 1000, ids)]  # label ids, read once with the instances
        keep_instance = (ids >= 1000) & target.has_instances[mapped]
        instance_ids = np.where(keep_instance, mapped.astype(np.int64) * 1000 + ids % 1000, mapped)
    image = frame.image() if save_images and layout.CAMERA in frame.paths else None
    cityscapes.write_frame(out, frame.split, frame.id, mapped, instance_ids, image, target,
                           outputs, image_ext, frame.annotation_type, folder=frame.city)


def voc_table(classes, label_set):
    """(256,) VOC index -> label id of ``label_set`` by name (spaces ignored); void and unknown names
    give the background.  Returns the table and the names missing from the label set."""
    table = np.full(256, label_set.background.id, dtype=np.uint8)
    missing = []
    for index, (name, _) in enumerate(classes):
        label = label_set.find(name)
        if label is not None and label.id >= 0:
            table[index] = label.id
        elif name.lower() not in ("background", *voc.VOID_NAMES):
            missing.append(name)
    return table, missing


def instances_from_objects(label_ids, objects, label_set):
    """``id * 1000 + k`` instance map from VOC object indices: each object takes the label most of its
    pixels have; objects of classes without instances stay label ids."""
    instance_ids = label_ids.astype(np.int64)
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
    return instance_ids


def write_items(items, out, split, label_set=CITYSCAPES, save_images=False, jobs=None, desc="items", progress=None):
    """Write the items of another format as the Cityscapes frames of ``split``, on ``jobs`` processes.

    items : ``[(name, read, frame id)]``; ``read()`` gives a :class:`~.cityscapes.SourceItem` (and raises for a
    bad item, which then fails alone).  Camera images are written with ``save_images``: a PNG as
    its bytes, another format decoded and written as PNG; an image whose size is not the labels'
    fails its item.  Returns ``(frame ids written, [ItemError] failed)``.
    """
    cityscapes.make_split_folders(out, split)
    task = functools.partial(_write_item, out=out, split=split, label_set=label_set, save_images=save_images)
    ids, failed = [], []
    for result in parallel.map_items(task, items, jobs, desc, progress):
        if isinstance(result, parallel.ItemError):
            failed.append(result)
        elif result is not None:
            ids.append(result)
    return ids, failed


def _write_item(job, out, split, label_set, save_images):
    """Write one item as a Cityscapes frame; its frame id, or None when it has nothing to write."""
    _, read, frame_id = job
    item = read()
    image = cityscapes.camera_image(item.image_path, item.label_ids) if save_images and item.image_path else None
    if item.label_ids is None and image is None:
        return None
    cityscapes.write_frame(out, split, frame_id, item.label_ids, item.instance_ids, image, label_set,
                           polygons=item.polygons)
    return frame_id


def from_voc(voc_root, out, split="val", label_set=CITYSCAPES, save_images=False, jobs=None, progress=None):
    """A VOC segmentation set into the Cityscapes layout.

    Returns ``(frame ids written, names not in the label set, [ItemError] failed)``.
    Class names are matched to ``label_set`` by name (Datumaro's ``trafficlight``
    is ``traffic light``); void and unknown names become the background
    label; objects of classes with instances become ``id * 1000 + k``.
    Item names are checked (inside the set's folders) before anything is
    read; a refused name is one of the failures and the other items are
    written.  Items whose names are not ``{city}_{seq}_{frame}`` are written
    as ``default_{crc}_{index}``.
    """
    return _from_class_masks(voc.read_voc(voc_root, split), out, split, label_set, save_images, jobs, "voc",
                             progress)


def from_camvid(camvid_root, out, split="val", label_set=CITYSCAPES, save_images=False, jobs=None, progress=None):
    """A CamVid set (Datumaro's layout) into the Cityscapes layout, as :func:`from_voc` (no objects:
    every class is written as its label id)."""
    return _from_class_masks(camvid.read_camvid(camvid_root, split), out, split, label_set, save_images, jobs,
                             "camvid", progress)


def _from_class_masks(parsed, out, split, label_set, save_images, jobs, desc, progress):
    """Write the ``(classes, items, refused)`` a VOC or CamVid reader parsed; returns ``(ids, missing, failed)``."""
    classes, items, failed = parsed
    table, missing = voc_table(classes, label_set)
    jobs_items = [(item, functools.partial(_class_mask_item, read, table, label_set),
                   cityscapes.cityscapes_frame_id(item, position)) for position, (item, read) in enumerate(items)]
    ids, more = write_items(jobs_items, out, split, label_set, save_images, jobs, desc, progress)
    return ids, missing, failed + more


def _class_mask_item(read, table, label_set):
    semantic, objects, image_path = read()
    label_ids = instance_ids = None
    if semantic is not None:
        label_ids = table[semantic]
        instance_ids = label_ids if objects is None else instances_from_objects(label_ids, objects, label_set)
    return cityscapes.SourceItem(label_ids, instance_ids, image_path)


SOURCE_NAMES = {"voc": "VOC", "camvid": "CamVid", "coco-instances": "COCO", "coco-panoptic": "COCO panoptic", "gta5": "GTA5",
                "synthia": "SYNTHIA"}


@cli.entry_point
def main(argv=None):
    parser = cli.parser(__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", choices=["cityscapes", "voc", "camvid", "coco-instances",
                                                          "coco-panoptic", *synthetic.LAYOUTS],
                        default="cityscapes", help="format of the input (default: cityscapes)")
    parser.add_argument("--to", dest="target", required=True,
                        choices=["voc", "camvid", "coco-instances", "coco-panoptic", "cityscapes"],
                        help="format to write")
    parser.add_argument("input", help="the dataset to read (a Cityscapes tree, or a set in the --from format)")
    parser.add_argument("output", help="folder to write the converted dataset to")
    cli.add_split_option(parser)
    parser.add_argument("--labels", metavar="FILE", help="label set of the input (default: the dataset's own)")
    parser.add_argument("--label-map", default="cityscapes", help="cityscapes, source or a label file "
                                                                  "(--to cityscapes)")
    parser.add_argument("--voc-full-table", action="store_true",
                        help="VOC and CamVid classes: every label id, not the 19")
    parser.add_argument("--save-images", action="store_true",
                        help="also write the camera images (--to voc: JPEG; otherwise PNG, a PNG source copied as it is)")
    parser.add_argument("--save-polygons", action="store_true",
                        help="--from coco-instances: also write the instance polygons as *_polygons.json")
    parser.add_argument("--image-ext", default=".png",
                        help="file type of the images written with --save-images --to cityscapes (default: .png)")
    cli.add_jobs_option(parser)
    cli.add_quiet_option(parser)
    cli.add_scheduler_option(parser)
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    if opts.source != "cityscapes" and opts.target != "cityscapes":
        raise ArgumentError(f"a {SOURCE_NAMES[opts.source]} set converts to 'cityscapes' only")
    remove_stale_temporaries(folder for folder, _, _ in os.walk(opts.output))  # a killed run's
    say = cli.printer(opts.quiet)
    label_set = LabelSet.load(opts.labels) if opts.labels else None
    splits = cli.splits_of(opts)
    if splits is None and opts.source in ("voc", "camvid"):
        splits = (voc if opts.source == "voc" else camvid).splits_of(opts.input)
    if splits is None and opts.source.startswith("coco"):
        splits = coco.coco_splits(opts.input, opts.source)
    if opts.source in synthetic.LAYOUTS:
        splits = opts.split or ["train"]
        if cli.ALL_SPLITS in splits:
            raise ArgumentError(f"a {opts.source} set has no splits: --split names the split to write")
    failed = []
    with cli.run_of(opts) as run:
        for split in splits or [None]:
            failed += _convert_split(opts, split, label_set, say, run)
    for failure in failed:
        cli.print_error(failure)
    say(f"done in {time.perf_counter() - start:.1f} s")
    return cli.FAILED if failed else cli.OK


def _convert_split(opts, split, label_set, say, jobs):
    """Convert one split (None: every split of a Cityscapes tree, as one set) on ``jobs`` (the tool's run);
    returns the failed items."""
    missing = []
    if opts.source in ("voc", "camvid"):
        ids, missing, failed = (from_voc if opts.source == "voc" else from_camvid)(
            opts.input, opts.output, split, label_set or CITYSCAPES, opts.save_images, jobs)
        say(f"{len(ids)} frames written to {opts.output}")
    elif opts.source.startswith("coco"):
        items, missing, failed = coco.read_coco(opts.input, opts.source, split, label_set or CITYSCAPES,
                                                opts.save_polygons)
        ids, more = write_items(items, opts.output, split, label_set or CITYSCAPES, opts.save_images, jobs, "coco")
        failed += more
        say(f"{len(ids)} frames written to {opts.output}")
    elif opts.source in synthetic.LAYOUTS:
        items, failed = synthetic.read_set(opts.input, opts.source)
        ids, more = write_items(items, opts.output, split, CITYSCAPES, opts.save_images, jobs, opts.source)
        failed += more
        say(f"{len(ids)} frames written to {opts.output}")
    else:
        dataset = cityscapes.CityscapesDataset(opts.input, split, label_set=label_set)
        if opts.target in ("voc", "camvid"):
            ids, failed = (voc.write_voc if opts.target == "voc" else camvid.write_camvid)(
                dataset, opts.output, opts.voc_full_table, opts.save_images, jobs)
            say(f"{len(ids)} items written to {opts.output}")
        elif opts.target == "coco-instances":
            path, failed = coco.write_coco_instances(dataset, os.path.join(
                opts.output, f"instances_{dataset.split or 'all'}.json"), jobs)
            say(f"wrote {path}")
        elif opts.target == "coco-panoptic":
            path, failed = coco.write_coco_panoptic(dataset, opts.output, jobs)
            say(f"wrote {path}")
        else:
            missing, failed = to_cityscapes(dataset, opts.output, opts.label_map, opts.save_images,
                                            opts.image_ext, jobs=jobs)
            say(f"{len(dataset) - len(failed)} frames written to {opts.output}")
        failed = dataset.failures + failed  # files refused while reading the tree, then the frames that failed
    for name in missing:
        cli.print_warning(f"label {name!r} is not in the target label map; its pixels became background")
    return failed


if __name__ == "__main__":
    sys.exit(main())
