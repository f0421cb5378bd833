"""csDownload against a local imitation of the Cityscapes site (127.0.0.1, in this process; no internet)."""
import hashlib
import http.server
import io
import json
import os
import random
import socket
import stat
import threading
import urllib.parse
import zipfile

import pytest

from cityscapesscripts.download import downloader
from cityscapesscripts.download.extract import extract_zip, unsafe_reason
from cityscapesscripts.download.session import Session
from cityscapesscripts.errors import BatchError, CredentialsError, DownloadError

USER, PASSWORD = "someone@example.org", "right horse battery"


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


GOOD_ZIP = _zip({"gtFine/train/aachen/aachen_000000_000019_gtFine_polygons.json": b'{"objects": []}',
                 "README": b"Cityscapes\n"})
BAD_ZIP = _zip({"gtFine/ok.txt": b"fine", "../evil.txt": b"outside"})


class FakeSite:
    """The site's endpoints, with the faults a test switches on, and a log of the requests it served."""

    def __init__(self):
        rng = random.Random(18)
        self.files = {"1": ("gtFine_trainvaltest.zip", bytes(rng.getrandbits(8) for _ in range(300_000)), "0"),
                      "3": ("leftImg8bit_trainvaltest.zip", GOOD_ZIP, "0"),
                      "28": ("gtBbox_cityPersons_trainval.zip", BAD_ZIP, "1"),
                      "4": ("missing.zip", b"", "0"),
                      "5": ("busy.zip", b"", "0")}
        self.wrong_md5 = set()       # package ids whose md5-sum answer is wrong
        self.drop_once = {}          # package id -> bytes sent before the connection drops (once)
        self.ignore_range = False    # answer 200 with the whole file to range requests
        self.range_offset_error = 0  # shift the start of 206 answers by this many bytes
        self.status = {"4": 404, "5": 503}
        self.log = []                # (method, path, Range header, file bytes sent)
        self.sessions = {}           # cookie value -> logged in

    def serve(self):
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                site.handle(self)

            def do_POST(self):
                site.handle(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def file_requests(self):
        return [entry for entry in self.log if entry[1].startswith("/file-handling/")]

    def answer(self, h, status, body=b"", headers=()):
        h.send_response(status)
        for key, value in headers:
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        entry = [h.command, h.path, h.headers.get("Range"), 0]
        self.log.append(entry)
        cookie = (h.headers.get("Cookie") or "").partition("session=")[2].split(";")[0]
        if url.path == "/login" and h.command == "GET":
            cookie = str(len(self.sessions))
            self.sessions[cookie] = False
            return self.answer(h, 200, b"<form>login</form>", [("Set-Cookie", f"session={cookie}; Path=/")])
        if url.path == "/login":
            form = urllib.parse.parse_qs(h.rfile.read(int(h.headers["Content-Length"])).decode())
            if cookie in self.sessions and form == {"username": [USER], "password": [PASSWORD], "submit": ["Login"]}:
                self.sessions[cookie] = True
                return self.answer(h, 302, headers=[("Location", "/downloads/")])
            return self.answer(h, 200, b"<form>wrong password</form>")
        if not self.sessions.get(cookie):
            return self.answer(h, 302, headers=[("Location", "/login")])
        if url.path == "/downloads/" and "list" in query:
            listing = [{"packageID": pid, "name": name, "size": f"{max(1, len(data) >> 10)}KB", "thirdparty": third}
                       for pid, (name, data, third) in self.files.items()]
            return self.answer(h, 200, json.dumps(listing).encode())
        pid = query.get("packageID", [""])[0]
        if pid not in self.files:
            return self.answer(h, 404)
        name, data, _ = self.files[pid]
        if url.path == "/md5-sum/":
            md5 = hashlib.md5(data + b"x" if pid in self.wrong_md5 else data).hexdigest()
            return self.answer(h, 200, f"{md5}  {name}\n".encode())
        if pid in self.status:
            return self.answer(h, self.status[pid])
        start = int(h.headers["Range"][6:-1]) if h.headers.get("Range") and not self.ignore_range else None
        if start is not None and start >= len(data):
            return self.answer(h, 416, headers=[("Content-Range", f"bytes */{len(data)}")])
        body = data if start is None else data[start:]
        h.send_response(200 if start is None else 206)
        if start is not None:
            first = start + self.range_offset_error
            h.send_header("Content-Range", f"bytes {first}-{len(data) - 1}/{len(data)}")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if pid in self.drop_once:
            body = body[:self.drop_once.pop(pid)]  # then the connection closes early
            h.close_connection = True
        entry[3] = len(body)  # before sending: the client may check the log as soon as it has the bytes
        h.wfile.write(body)


@pytest.fixture
def site():
    fake = FakeSite().serve()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Credentials from the environment, the user data folder in tmp_path, retries without waiting."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("CITYSCAPES_USERNAME", USER)
    monkeypatch.setenv("CITYSCAPES_PASSWORD", PASSWORD)
    monkeypatch.delenv("CITYSCAPES_DOWNLOAD_URL", raising=False)
    monkeypatch.setattr(Session, "retry_delays", (0, 0, 0))
    monkeypatch.setattr(Session, "timeout", 10)


@pytest.fixture
def dest(tmp_path):
    folder = tmp_path / "cityscapes"
    folder.mkdir()
    return folder


def csDownload(site, *args):
    return downloader.main(["--base-url", site.url, *map(str, args)])


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_login_posts_the_form_and_a_302_means_success(site):
    session = downloader.login(base_url=site.url)
    assert [(m, p) for m, p, _, _ in site.log] == [("GET", "/login"), ("POST", "/login")]
    names = [p["name"] for p in downloader.get_available_packages(session=session)]
    assert names[0] == "gtFine_trainvaltest.zip" and len(names) == 5


def test_a_wrong_password_is_refused_clearly(site, monkeypatch):
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "wrong")
    with pytest.raises(CredentialsError, match="refused the username or password from .CITYSCAPES_USERNAME"):
        downloader.login(base_url=site.url)


