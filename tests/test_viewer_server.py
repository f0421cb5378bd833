"""The shared web server: routing, path checks, responses, host check, malformed requests, tokens;
the browser harness."""
import http.client
import json
import os
import random
import socket
import struct
import zlib

import numpy as np
import pytest

from browser import Page
from cityscapesscripts.io import png
from cityscapesscripts.web import server


@pytest.fixture
def tree(tmp_path):
    return _make_tree(tmp_path)


def _make_tree(tmp_path):
    root = tmp_path / "root"
    (root / "gtFine" / "val").mkdir(parents=True)
    (root / "gtFine" / "val" / "a.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("SECRET")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "gtFine" / "val" / "escape_dir")  # a folder below the split folder leading out
    os.symlink(root / "gtFine" / "val" / "a.txt", root / "alias.txt")
    return root


@pytest.mark.parametrize("relpath", ["../secret.txt", "gtFine/../../secret.txt", "%2e%2e/secret.txt",
                                     "gtFine/%2E%2E/%2e%2e/secret.txt", "/etc/passwd", "C:/x", "a\\..\\b",
                                     "escape.txt", "gtFine/val/escape_dir/secret.txt", "a\x00b"])
def test_resolve_inside_refuses_paths_out_of_the_root(tree, relpath):
    with pytest.raises(server.PathRefused):
        server.resolve_inside(tree, relpath)


def test_resolve_inside_accepts_paths_and_links_inside(tree):
    real = os.path.realpath(tree)
    assert server.resolve_inside(tree, "gtFine/val/a.txt") == os.path.join(real, "gtFine", "val", "a.txt")
    assert server.resolve_inside(tree, "alias.txt") == os.path.join(real, "gtFine", "val", "a.txt")
    assert server.resolve_inside(tree, "gtFine/./val/new.json") == os.path.join(real, "gtFine", "val", "new.json")
    assert server.resolve_inside(tree, "") == real


def test_linked_type_and_split_folders_are_part_of_the_dataset(tmp_path):
    """As for the batch tools: ``{type}/`` or ``{type}/{split}/`` may be links to another disk; below them,
    and for files anywhere, a link leading out is refused."""
    disk = tmp_path / "disk"
    (disk / "leftImg8bit" / "val" / "a").mkdir(parents=True)
    (disk / "leftImg8bit" / "val" / "a" / "x.png").write_text("image")
    (disk / "val_fine" / "a").mkdir(parents=True)
    (disk / "val_fine" / "a" / "x.json").write_text("polygons")
    (disk / "secret.txt").write_text("SECRET")
    root = tmp_path / "root"
    (root / "gtFine").mkdir(parents=True)
    os.symlink(disk / "leftImg8bit", root / "leftImg8bit")
    os.symlink(disk / "val_fine", root / "gtFine" / "val")
    os.symlink(disk / "secret.txt", disk / "val_fine" / "a" / "leak.txt")
    os.symlink(disk, disk / "val_fine" / "a" / "up")
    assert server.resolve_inside(root, "leftImg8bit/val/a/x.png") == str(disk / "leftImg8bit" / "val" / "a" / "x.png")
    assert server.resolve_inside(root, "gtFine/val/a/x.json") == str(disk / "val_fine" / "a" / "x.json")
    assert server.resolve_inside(root, "gtFine/val/a/new.json") == str(disk / "val_fine" / "a" / "new.json")
    for refused in ("gtFine/val/a/leak.txt", "gtFine/val/a/up/secret.txt", "leftImg8bit/../disk/secret.txt",
                    "/" + str(disk / "secret.txt")):
        with pytest.raises(server.PathRefused):
            server.resolve_inside(root, refused)
    with pytest.raises(server.PathRefused):  # the web page's own files: no linked folders at all
        server.resolve_inside(root, "leftImg8bit/val/a/x.png", linked_levels=0)


def _router(root):
    router = server.Router()

    @router.get("/api/file/<path:rel>")
    def file(request):
        return server.file_response(server.resolve_inside(root, request.params["rel"]))

    @router.get("/api/echo/<name>")
    def echo(request):
        return server.json_response({"name": request.params["name"], "q": request.arg("q")})

    @router.post("/api/echo/<name>")
    def echo_post(request):
        return server.json_response({"body": request.json()})

    @router.get("/api/png")
    def image(request):
        return server.png_response(np.array([[1, 2], [3, 250]], dtype=np.uint8))

    @router.get("/api/binary")
    def binary(request):
        return server.binary_response({"name": "x"}, np.arange(6, dtype=np.uint16).reshape(2, 3) * 300)

    @router.get("/api/fail")
    def fail(request):
        raise RuntimeError("a bug")

    @router.get("/api/number")
    def number(request):
        return server.json_response({"n": request.int_arg("n", 1, 1, 8)})
    return router


@pytest.fixture
def served(tree):
    srv = server.start_in_thread(_router(tree))
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the many requests of the malformed-request cases (a server's shutdown takes 0.5 s)."""
    srv = server.start_in_thread(_router(_make_tree(tmp_path_factory.mktemp("shared"))))
    yield srv
    srv.shutdown()
    srv.server_close()


def _get(srv, path, method="GET", body=None, host=None, headers=None):
    connection = http.client.HTTPConnection(*srv.server_address[:2], timeout=10)
    headers = dict(headers or {}, **({"Host": host} if host else {}))
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type"), data


def test_binary_response_and_deflate(served):
    plain = _get(served, "/api/binary")[2]
    deflated = _get(served, "/api/binary", headers={"Accept-Encoding": "gzip, deflate"})[2]
    assert zlib.decompress(deflated) == plain
    length = struct.unpack("<I", plain[:4])[0]
    assert (4 + length) % 8 == 0
    header = json.loads(plain[4:4 + length])
    assert header == {"name": "x", "dtype": "uint16", "shape": [2, 3]}
    assert np.frombuffer(plain[4 + length:], "<u2").tolist() == [0, 300, 600, 900, 1200, 1500]


def test_routes_params_query_and_json(served):
    assert json.loads(_get(served, "/api/echo/x%20y?q=1")[2]) == {"name": "x y", "q": "1"}
    status, _, data = _get(served, "/api/echo/x", "POST", b'{"a": [1]}')
    assert status == 200 and json.loads(data) == {"body": {"a": [1]}}
    status, _, data = _get(served, "/api/echo/x", "POST", b"not json")
    assert status == 400 and "not JSON" in json.loads(data)["error"]


def test_unknown_paths_and_methods(served):
    assert _get(served, "/api/nothing")[0] == 404
    assert _get(served, "/api/png", "POST", b"{}")[0] == 405
    assert _get(served, "/api/png", "DELETE")[0] == 405


def test_files_inside_the_root_are_served_and_the_rest_refused(served):
    status, _, data = _get(served, "/api/file/gtFine/val/a.txt")
    assert status == 200 and data == b"inside"
    for path in ("/api/file/../secret.txt", "/api/file/%2e%2e/secret.txt", "/api/file/%252e%252e/secret.txt",
                 "/api/file/gtFine/%2E%2E%2F%2E%2E%2Fsecret.txt", "/api/file//etc/passwd",
                 "/api/file/%2Fetc%2Fpasswd", "/api/file/escape.txt", "/api/file/gtFine/val/escape_dir/secret.txt"):
        status, _, data = _get(served, path)
        assert status in (403, 404), path
        assert b"SECRET" not in data, path
    assert _get(served, "/api/file/gtFine/val/missing.txt")[0] == 404


def test_png_response_uses_the_codec(served):
    status, content_type, data = _get(served, "/api/png")
    assert (status, content_type) == (200, "image/png")
    assert data == png.encode_png(np.array([[1, 2], [3, 250]], dtype=np.uint8))


def test_a_failing_handler_answers_500_and_the_server_goes_on(served, capsys):
    status, _, data = _get(served, "/api/fail")
    assert status == 500 and "internal error" in json.loads(data)["error"]
    assert "RuntimeError: a bug" in capsys.readouterr().err
    assert _get(served, "/api/echo/x")[0] == 200


def test_loopback_server_refuses_other_host_names(served):
    assert _get(served, "/api/echo/x", host="evil.example:80")[0] == 403
    assert _get(served, "/api/echo/x", host="localhost:8050")[0] == 200


def test_static_files_and_no_page(served):
    status, content_type, data = _get(served, "/static/common.js")
    assert status == 200 and "javascript" in content_type and b"loadBitmap" in data
    assert _get(served, "/static/../server.py")[0] in (403, 404)
    assert _get(served, "/")[0] == 404  # this router has no page


def test_cli_options_default_to_loopback(monkeypatch, tmp_path):
    opts = server.argument_parser("x", "y").parse_args([])
    assert (opts.host, opts.port, opts.no_browser, opts.root) == ("127.0.0.1", 8050, False, None)
    monkeypatch.delenv("CITYSCAPES_DATASET", raising=False)
    with pytest.raises(server.LayoutError, match="CITYSCAPES_DATASET"):
        server.root_of(opts)
    monkeypatch.setenv("CITYSCAPES_DATASET", str(tmp_path))
    assert server.root_of(opts) == os.path.realpath(tmp_path)


def test_browser_reads_back_exact_label_values(browser, served):
    """The harness: a PNG from the server, decoded by Chromium, read back from a canvas unchanged."""
    Page(browser, server.url_of(served) + "static/common.js")
    values = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const script = document.createElement('script'); script.src = '/static/common.js';
        script.onload = async () => done(Array.from(pixelsOf(await loadBitmap('/api/png')).data));
        document.head.appendChild(script);
    """)
    assert values[0::4] == [1, 2, 3, 250] and values[3::4] == [255] * 4


# ---- malformed requests: a 4xx with a reason, never a 5xx or a dropped connection -----------------------

def _raw(srv, data, timeout=10):
    """Send ``data`` on a new connection, say that is all, and read the answer: ``(status, headers, body)``;
    status None when the connection closed without one."""
    with socket.create_connection(srv.server_address[:2], timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):  # the server answered before reading everything
            pass
        answer = b""
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        return None, {}, answer
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _still_serving(srv):
    assert json.loads(_get(srv, "/api/echo/ok?q=1")[2]) == {"name": "ok", "q": "1"}


def _post(body, length=None, extra=b""):
    length = str(len(body)).encode() if length is None else length
    return b"POST /api/echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + length + b"\r\n" + extra + b"\r\n" + body


def _bad(name, request_bytes, status, reason, closes=True):
    """A case: closes, when the answer must close the connection (the body was not read, or not all)."""
    return pytest.param(request_bytes, status, reason, closes, id=name)


def _get_raw(target, version=b"HTTP/1.1", headers=b"Host: 127.0.0.1\r\n"):
    return b"GET " + target + b" " + version + b"\r\n" + headers + b"\r\n"


@pytest.mark.parametrize("request_bytes, status, reason, closes", [
    _bad("length-abc", _post(b"{}", b"abc"), 400, "Content-Length"),
    _bad("length-negative", _post(b"{}", b"-5"), 400, "Content-Length"),
    _bad("length-superscript-2", _post(b"{}", b"\xc2\xb2"), 400, "Content-Length"),  # a digit to str.isdigit
    _bad("length-list", _post(b"{}", b"2, 3"), 400, "Content-Length"),
    _bad("length-twice", _post(b"{}", b"2", b"Content-Length: 3\r\n"), 400, "Content-Length"),
    _bad("length-huge", _post(b"{}", b"9" * 40), 413, "over"),
    _bad("length-over-limit", _post(b"{}", str(server.MAX_BODY_BYTES + 1).encode()), 413, "over"),
    _bad("body-short", _post(b"{}", b"10"), 400, "ended after 2 of its 10 bytes"),
    _bad("post-no-length", b"POST /api/echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n{}", 411, "Content-Length"),
    _bad("chunked", b"POST /api/echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"2\r\n{}\r\n0\r\n\r\n", 411, "Content-Length"),
    _bad("json-100000-deep", _post(b"[" * 100000 + b"]" * 100000), 400, "nests 100000 deep", False),
    _bad("json-33-deep", _post(b'{"a": ' * 33 + b"1" + b"}" * 33), 400, "nests 33 deep", False),
    _bad("json-nan", _post(b'{"a": NaN}'), 400, "NaN is not a JSON number", False),
    _bad("json-1e400", _post(b'{"a": [1e400]}'), 400, "beyond the range", False),
    _bad("json-not-utf8", _post(b'{"a": "\xff"}'), 400, "not UTF-8", False),
    _bad("json-cut", _post(b'{"a": '), 400, "not JSON", False),
    _bad("query-superscript-2", _get_raw(b"/api/number?n=%C2%B2"), 400, "integer from 1 to 8", False),
    _bad("query-out-of-range", _get_raw(b"/api/number?n=9"), 400, "integer from 1 to 8", False),
    _bad("query-5000-digits", _get_raw(b"/api/number?n=" + b"1" * 5000), 400, "integer from 1 to 8", False),
    _bad("url-70000", _get_raw(b"/" + b"a" * 70000), 414, ""),
    _bad("header-70000", _get_raw(b"/", headers=b"X: " + b"a" * 70000 + b"\r\n"), 431, ""),
    _bad("headers-101", _get_raw(b"/", headers=b"X: 1\r\n" * 101), 431, ""),
    _bad("http-2", _get_raw(b"/", b"HTTP/2.0"), 400, ""),
    _bad("http-superscript", _get_raw(b"/", b"HTTP/1.\xc2\xb9"), 400, ""),
    _bad("garbage", b"GARBAGE\r\n\r\n", 400, ""),
    _bad("empty-line", b"\r\nGET / HTTP/1.1\r\n\r\n", 400, "empty request line"),
    _bad("http-0.9", b"GET /api/echo/x\r\n", 400, "HTTP/0.9"),
    _bad("unknown-method", b"BREW /api/echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405, "not allowed", False),
    _bad("name-too-long", _get_raw(b"/api/file/" + b"x" * 300), 404, "File name too long", False),
])
def test_a_malformed_request_gets_a_4xx_with_its_reason_and_the_server_goes_on(shared, request_bytes, status,
                                                                                 reason, closes):
    answered, headers, body = _raw(shared, request_bytes)
    assert answered == status, body[:200]
    assert reason in json.loads(body)["error"]
    assert (headers.get("connection") == "close") == closes  # an unread body is not taken for another request
    _still_serving(shared)


def test_a_body_that_stops_coming_is_answered_408(tree, monkeypatch):
    monkeypatch.setattr(server, "REQUEST_TIMEOUT_S", 0.3)
    srv = server.start_in_thread(_router(tree))
    try:
        with socket.create_connection(srv.server_address[:2], timeout=10) as sock:
            sock.sendall(_post(b"{}", b"10"))  # and then nothing, the connection left open
            answer = b""
            while chunk := sock.recv(1 << 16):  # until the server closes the connection
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 0.3 s" in answer
        _still_serving(srv)
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_good_body_keeps_the_connection_alive(served):
    connection = http.client.HTTPConnection(*served.server_address[:2], timeout=10)
    for _ in range(3):
        connection.request("POST", "/api/echo/x", body=b'{"a": ' * 32 + b"1" + b"}" * 32)
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Connection") is None
        response.read()
    connection.close()


def _fuzzed_request(rng):
    """A request with random defects in its method, path, headers, length and body."""
    method = rng.choice([b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"X", b"", b"G\xffT"])
    path = rng.choice([b"/api/echo/x", b"/api/file/gtFine/val/a.txt", b"/api/number", b"/api/png", b"/", b"*",
                       b"http://127.0.0.1/api/echo/x", b"/static/common.js", b"/api/file/"])
    path += rng.choice([b"", b"?n=" + bytes(rng.choice(b"0123456789%C2B/&=") for _ in range(rng.randrange(6))),
                        bytes(rng.randrange(256) for _ in range(rng.randrange(8))),
                        b"%" + bytes(rng.choice(b"0123456789abcdefxyz%") for _ in range(4))])
    version = rng.choice([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.1", b"HTTP/9.9", b"HTTP/1", b"", b"HTTP/1.1 x"])
    body = rng.choice([b"", b"{}", b'{"a": [1, 2.5, "x"]}', b"[" * rng.randrange(1, 50),
                       b'{"a": ' * rng.randrange(30, 40) + b"0" + b"}" * rng.randrange(30, 40),
                       bytes(rng.randrange(256) for _ in range(rng.randrange(64))),
                       b'{"objects": ' + rng.choice([b"5", b"null", b"[[]]", b'"x"', b"1e999", b"-NaN"]) + b"}"])
    headers = [b"Host: " + rng.choice([b"127.0.0.1", b"localhost:1", b"evil.example", b"", b"\xff"])]
    length = rng.choice([str(len(body)).encode(), str(len(body) + rng.randrange(1, 5)).encode(),
                         str(max(0, len(body) - 1)).encode(), b"", b"x", b"-1", b"0x10", b" 3 ", b"1" * 25, None])
    if length is not None:
        headers.append(b"Content-Length: " + length)
    headers += rng.sample([b"Transfer-Encoding: chunked", b"Accept-Encoding: deflate", b"Cookie: a=b; ;=;",
                           b"Content-Type: application/json", b"X-" + bytes(rng.randrange(33, 127) for _ in range(9)),
                           b": no name", b"no colon", b"Origin: http://evil.example"], rng.randrange(3))
    request = method + b" " + path + (b" " + version if version else b"") + b"\r\n" + b"\r\n".join(headers)
    request += b"\r\n\r\n" + body
    if rng.random() < 0.2:  # and a random byte changed somewhere
        at = rng.randrange(len(request))
        request = request[:at] + bytes([rng.randrange(256)]) + request[at + 1:]
    return request


def test_fuzzed_requests_are_answered_and_the_server_goes_on(served):
    """300 random malformed requests over raw sockets: each gets an answer below 500, and a good request
    works after each."""
    rng = random.Random(24)
    answered = set()
    for _ in range(300):
        data = _fuzzed_request(rng)
        status, _, body = _raw(served, data)
        assert status is not None and 200 <= status < 500, (data[:200], body[:200])
        answered.add(status)
        _still_serving(served)
    assert {400, 403, 404, 405, 411, 413} <= answered  # the mix reached the routes and every check


# ---- the token of a server reachable from other machines --------------------------------------------------

@pytest.fixture
def remote(tree):
    """Bound to every interface (reached through 127.0.0.1 here), with a token."""
    srv = server.start_in_thread(_router(tree), host="0.0.0.0", token="s3cret-Token")
    yield srv
    srv.shutdown()
    srv.server_close()


def test_a_remote_bind_refuses_requests_without_the_token(remote):
    port = remote.server_address[1]
    assert server.url_of(remote) == f"http://127.0.0.1:{port}/?token=s3cret-Token"
    for path, headers in [("/api/echo/x", {}), ("/api/echo/x?token=wrong", {}), ("/api/echo/x?token=", {}),
                          ("/api/echo/x", {"Cookie": "cityscapes-token-1=s3cret-Token"}),  # another port's
                          ("/api/echo/x", {"Cookie": f"cityscapes-token-{port}=s3cret-Tokenx"}),
                          ("/api/file/gtFine/val/a.txt", {}), ("/static/common.js", {}), ("/", {})]:
        status, _, data = _get(remote, path, headers=headers)
        assert status == 403 and "token" in json.loads(data)["error"], path
        assert b"inside" not in data
    status, _, data = _get(remote, "/api/echo/x", "POST", b"{}")
    assert status == 403 and "token" in json.loads(data)["error"]


def test_the_token_in_the_url_sets_a_cookie_that_then_suffices(remote):
    port = remote.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/echo/x?q=2&token=s3cret-Token")
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read()) == {"name": "x", "q": "2"}
    cookie = response.getheader("Set-Cookie")
    assert cookie == f"cityscapes-token-{port}=s3cret-Token; Path=/; HttpOnly; SameSite=Strict"
    jar = {"Cookie": "other=1; " + cookie.split(";")[0]}
    status, _, data = _get(remote, "/api/file/gtFine/val/a.txt", headers=jar)
    assert status == 200 and data == b"inside"
    status, _, data = _get(remote, "/api/echo/y", "POST", b'{"a": 1}', headers=jar)
    assert status == 200 and json.loads(data) == {"body": {"a": 1}}
    assert _get(remote, "/api/echo/x", host="evil.example:80", headers=jar)[0] == 200  # no host check beyond loopback


def test_a_loopback_server_asks_for_a_token_only_when_told(tree):
    srv = server.start_in_thread(_router(tree), token="t")
    try:
        assert _get(srv, "/api/echo/x")[0] == 403
        assert _get(srv, "/api/echo/x?token=t")[0] == 200
        assert _get(srv, "/api/echo/x?token=t", host="evil.example")[0] == 403  # and the host check stays
    finally:
        srv.shutdown()
        srv.server_close()
    assert server.argument_parser("x", "y").parse_args(["--token"]).token is True
