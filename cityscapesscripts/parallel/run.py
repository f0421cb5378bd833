"""The map loop and the run it follows: the windowed, in-order loop over any backend, and :class:`Run`."""
from __future__ import annotations

import functools
import signal
import sys
from collections import deque
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, TypeVar

from ..errors import ItemError, error_record, failures_error, item_name
from ..io import limits
from .dask_backend import _DaskBackend, block_client, check_installed, connect
from .forkpool import _LocalPool
from .spawnpool import _SpawnPool
from .worker import WithSettings, _run_one, default_jobs, one_blas_thread

Item = TypeVar("Item")
Result = TypeVar("Result")


class Mergeable(Protocol):
    """What :func:`merge_into` adds partial results to: an accumulator's ``merge``."""

    def merge(self, other: Any) -> Any: ...


Total = TypeVar("Total", bound=Mergeable)


def progress_bar(total: int, desc: str, enabled: bool | None = None) -> Any:
    """A tqdm bar on a terminal (stderr), else a no-op; plain counter if tqdm is missing."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return _Silent()
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency, but degrade gracefully
        return _Silent()
    return tqdm(total=total, desc=desc, unit="img", leave=False, dynamic_ncols=True)


class _Silent:
    def update(self, n=1):
        pass

    def close(self):
        pass


class Run:
    """How a tool's batches run: made by its entry point from its options, passed down as ``jobs``.

    ``jobs`` local worker processes (None or 0: every core; 1: in this process); or a Dask ``client``;
    or the Dask ``scheduler`` at an address (``tcp://host:8786``, or ``local`` for a ``LocalCluster`` of
    ``jobs`` single-threaded worker processes), connected by the first map that needs it (so a tool that
    fails before its batch starts no cluster) and closed with the run.  ``max_pixels``: the largest image
    read or drawn (:mod:`cityscapesscripts.io.limits`), in force in every worker of the run's maps, local
    or remote, and in this process inside ``with run:``; None: the limit chosen in this process, or the
    default.  ``with run:`` also closes the connection at its end.  The fields are read-only.
    """
    __slots__ = ("jobs", "client", "scheduler", "max_pixels", "_connection", "_limit")
    jobs: int | None
    client: Any
    scheduler: str | None
    max_pixels: int | None
    _connection: tuple[Any, Any] | None
    _limit: Any

    def __init__(self, jobs: int | None = None, client: Any = None, scheduler: str | None = None,
                 max_pixels: int | None = None) -> None:
        if scheduler is not None:
            check_installed()
        if max_pixels is not None:
            max_pixels = limits.checked_limit(max_pixels)
        for field, value in (("jobs", jobs or None), ("client", client), ("scheduler", scheduler),
                             ("max_pixels", max_pixels), ("_connection", None), ("_limit", None)):
            object.__setattr__(self, field, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r} of a Run")

    def __repr__(self):
        return (f"Run(jobs={self.jobs!r}, client={self.client!r}, scheduler={self.scheduler!r}, "
                f"max_pixels={self.max_pixels!r})")

    def dask_client(self) -> Any:
        """The Dask client this run's maps go to (connecting to its scheduler the first time), or None:
        the run's client, its scheduler's, else the one of the enclosing :func:`use_client` block."""
        if self.client is not None:
            return self.client
        if self.scheduler is not None:
            connection = self._connection
            if connection is None:
                connection = connect(self.scheduler, self.jobs)
                object.__setattr__(self, "_connection", connection)
            return connection[0]
        return block_client()

    def close(self) -> None:
        """Close the connection to the scheduler (and its local cluster) if this run made one."""
        connection = self._connection
        object.__setattr__(self, "_connection", None)
        if connection is not None:
            client, cluster = connection
            client.close()
            if cluster is not None:
                cluster.close()

    def __enter__(self) -> Run:
        object.__setattr__(self, "_limit", limits.applied(self.max_pixels))
        self._limit.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            self.close()
        finally:
            self._limit.__exit__(*exc)


_DIED = "the worker process died while processing this item (killed, out of memory, or crashed)"


def map_items(func: Callable[[Item], Result], items: Iterable[Item], jobs: Run | int | None = None, desc: str = "",
              progress: bool | None = None, name: Callable[[Item], str] = item_name,
              client: Any = None) -> Iterator[Result | ItemError]:
    """Yield ``func(item)`` or an :class:`ItemError` for each item, in input order.

    ``func`` must pickle (a module-level function or a ``functools.partial``
    of one).  ``jobs``: a :class:`Run`, or a number of worker processes
    (None or 0: all cores; 1 runs in this process).
    ``name(item)`` names an item in its error (default :func:`item_name`).
    ``progress``: None shows a bar on a terminal, True / False force it.
    ``client``: a Dask ``distributed.Client`` to run on instead of local
    processes (default: the run's, else the one of :func:`use_client`).
    """
    items = list(items)
    run = jobs if isinstance(jobs, Run) else Run(jobs)
    limit = run.max_pixels if run.max_pixels is not None else limits.chosen()
    task: Callable[[Item], Result] = func
    if limit is not None:  # the limit travels with each task, to whichever process runs it
        task = WithSettings(func, limit)
    client = client if client is not None else run.dask_client()
    new_backend: Callable[[], Any]
    if client is not None:
        workers = max(1, sum(client.nthreads().values()))
        new_backend = functools.partial(_DaskBackend, client)
    else:
        workers = min(default_jobs() if not run.jobs else run.jobs, max(1, len(items)))
        new_backend = functools.partial(_LocalPool if sys.platform.startswith("linux") else _SpawnPool, workers)
    if client is None and workers <= 1:
        bar = progress_bar(len(items), desc, progress)
        try:
            for item in items:
                yield _run_one(task, name(item), item)
                bar.update()
        finally:
            bar.close()
        return
    with one_blas_thread():  # before the pool forks: the workers inherit it
        if client is None:  # eight or more messages a worker: the parent's work per reply, not per item, is what grows
            # with the workers (measured), and the last messages still end together
            size = max(1, min(8, len(items) // (workers * 8)))
        else:  # a Dask task costs its client and scheduler 1-4 ms of CPU, a pool's message 60 us: a few per worker
            size = -(-len(items) // (workers * 4))
        pairs = [(name(item), item) for item in items]
        # chunks as positions in pairs: a forked worker has the pairs, the other backends are sent them
        pending: deque[tuple[bool, Sequence[int]]] = deque(
            (False, range(s, min(s + size, len(pairs)))) for s in range(0, len(pairs), size))
        window, held = 2 * workers, 8 * workers  # chunks running or queued; chunks submitted and not yet given back
        backend = new_backend()
        in_flight: deque[tuple[bool, Sequence[int], Any]] = deque()  # (isolated, chunk, future), in order
        bar = None
        cancel = True
        try:
            while pending or in_flight:
                try:
                    # an isolated chunk (one item suspected of killing its worker) runs alone
                    unfinished = backend.unfinished()
                    while pending and len(in_flight) < held and unfinished < window and not (
                            in_flight and (pending[0][0] or in_flight[-1][0])):
                        future = backend.submit_chunk(task, pairs, pending[0][1])
                        in_flight.append(pending.popleft() + (future,))
                        unfinished += 1
                    if bar is None:  # after the first submit: the pool forks before tqdm starts its thread
                        bar = progress_bar(len(items), desc, progress)
                    if (not in_flight[0][2].done() and pending and len(in_flight) < held
                            and not (pending[0][0] or in_flight[-1][0])):
                        # the window is full of running chunks and the first is not done: hand out more
                        # as soon as any ends, so a slow chunk does not leave the other workers idle
                        backend.wait_any()
                        continue
                    error = None
                    try:
                        results = in_flight[0][2].result()
                    except backend.lost:
                        raise
                    except Exception as e:  # the chunk's result could not come back (e.g. it does not pickle)
                        error = e
                    if error is not None:
                        chunk = in_flight[0][1]
                        if len(chunk) > 1:  # which item's fault: each runs again alone, in its place
                            in_flight.popleft()
                            in_flight.extendleft(reversed([(False, [k], backend.submit_chunk(task, pairs, [k]))
                                                           for k in chunk]))
                            continue
                        results = [error_record(pairs[chunk[0]][0], error)]
                except backend.lost:
                    backend.close(cancel=True)
                    backend = new_backend()
                    if not in_flight or not in_flight[0][0]:  # run everything that was in flight again, one item at a time
                        pending.extendleft(reversed([(True, [k]) for _, chunk, _ in in_flight for k in chunk]))
                        in_flight.clear()
                        continue
                    results = [ItemError(pairs[in_flight[0][1][0]][0], _DIED)]
                in_flight.popleft()
                for result in results:
                    bar.update()
                    yield result
            cancel = False
        finally:
            backend.close(cancel)
            if bar is not None:
                bar.close()


def collect(func: Callable[[Item], Result], items: Iterable[Item], jobs: Run | int | None = None, desc: str = "",
            progress: bool | None = None, name: Callable[[Item], str] = item_name, client: Any = None) -> list[Result]:
    """``[func(item) for item in items]`` through :func:`map_items`, after the whole batch ran.

    Raises when any item failed: a single failure's own error when it is a
    :class:`CityscapesError` (as a serial run raises), else a
    :class:`BatchError` listing every failure.
    """
    results: list[Result] = []
    failures: list[ItemError] = []
    for result in map_items(func, items, jobs, desc, progress, name, client):
        if isinstance(result, ItemError):
            failures.append(result)
        else:
            results.append(result)
    if failures:
        raise failures_error(failures)
    return results


def merge_into(total: Total, func: Callable[[Item], Any], items: Iterable[Item], jobs: Run | int | None = None,
               desc: str = "", progress: bool | None = None, name: Callable[[Item], str] = item_name,
               client: Any = None) -> Total:
    """Map ``func`` over the items and ``total.merge`` each partial result as it arrives; returns ``total``.

    Raises as :func:`collect` does, after the whole batch ran, when any item failed.
    """
    failures = []
    for partial in map_items(func, items, jobs, desc, progress, name, client):
        if isinstance(partial, ItemError):
            failures.append(partial)
        else:
            total.merge(partial)
    if failures:
        raise failures_error(failures)
    return total


class _Each:
    """Totals merged element-wise with a sequence of partial results (one per total)."""

    def __init__(self, totals):
        self.totals = totals

    def merge(self, partials):
        for total, partial in zip(self.totals, partials):
            total.merge(partial)
        return self


def merge_each(totals: Sequence[Mergeable], func: Callable[[Item], Sequence[Any]], items: Iterable[Item],
               jobs: Run | int | None = None, desc: str = "", progress: bool | None = None,
               name: Callable[[Item], str] = item_name, client: Any = None) -> Sequence[Mergeable]:
    """:func:`merge_into` for a ``func`` that returns one partial result per total, in order;
    returns ``totals`` (a sweep: one item scored against several prediction sets)."""
    merge_into(_Each(totals), func, items, jobs, desc, progress, name, client)
    return totals


def stop_on_sigterm() -> Any:
    """Make SIGTERM raise ``KeyboardInterrupt`` in this (main) thread, as Ctrl-C does; returns the old handler."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    return signal.signal(signal.SIGTERM, interrupt)
