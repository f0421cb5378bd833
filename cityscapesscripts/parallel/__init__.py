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
* **One explicit run, the same limits everywhere.**  A console script makes
  one :class:`Run` from its options (jobs, Dask scheduler, pixel limit) and
  passes it down as ``jobs``; nothing is set at argument-parse time and no
  environment variable carries an option.  Each task carries the run's
  settings (the pixel limit), applied in the worker around each item, so a
  Dask worker on another machine refuses the same images as a forked one.
* **The workers' cores are the workers'.**  While a pool runs, this process
  and every worker run OpenBLAS on one thread: no BLAS thread pool of the
  parent spins on the cores the workers need.

Layout.  :mod:`.run` holds :class:`Run` and the map loop (:func:`map_items`,
:func:`collect`, :func:`merge_into`, :func:`merge_each`); :mod:`.worker` what
runs in a worker (its set-up, the never-raising item call, the settings a task
carries); the backends are :mod:`.forkpool` (workers forked from this process
and fed through pipes, on Linux: :class:`_LocalPool`), :mod:`.spawnpool` (a
``ProcessPoolExecutor`` of spawned workers elsewhere: :class:`_SpawnPool`) and
:mod:`.dask_backend` (a Dask ``distributed.Client``: :class:`_DaskBackend`),
chosen by ``client=``, by the run (``Run(client=...)``, or ``Run(scheduler=...)``,
the console scripts' ``--scheduler ADDRESS``: ``local`` starts a
``LocalCluster``), or by a ``with use_client(client):`` block.  The error
records (:class:`ItemError`, :func:`error_record`, :func:`failures_error`)
live in :mod:`cityscapesscripts.errors`, beside the errors.  A backend offers
``submit(fn, *args) -> future``, ``submit_chunk(func, pairs, indices) -> future``,
``unfinished()`` (tasks queued or running), ``wait_any()`` (until one more
ends), ``close(cancel)`` and ``lost``, the exceptions of a future whose worker died.  The windowed
in-order loop, the error records, the retry of lost work and the
interruption handling are the same for all: tasks carry the items (file
paths, read by the workers from the shared filesystem) and bring back the
small per-item values, merged here in input order, so a cluster run equals
a local one.

The package keeps the namespace of the single module it was: setting one of
its names (a test's ``monkeypatch.setattr(parallel, "_send", ...)``) sets it
in the submodules that use it.
"""
import sys
import types

from ..errors import ItemError, describe, error_record, failures_error, item_name
from . import dask_backend, forkpool, run, spawnpool, worker
from .dask_backend import DASK_MISSING, connect, use_client
from .run import Run, collect, map_items, merge_each, merge_into, progress_bar, stop_on_sigterm
from .worker import default_jobs

# the internals of the single module the package was, which tests and benchmarks reach
from .dask_backend import _DaskBackend  # noqa: F401
from .forkpool import _HEADER, _LocalPool, _send  # noqa: F401
from .spawnpool import _SpawnPool  # noqa: F401
from .worker import _init_worker, _keep_freed_buffers, _run_chunk, _run_one  # noqa: F401

__all__ = ["DASK_MISSING", "ItemError", "Run", "collect", "connect", "default_jobs", "describe", "error_record",
           "failures_error", "item_name", "map_items", "merge_each", "merge_into", "progress_bar",
           "stop_on_sigterm", "use_client"]
_SUBMODULES = (run, worker, forkpool, spawnpool, dask_backend)


class _Namespace(types.ModuleType):
    def __setattr__(self, name, value):
        for module in _SUBMODULES:
            if not name.startswith("__") and name in vars(module):
                setattr(module, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Namespace
