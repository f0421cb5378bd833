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
* Bound beyond this machine (or with ``--token``), every request must carry
  the run's token: ``?token=...`` in the printed URL, which sets a cookie
  (``HttpOnly``, ``SameSite=Strict``) that the page's own requests then send;
  without it the answer is 403.
* Malformed requests are answered, never dropped, and never with a 5xx: a
  bad or missing ``Content-Length`` 400 / 411, a body over
  :data:`MAX_BODY_BYTES` 413, a body that stops coming 408, a request line
  or headers too long 414 / 431,
  a body that is not JSON (or nests deeper than :data:`MAX_JSON_DEPTH`) 400
  from :meth:`Request.json`, a query argument that is not a number in range
  400 from :meth:`Request.int_arg`.  An answer given before the body was
  read closes the connection (the body would be taken for the next request).
"""
import http
import http.server
import io
import ipaddress
import json
import math
import mimetypes
import os
import re
import secrets
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
from ..io import files, layout, png

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
MAX_BODY_BYTES = 32 << 20  # an edited annotation is a few MB at most
MAX_JSON_DEPTH = 32  # a label tool edit nests 5 deep; parsing and walking stay far from the recursion limit
REQUEST_TIMEOUT_S = 60  # a client that stops sending in the middle of a request frees its thread


class HttpError(Exception):
    """An HTTP error answer: ``status`` and a message sent as JSON ``{"error": message}``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class PathRefused(LayoutError):
    """A requested path leads outside the folders the server may read."""


def resolve_inside(root, relpath, linked_levels=files.DATASET_LINKED_LEVELS):
    """The real path of ``relpath`` below ``root``, or :class:`PathRefused`.

    ``relpath`` is a request's path, already percent-decoded once.  Refused:
    absolute paths (``/x``, ``C:x``, ``\\\\x``), any ``..`` segment (also
    when it was percent-encoded once more, ``%2e%2e``), backslashes, NUL, and
    paths whose real location (symlinks followed) leads out of the dataset
    by the rule of every tool (:func:`cityscapesscripts.io.files.real_location`):
    ``root`` and its first ``linked_levels`` folders (``{type}/{split}`` of a
    dataset root, say ``leftImg8bit`` linked to another disk) may be links
    to anywhere; below them, links leading out are refused.  The file need
    not exist (a tool may write it).

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
    path = os.path.join(os.path.abspath(root), *[s for s in segments if s not in ("", ".")])
    real, inside = files.real_location(path, root, linked_levels)
    if not inside:
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

    def int_arg(self, name, default, low, high):
        """A query argument that is a whole number from ``low`` to ``high`` (ASCII digits only: ``"²"`` is
        a digit to ``str.isdigit``), or ``default`` when absent; :class:`HttpError` 400 otherwise."""
        text = self.query.get(name)
        if text is None:
            return default
        if not (re.fullmatch(r"[0-9]{1,18}", text) and low <= int(text) <= high):
            raise HttpError(400, f"{name} must be an integer from {low} to {high}, got {text[:40]!r}")
        return int(text)

    def json(self):
        """The body parsed as JSON; :class:`HttpError` 400 when it is not UTF-8 JSON, nests deeper than
        :data:`MAX_JSON_DEPTH`, or holds ``NaN``, ``Infinity`` or a number beyond the doubles."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise HttpError(400, f"request body is not UTF-8: {e}") from None
        depth = _nesting_depth(text)
        if depth > MAX_JSON_DEPTH:
            raise HttpError(400, f"request body nests {depth} deep, more than {MAX_JSON_DEPTH}")
        try:
            return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        except (ValueError, RecursionError) as e:  # RecursionError: nesting the bracket count missed
            raise HttpError(400, f"request body is not JSON: {e}") from None


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKETS = np.frombuffer(b"[{]}", dtype=np.uint8)


