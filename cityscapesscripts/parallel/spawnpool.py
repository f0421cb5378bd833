"""The local backend elsewhere than on Linux: a ``ProcessPoolExecutor`` of spawned worker processes."""
from .worker import SendsItems, _init_worker


class _SpawnPool(SendsItems):
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
        self._unfinished = set()  # emptied by the futures' callbacks, on the executor's thread

    def submit(self, fn, *args):
        future = self._executor.submit(fn, *args)
        self._unfinished.add(future)
        future.add_done_callback(self._unfinished.discard)
        return future

    def unfinished(self):
        """How many tasks are queued or running."""
        return len(self._unfinished)

    def wait_any(self):
        """Until one more task has ended (at once when none is unfinished)."""
        self._futures.wait(list(self._unfinished), return_when=self._futures.FIRST_COMPLETED)

    def close(self, cancel=False):
        try:
            self._executor.shutdown(wait=True, cancel_futures=cancel)
        except KeyboardInterrupt:  # a second interrupt while running items finish: stop them now
            for process in list((self._executor._processes or {}).values()):
                process.kill()
            raise
