"""csDownload: list and fetch the packages of the Cityscapes website, resumable and verified.

    csDownload -l                                   list the packages your account may download
    csDownload [-d DEST] [--extract] PACKAGE...     download (and unpack) them into DEST

A package is streamed into ``DEST/NAME.part`` while its md5 is computed, and
renamed to ``DEST/NAME`` only when the md5 matches the site's, so a file
with the final name is always complete.  A ``.part`` left by an interrupted
run is resumed (the server's ``Content-Range`` must start where it ends);
broken connections are resumed the same way, with growing waits.  Nothing
the user has is deleted: a ``.part`` whose md5 does not match is kept and
named in the error.

Credentials come from ``$CITYSCAPES_USERNAME`` / ``$CITYSCAPES_PASSWORD``,
else from ``credentials.json`` in the user data folder (where the original
stored them), else from a prompt, which offers to store them there (mode
600).  ``--base-url`` / ``$CITYSCAPES_DOWNLOAD_URL`` point to another server.
"""
import difflib
import getpass
import hashlib
import http.client
import json
import os
import shutil
import sys
import zipfile

from tqdm import tqdm

from .. import cli
from ..cli import entry_point
from ..errors import ArgumentError, BatchError, CredentialsError, DownloadError
from ..io.files import atomic_target
from .extract import extract_zip
from .session import Session, TransientError

_CHUNK = 1 << 20
_NOT_AN_ERROR = range(200, 400)
_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def user_data_dir():
    """The folder where the original kept ``credentials.json`` (appdirs' user data folder of the package)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        return os.path.join(base, "cityscapes", "cityscapesscripts")
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~"), "Library", "Application Support", "cityscapesscripts")
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "cityscapesscripts")


def _credentials():
    """(credentials dict, where they came from, file to store them in or None)."""
    username, password = os.environ.get("CITYSCAPES_USERNAME"), os.environ.get("CITYSCAPES_PASSWORD")
    if username and password:
        return {"username": username, "password": password}, "$CITYSCAPES_USERNAME / $CITYSCAPES_PASSWORD", None
    credentials_file = os.path.join(user_data_dir(), "credentials.json")
    if os.path.isfile(credentials_file):
        try:
            with open(credentials_file, encoding="utf-8") as f:
                stored = json.load(f)
            return ({"username": stored["username"], "password": stored["password"]},
                    f"{credentials_file} (edit or delete it to change them)", None)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CredentialsError(f"cannot read stored credentials ({e!r}); fix or delete the file",
                                   credentials_file) from e
    if not sys.stdin.isatty():
        raise CredentialsError("no credentials: set CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD, "
                               f"or run csDownload in a terminal once and store them in {credentials_file}")
    credentials = {"username": input("Cityscapes username or email address: "),
                   "password": getpass.getpass("Cityscapes password: ")}
    answer = input(f"Store credentials unencrypted in '{credentials_file}' [y/N]: ").strip().lower()
    return credentials, "the prompt", credentials_file if answer in ("y", "yes") else None


def _store_credentials(credentials, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_target(path, mode=0o600) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(credentials, f)


def login(*, base_url=None):
    """A :class:`Session` logged into the site: GET then POST of the login page, where a 302 means success."""
    session = Session(base_url)
    credentials, source, store_in = _credentials()
    session.check(session.open("GET", "/login"), *_NOT_AN_ERROR).close()
    answer = session.open("POST", "/login", form={**credentials, "submit": "Login"})
    session.check(answer, *_NOT_AN_ERROR).close()
    if answer.status != 302:
        raise CredentialsError(f"{session.base_url} refused the username or password from {source}")
    if store_in:
        _store_credentials(credentials, store_in)
    return session


def get_available_packages(*, session):
    """The site's package list: dicts with ``packageID``, ``name``, ``size`` (like ``'11GB'``), ``thirdparty``."""
    with session.check(session.open("GET", "/downloads/?list"), 200) as r:
        body = r.read()
    try:
        return json.loads(body)
    except ValueError as e:
        raise DownloadError(f"the package list of {session.base_url} is not JSON: {body[:80]!r}") from e


def list_available_packages(*, session):
    packages = get_available_packages(session=session)
    print("The following packages are available for download.")
    print("Please refer to https://www.cityscapes-dataset.com/downloads/ "
          "for additional packages and instructions on properly citing third party packages.")
    for p in packages:
        print(f" {p['name']} -> {p['size']}" + (" (third party)" if str(p.get("thirdparty")) == "1" else ""))


