"""``csLabelTool``: edit Cityscapes polygon annotations in the browser.

The routes of the label tool on the shared server (:mod:`.server`); the page
is ``web/static/labeltool.html``.  Reading and writing the files is the work
of :mod:`cityscapesscripts.annotation.editing`; the live preview is drawn by
the preparation engine (:mod:`cityscapesscripts.preparation.rasterize`), so
it shows exactly the label image the preparation tools will write.

Routes (``<rel>``: a path below the dataset root)::

    GET  /api/frames                 every *_polygons.json with its camera image
    GET  /api/labels                 the label set in use, for the label picker and the preview colours
    GET  /api/annotation/<rel>       the editable content of a polygon file (and its draft)
    GET  /api/image/<rel>            a camera image
    POST /api/save/<rel>             {version, objects} -> the file as saved; 409 on a conflict,
                                     with the file as it is now ("current", null when unreadable)
    POST /api/draft/<rel>            {draft}: keep unsaved edits in the user cache folder
    POST /api/discard-draft/<rel>
    POST /api/preview/<rel>          {objects} -> the label ids image (PNG) the preparation draws
    GET  /api/corrections/<rel>      the correction boxes of the image (original's XML beside the annotations)
    POST /api/corrections/<rel>      {corrections} -> written to {gtFine}_corrections/{split}/{city}/{frame}.xml
"""
import os
import urllib.parse

from ..annotation import corrections as correction_boxes
from ..annotation import editing
from .. import cli
from ..errors import AnnotationError, CityscapesError, SaveConflictError
from ..helpers.labelset import GROUP_SUFFIX, LabelSet
from ..io import layout
from ..preparation.rasterize import encode, rasterize_objects
from . import server

POLYGONS_SUFFIX = layout.POLYGONS_SUFFIX
DEFAULT_LABEL = "static"  # the original's first choice for a new object


def frames_of(root):
    """``[{"name", "polygons", "image"}]`` for every polygon file below ``root`` (paths relative to it)."""
    frames = []
    for path in layout.find_annotations(root):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        kind, split, city = rel.split("/")[:3]
        image = os.path.relpath(layout.frame_file(root, layout.CAMERA, split, city, layout.frame_id(path)),
                                root).replace(os.sep, "/")
        frames.append({"name": f"{kind}/{split}/{layout.frame_id(path)}", "polygons": rel,
                       "image": image if os.path.isfile(os.path.join(root, image)) else None})
    return frames


def label_choices(label_set):
    """The labels offered for an object, sorted by name as the original lists them; a label with
    instances is offered as a group too (``cargroup``)."""
    choices = []
    for label in label_set.labels:
        choices.append({"name": label.name, "id": label.id, "color": list(label.color)})
        if label.hasInstances:
            choices.append({"name": label.name + GROUP_SUFFIX, "id": label.id, "color": list(label.color)})
    return sorted(choices, key=lambda c: c["name"])


def refuse_cross_site(request):
    """Writes come only from the tool's own page.

    A page of another site can send the browser to this server (the host check
    of :mod:`.server` does not see it: the Host is ours), but only as a
    "simple" request: its body cannot be typed ``application/json`` without
    the server's consent, and the browser names the foreign ``Origin``.
    """
    content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
    if content_type != "application/json":
        raise server.HttpError(415, "expected a JSON body (Content-Type: application/json)")
    origin = request.headers.get("Origin")
    if origin is not None and urllib.parse.urlsplit(origin).netloc != request.headers.get("Host"):
        raise server.HttpError(403, f"requests from {origin} are not accepted")


def check_objects(objects):
    """The shape of an edit's ``objects``, before it reaches the editor: a list of JSON objects, each
    with a string ``label`` and, when present, a ``polygon`` of ``[x, y]`` number pairs;
    :class:`~.server.HttpError` 400 naming the first object that is not (values are the editor's to check)."""
    if not isinstance(objects, list):
        raise server.HttpError(400, f"objects must be a list, got {type(objects).__name__}")
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise server.HttpError(400, f"object {index} must be a JSON object, got {type(obj).__name__}")
        if not isinstance(obj.get("label"), str):
            raise server.HttpError(400, f"object {index}: label must be a string")
        polygon = obj.get("polygon")
        if polygon is not None and not (type(polygon) is list and all(
                type(p) is list and len(p) == 2 and type(p[0]) in _NUMBERS and type(p[1]) in _NUMBERS
                for p in polygon)):
            raise server.HttpError(400, f"object {index}: polygon must be a list of [x, y] numbers")
    return objects


_NUMBERS = (int, float)  # as JSON numbers parse; not bool


