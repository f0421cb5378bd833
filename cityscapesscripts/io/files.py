"""Files named by other files, temporary files, content digests: the checks at the package's edges.

* :func:`real_location`: the one rule for symbolic links that every tool
  applies (batch tools, evaluators, web servers): a linked split folder, or
  a folder above it, is part of the dataset; below it, a link leading out is
  refused.
* :func:`resolve_inside`: a name read from a file (a mask path in a
  prediction txt, a ``file_name`` in a JSON) must resolve, symlinks
  followed, inside the folder it is relative to.
* :func:`atomic_target` / :func:`write_atomic`: every file the tools write
  (label maps, JSON, text, figures, downloads) goes to a temporary name in
  its folder and is renamed into place, so an interrupted or failed run
  never leaves a half-written file.
* Temporary files of atomic writes are named ``.tmp-{pid}_{host}_...`` so a
  later run can tell those of a dead process, and of one whose id was reused
  (:func:`remove_stale_temporaries`).
* :func:`content_digest`: a hash of files' bytes, to key caches on content.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import re
from typing import Callable, Iterable, Iterator, Union

from ..errors import FileAccessError

StrPath = Union[str, "os.PathLike[str]"]  # a path as the os module takes it


def _host_name():
    try:
        return os.uname().nodename  # socket.gethostname() on Linux and macOS, without importing socket
    except AttributeError:  # pragma: no cover - Windows
        import socket
        return socket.gethostname()


_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", _host_name())
_TEMPORARY = re.compile(r"^\.tmp-(\d+)_([A-Za-z0-9.-]*)_")


DATASET_LINKED_LEVELS = 2  # below a dataset root, {type}/{split} (and the root itself) may be symbolic links


def real_location(path: str, folder: str, linked_levels: int = 0,
                  real_folders: dict | None = None) -> tuple[str, bool]:
    """``(real path, inside)``: where ``path`` (below ``folder``) really lies, and whether that is in the dataset.

    The rule for symbolic links of every tool: ``folder`` and the first
    ``linked_levels`` folders of ``path`` below it may be links to anywhere
    (a split folder on another disk is part of the dataset: ``folder`` a split
    folder and 0 levels, or a dataset root and the 2 levels ``{type}/{split}``);
    below the deepest of them, the real path must stay inside its real
    location.  A file that is a link leading out is refused at every level.
    ``..`` leading above ``folder`` is outside.  ``real_folders``: a dict,
    passed to every call of a caller resolving many paths, in which the real
    location of each folder is kept (then only the last component of
    ``path`` is looked at for a link).
    """
    path = os.path.abspath(path)
    parts = os.path.relpath(path, folder).split(os.sep)
    levels = 0 if parts[0] == os.pardir else min(linked_levels, len(parts) - 1)
    anchor = os.path.join(folder, *parts[:levels])
    if real_folders is None or os.path.islink(path):
        real, real_anchor = os.path.realpath(path), os.path.realpath(anchor)
    else:  # each folder resolved once; the last component is no link
        directory, base = os.path.split(path)
        real, real_anchor = os.path.join(_resolved(real_folders, directory, "")[1], base), \
            _resolved(real_folders, anchor, "")[1]
    return real, real == real_anchor or real.startswith(os.path.join(real_anchor, ""))


def resolve_inside(folder: str, name: object, error: Callable[[str, str | None], Exception], source: str | None = None,
                   what: str = "file", root: str | None = None, real_folders: dict | None = None) -> str:
    """The absolute path of ``name`` relative to ``folder``; ``error(reason, source)`` unless it lies in ``root``.

    ``root`` defaults to ``folder``.  Absolute names, and ``..`` components
    or symlinks that lead out of ``root`` (both resolved; :func:`real_location`),
    are refused.  ``real_folders``: a dict a caller resolving many names at
    once passes to each call, so the folders the names lie in are resolved
    once each.
    """
    if not isinstance(name, str) or not name:
        raise error(f"{what} name must be a non-empty string, got {name!r}", source)
    if os.path.isabs(name):
        raise error(f"{what} {name} must be a path relative to {folder}", source)
    path = os.path.abspath(os.path.join(folder, name))
    real_path, inside = real_location(path, folder if root is None else root, real_folders=real_folders)
    if not inside:
        raise error(f"{what} {name} points outside {folder if root is None else root} (to {real_path})", source)
    return path


def make_folders(path: StrPath) -> None:
    """``os.makedirs(path, exist_ok=True)``, raising :class:`FileAccessError` naming the folder."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise FileAccessError.of(e, path, "create the folder") from e