def test_credentials_are_asked_once_and_stored_with_mode_600(site, monkeypatch, tmp_path):
    monkeypatch.delenv("CITYSCAPES_USERNAME")
    monkeypatch.delenv("CITYSCAPES_PASSWORD")
    monkeypatch.setattr("sys.stdin", Terminal())
    questions = []
    answers = {"Cityscapes username or email address: ": USER}
    monkeypatch.setattr("builtins.input", lambda q: questions.append(q) or answers.get(q, "y"))
    monkeypatch.setattr(downloader.getpass, "getpass", lambda q: questions.append(q) or PASSWORD)
    downloader.login(base_url=site.url)
    stored = tmp_path / "data" / "cityscapesscripts" / "credentials.json"
    assert len(questions) == 3 and str(stored) in questions[2]
    assert json.loads(stored.read_text()) == {"username": USER, "password": PASSWORD}
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    downloader.login(base_url=site.url)  # from the file now
    assert len(questions) == 3


def test_refused_stored_credentials_are_named_and_kept(site, monkeypatch, tmp_path):
    monkeypatch.delenv("CITYSCAPES_PASSWORD")
    stored = tmp_path / "data" / "cityscapesscripts" / "credentials.json"
    stored.parent.mkdir(parents=True)
    stored.write_text(json.dumps({"username": USER, "password": "old"}))
    with pytest.raises(CredentialsError, match="credentials.json"):
        downloader.login(base_url=site.url)
    assert stored.exists()