def make_router(root, label_set=None):
    """The label tool's routes for the dataset at ``root``."""
    root = os.path.realpath(root)
    label_set = label_set or LabelSet.for_dataset(root)
    router = server.Router(static_page="labeltool.html")

    def polygon_file(request):
        path = server.resolve_inside(root, request.params["rel"])
        if not path.endswith(POLYGONS_SUFFIX):
            raise server.HttpError(403, f"only *{POLYGONS_SUFFIX} files are edited here")
        return path

    def body_of(request, *keys):
        refuse_cross_site(request)
        data = request.json()
        if not isinstance(data, dict) or any(k not in data for k in keys):
            raise server.HttpError(400, f"expected a JSON object with {', '.join(keys)}")
        return data

    @router.get("/api/frames")
    def frames(request):
        # the root: for the command that starts csViewer on it (the link back to the viewer)
        return server.json_response({"frames": frames_of(root), "root": root})

    @router.get("/api/labels")
    def labels(request):
        choices = label_choices(label_set)
        names = [c["name"] for c in choices]
        default = DEFAULT_LABEL if DEFAULT_LABEL in names else names[0]
        return server.json_response({"labels": choices, "default": default, "labelSet": label_set.name,
                                     "idColors": label_set.id_to_color.tolist()})

    @router.get("/api/annotation/<path:rel>")
    def annotation(request):
        path = polygon_file(request)
        return server.json_response({"annotation": editing.load_annotation(path), "draft": editing.load_draft(path)})

    @router.get("/api/image/<path:rel>")
    def image(request):
        return server.file_response(server.resolve_inside(root, request.params["rel"]))

    @router.post("/api/save/<path:rel>")
    def save(request):
        path = polygon_file(request)
        data = body_of(request, "version", "objects")
        if data["version"] is not None and not isinstance(data["version"], str):
            raise server.HttpError(400, "version must be a string or null")
        check_objects(data["objects"])
        try:
            editing.save_annotation(path, data["objects"], data["version"], label_set)
        except ValueError as e:
            raise server.HttpError(400, f"{request.params['rel']}: {e}") from None
        except AnnotationError as e:
            # nothing was written: keep the edit where the user finds it again, and say where
            status = 409 if isinstance(e, SaveConflictError) else 422
            message = f"{request.params['rel']}: {e.reason}"
            try:
                draft = editing.save_draft(path, {"version": data["version"], "objects": data["objects"]})
                message += f". Your edits are kept in the page and as a draft in {draft}"
            except CityscapesError as draft_error:
                message += f". The draft could not be kept either ({draft_error})"
            answer = {"error": message}
            if isinstance(e, SaveConflictError):  # the page offers to reapply the edits or to overwrite
                try:
                    answer["current"] = editing.load_annotation(path)
                except AnnotationError:  # removed, or no longer valid JSON: nothing to reapply onto
                    answer["current"] = None
            return server.json_response(answer, status)
        editing.discard_draft(path)
        return server.json_response({"annotation": editing.load_annotation(path)})

    @router.post("/api/draft/<path:rel>")
    def draft(request):
        path = polygon_file(request)
        return server.json_response({"draft": editing.save_draft(path, body_of(request, "draft")["draft"])})

    @router.post("/api/discard-draft/<path:rel>")
    def discard_draft(request):
        refuse_cross_site(request)
        editing.discard_draft(polygon_file(request))
        return server.json_response({"discarded": True})

    @router.post("/api/preview/<path:rel>")
    def preview(request):
        path = polygon_file(request)
        objects = check_objects(body_of(request, "objects")["objects"])
        size = editing.load_annotation(path)
        try:
            drawn = ((i, o["label"], o.get("deleted", 0), o["polygon"]) for i, o in enumerate(objects))
            object_map = rasterize_objects(drawn, size["imgWidth"], size["imgHeight"], label_set)
        except (KeyError, TypeError) as e:
            raise server.HttpError(400, f"objects must have a label and a polygon ({e})") from None
        # label ids (the page colours them): a third of the time of encoding the colour image
        return server.png_response(encode(object_map, "labelIds"))

    def corrections_of(request):
        """The correction file of the polygon file a request names (below the root, checked)."""
        polygon_file(request)
        rel = correction_boxes.corrections_file(request.params["rel"])
        return rel, server.resolve_inside(root, rel)

    @router.get("/api/corrections/<path:rel>")
    def corrections(request):
        rel, path = corrections_of(request)
        return server.json_response({"file": rel, "corrections": correction_boxes.read_corrections(path)})

    @router.post("/api/corrections/<path:rel>")
    def save_corrections(request):
        rel, path = corrections_of(request)
        boxes = body_of(request, "corrections")["corrections"]
        size = editing.load_annotation(polygon_file(request))
        image = f"{layout.frame_id(request.params['rel'])}_{layout.CAMERA}.png"  # the name the original records
        try:
            correction_boxes.write_corrections(path, boxes, image, rel.split("/")[2],
                                               size["imgWidth"], size["imgHeight"])
        except ValueError as e:
            raise server.HttpError(400, f"{rel}: {e}") from None
        return server.json_response({"file": rel, "corrections": correction_boxes.read_corrections(path)})

    return router


@cli.entry_point
def main(argv=None):
    parser = server.argument_parser(
        "csLabelTool", "Edit the *_polygons.json annotations of a Cityscapes-style dataset in the browser.")
    cli.add_labels_option(parser)
    opts = parser.parse_args(argv)
    return server.run(make_router(server.root_of(opts), cli.label_set_of(opts) if opts.labels else None), opts)