def _nesting_depth(text):
    """How deep the arrays and objects of the JSON ``text`` nest (brackets inside strings do not count)."""
    codes = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8"), dtype=np.uint8)
    brackets = codes[np.isin(codes, _BRACKETS)]
    if not brackets.size:
        return 0
    return int(np.cumsum(np.where(np.isin(brackets, _BRACKETS[:2]), 1, -1)).max())


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is beyond the range of numbers")
    return value


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
    except OSError as e:  # unreadable, a name too long, a loop of links
        raise HttpError(403 if isinstance(e, PermissionError) else 404,
                        f"cannot read {os.path.basename(path)}: {e.strerror}") from None
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

    @property
    def writes(self):
        """Whether a route can change something (any method but GET)."""
        return any(method != "GET" for method, _, _ in self._routes)

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
        return file_response(resolve_inside(STATIC, name, linked_levels=0))


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def make_server(router, host="127.0.0.1", port=0, quiet=True, token=None):
    """A threaded HTTP server for ``router`` (not yet serving); port 0 picks a free one.

    ``token``: when given, every request must carry it (``?token=`` or the cookie that sets).
    """
    check_host = _is_loopback(host)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: with Nagle's algorithm the body would wait for the
        # client's delayed ACK of the headers (40 ms on Linux) on every keep-alive request
        disable_nagle_algorithm = True
        timeout = REQUEST_TIMEOUT_S

        def _handle(self):
            split = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(split.query))
            cookie = {}
            try:
                if check_host and self.headers.get("Host", "").rsplit(":", 1)[0] not in LOOPBACK_NAMES:
                    raise HttpError(403, "this server answers only to localhost")
                if token is not None:
                    cookie = self._authorise(query)
                body = self._body()
            except HttpError as e:
                self.close_connection = True  # a body not read would be taken for the next request
                response = json_response({"error": e.message}, e.status)
            else:
                request = Request(self.command, urllib.parse.unquote(split.path), query, self.headers, body)
                try:
                    response = router.dispatch(request)
                except Exception:  # a bug in a handler must not stop the server
                    traceback.print_exc()
                    response = json_response({"error": "internal error (see the server's output)"}, 500)
            self._send(response, cookie)

        def _authorise(self, query):
            """The cookie header to answer with when the request carries the token; HttpError 403 otherwise.

            A token in the URL sets the cookie (the page's own requests send it
            from then on); cookies do not tell ports apart, so its name has the port.
            """
            cookie = f"cityscapes-token-{self.server.server_address[1]}"
            given = query.pop("token", None)
            if given is not None:
                if not secrets.compare_digest(given.encode(), token.encode()):
                    raise HttpError(403, "wrong token: open the address the server printed when it started")
                return {"Set-Cookie": f"{cookie}={token}; Path=/; HttpOnly; SameSite=Strict"}
            for line in self.headers.get_all("Cookie") or []:
                for item in line.split(";"):
                    name, _, value = item.strip().partition("=")
                    if name == cookie and secrets.compare_digest(value.encode(), token.encode()):
                        return {}
            raise HttpError(403, "this server needs its token: open the address it printed when it started "
                                 "(http://...?token=...)")

        def _body(self):
            """The request's body, read by its ``Content-Length``; HttpError 400 / 411 / 413 when that is
            missing for a POST or PUT, not a number, over :data:`MAX_BODY_BYTES`, or more than the body,
            408 when the body stops coming for :data:`REQUEST_TIMEOUT_S`."""
            if self.headers.get("Transfer-Encoding") is not None:
                raise HttpError(411, "send the body with a Content-Length (no Transfer-Encoding)")
            lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
            if not lengths:
                if self.command in ("POST", "PUT"):
                    raise HttpError(411, f"a {self.command} needs a Content-Length")
                return b""
            text = lengths.pop()
            if lengths or not re.fullmatch(r"[0-9]+", text):
                raise HttpError(400, f"Content-Length must be one number of bytes, got {text[:40]!r}")
            if len(text) > 18 or int(text) > MAX_BODY_BYTES:
                raise HttpError(413, f"request body over {MAX_BODY_BYTES} bytes")
            try:
                body = self.rfile.read(int(text))
            except TimeoutError:
                raise HttpError(408, f"the body did not arrive within {REQUEST_TIMEOUT_S} s") from None
            if len(body) < int(text):
                raise HttpError(400, f"the body ended after {len(body)} of its {text} bytes")
            return body

        def _send(self, response, extra_headers=()):
            body = response.body
            headers = getattr(self, "headers", None)  # none when the request line was too long
            accepted = headers.get("Accept-Encoding", "") if headers else ""
            deflated = response.compressible and "deflate" in accepted
            if deflated:
                body = zlib.compress(body, 1)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            if deflated:
                self.send_header("Content-Encoding", "deflate")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if self.close_connection:
                self.send_header("Connection", "close")
            for key, value in dict(response.headers, **dict(extra_headers)).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def parse_request(self):
            """The standard library's parsing, except that every request line gets an answer with a
            status: an empty line (left unanswered there) and HTTP/0.9 (answered without one) are 400."""
            if not self.raw_requestline.strip():
                self.command, self.request_version, self.requestline = None, self.protocol_version, ""
                self.send_error(http.HTTPStatus.BAD_REQUEST, "empty request line")
                return False
            if not super().parse_request():
                return False
            if self.request_version == "HTTP/0.9":
                self.send_error(http.HTTPStatus.BAD_REQUEST, "HTTP/0.9 is not served: name HTTP/1.1 in the request")
                return False
            return True

        def send_error(self, code, message=None, explain=None):
            """The standard library's answer to a request line or headers it cannot parse (400, 414, 431),
            as JSON; an HTTP version it does not speak is the client's error too (400, not 505)."""
            self.close_connection = True
            if self.request_version == "HTTP/0.9":  # not a version a client asked for: a garbled request line
                self.request_version = "HTTP/1.1"
            status = code if code < 500 else http.HTTPStatus.BAD_REQUEST
            self._send(json_response({"error": message or http.HTTPStatus(status).phrase}, status))

        def __getattr__(self, name):
            if name.startswith("do_"):  # every method reaches the router: 405 when it has no such route
                return self._handle
            raise AttributeError(name)

        def do_HEAD(self):
            self.command = "GET"
            self._handle()

        def log_message(self, format, *args):
            if not quiet:
                super().log_message(format, *args)

    server = _Server((host, port), Handler)
    server.daemon_threads = True
    server.token = token
    return server


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a browser closing a connection is no error
            super().handle_error(request, client_address)


