"""The Dask backend: tasks submitted to a ``distributed.Client``, a connection to a scheduler, and
the ``with use_client(client):`` block of library callers."""
from __future__ import annotations

import contextvars
import pickle
import sys
from typing import Any

from ..errors import CityscapesError, DependencyError
from .worker import SendsItems, _keep_freed_buffers, default_jobs

DASK_MISSING = 'running on a Dask cluster needs Dask: pip install "dask[distributed]"'


class _DaskBackend(SendsItems):
    """A Dask ``distributed.Client``.  Dask reruns a task whose worker died (up to its
    ``distributed.scheduler.allowed-failures``); past that the future raises ``KilledWorker``."""

    def __init__(self, client):
        import threading

        from distributed import KilledWorker
        self.lost = (KilledWorker,)
        self._client = client
        self._running = []
        self._ended = threading.Event()  # set whenever a submitted future is done
        client.run(_keep_freed_buffers)  # the workers Dask restarts later run without it: only slower

    def submit(self, fn, *args):
        self._running = [f for f in self._running if not f.done()]
        # arguments and result travel as one pickle each: Dask walks nested arguments in search of futures, on
        # the client and again on the scheduler (0.5 ms a frame for the segment lists of panoptic frames), and
        # its handling of a list of accumulators cost the client more than unpickling it (measured)
        try:
            arguments = _pickle_dumps(args)
        except Exception as e:  # the task's failure, as for any other exception
            return _Failed(e)
        future = self._client.submit(_call_pickled, fn, arguments, pure=False)  # a retry is a new task
        # one callback per task, registered once: Dask runs each on its own coroutine and callback thread,
        # so registering them at every wait cost the client more CPU per task than the task's scheduling
        future.add_done_callback(lambda _: self._ended.set())
        self._running.append(future)
        return _Pickled(future)

    def unfinished(self):
        """How many tasks are queued or running."""
        self._running = [f for f in self._running if not f.done()]
        return len(self._running)

    def wait_any(self):
        """Until one more task has ended (at once when none is unfinished)."""
        # through the futures' own callbacks: distributed.wait() runs on the default client's loop,
        # which need not be the loop of this client
        running = [f for f in self._running if not f.done()]
        while running:
            self._ended.clear()
            if any(future.done() for future in running):
                return
            self._ended.wait()

    def close(self, cancel=False):
        if cancel and self._running:
            self._client.cancel(self._running)
        self._running = []


def _pickle_dumps(value):
    import cloudpickle  # Dask's own serializer of functions: lambdas and functions of __main__ travel too
    return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _call_pickled(fn, arguments):
    """``fn(*arguments)`` pickled, ``arguments`` pickled: what a Dask worker runs."""
    return pickle.dumps(fn(*pickle.loads(arguments)), pickle.HIGHEST_PROTOCOL)


class _Pickled:
    """The future of a :func:`_call_pickled` task, its result unpickled."""
    __slots__ = ("future",)

    def __init__(self, future):
        self.future = future

    def done(self):
        return self.future.done()

    def result(self):
        return pickle.loads(self.future.result())


class _Failed:
    """A task that failed before it was submitted (its arguments do not pickle)."""

    def __init__(self, error):
        self._error = error

    @staticmethod
    def done():
        return True

    def result(self):
        raise self._error


def check_installed() -> None:
    """Raise a :class:`DependencyError` saying what to install when Dask's ``distributed`` is missing."""
    import importlib.util
    if importlib.util.find_spec("distributed") is None:
        raise DependencyError(DASK_MISSING)


def connect(address: str, jobs: int | None = None, announce: bool = True) -> tuple[Any, Any]:
    """A ``distributed.Client`` for ``address`` and the ``LocalCluster`` it started (or None).

    ``local`` starts ``jobs`` worker processes (default: all cores) with
    one thread each, as the local pool would (Dask's nanny starts them with one BLAS thread).  ``announce`` prints the
    dashboard address when the scheduler serves one.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DependencyError(DASK_MISSING) from None
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


_block_client = contextvars.ContextVar("cityscapes_dask_client", default=None)


class use_client:
    """``with use_client(client):`` every map inside (in this thread) runs on that Dask client, unless the
    map is given a client or a run of its own (None: the local pool)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __enter__(self) -> Any:
        self._token = _block_client.set(self._client)
        return self._client

    def __exit__(self, *exc):
        _block_client.reset(self._token)


def block_client() -> Any:
    """The client of the innermost :class:`use_client` block, or None."""
    return _block_client.get()
