"""What runs in a worker: its set-up, and each item run so that it never raises.

A worker of any backend ignores interruptions (the parent decides), dies with
its parent, keeps freed image buffers, and runs its numerical libraries on
one thread; each task carries the run's settings (:class:`WithSettings`: the pixel
limit), put in force around each item, so a Dask worker on another machine
reads with the same limit as a forked one.
"""
from __future__ import annotations

import functools
import os
import signal
import sys
from typing import Any, Callable

from .. import THREAD_VARIABLES
from ..errors import error_record

# Read by OpenBLAS, OpenMP and MKL when they load: a spawned worker sets them before NumPy is imported.


def default_jobs() -> int:
    """Every core this process may use: the number of workers when none is given."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _run_one(func, name, item):
    try:
        return func(item)
    except KeyboardInterrupt:  # only in-process (workers ignore SIGINT): the user stops the batch
        raise
    except BaseException as e:  # noqa: B036 - a worker never raises: every failure is the item's
        return error_record(name, e)


def _run_chunk(func, chunk):
    return [_run_one(func, name, item) for name, item in chunk]


class SendsItems:
    """A backend whose workers get each chunk's items in its message (spawned processes, Dask)."""

    def submit_chunk(self, func: Callable[[Any], Any], pairs: list, indices: Any) -> Any:
        """Run ``func`` on the ``(name, item)`` pairs at ``indices`` of ``pairs``: a future of their results."""
        return self.submit(_run_chunk, func, [pairs[k] for k in indices])  # type: ignore[attr-defined]


class WithSettings:
    """``func`` run with the run's settings in force in the process that runs it: ``max_pixels``, the
    pixel limit (:mod:`cityscapesscripts.io.limits`; None: that process's own)."""
    __slots__ = ("func", "max_pixels")

    def __init__(self, func: Callable[[Any], Any], max_pixels: int | None = None) -> None:
        self.func, self.max_pixels = func, max_pixels

    def __reduce__(self):
        return WithSettings, (self.func, self.max_pixels)

    def __call__(self, item: Any) -> Any:
        from ..io import limits
        with limits.applied(self.max_pixels):
            return self.func(item)


@functools.lru_cache(maxsize=None)
def _process_calls():
    """``(set_death_signal, mallopt)`` of this process, glibc's ``prctl(PR_SET_PDEATHSIG, signum)`` and
    ``mallopt(param, value)`` through ``ctypes``, or ``None`` where there are none (not glibc).

    Found once: a forked pool finds them in the parent before forking, so its workers do not each pay
    for loading ``ctypes`` and libc (several milliseconds) at start-up.
    """
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - not glibc
        return None
    pr_set_pdeathsig = 1
    return functools.partial(libc.prctl, pr_set_pdeathsig), libc.mallopt


def _keep_freed_buffers(mallopt=None):
    """Let glibc reuse freed image buffers in this worker instead of unmapping them.

    Each frame allocates and frees several multi-megabyte buffers; by default glibc maps them fresh
    each time and pays a page fault per 4 kB page (about 15% of decoding a label map, measured).
    Buffers up to 16 MB (those of a Cityscapes frame are at most 8 MB) are kept; larger ones, of
    frames many times that size, still go back to the system, so a worker's peak stays near the
    bytes it holds at once (benchmarks/MEMORY.md).
    """
    if mallopt is None:
        calls = _process_calls()
        if calls is None:  # pragma: no cover - not glibc
            return
        mallopt = calls[1]
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 16 << 20)
    mallopt(m_trim_threshold, 256 << 20)


def _init_worker():
    """Worker initializer: leave interruption to the parent, die with it, keep freed buffers, one BLAS thread.

    A forked worker inherits the parent's BLAS thread count, one while a pool runs (:class:`one_blas_thread`),
    and no BLAS threads (OpenBLAS stops them at a fork); a spawned one reads the variables when it imports
    NumPy, or is set to one thread here when its main module imported NumPy already.
    """
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for variable in THREAD_VARIABLES:
        os.environ[variable] = "1"
    _use_one_blas_thread()
    calls = _process_calls()
    if calls is None:  # pragma: no cover - not glibc
        return
    set_death_signal, mallopt = calls
    set_death_signal(signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    _keep_freed_buffers(mallopt)


@functools.lru_cache(maxsize=None)
def _openblas():
    """``(get, set)`` of the thread count of the OpenBLAS this process loaded (NumPy's), or None.

    Found in the process's mappings, its calls named as OpenBLAS or NumPy's ``scipy_openblas`` build name them.
    """
    try:
        with open("/proc/self/maps") as f:  # address, permissions, offset, device, inode, path
            paths = {fields[5].strip() for fields in (line.split(None, 5) for line in f if "openblas" in line)
                     if len(fields) == 6}
    except OSError:  # not Linux: spawned workers only, which read the variables
        return None
    if not paths:
        return None
    import ctypes
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("openblas_", ""), ("scipy_openblas_", "64_"), ("openblas_", "64_")):
            try:
                get, put = (getattr(library, f"{prefix}{verb}_num_threads{suffix}") for verb in ("get", "set"))
            except AttributeError:
                continue
            get.restype = ctypes.c_int
            put.argtypes = [ctypes.c_int]
            return get, put
    return None


def _use_one_blas_thread():
    """Run this process's OpenBLAS on one thread; returns the call that restores its count, or None.

    Never called where the count is one already: in a worker forked while it was, setting it would restart
    the thread pool that OpenBLAS stopped at the fork.
    """
    calls = _openblas() if "numpy" in sys.modules else None  # without NumPy, no OpenBLAS of ours
    if calls is None:
        return None
    get, put = calls
    count = get()
    if count == 1:
        return None
    put(1)
    return functools.partial(put, count)


class one_blas_thread:
    """``with one_blas_thread():`` this process's OpenBLAS runs on one thread, its count restored after.

    While a pool runs, the parent merging results must not wake a BLAS thread pool (one thread per
    core, spinning after each call) on the cores the workers use; the pool forks inside, so its
    workers inherit the one thread, and OpenBLAS's own fork handler leaves the parent none running.
    """

    def __enter__(self):
        self._restore = _use_one_blas_thread()
        return self

    def __exit__(self, *exc):
        if self._restore is not None:
            self._restore()
