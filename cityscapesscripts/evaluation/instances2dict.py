"""Ground-truth instances of ``instanceIds`` images as the original's dict.

``instances2dict(files)`` gives ``{absolute path: {label name: [instance dict]}}``.
"""
import os
import sys

from cityscapesscripts.evaluation.instance import Instance  # noqa: F401  (the original module's namespace)
from cityscapesscripts.evaluation.instance_ap import ground_truth_instances
from cityscapesscripts.io import png
from cityscapesscripts.lazy import star_import

# the original module's namespace: csHelpers' names (it star-imported csHelpers), Pillow's when first asked for
__getattr__ = star_import(__name__, "cityscapesscripts.helpers.csHelpers")


def instances2dict(imageFileList, verbose=False):
    if not isinstance(imageFileList, (list, tuple)):
        imageFileList = [imageFileList]
    if verbose:
        print(f"Processing {len(imageFileList)} images...")
    out = {}
    for count, path in enumerate(imageFileList, 1):
        out[os.path.abspath(path)] = ground_truth_instances(png.read_label_map(path), name=path)
        if verbose:
            print(f"\rImages Processed: {count}", end=" ", flush=True)
    if verbose:
        print("")
    return out


def main(argv=None):
    files = [a for a in (sys.argv[1:] if argv is None else argv) if "png" in a]
    instances2dict(files, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
