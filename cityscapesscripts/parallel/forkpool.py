"""The local backend on Linux: worker processes forked from this one, fed one task at a time through pipes.

The protocol: each worker has a task pipe and a reply pipe; a message is a length (:data:`_HEADER`)
and a pickle, ``(pickle of (fn, *leading args), last argument)`` one way and ``(succeeded, value or
exception)`` the other; an empty message asks a worker to exit, and the end of a reply pipe says its
worker died.  The leading part is the same for every chunk of a map (its task, with the run's settings):
the parent pickles it once, a worker unpickles it once.  A map's items are not sent at all: the workers
fork after the map has listed them, so a chunk's message names their positions in that list.
"""
import gc
import os
import pickle
import select
import signal
import struct
import sys
from collections import deque

from .worker import _init_worker, _process_calls, _run_chunk

_inherited: list = []  # in a worker: the (name, item) pairs of the map its pool was forked for


class _WorkerLost(Exception):
    """The worker process running (or about to run) a task of the local pool died."""


class _Task:
    """A future of :class:`_LocalPool`: ``done()`` and ``result()`` (the value, or the exception raised)."""
    __slots__ = ("_pool", "_message", "_outcome")

    def __init__(self, pool, message, outcome=None):
        self._pool, self._message, self._outcome = pool, message, outcome  # outcome: (True, value) | (False, error)

    def done(self):
        # no look at the pipes: the replies are read by the waits (result, wait_any), once per reply, not
        # once per future asked (the map loop asks about every chunk in flight each time around)
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
    # a worker is idle (in its pool's ``_idle``) exactly when ``task`` is None

    def __init__(self, pid, tasks, results):
        self.pid, self.tasks, self.results = pid, tasks, results  # tasks / results: this end of its two pipes
        self.task, self.received = None, bytearray()  # the task it runs; the bytes of its reply so far


_HEADER = struct.Struct("<Q")  # the length of the pickle that follows; 0 asks a worker to exit
# a pipe's default capacity on Linux, the most one read of a reply pipe gets: a larger buffer would be
# mapped fresh for each read and its pages faulted in (measured: a fifth of the parent's CPU in a map)
_READ_SIZE = 1 << 16


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
        leading_pickle, leading = None, None
        while True:
            message = _receive(tasks)
            if not message:
                break
            try:
                pickled, last_args = pickle.loads(message)
                if pickled != leading_pickle:
                    leading, leading_pickle = pickle.loads(pickled), pickled
                fn, *args = leading
                outcome = True, fn(*args, *last_args)
            except BaseException as e:  # noqa: B036 - the parent decides what a task's failure means
                outcome = False, e
            _send(results, _outcome_message(outcome))
        status = 0
    finally:
        _flush_std_streams()
        os._exit(status)


def _run_inherited_chunk(func, indices):
    return _run_chunk(func, [_inherited[k] for k in indices])


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
        self._by_reply_pipe = {}  # {its reply pipe: worker} of the live ones
        self._idle = []  # the live ones without a task
        self._queue = deque()  # tasks submitted and not yet handed to a worker
        self._poll = select.poll()
        self._broken = False
        self._leading = (), b""  # the last submit's (fn, *leading args) and their pickle
        self._inherited = None  # the pairs the workers were forked with
        self._ended = 0  # how many tasks have ended (a wait's way to see that one did)

    def submit_chunk(self, func, pairs, indices):
        """Run ``func`` on the ``(name, item)`` pairs at ``indices`` of ``pairs``: a future of their results.
        The pairs of the map the pool starts for travel to the workers by the fork, not in the messages
        (pickling panoptic frames' segment lists was a tenth of the parent's CPU in the map)."""
        if not self._workers and not self._broken:  # the workers fork at this submit, and inherit them
            self._inherited = pairs
        if pairs is self._inherited:
            return self.submit(_run_inherited_chunk, func, indices)
        return self.submit(_run_chunk, func, [pairs[k] for k in indices])

    def submit(self, fn, *args):
        try:
            message = pickle.dumps((self._pickled_leading((fn, *args[:-1])), args[-1:]), pickle.HIGHEST_PROTOCOL)
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

    def _pickled_leading(self, leading):
        """The pickle of ``leading``, made once for the chunks of a map (the same objects each time, which
        do not change while the map runs)."""
        last, pickled = self._leading
        if len(last) != len(leading) or any(a is not b for a, b in zip(last, leading)):
            pickled = pickle.dumps(leading, pickle.HIGHEST_PROTOCOL)
            self._leading = leading, pickled
        return pickled

    def _start(self):
        _flush_std_streams()  # what this process buffered is written once, not once more by each worker
        gc.freeze()  # the workers' collections then skip this process's objects: fewer pages copied, less work
        _process_calls()  # found once here, inherited by every worker
        try:
            for _ in range(self._jobs):
                tasks_read, tasks_write = os.pipe()
                results_read, results_write = os.pipe()
                pid = os.fork()
                if pid == 0:
                    global _inherited
                    _inherited = self._inherited
                    _serve(tasks_read, results_write, [tasks_write, results_read] + [
                        fd for w in self._workers for fd in (w.tasks, w.results)])
                os.close(tasks_read)
                os.close(results_write)
                worker = _Worker(pid, tasks_write, results_read)
                self._workers.append(worker)
                self._by_reply_pipe[results_read] = worker
                self._idle.append(worker)
                self._poll.register(results_read, select.POLLIN)
        finally:
            gc.unfreeze()  # here they are collected as before

    def _dispatch(self):
        while self._queue and self._idle:
            worker = self._idle.pop()
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

    def _running(self):
        return len(self._idle) < len(self._workers)

    def _collect(self, timeout):
        """Read the replies that arrive within ``timeout`` ms (None: until one does), then hand out queued tasks."""
        if not self._running():
            return
        for fd, _ in self._poll.poll(timeout):
            worker = self._by_reply_pipe[fd]
            block = os.read(fd, _READ_SIZE)
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
                    self._ended += 1
                    self._idle.append(worker)
        self._dispatch()

    def _lose(self, worker):
        """``worker`` died: fail its task and the queued ones, and reap it."""
        self._workers.remove(worker)
        del self._by_reply_pipe[worker.results]
        if worker.task is None:
            self._idle.remove(worker)
        self._poll.unregister(worker.results)
        os.close(worker.results)
        os.close(worker.tasks)
        _reap(worker.pid)
        self._broken = True
        for task in ([worker.task] if worker.task else []) + list(self._queue):
            task._outcome = False, _WorkerLost()
            self._ended += 1
        self._queue.clear()

    def unfinished(self):
        """How many tasks are queued or running."""
        return len(self._queue) + len(self._workers) - len(self._idle)

    def wait_any(self):
        """Until one more task has ended (at once when none is unfinished)."""
        ended = self._ended
        while self._ended == ended and self.unfinished():
            self._collect(None)

    def close(self, cancel=False):
        """Let the running tasks finish (and the queued ones unless ``cancel``), then stop and reap every worker."""
        if cancel:
            self._queue.clear()
        try:
            while self._queue or self._running():
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
            self._workers, self._by_reply_pipe, self._idle = [], {}, []
