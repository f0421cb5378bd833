"""The shared web server: routing, path checks, responses, host check; the browser harness."""
import http.client
import json
import os
import struct
import zlib

import numpy as np
import pytest

from browser import Page
from cityscapesscripts.io import png
from cityscapesscripts.web import server


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "gtFine" / "val").mkdir(parents=True)
    (root / "gtFine" / "val" / "a.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("SECRET")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "escape_dir")
    os.symlink(root / "gtFine" / "val" / "a.txt", root / "alias.txt")
    return root


@pytest.mark.parametrize("relpath", ["../secret.txt", "gtFine/../../secret.txt", "%2e%2e/secret.txt",
                                     "gtFine/%2E%2E/%2e%2e/secret.txt", "/etc/passwd", "C:/x", "a\\..\\b",
                                     "escape.txt", "escape_dir/secret.txt", "a\x00b"])
def test_resolve_inside_refuses_paths_out_of_the_root(tree, relpath):
    with pytest.raises(server.PathRefused):
        server.resolve_inside(tree, relpath)


def test_resolve_inside_accepts_paths_and_links_inside(tree):
    real = os.path.realpath(tree)
    assert server.resolve_inside(tree, "gtFine/val/a.txt") == os.path.join(real, "gtFine", "val", "a.txt")
    assert server.resolve_inside(tree, "alias.txt") == os.path.join(real, "gtFine", "val", "a.txt")
    assert server.resolve_inside(tree, "gtFine/./val/new.json") == os.path.join(real, "gtFine", "val", "new.json")
    assert server.resolve_inside(tree, "") == real


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
    return router


@pytest.fixture
def served(tree):
    srv = server.start_in_thread(_router(tree))
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
                 "/api/file/%2Fetc%2Fpasswd", "/api/file/escape.txt", "/api/file/escape_dir/secret.txt"):
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