def test_without_credentials_or_terminal_says_what_to_set(site, monkeypatch):
    monkeypatch.delenv("CITYSCAPES_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO())
    with pytest.raises(CredentialsError, match="CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD"):
        downloader.login(base_url=site.url)
    assert site.log == []


def test_list_prints_names_sizes_and_third_party(site, capsys, monkeypatch):
    monkeypatch.setenv("CITYSCAPES_DOWNLOAD_URL", site.url)
    assert downloader.main(["-l"]) == 0
    out = capsys.readouterr().out
    assert " gtFine_trainvaltest.zip -> 292KB\n" in out
    assert " gtBbox_cityPersons_trainval.zip -> 1KB (third party)\n" in out


def test_download_is_verified_while_streaming_and_renamed(site, dest, capsys):
    assert csDownload(site, "-d", dest, "gtFine_trainvaltest.zip") == 0
    assert (dest / "gtFine_trainvaltest.zip").read_bytes() == site.files["1"][1]
    assert os.listdir(dest) == ["gtFine_trainvaltest.zip"]
    assert [r for _, _, r, _ in site.file_requests()] == [None]
    progress = capsys.readouterr().err
    assert "Download progress" in progress and "B/s" in progress


def test_a_part_file_is_resumed_from_its_end(site, dest):
    data = site.files["1"][1]
    (dest / "gtFine_trainvaltest.zip.part").write_bytes(data[:100_000])
    assert csDownload(site, "-d", dest, "gtFine_trainvaltest.zip") == 0
    assert [(r, sent) for _, _, r, sent in site.file_requests()] == [("bytes=100000-", len(data) - 100_000)]
    assert (dest / "gtFine_trainvaltest.zip").read_bytes() == data


def test_a_dropped_connection_is_resumed(site, dest):
    site.drop_once["1"] = 123_456
    assert csDownload(site, "-d", dest, "gtFine_trainvaltest.zip") == 0
    assert [r for _, _, r, _ in site.file_requests()] == [None, "bytes=123456-"]
    assert (dest / "gtFine_trainvaltest.zip").read_bytes() == site.files["1"][1]


def test_a_server_ignoring_the_range_restarts_the_file(site, dest):
    site.ignore_range = True
    (dest / "gtFine_trainvaltest.zip.part").write_bytes(b"stale bytes of another attempt")
    assert csDownload(site, "-d", dest, "gtFine_trainvaltest.zip") == 0
    assert (dest / "gtFine_trainvaltest.zip").read_bytes() == site.files["1"][1]


def test_a_content_range_from_elsewhere_is_refused(site, dest):
    site.range_offset_error = 10
    part = dest / "gtFine_trainvaltest.zip.part"
    part.write_bytes(site.files["1"][1][:1000])
    with pytest.raises(DownloadError, match="resume at byte 1000, the server sent from byte 1010"):
        downloader.download_packages(session=downloader.login(base_url=site.url),
                                     package_names=["gtFine_trainvaltest.zip"], destination_path=str(dest))
    assert part.stat().st_size == 1000


def test_a_wrong_md5_names_the_package_and_keeps_the_part(site, dest, capsys):
    site.wrong_md5.add("1")
    assert csDownload(site, "-d", dest, "gtFine_trainvaltest.zip") == 1
    error = capsys.readouterr().err
    assert "ERROR:" in error and "gtFine_trainvaltest.zip" in error and "MD5" in error
    assert os.listdir(dest) == ["gtFine_trainvaltest.zip.part"]
    assert (dest / "gtFine_trainvaltest.zip.part").read_bytes() == site.files["1"][1]


def test_unknown_names_list_close_matches_before_any_download(site, dest, capsys):
    assert csDownload(site, "-d", dest, "gtFine_trainvaltest.zip", "gtFine_trainval.zip") == 1
    assert "'gtFine_trainval.zip' (did you mean gtFine_trainvaltest.zip" in capsys.readouterr().err
    assert site.file_requests() == [] and os.listdir(dest) == []


def test_too_little_space_is_found_before_starting(site, dest, monkeypatch, capsys):
    monkeypatch.setattr(downloader, "_free_bytes", lambda folder: 200_000)
    assert csDownload(site, "-d", dest, "gtFine_trainvaltest.zip") == 1
    assert "not enough space" in capsys.readouterr().err
    assert [p for _, p, _, _ in site.log if not p.startswith(("/login", "/downloads/"))] == []


def test_http_errors_are_reported_and_the_batch_goes_on(site, dest):
    session = downloader.login(base_url=site.url)
    with pytest.raises(BatchError) as failed:
        downloader.download_packages(session=session, destination_path=str(dest),
                                     package_names=["missing.zip", "busy.zip", "gtFine_trainvaltest.zip"])
    missing, busy = failed.value.failures
    assert "HTTP 404" in missing and "HTTP 503" in busy and "(3 retries)" in busy
    requested = [p for _, p, _, _ in site.file_requests()]
    assert requested.count("/file-handling/?packageID=4") == 1      # not transient: no retry
    assert requested.count("/file-handling/?packageID=5") == 4      # first try and three retries
    assert (dest / "gtFine_trainvaltest.zip").read_bytes() == site.files["1"][1]


def test_an_existing_file_is_refused_without_r_and_verified_with_it(site, dest, capsys):
    data = site.files["1"][1]
    final = dest / "gtFine_trainvaltest.zip"
    final.write_bytes(data[:5000])  # what the original leaves after an interruption
    assert csDownload(site, "-d", dest, "gtFine_trainvaltest.zip") == 1
    assert "already exists" in capsys.readouterr().err and final.stat().st_size == 5000
    assert csDownload(site, "-d", dest, "-r", "gtFine_trainvaltest.zip") == 0
    assert final.read_bytes() == data
    assert [r for _, _, r, _ in site.file_requests()] == ["bytes=5000-"]
    assert csDownload(site, "-d", dest, "-r", "gtFine_trainvaltest.zip") == 0
    assert "Already downloaded, md5 sum verified" in capsys.readouterr().out
    assert len(site.file_requests()) == 1


def test_extract_unpacks_into_the_dataset_root_and_keeps_existing_files(site, dest, capsys):
    (dest / "README").write_bytes(b"mine")
    assert csDownload(site, "-d", dest, "--extract", "leftImg8bit_trainvaltest.zip") == 0
    polygons = dest / "gtFine" / "train" / "aachen" / "aachen_000000_000019_gtFine_polygons.json"
    assert polygons.read_bytes() == b'{"objects": []}'
    assert (dest / "README").read_bytes() == b"mine"
    assert "Extracted 1 files" in capsys.readouterr().out


def test_extract_refuses_members_outside_the_root(site, dest, tmp_path, capsys):
    assert csDownload(site, "-d", dest, "--extract", "gtBbox_cityPersons_trainval.zip") == 1
    assert "'../evil.txt' climbs out" in capsys.readouterr().err
    assert not (tmp_path / "evil.txt").exists()
    assert os.listdir(dest) == ["gtBbox_cityPersons_trainval.zip"]  # verified download kept, nothing extracted


@pytest.mark.parametrize("name, mode, reason", [
    ("gtFine/train/a.png", 0o100644, None),
    ("../a.png", 0o100644, "climbs out"),
    ("gtFine\\..\\..\\a.png", 0o100644, "climbs out"),
    ("/etc/passwd", 0o100644, "absolute"),
    ("C:/Windows/a.dll", 0o100644, "absolute"),
    ("gtFine/link", 0o120777, "symbolic link"),
])
def test_unsafe_members(name, mode, reason):
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    found = unsafe_reason(info)
    assert found is None if reason is None else reason in found


def test_extract_zip_refuses_a_symlink_member_before_writing(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("gtFine/a.txt", b"a")
        link = zipfile.ZipInfo("gtFine/link")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    (tmp_path / "root").mkdir()
    with pytest.raises(DownloadError, match="'gtFine/link' is a symbolic link"):
        extract_zip(str(archive), str(tmp_path / "root"), progress=False)
    assert os.listdir(tmp_path / "root") == []


def test_parse_size_to_bytes():
    assert downloader.parse_size_to_bytes("11GB") == 11 * 2 ** 30
    assert downloader.parse_size_to_bytes("241MB") == 241 * 2 ** 20
    assert downloader.parse_size_to_bytes("1.5kb") == 1536
    with pytest.raises(ValueError, match="Invalid size format"):
        downloader.parse_size_to_bytes("big")


def test_an_unreachable_site_is_retried_then_reported():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=r"cannot reach http://127.0.0.1:\d+: .*\(3 retries\)"):
        downloader.login(base_url=f"http://127.0.0.1:{port}")


def test_a_silent_server_times_out_instead_of_hanging(monkeypatch):
    monkeypatch.setattr(Session, "timeout", 0.2)
    with socket.socket() as s:  # accepts connections (the kernel's backlog) and never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        with pytest.raises(DownloadError, match=r"timed out.*\(3 retries\)"):
            downloader.login(base_url=f"http://127.0.0.1:{s.getsockname()[1]}")


def test_a_whole_part_left_before_its_rename_is_verified_and_renamed(site, dest):
    data = site.files["1"][1]
    (dest / "gtFine_trainvaltest.zip.part").write_bytes(data)
    assert csDownload(site, "-d", dest, "gtFine_trainvaltest.zip") == 0
    assert [(r, sent) for _, _, r, sent in site.file_requests()] == [(f"bytes={len(data)}-", 0)]  # answered 416
    assert os.listdir(dest) == ["gtFine_trainvaltest.zip"]


def test_the_exact_size_is_checked_before_the_first_byte(site, dest, monkeypatch):
    monkeypatch.setattr(downloader, "_free_bytes", lambda folder: 299_500)  # the listed 292KB fit, 300000 bytes do not
    with pytest.raises(DownloadError, match="not enough space: 300000 more bytes needed, 299500 free"):
        downloader.download_packages(session=downloader.login(base_url=site.url),
                                     package_names=["gtFine_trainvaltest.zip"], destination_path=str(dest))
    assert os.listdir(dest) == []


def test_pages_behind_the_login_say_so(site):
    with pytest.raises(DownloadError, match="redirected to /login: not logged in"):
        downloader.get_available_packages(session=Session(site.url))
