"""The executor seam: map a function over items, in input order, on a bounded process pool.

Every batch tool runs its per-item work through :func:`map_items` (or
:func:`collect`, which also raises the failures).  The contract:

* **A worker never raises.**  Whatever ``func(item)`` raises (any
  exception: ``OSError``, ``OverflowError``, ``RecursionError``,
  ``MemoryError``, Pillow's ``DecompressionBombError``, ``SystemExit``...)
  becomes that item's :class:`ItemError`, naming the item and the reason;
  the batch goes on.  An exception that is not a failure of the input or the
  machine (a bug, e.g. ``TypeError``) also carries its traceback in the
  reason, so it is never reduced to one line.  Callers get exactly one value per item, in input order.
* **Bounded.**  At most ``2 * jobs`` chunks of items are running or queued,
  and at most ``8 * jobs`` submitted and not yet given back (finished ones
  wait for the chunks before them), whatever the number of items, so memory
  stays bounded and an interruption has little left to finish.  A slow chunk
  does not stall the others: while it runs, the workers go on with later ones.
* **Always closed and joined, never terminated while work is in flight.**
  On ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM under :func:`stop_on_sigterm`)
  nothing more is submitted, running chunks finish (workers ignore SIGINT and
  SIGTERM: no worker tracebacks, no half-written files), the pool is joined
  and the interrupt re-raised.  Only a second interrupt during that wait
  kills the workers.
* **A dead worker is an item's error, not a hang.**  When a worker process
  dies (killed, out of memory, crashed in C), the pool breaks: the chunks in
  flight are run again one item at a time on a fresh pool, and the item that
  breaks it again gets an :class:`ItemError`.  Workers die with the parent
  (Linux ``PR_SET_PDEATHSIG``), so a killed run leaves no orphans.

Backends.  The local process pool is the default: workers forked from this
process and fed through pipes on Linux (:class:`_LocalPool`), a
``ProcessPoolExecutor`` of spawned workers elsewhere (:class:`_SpawnPool`); a
Dask ``distributed.Client`` (:class:`_DaskBackend`) is the other, chosen by
``client=`` or, for a whole tool run, by :func:`use_scheduler` / the console
scripts' ``--scheduler ADDRESS`` (``local`` starts a ``LocalCluster``).  A
backend offers ``submit(fn, *args) -> future``, ``wait_any(futures)``,
``close(cancel)`` and ``lost``, the exceptions of a future whose worker died.  The windowed
in-order loop, the error records, the retry of lost work and the
interruption handling are the same for all: tasks carry the items (file
paths, read by the workers from the shared filesystem) and bring back the
small per-item values, merged here in input order, so a cluster run equals
a local one.
"""
import functools
import gc
import os
import pickle
import select
import signal
import struct
import sys
from collections import deque

from .errors import BatchError, CityscapesError