def parse_size_to_bytes(size_str):
    """Bytes of a listed size such as ``'11GB'`` or ``'241MB'`` (units of 1024)."""
    size = size_str.strip().upper()
    unit = size.lstrip("0123456789. ")
    try:
        return float(size[:len(size) - len(unit)]) * _UNITS[unit]
    except (ValueError, KeyError):
        raise ArgumentError(f"Invalid size format {size_str!r}. Use 'B', 'KB', 'MB', 'GB' or 'TB'.") from None


def _md5_of_file(path):
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            md5.update(chunk)
    return md5


def _expected_md5(session, package_id):
    with session.check(session.open("GET", f"/md5-sum/?packageID={package_id}"), 200) as r:
        words = r.read().decode("ascii", "replace").split()
    if not words or len(words[0]) != 32 or any(c not in "0123456789abcdefABCDEF" for c in words[0]):
        raise DownloadError(f"{session.url(f'/md5-sum/?packageID={package_id}')} gave no md5 sum: {words[:2]}")
    return words[0].lower()


def _content_range(response):
    """(first byte, total size) of a 206 answer's ``Content-Range: bytes FIRST-LAST/TOTAL``."""
    value = response.headers.get("Content-Range", "")
    try:
        unit, span = value.split(" ", 1)
        first_last, total = span.split("/")
        first, last = (int(v) for v in first_last.split("-"))
        if unit != "bytes" or last != int(total) - 1:
            raise ValueError
        return first, int(total)
    except ValueError:
        raise DownloadError(f"{response.url} answered a range request with Content-Range {value!r}") from None


def _free_bytes(folder):
    return shutil.disk_usage(folder).free


def _stream(session, package_id, part, listed_size, quiet=False):
    """Fill ``part`` with the package, resuming from its current size; returns the md5 of the whole file."""
    say = cli.printer(quiet)
    path = f"/file-handling/?packageID={package_id}"
    state = {"offset": 0, "md5": hashlib.md5()}
    if os.path.exists(part):
        state["offset"], state["md5"] = os.path.getsize(part), _md5_of_file(part)

    def attempt():
        offset = state["offset"]
        response = session.open_once("GET", path, headers={"Range": f"bytes={offset}-"} if offset else None)
        with response:
            if response.status == 416:  # nothing after offset: the .part may be whole already
                content_range = response.headers.get("Content-Range", "")
                if content_range.rpartition("/")[2] != str(offset):
                    raise DownloadError(f"{offset} bytes, but the server has no bytes after them "
                                        f"(Content-Range {content_range!r}); delete it to download again", part)
                return
            session.check(response, 200, 206)
            if response.status == 206:
                first, total = _content_range(response)
                if first != offset:
                    raise DownloadError(f"asked to resume at byte {offset}, the server sent from byte {first}",
                                        part)
            else:  # the whole file: the server ignored the range, or there was none to ask for
                if offset:
                    say(f"The server does not resume; downloading '{os.path.basename(part)}' from the start")
                state["offset"], state["md5"] = 0, hashlib.md5()
                bar.initial = 0  # else the rate counts from the discarded bytes
                bar.reset(bar.total)
                length = response.headers.get("Content-Length")
                total = int(length) if length is not None else None
            if total is not None:
                bar.total = total
                missing, free = total - state["offset"], _free_bytes(os.path.dirname(part))
                if missing > free:
                    raise DownloadError(f"not enough space: {missing} more bytes needed, {free} free", part)
            with open(part, "ab" if state["offset"] else "wb") as f:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, http.client.HTTPException) as e:  # reset, timed out, incomplete read
                        raise TransientError(f"connection broken after {state['offset']} bytes: {e!r}") from e
                    if not chunk:
                        break
                    f.write(chunk)
                    state["md5"].update(chunk)
                    state["offset"] += len(chunk)
                    bar.update(len(chunk))
            if total is not None and state["offset"] < total:
                raise TransientError(f"connection closed after {state['offset']} of {total} bytes")

    with tqdm(desc="Download progress", total=listed_size, initial=state["offset"], unit="B", unit_scale=True,
              unit_divisor=1024, miniters=1, disable=quiet) as bar:
        session.retry(attempt, f"GET {session.url(path)}", progress=lambda: state["offset"])
    return state["md5"]