def url_of(server):
    """The address to open: loopback for a server on every interface, with its token when it has one."""
    host, port = server.server_address[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/" + (f"?token={server.token}" if server.token else "")


def start_in_thread(router, host="127.0.0.1", port=0, token=None):
    """Serve ``router`` in a daemon thread; returns the server (``url_of(server)``, ``server.shutdown()``)."""
    server = make_server(router, host, port, token=token)
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
    parser.add_argument("--token", action="store_true",
                        help="require a per-run token (printed in the address) on 127.0.0.1 too; "
                             "a --host beyond this machine always requires it")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    cli.add_quiet_option(parser, "print only the address served")
    return parser


def root_of(opts):
    """The dataset root from ``ROOT`` or ``$CITYSCAPES_DATASET``; LayoutError when missing."""
    return os.path.realpath(layout.dataset_root(opts.root, "the dataset folder as ROOT"))


def run(router, opts):
    """Serve ``router`` until interrupted; prints the URL and opens a browser unless told not to.

    Bound beyond this machine (or with ``--token``), the server requires a token made for this run.
    """
    remote = not _is_loopback(opts.host)
    token = secrets.token_urlsafe(24) if remote or opts.token else None
    try:
        server = make_server(router, opts.host, opts.port, quiet=True, token=token)
    except OSError as e:
        raise ArgumentError(f"cannot listen on {opts.host}:{opts.port}: {e.strerror or e} (try --port 0)") from None
    url = url_of(server)
    print(f"Serving on {url}  (Ctrl+C to stop)", flush=True)
    if remote:
        rights = "read the served folders and change their annotations" if router.writes else "read the served folders"
        elsewhere = (" (from another machine, with this machine's name or address in place of 127.0.0.1)"
                     if opts.host in ("0.0.0.0", "::") else "")
        cli.print_warning(f"listening beyond this machine: anyone who has the address above{elsewhere}, "
                          f"token included, can {rights}")
    if not opts.no_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
