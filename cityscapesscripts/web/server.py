"""The small local HTTP server that ``csViewer`` and ``csLabelTool`` share.

Standard library only (``http.server``, threaded).  An app is a
:class:`Router` holding its routes and its static folder; :func:`run` serves
it, by default on 127.0.0.1 only.  Every path a request names is resolved with
:func:`resolve_inside`, which refuses anything outside the folders given.

How an app plugs in
-------------------
::

    from cityscapesscripts.web import server

    def make_router(root):
        router = server.Router(static_page="labeltool.html")  # a file of web/static/
        @router.get("/api/frames")
        def frames(request):
            return server.json_response({"frames": [...]})
        @router.get("/api/file/<path:rel>")
        def file(request):
            path = server.resolve_inside(root, request.params["rel"])
            return server.file_response(path)
        @router.post("/api/save/<path:rel>")        # only an app that writes registers POST
        def save(request):
            data = request.json()                     # HttpError 400 when not JSON
            ...
            return server.json_response({"saved": True})
        return router

    def main(argv=None):
        parser = server.argument_parser("csLabelTool", "what it does")
        opts = parser.parse_args(argv)
        root = server.root_of(opts)                   # ROOT or $CITYSCAPES_DATASET, checked
        return server.run(make_router(root), opts)

* Route patterns are literal segments and ``<name>`` (one segment) or
  ``<path:name>`` (the rest of the path); values arrive percent-decoded once
  in ``request.params``; query arguments in ``request.query`` (first value).
* A handler returns a :class:`Response` (``json_response``, ``png_response``, ``jpeg_response``,
  ``binary_response``, ``file_response``, ``text_response``) or raises :class:`HttpError`; a
  :class:`~cityscapesscripts.errors.CityscapesError` becomes a 404 (missing file) or 422
  with its message as JSON ``{"error": ...}``.  Any other exception is a 500,
  logged to stderr; the server goes on.
* ``GET /`` serves the router's ``static_page`` and ``GET /static/<file>`` the
  files of ``web/static/`` (shared ``common.js`` / ``common.css`` and each
  app's page).  Methods without a route answer 405, so an app that registers
  no POST route is read-only.
* When bound to a loopback address, requests whose ``Host`` header names
  another host are refused (a web page elsewhere cannot reach the server
  through DNS rebinding); ``--host`` lifts that.
"""
import http.server
import io
import ipaddress
import json
import mimetypes
import os
import re
import struct
import sys
import threading
import traceback
import urllib.parse
import webbrowser
import zlib

import numpy as np
from PIL import Image

from .. import cli
from ..errors import ArgumentError, CityscapesError, ImageError, LayoutError
from ..io import layout, png

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


class HttpError(Exception):
    """An HTTP error answer: ``status`` and a message sent as JSON ``{"error": message}``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class PathRefused(LayoutError):
    """A requested path leads outside the folders the server may read."""


def resolve_inside(root, relpath):
    """The real path of ``relpath`` below ``root``, or :class:`PathRefused`.

    ``relpath`` is a request's path, already percent-decoded once.  Refused:
    absolute paths (``/x``, ``C:x``, ``\\\\x``), any ``..`` segment (also
    when it was percent-encoded once more, ``%2e%2e``), backslashes, NUL, and
    paths whose real location (symlinks followed) is not inside the real
    ``root``.  The file need not exist (a tool may write it).

    >>> resolve_inside(STATIC, "css/x.css") == os.path.join(os.path.realpath(STATIC), "css", "x.css")
    True
    >>> resolve_inside(STATIC, "../etc/passwd")
    Traceback (most recent call last):
    ...
    cityscapesscripts.web.server.PathRefused: ../etc/passwd: '..' is not allowed in a path
    """
    rel = os.fspath(relpath)
    if "\x00" in rel or "\\" in rel:
        raise PathRefused("NUL and backslash are not allowed in a path", rel)
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        raise PathRefused("absolute paths are not allowed", rel)
    segments = rel.split("/")
    if any(".." in (s, urllib.parse.unquote(s)) for s in segments):
        raise PathRefused("'..' is not allowed in a path", rel)
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, *[s for s in segments if s not in ("", ".")]))
    if real != real_root and not real.startswith(real_root + os.sep):
        raise PathRefused("leads outside the served folder (symbolic link?)", rel)
    return real


class Request:
    """One request: ``method``, ``path`` (decoded), ``params`` (from the route), ``query``, ``body``."""

    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.params = {}

    def arg(self, name, default=None):
        """A query argument, or ``default``."""
        return self.query.get(name, default)

    def json(self):
        """The body parsed as JSON; :class:`HttpError` 400 when it is not."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise HttpError(400, f"request body is not JSON: {e}") from None


