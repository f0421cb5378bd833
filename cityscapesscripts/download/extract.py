"""Unpacking a downloaded package into the dataset root, refusing members that would land outside it.

Cityscapes packages are zip archives whose members already follow the
dataset layout (``gtFine/train/aachen/...``, ``README``), so the root is the
folder they were downloaded to.  Every member is checked before anything is
written; each file goes to a temporary name and is renamed, and files that
already exist are kept, so running the extraction again completes an
interrupted one.
"""
import os
import re
import shutil
import stat
import zipfile

from tqdm import tqdm

from ..errors import DownloadError
from ..io.files import atomic_target

_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_reason(info):
    """Why the zip member ``info`` may not be extracted (it could land outside the root), or None."""
    name = info.filename
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "has an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "climbs out with '..'"
    return None


def extract_zip(archive, root, progress=True):
    """Extract the zip ``archive`` under ``root``; returns (files written, existing files kept).

    Raises :class:`DownloadError` naming the archive, before writing
    anything, when a member is unsafe (``..``, absolute, symbolic link) or
    the files to write do not fit in the free space of ``root``.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            unsafe = [f"'{m.filename}' {reason}" for m in members for reason in [unsafe_reason(m)] if reason]
            if unsafe:
                raise DownloadError(f"refused to extract: members would land outside {root}: "
                                    + ", ".join(unsafe), archive)
            files = [(m, os.path.join(root, *re.split(r"[/\\]", m.filename))) for m in members if not m.is_dir()]
            new = [(m, target) for m, target in files if not os.path.exists(target)]
            needed, free = sum(m.file_size for m, _ in new), shutil.disk_usage(root).free
            if needed > free:
                raise DownloadError(f"not enough space to extract into {root}: {needed} bytes needed, "
                                    f"{free} free", archive)
            with tqdm(desc=f"Extracting {os.path.basename(archive)}", total=needed, unit="B", unit_scale=True,
                      unit_divisor=1024, disable=not progress) as bar:
                for member, target in new:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with atomic_target(target) as tmp, zf.open(member) as src, open(tmp, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    bar.update(member.file_size)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise DownloadError(f"cannot extract: {e}", archive) from e
    return len(new), len(files) - len(new)