def resolved_folders(folders: Iterable[str]) -> dict:
    """A ``real_folders`` memo of :func:`resolve_inside` holding ``folders``, resolved once by a caller
    that sends it with many names of those folders to other processes."""
    memo: dict = {}
    for folder in folders:
        _resolved(memo, folder, "")
    return memo


def _resolved(memo, folder, name):
    """``(absolute path, real path)`` of ``folder/name``, through ``memo``."""
    key = (folder, name)
    if key not in memo:
        path = os.path.abspath(os.path.join(folder, name))
        memo[key] = path, os.path.realpath(path)
    return memo[key]


def temporary_prefix() -> str:
    """The prefix of this process's temporary files: ``.tmp-{pid}_{host}_``."""
    return f".tmp-{os.getpid()}_{_HOST}_"


_temporary_numbers = itertools.count()  # the temporaries of one process differ by their number


@contextlib.contextmanager
def atomic_target(path: StrPath, mode: int = 0o644) -> Iterator[str]:
    """A temporary path in the folder of ``path``, renamed to ``path`` (with ``mode``) when the block succeeds."""
    folder = os.path.dirname(os.path.abspath(path))
    suffix = "-" + os.path.basename(path)
    while True:  # unique by process id and number (not ``tempfile``, whose import costs every tool's start-up)
        tmp = os.path.join(folder, f"{temporary_prefix()}{next(_temporary_numbers)}{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            break
        except FileExistsError:  # left by a dead process that had the same id: take the next number
            continue
        except OSError as e:
            raise FileAccessError.of(e, path) from e  # the file we could not write, not its temporary name
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and not isinstance(e, FileAccessError):  # name the target, not the temporary
            raise FileAccessError.of(e, path) from e
        raise


def write_atomic(path: StrPath, data: bytes, mode: int = 0o644) -> None:
    """Write bytes to ``path`` through a temporary file in the same folder."""
    with atomic_target(path, mode) as tmp, open(tmp, "wb") as f:
        f.write(data)


def remove_stale_temporaries(folders: Iterable[str]) -> list[str]:
    """Remove temporary files that a killed run of this host left in ``folders``; returns their paths.

    A temporary file is stale when the process that made it (its name holds
    the process id and host) no longer runs: no process has that id, it is
    a zombie (killed, not yet reaped), or it started after the file was last
    written (the id was reused; both told on Linux, from ``/proc``).  Files of
    other hosts (a shared file system) and of running processes are kept.
    """
    removed = []
    for folder in sorted(set(folders)):
        try:
            entries = list(os.scandir(folder))
        except OSError:  # not created yet, or unreadable: nothing of ours there
            continue
        for entry in entries:
            found = _TEMPORARY.match(entry.name)
            if found and found.group(2) == _HOST and _writer_gone(int(found.group(1)), entry):
                try:
                    os.unlink(entry.path)
                    removed.append(entry.path)
                except OSError:
                    pass
    return removed


# Start times come from the boot time (whole seconds) and the wall clock may have been adjusted since:
# a process counts as younger than a file only by this margin, so a writer's own file is never taken.
_START_MARGIN_S = 60


def _writer_gone(pid, entry):
    if not _running(pid):
        return True
    state, started = _process_state(pid)
    if state in (b"Z", b"X"):  # killed, not yet reaped by its parent (or by init, for a killed pool's workers)
        return True
    if started is None:
        return False
    try:
        written = entry.stat().st_mtime
    except OSError:  # removed meanwhile (its writer renamed it)
        return False
    return started > written + _START_MARGIN_S


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def process_start_time(pid: int) -> int | None:
    """When process ``pid`` started, in seconds since the epoch; None where unknown (no ``/proc``)."""
    return _process_state(pid)[1]


def _process_state(pid):
    """``(state letter, start time)`` of process ``pid`` from ``/proc``; ``(None, None)`` where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            after_name = f.read().rsplit(b")", 1)[1].split()  # the name, in parentheses, may hold spaces
        ticks = int(after_name[19])  # field 22, starttime: clock ticks after boot
        return after_name[0], _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None, None


_boot = None


def _boot_time():
    global _boot
    if _boot is None:
        with open("/proc/stat", "rb") as f:
            _boot = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
    return _boot


def content_digest(paths: Iterable[StrPath], chunk: int = 1 << 20) -> str:
    """A hex digest of the paths and bytes of ``paths``, in order (BLAKE2b)."""
    import hashlib  # here: the batch tools, which import this module, never hash
    digest = hashlib.blake2b(digest_size=20)
    for path in paths:
        digest.update(os.path.abspath(path).encode() + b"\0")
        with open(path, "rb") as f:
            while True:
                block = f.read(chunk)
                if not block:
                    break
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()