class Response:
    """An answer: status, body bytes, content type and extra headers.

    A ``compressible`` body is sent deflated to clients that accept it (zlib
    level 1: label maps are long runs, and the browser inflates natively).
    """

    def __init__(self, body, content_type, status=200, headers=None, compressible=False):
        self.body = body
        self.content_type = content_type
        self.status = status
        self.headers = headers or {}
        self.compressible = compressible


def json_response(obj, status=200):
    return Response(json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8"),
                    "application/json", status, compressible=True)


def binary_response(header, array):
    """A JSON ``header`` and an array's raw bytes in one compressible body.

    Layout: uint32 little-endian length of the header, the header (UTF-8 JSON
    with ``dtype`` and ``shape`` of the array added, padded with spaces so the
    array starts at a multiple of 8 bytes), the array in C order, little-endian.
    ``fetchBinary`` of ``static/common.js`` reads it back.
    """
    data = np.ascontiguousarray(array)
    header = dict(header, dtype=data.dtype.name, shape=list(data.shape))
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-(4 + len(text)) % 8)
    data = data.astype(data.dtype.newbyteorder("<"), copy=False)
    return Response(struct.pack("<I", len(text)) + text + data.tobytes(), "application/octet-stream",
                    compressible=True)


def text_response(text, content_type="text/plain; charset=utf-8", status=200):
    return Response(text.encode("utf-8"), content_type, status)


def png_response(array):
    """An array encoded with our PNG codec: (H, W) uint8/uint16 or (H, W, 3|4) uint8."""
    return Response(png.encode_png(array), "image/png")


def jpeg_response(image, quality=90):
    """A photo (RGB Pillow image or (H, W, 3) uint8 array) as JPEG: a third of its PNG's size."""
    out = io.BytesIO()
    (Image.fromarray(image) if isinstance(image, np.ndarray) else image).save(out, "JPEG", quality=quality)
    return Response(out.getvalue(), "image/jpeg")


