"""csViewer: look at images, annotations and predictions in a web browser.

    csViewer [ROOT] [--pred DIR] [--trainids] [--labels FILE] [--host H] [--port P] [--no-browser]

The original was a Qt window; this serves a page (``cityscapesscripts.web``)
on 127.0.0.1, which also works through an SSH port forward
(``ssh -L 8050:localhost:8050 gpu-box``, then open http://localhost:8050/).
ROOT defaults to ``$CITYSCAPES_DATASET``.  Read-only: nothing is written.
"""
import sys

from ..cli import label_set_of, report
from ..errors import CityscapesError
from ..web import server
from ..web.viewer import Viewer, make_router


def main(argv=None):
    parser = server.argument_parser("csViewer", "Look at Cityscapes images, annotations and predictions "
                                                "in a web browser.")
    parser.add_argument("--pred", metavar="DIR",
                        help="prediction folder: semantic PNGs, instance txt + masks, panoptic JSON + PNGs")
    parser.add_argument("--trainids", action="store_true", help="semantic predictions hold train ids")
    parser.add_argument("--labels", metavar="FILE",
                        help="custom label set (label_colors.txt or dataset_meta.json)")
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        viewer = Viewer(server.root_of(opts), opts.pred, opts.trainids, label_set_of(opts) if opts.labels else None)
    except CityscapesError as e:
        return report(e)
    print(f"csViewer: {len(viewer.frames)} images under {viewer.root}"
          + (f", predictions from {viewer.pred}" if viewer.pred else ""))
    return server.run(make_router(viewer), opts)


if __name__ == "__main__":
    sys.exit(main())