def _listed_bytes(package):
    try:
        return int(parse_size_to_bytes(package["size"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _check_destination(destination_path):
    if not os.path.isdir(destination_path):
        raise DownloadError(f"Destination path '{destination_path}' does not exist.")


def _unknown_names_error(unknown, available):
    names = []
    for name in unknown:
        close = difflib.get_close_matches(name, available, n=3)
        names.append(f"'{name}'" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    return DownloadError("These packages do not exist or you don't have access: " + ", ".join(names)
                         + "; csDownload -l lists them")


def download_packages(*, session, package_names, destination_path, resume=False, extract=False, quiet=False):
    """Download the named packages into ``destination_path``, verified; unpack them there with ``extract``.

    Unknown names and too little free space (by the listed sizes) stop the
    batch before anything is downloaded.  Otherwise every package is tried;
    the failures are raised at the end, as a :class:`BatchError` when more
    than one.  ``resume`` also verifies a finished-looking ``NAME`` (the
    original wrote partial downloads under the final name) and resumes it
    when its md5 does not match; a ``NAME.part`` is always resumed.  ``quiet``: no progress bars or messages.
    """
    _check_destination(destination_path)
    packages = {p["name"]: p for p in get_available_packages(session=session)}
    names = list(dict.fromkeys(package_names))
    unknown = [n for n in names if n not in packages]
    if unknown:
        raise _unknown_names_error(unknown, list(packages))
    needed = 0
    for name in names:
        local = os.path.join(destination_path, name)
        if not os.path.exists(local):
            part = local + ".part"
            have = os.path.getsize(part) if os.path.exists(part) else 0
            needed += max(0, (_listed_bytes(packages[name]) or 0) - have)
    free = _free_bytes(destination_path)
    if needed > free:
        raise DownloadError(f"not enough space in '{destination_path}': the packages need about {needed} bytes, "
                            f"{free} are free")
    failures = []
    for name in names:
        try:
            _download_package(session, packages[name], destination_path, resume, extract, quiet)
        except DownloadError as e:
            failures.append(e)
        except OSError as e:  # the destination: full disk, permissions
            failures.append(DownloadError(f"package '{name}': {e.strerror or e}",
                                          e.filename or os.path.join(destination_path, name)))
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise BatchError([str(e) for e in failures])


def _download_package(session, package, destination_path, resume, extract, quiet):
    say = cli.printer(quiet)
    name = package["name"]
    local = os.path.join(destination_path, name)
    part = local + ".part"
    say(f"Downloading cityscapes package '{name}' to '{local}'")
    md5 = _expected_md5(session, package["packageID"])
    if os.path.exists(local) and not resume:
        raise DownloadError("Destination file already exists (-r verifies it, and resumes it if incomplete).", local)
    if os.path.exists(local) and _md5_of_file(local).hexdigest() == md5:
        say("Already downloaded, md5 sum verified")
    else:
        if os.path.exists(local):
            if os.path.exists(part):
                raise DownloadError(f"its md5 sum does not match, and '{part}' exists too; move one away", local)
            os.replace(local, part)
        if os.path.exists(part):
            say("Resuming previous download")
        got = _stream(session, package["packageID"], part, _listed_bytes(package), quiet).hexdigest()
        if got != md5:
            raise DownloadError(f"package '{name}': MD5 sum of downloaded file ({got}) does not match the site's "
                                f"({md5}); kept, delete it to download again", part)
        os.replace(part, local)
    if extract:
        if zipfile.is_zipfile(local):
            written, kept = extract_zip(local, destination_path)
            say(f"Extracted {written} files into '{destination_path}'"
                  + (f", kept {kept} that existed" if kept else ""))
        else:
            say(f"'{name}' is not a zip archive; left as it is")


def _parser():
    parser = cli.parser(
        "Download packages of the Cityscapes Dataset.",
        epilog="Requires an account that can be created via https://www.cityscapes-dataset.com/register/")
    parser.add_argument("-l", "--list_available", action="store_true", help="list available packages and exit")
    parser.add_argument("-d", "--destination_path", default=".", help="destination path for downloads")
    parser.add_argument("-r", "--resume", action="store_true",
                        help="resume previous download: also verify an existing NAME and resume it if incomplete "
                             "(NAME.part is always resumed)")
    parser.add_argument("--extract", action="store_true",
                        help="unzip each verified package into the destination (the dataset root)")
    parser.add_argument("--base-url", metavar="URL",
                        help="the site to download from (default: $CITYSCAPES_DOWNLOAD_URL, else the Cityscapes site)")
    cli.add_quiet_option(parser, "no progress bars or messages (the list of -l and errors still print)")
    parser.add_argument("package_name", nargs="*", help="name of the packages to download")
    return parser


def parse_arguments(argv=None):
    return _parser().parse_args(argv)


@entry_point
def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.list_available and not args.package_name:
        parser.error("give the names of the packages to download, or -l to list them")
    if not args.list_available:
        _check_destination(args.destination_path)
    session = login(base_url=args.base_url)
    if args.list_available:
        list_available_packages(session=session)
        return 0
    try:
        download_packages(session=session, package_names=args.package_name,
                          destination_path=args.destination_path, resume=args.resume, extract=args.extract,
                          quiet=args.quiet)
    except KeyboardInterrupt:
        print("Run the same command again to resume the download.", file=sys.stderr)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