def file_response(path):
    """The bytes of a file as they are on disk (404 when missing)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise HttpError(404, f"not found: {os.path.basename(path)}") from None
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(data, content_type)


class Router:
    """Routes of one app: ``(method, pattern) -> handler(request) -> Response``.

    ``static_page`` is the file of ``web/static/`` served at ``/``.
    """

    def __init__(self, static_page=None):
        self.static_page = static_page
        self._routes = []
        self.get("/")(lambda request: self._static(self.static_page))
        self.get("/static/<path:name>")(lambda request: self._static(request.params["name"]))

    def route(self, method, pattern):
        """Decorator registering ``handler`` for ``method`` and ``pattern``."""
        parts = []
        for segment in pattern.strip("/").split("/") if pattern != "/" else []:
            m = re.fullmatch(r"<(?:(path):)?(\w+)>", segment)
            if m:
                parts.append(f"(?P<{m.group(2)}>.+)" if m.group(1) else f"(?P<{m.group(2)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        regex = re.compile("/" + "/".join(parts))

        def register(handler):
            self._routes.append((method, regex, handler))
            return handler
        return register

    def get(self, pattern):
        return self.route("GET", pattern)

    def post(self, pattern):
        return self.route("POST", pattern)

    def dispatch(self, request):
        """The response of the matching route; 404 or 405 when none matches."""
        allowed = False
        for method, regex, handler in self._routes:
            m = regex.fullmatch(request.path)
            if not m:
                continue
            if method != request.method:
                allowed = True
                continue
            request.params = m.groupdict()
            try:
                return handler(request)
            except HttpError as e:
                return json_response({"error": e.message}, e.status)
            except PathRefused as e:
                return json_response({"error": str(e)}, 403)
            except CityscapesError as e:
                missing = isinstance(e, (ImageError, LayoutError)) and "not found" in e.reason
                return json_response({"error": str(e)}, 404 if missing else 422)
        if allowed:
            return json_response({"error": f"method {request.method} not allowed here"}, 405)
        return json_response({"error": f"no such page: {request.path}"}, 404)

    def _static(self, name):
        if name is None:
            raise HttpError(404, "this app has no page")
        return file_response(resolve_inside(STATIC, name))


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def make_server(router, host="127.0.0.1", port=0, quiet=True):
    """A threaded HTTP server for ``router`` (not yet serving); port 0 picks a free one."""
    check_host = _is_loopback(host)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: with Nagle's algorithm the body would wait for the
        # client's delayed ACK of the headers (40 ms on Linux) on every keep-alive request
        disable_nagle_algorithm = True

        def _handle(self):
            split = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if check_host and self.headers.get("Host", "").rsplit(":", 1)[0] not in LOOPBACK_NAMES:
                response = json_response({"error": "this server answers only to localhost"}, 403)
            else:
                request = Request(self.command, urllib.parse.unquote(split.path),
                                  dict(urllib.parse.parse_qsl(split.query)), self.headers, body)
                try:
                    response = router.dispatch(request)
                except Exception:  # a bug in a handler must not stop the server
                    traceback.print_exc()
                    response = json_response({"error": "internal error (see the server's output)"}, 500)
            body = response.body
            deflated = response.compressible and "deflate" in self.headers.get("Accept-Encoding", "")
            if deflated:
                body = zlib.compress(body, 1)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            if deflated:
                self.send_header("Content-Encoding", "deflate")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def do_HEAD(self):
            self.command = "GET"
            self._handle()

        def log_message(self, format, *args):
            if not quiet:
                super().log_message(format, *args)

    server = _Server((host, port), Handler)
    server.daemon_threads = True
    return server


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a browser closing a connection is no error
            super().handle_error(request, client_address)


def url_of(server):
    host, port = server.server_address[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/"


def start_in_thread(router, host="127.0.0.1", port=0):
    """Serve ``router`` in a daemon thread; returns the server (``url_of(server)``, ``server.shutdown()``)."""
    server = make_server(router, host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def argument_parser(prog, description):
    """The options every web tool takes: ``ROOT --host --port --no-browser -q``."""
    parser = cli.parser(description, prog=prog)
    parser.add_argument("root", nargs="?", metavar="ROOT",
                        help="dataset root (default: $CITYSCAPES_DATASET)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; "
                             "use an SSH port forward to reach it from elsewhere)")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050; 0 picks a free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    cli.add_quiet_option(parser, "print only the address served")
    return parser


def root_of(opts):
    """The dataset root from ``ROOT`` or ``$CITYSCAPES_DATASET``; LayoutError when missing."""
    return os.path.realpath(layout.dataset_root(opts.root, "the dataset folder as ROOT"))


def run(router, opts):
    """Serve ``router`` until interrupted; prints the URL and opens a browser unless told not to."""
    try:
        server = make_server(router, opts.host, opts.port, quiet=True)
    except OSError as e:
        raise ArgumentError(f"cannot listen on {opts.host}:{opts.port}: {e.strerror or e} (try --port 0)") from None
    url = url_of(server)
    print(f"Serving on {url}  (Ctrl+C to stop)", flush=True)
    if not _is_loopback(opts.host):
        cli.print_warning("listening beyond this machine; anyone who reaches this port can read the served folders")
    if not opts.no_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
