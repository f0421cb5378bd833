"""The local backend on Linux: worker processes forked from this one, fed one task at a time through pipes.

The protocol: each worker has a task pipe and a reply pipe; a message is a length (:data:`_HEADER`)
and a pickle, ``(fn, args)`` one way and ``(succeeded, value or exception)`` the other; an empty
message asks a worker to exit, and the end of a reply pipe says its worker died.
"""
import gc
import os
import pickle
import select
import signal
import struct
import sys
from collections import deque

from .worker import _init_worker, _process_calls


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
        _process_calls()  # found once here, inherited by every worker
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
