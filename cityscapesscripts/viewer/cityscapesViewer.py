"""csViewer: look at images, annotations and predictions in a web browser.

    csViewer [ROOT] [--pred DIR] [--trainids] [--labels FILE] [--host H] [--port P] [--no-browser]

The original was a Qt window; this serves a page (``cityscapesscripts.web``)
on 127.0.0.1, which also works through an SSH port forward
(``ssh -L 8050:localhost:8050 gpu-box``, then open http://localhost:8050/).
ROOT defaults to ``$CITYSCAPES_DATASET``.  Read-only: nothing is written.
"""
import sys

from .. import cli
from ..web import server
from ..web.viewer import Viewer, make_router


@cli.entry_point
def main(argv=None):
    parser = server.argument_parser("csViewer", "Look at Cityscapes images, annotations and predictions "
                                                "in a web browser.")
    parser.add_argument("--pred", metavar="DIR",
                        help="prediction folder: semantic PNGs, instance txt + masks, panoptic JSON + PNGs")
    cli.add_train_ids_option(parser, "semantic predictions hold train ids", "--trainids")
    cli.add_labels_option(parser)
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    viewer = Viewer(server.root_of(opts), opts.pred, opts.train_ids, cli.label_set_of(opts) if opts.labels else None)
    if not opts.quiet:
        print(f"csViewer: {len(viewer.frames)} images under {viewer.root}"
              + (f", predictions from {viewer.pred}" if viewer.pred else ""))
    return server.run(make_router(viewer), opts)


if __name__ == "__main__":
    sys.exit(main())