def default_jobs():
    """Every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def progress_bar(total, desc, enabled=None):
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


class ItemError:
    """The failure of one item: ``item`` (its name, usually its input file) and ``reason``.

    ``exception`` is the original exception when it survives pickling, so a
    caller with a single failure can raise what a serial run raises.  Immutable, compared and
    hashed by its fields (written out rather than a frozen dataclass: ``dataclasses`` imports
    ``inspect``, a sixth of a batch tool's start-up).
    """
    __slots__ = ("item", "reason", "exception")

    def __init__(self, item, reason, exception=None):
        for name, value in zip(self.__slots__, (item, reason, exception)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r} of an ItemError")

    __delattr__ = __setattr__

    def _fields(self):
        return self.item, self.reason, self.exception

    def __eq__(self, other):
        return self._fields() == other._fields() if type(other) is ItemError else NotImplemented

    def __hash__(self):
        return hash(self._fields())

    def __reduce__(self):
        return ItemError, self._fields()

    def __repr__(self):
        return f"ItemError(item={self.item!r}, reason={self.reason!r}, exception={self.exception!r})"

    def __str__(self):
        return f"{self.item}: {self.reason}"


def item_name(item):
    """How an item is named in its error: a path as is, a tuple by its first element, else ``repr``."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    if isinstance(item, tuple) and item:
        return item_name(item[0])
    text = repr(item)
    return text if len(text) <= 200 else text[:197] + "..."


def describe(error, name=None):
    """A one-line reason for an exception, without repeating ``name`` when the error names it already."""
    if isinstance(error, CityscapesError):
        return error.reason if error.path in (None, name) else str(error)
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename not in (None, name) else None
        return f"{where}: {error.strerror}" if where else error.strerror
    if isinstance(error, MemoryError):
        return "out of memory" + (f" ({error})" if str(error) else "")
    if isinstance(error, RecursionError):
        return f"nested too deeply ({error})"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


# What bad input or the machine raise; any other exception in a worker is a bug of ours.
_INPUT_OR_MACHINE = (CityscapesError, OSError, MemoryError, RecursionError, OverflowError, SystemExit)


def _is_bug(error):
    pillow = sys.modules.get("PIL.Image")  # its size guard is about the input; not imported here for it
    return not isinstance(error, _INPUT_OR_MACHINE) and not (
        pillow is not None and isinstance(error, pillow.DecompressionBombError))


def error_record(name, error):
    """The :class:`ItemError` of ``error`` for the item ``name``; keeps the exception if it pickles.

    A bug's reason goes on with its traceback, formatted here because tracebacks do not pickle.
    """
    try:
        kept = pickle.loads(pickle.dumps(error))
    except Exception:  # the record must always reach the parent, the exception object need not
        kept = None
    reason = describe(error, name)
    if _is_bug(error):
        import traceback  # here: only a bug needs it, and it costs every tool's start-up
        reason += "\n" + "".join(traceback.format_exception(error)).rstrip()
    return ItemError(name, reason, kept)


def _run_one(func, name, item):
    try:
        return func(item)
    except KeyboardInterrupt:  # only in-process (workers ignore SIGINT): the user stops the batch
        raise
    except BaseException as e:  # noqa: B036 - a worker never raises: every failure is the item's
        return error_record(name, e)


def _run_chunk(func, chunk):
    return [_run_one(func, name, item) for name, item in chunk]


def _process_calls():
    """``(set_death_signal, mallopt)`` of this process, or ``None`` where there are none (not glibc).

    From the compiled extension; through ``ctypes`` only when it is not built (loading ``ctypes``
    costs each worker several milliseconds at start-up).
    """
    from . import kernels
    if kernels.HAVE_EXTENSION:
        return kernels._kernels.set_death_signal, kernels._kernels.mallopt
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
    """Worker initializer: leave interruption to the parent, die with it, keep freed buffers."""
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    calls = _process_calls()
    if calls is None:  # pragma: no cover - not glibc
        return
    set_death_signal, mallopt = calls
    set_death_signal(signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    _keep_freed_buffers(mallopt)


class _WorkerLost(Exception):
    """The worker process running (or about to run) a task of the local pool died."""


class _Task:
    """A future of :class:`_LocalPool`: ``done()`` and ``result()`` (the value, or the exception raised)."""
    __slots__ = ("_pool", "_message", "_outcome")

    def __init__(self, pool, message, outcome=None):
        self._pool, self._message, self._outcome = pool, message, outcome  # outcome: (True, value) | (False, error)

    def done(self):
        if self._outcome is None:
            self._pool._collect(0)
        return self._outcome is not None

    def result(self):
        while self._outcome is None:
            self._pool._collect(None)
        succeeded, value = self._outcome
        if succeeded:
            return value
        raise value


class _Worker:
    __slots__ = ("pid", "tasks", "results", "task", "received")

    def __init__(self, pid, tasks, results):
        self.pid, self.tasks, self.results = pid, tasks, results  # tasks / results: this end of its two pipes
        self.task, self.received = None, bytearray()  # the task it runs; the bytes of its reply so far


_HEADER = struct.Struct("<Q")  # the length of the pickle that follows; 0 asks a worker to exit


def _send(fd, message):
    data = memoryview(_HEADER.pack(len(message)) + message)
    while data:
        data = data[os.write(fd, data):]


def _receive(fd):
    """The next message of a pipe, or None at its end."""
    header = _read_exactly(fd, _HEADER.size)
    return None if header is None else _read_exactly(fd, _HEADER.unpack(header)[0])


def _read_exactly(fd, size):
    data = bytearray()
    while len(data) < size:
        block = os.read(fd, size - len(data))
        if not block:
            return None
        data += block
    return bytes(data)


def _outcome_message(outcome):
    try:
        return pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # a value or exception that does not pickle comes back as the reason why
        return pickle.dumps((False, e), pickle.HIGHEST_PROTOCOL)


def _serve(tasks, results, others):
    """A forked worker's life: run each task read from ``tasks``, write its outcome to ``results``; exit
    (without the parent's exit handlers) when asked to or when the parent is gone.  ``others``: the
    inherited pipe ends that are not its own, closed first (a worker holding a sibling's task pipe
    would keep it from ever reading the end of it)."""
    status = 1
    try:
        for fd in others:
            os.close(fd)
        _init_worker()
        while True:
            message = _receive(tasks)
            if not message:
                break
            try:
                fn, args = pickle.loads(message)
                outcome = True, fn(*args)
            except BaseException as e:  # noqa: B036 - the parent decides what a task's failure means
                outcome = False, e
            _send(results, _outcome_message(outcome))
        status = 0
    finally:
        _flush_std_streams()
        os._exit(status)


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # reaped already (SIGCHLD ignored by the application)
        pass


def _flush_std_streams():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # None, closed or broken: nothing to keep
            pass


class _LocalPool:
    """The local backend on Linux: ``jobs`` worker processes forked at the first submit, each fed one task
    at a time through its own pipe, the replies read back by whichever call waits.

    No manager or feeder threads and no ``concurrent.futures`` / ``multiprocessing`` (their imports and
    threads cost more than a small batch's work).  A worker that dies closes its reply pipe: its task and
    the queued ones fail with :class:`_WorkerLost` (the pool is then broken, as a ``ProcessPoolExecutor``
    is), while the tasks running on the others finish.
    """

    lost = (_WorkerLost,)

    def __init__(self, jobs):
        self._jobs = jobs
        self._workers = []  # the live ones
        self._queue = deque()  # tasks submitted and not yet handed to a worker
        self._poll = select.poll()
        self._broken = False

    def submit(self, fn, *args):
        try:
            message = pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # the task's failure, as for any other exception
            return _Task(self, None, (False, e))
        if self._broken:
            return _Task(self, None, (False, _WorkerLost()))
        if not self._workers:
            self._start()
        task = _Task(self, message)
        self._queue.append(task)
        self._dispatch()
        return task

    def _start(self):
        _flush_std_streams()  # what this process buffered is written once, not once more by each worker
        gc.freeze()  # the workers' collections then skip this process's objects: fewer pages copied, less work
        try:
            for _ in range(self._jobs):
                tasks_read, tasks_write = os.pipe()
                results_read, results_write = os.pipe()
                pid = os.fork()
                if pid == 0:
                    _serve(tasks_read, results_write, [tasks_write, results_read] + [
                        fd for w in self._workers for fd in (w.tasks, w.results)])
                os.close(tasks_read)
                os.close(results_write)
                self._workers.append(_Worker(pid, tasks_write, results_read))
                self._poll.register(results_read, select.POLLIN)
        finally:
            gc.unfreeze()  # here they are collected as before

    def _dispatch(self):
        for worker in list(self._workers):
            if not self._queue:
                return
            if worker.task is None:
                worker.task = self._queue.popleft()
                message, worker.task._message = worker.task._message, None
                try:
                    _send(worker.tasks, message)
                except BrokenPipeError:  # it died: its reply pipe says so too
                    self._lose(worker)
                except BaseException:  # interrupted within the message, which the worker would wait for forever
                    os.kill(worker.pid, signal.SIGKILL)
                    self._lose(worker)
                    raise

    def _collect(self, timeout):
        """Read the replies that arrive within ``timeout`` ms (None: until one does), then hand out queued tasks."""
        if not any(worker.task for worker in self._workers):
            return
        by_fd = {worker.results: worker for worker in self._workers}
        for fd, _ in self._poll.poll(timeout):
            worker = by_fd[fd]
            block = os.read(fd, 1 << 20)
            if not block:
                self._lose(worker)
                continue
            worker.received += block
            if len(worker.received) >= _HEADER.size:
                end = _HEADER.size + _HEADER.unpack_from(worker.received)[0]
                if len(worker.received) >= end:
                    try:
                        outcome = pickle.loads(worker.received[_HEADER.size:end])
                    except Exception as e:  # e.g. an exception class that cannot be rebuilt here
                        outcome = False, e
                    worker.task._outcome, worker.task, worker.received = outcome, None, bytearray()
        self._dispatch()

    def _lose(self, worker):
        """``worker`` died: fail its task and the queued ones, and reap it."""
        self._workers.remove(worker)
        self._poll.unregister(worker.results)
        os.close(worker.results)
        os.close(worker.tasks)
        _reap(worker.pid)
        self._broken = True
        for task in ([worker.task] if worker.task else []) + list(self._queue):
            task._outcome = False, _WorkerLost()
        self._queue.clear()

    def wait_any(self, futures):
        while not any(future.done() for future in futures):
            self._collect(None)

    def close(self, cancel=False):
        """Let the running tasks finish (and the queued ones unless ``cancel``), then stop and reap every worker."""
        if cancel:
            self._queue.clear()
        try:
            while self._queue or any(worker.task for worker in self._workers):
                self._collect(None)
            for worker in self._workers:
                try:
                    _send(worker.tasks, b"")
                except BrokenPipeError:  # it died since: reaped below all the same
                    pass
        except KeyboardInterrupt:  # a second interrupt while running items finish: stop them now
            for worker in self._workers:
                os.kill(worker.pid, signal.SIGKILL)
            raise
        finally:
            for worker in self._workers:
                _reap(worker.pid)
                os.close(worker.tasks)
                os.close(worker.results)
            self._workers = []


class _SpawnPool:
    """The local backend elsewhere than on Linux: a ``ProcessPoolExecutor`` of spawned processes
    (forking is not safe on macOS and missing on Windows) whose workers ignore interrupts."""

    def __init__(self, jobs):
        import concurrent.futures
        import multiprocessing
        from concurrent.futures.process import BrokenProcessPool
        self.lost = (BrokenProcessPool,)
        self._futures = concurrent.futures
        self._executor = concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                                                initializer=_init_worker)

    def submit(self, fn, *args):
        return self._executor.submit(fn, *args)

    def wait_any(self, futures):
        self._futures.wait(futures, return_when=self._futures.FIRST_COMPLETED)

    def close(self, cancel=False):
        try:
            self._executor.shutdown(wait=True, cancel_futures=cancel)
        except KeyboardInterrupt:  # a second interrupt while running items finish: stop them now
            for process in list((self._executor._processes or {}).values()):
                process.kill()
            raise


class _DaskBackend:
    """A Dask ``distributed.Client``.  Dask reruns a task whose worker died (up to its
    ``distributed.scheduler.allowed-failures``); past that the future raises ``KilledWorker``."""

    def __init__(self, client):
        from distributed import KilledWorker
        self.lost = (KilledWorker,)
        self._client = client
        self._running = []
        client.run(_keep_freed_buffers)  # the workers Dask restarts later run without it: only slower

    def submit(self, fn, *args):
        self._running = [f for f in self._running if not f.done()]
        future = self._client.submit(fn, *args, pure=False)  # a retried item is a new task
        self._running.append(future)
        return future

    @staticmethod
    def wait_any(futures):
        # through the futures' own callbacks: distributed.wait() runs on the default client's loop,
        # which need not be the loop of this client
        import threading
        ended = threading.Event()
        for future in futures:
            future.add_done_callback(lambda _: ended.set())
        ended.wait()

    def close(self, cancel=False):
        if cancel and self._running:
            self._client.cancel(self._running)
        self._running = []


DASK_MISSING = 'running on a Dask cluster needs Dask: pip install "dask[distributed]"'
_default_client = None       # set by use_client(): every map of this process goes there
_requested_scheduler = None  # set by use_scheduler(): connected at the first map, closed by disconnect()
_connection = None           # (client, cluster or None) of the requested scheduler


class use_client:
    """``with use_client(client):`` every map inside runs on that Dask client (None: the local pool)."""

    def __init__(self, client):
        self._client = client

    def __enter__(self):
        global _default_client
        self._previous, _default_client = _default_client, self._client
        return self._client

    def __exit__(self, *exc):
        global _default_client
        _default_client = self._previous


def use_scheduler(address):
    """Run this process's later maps on the Dask scheduler at ``address`` (``tcp://host:8786``, or
    ``local`` for a ``LocalCluster`` with one single-threaded worker process per job).

    The connection is made by the first map (which knows the number of jobs)
    and closed by :func:`disconnect`; the console scripts do both.
    """
    global _requested_scheduler
    import importlib.util
    if importlib.util.find_spec("distributed") is None:
        raise CityscapesError(DASK_MISSING)
    _requested_scheduler = address


def connect(address, jobs=None, announce=True):
    """A ``distributed.Client`` for ``address`` and the ``LocalCluster`` it started (or None).

    ``local`` starts ``jobs`` worker processes (default: all cores) with
    one thread each, as the local pool would.  ``announce`` prints the
    dashboard address when the scheduler serves one.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CityscapesError(DASK_MISSING) from None
    cluster = None
    if address == "local":
        import importlib.util
        cluster = LocalCluster(n_workers=jobs or default_jobs(), threads_per_worker=1, processes=True,
                               dashboard_address=None if importlib.util.find_spec("bokeh") is None else ":0")
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="30s")
        except (OSError, TimeoutError) as e:
            raise CityscapesError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    if announce and "dashboard" in client.scheduler_info().get("services", {}):
        print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
    return client, cluster


def disconnect():
    """Close the connection :func:`use_scheduler` asked for (and its local cluster), if any."""
    global _requested_scheduler, _connection
    connection, _connection, _requested_scheduler = _connection, None, None
    if connection is not None:
        client, cluster = connection
        client.close()
        if cluster is not None:
            cluster.close()


def _active_client(client, jobs):
    global _connection
    if client is not None:
        return client
    if _default_client is not None:
        return _default_client
    if _requested_scheduler is not None:
        if _connection is None:
            _connection = connect(_requested_scheduler, jobs)
        return _connection[0]
    return None


_DIED = "the worker process died while processing this item (killed, out of memory, or crashed)"


def map_items(func, items, jobs=None, desc="", progress=None, name=item_name, client=None):
    """Yield ``func(item)`` or an :class:`ItemError` for each item, in input order.

    ``func`` must pickle (a module-level function or a ``functools.partial``
    of one).  ``jobs`` None or 0 means all cores; 1 runs in this process.
    ``name(item)`` names an item in its error (default :func:`item_name`).
    ``progress``: None shows a bar on a terminal, True / False force it.
    ``client``: a Dask ``distributed.Client`` to run on instead of local
    processes (default: the one of :func:`use_client` / :func:`use_scheduler`).
    """
    items = list(items)
    client = _active_client(client, jobs)
    if client is not None:
        jobs = max(1, sum(client.nthreads().values()))
        new_backend = functools.partial(_DaskBackend, client)
    else:
        jobs = min(default_jobs() if not jobs else jobs, max(1, len(items)))
        new_backend = functools.partial(_LocalPool if sys.platform.startswith("linux") else _SpawnPool, jobs)
    if client is None and jobs <= 1:
        bar = progress_bar(len(items), desc, progress)
        try:
            for item in items:
                yield _run_one(func, name(item), item)
                bar.update()
        finally:
            bar.close()
        return
    # a few items per message: cheap to send back, and workers still end together (measured)
    size = max(1, min(8, len(items) // (jobs * 16)))
    pending = deque((False, [(name(i), i) for i in items[s:s + size]]) for s in range(0, len(items), size))
    window, held = 2 * jobs, 8 * jobs  # chunks running or queued; chunks submitted and not yet given back
    backend = new_backend()
    in_flight = deque()  # (isolated, chunk, future), in input order
    bar = None
    cancel = True
    try:
        while pending or in_flight:
            try:
                # an isolated chunk (one item suspected of killing its worker) runs alone
                while pending and len(in_flight) < held and _unfinished(in_flight) < window and not (
                        in_flight and (pending[0][0] or in_flight[-1][0])):
                    future = backend.submit(_run_chunk, func, pending[0][1])
                    in_flight.append(pending.popleft() + (future,))
                if bar is None:  # after the first submit: the pool forks before tqdm starts its thread
                    bar = progress_bar(len(items), desc, progress)
                if (not in_flight[0][2].done() and pending and len(in_flight) < held
                        and not (pending[0][0] or in_flight[-1][0])):
                    # the window is full of running chunks and the first is not done: hand out more
                    # as soon as any ends, so a slow chunk does not leave the other workers idle
                    backend.wait_any([future for _, _, future in in_flight if not future.done()])
                    continue
                try:
                    results = in_flight[0][2].result()
                except backend.lost:
                    raise
                except Exception as e:  # the chunk's result could not come back (e.g. it does not pickle)
                    results = [error_record(label, e) for label, _ in in_flight[0][1]]
            except backend.lost:
                backend.close(cancel=True)
                backend = new_backend()
                if not in_flight or not in_flight[0][0]:  # run everything that was in flight again, one item at a time
                    pending.extendleft(reversed([(True, [pair]) for _, chunk, _ in in_flight for pair in chunk]))
                    in_flight.clear()
                    continue
                results = [ItemError(in_flight[0][1][0][0], _DIED)]
            in_flight.popleft()
            for result in results:
                bar.update()
                yield result
        cancel = False
    finally:
        backend.close(cancel)
        if bar is not None:
            bar.close()


def _unfinished(in_flight):
    return sum(not future.done() for _, _, future in in_flight)


def failures_error(failures):
    """The exception for a batch's failures: a single item's own :class:`CityscapesError`, else a :class:`BatchError`."""
    if len(failures) == 1 and isinstance(failures[0].exception, CityscapesError):
        return failures[0].exception
    return BatchError([str(f) for f in failures])


def collect(func, items, jobs=None, desc="", progress=None, name=item_name, client=None):
    """``[func(item) for item in items]`` through :func:`map_items`, after the whole batch ran.

    Raises when any item failed: a single failure's own error when it is a
    :class:`CityscapesError` (as a serial run raises), else a
    :class:`BatchError` listing every failure.
    """
    results, failures = [], []
    for result in map_items(func, items, jobs, desc, progress, name, client):
        (failures if isinstance(result, ItemError) else results).append(result)
    if failures:
        raise failures_error(failures)
    return results


def merge_into(total, func, items, jobs=None, desc="", progress=None, name=item_name, client=None):
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


def merge_each(totals, func, items, jobs=None, desc="", progress=None, name=item_name, client=None):
    """:func:`merge_into` for a ``func`` that returns one partial result per total, in order;
    returns ``totals`` (a sweep: one item scored against several prediction sets)."""
    merge_into(_Each(totals), func, items, jobs, desc, progress, name, client)
    return totals


def stop_on_sigterm():
    """Make SIGTERM raise ``KeyboardInterrupt`` in this (main) thread, as Ctrl-C does; returns the old handler."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    return signal.signal(signal.SIGTERM, interrupt)
