"""The executor seam on Dask: the engine's overhead per frame, and the sweep case.

    python benchmarks/bench_dask.py [--data DIR] [--frames 100] [--runs 5] [--folders 10]

1. Pixel-level evaluation of ``--frames`` full-size synthetic frames
   (``cityscapesscripts.sample``, typical density) on the local process pool
   (``-j`` = all cores) and on a ``LocalCluster`` with as many single-threaded
   worker processes: the difference is what Dask costs per frame.  Cluster
   start-up is timed apart (a real cluster is already running).
2. The sweep: ``--folders`` prediction folders scored against one ground
   truth in one call (:func:`semantic_files.evaluate_sweep`, each ground-truth
   frame read once) against one call per folder.

Runs are interleaved (A, B, A, B, ...) and the median is reported, with CPU
seconds per frame summed over the parent and its workers (steadier than wall
time on a shared machine).  Prints a Markdown section for REPORT.md.
"""
import argparse
import glob
import os
import resource
import shutil
import statistics
import sys
import time

from cityscapesscripts import parallel, sample
from cityscapesscripts.evaluation import semantic_files


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + own.ru_utime + own.ru_stime


def _worker_cpu(client):
    return sum(client.run(time.process_time).values())


def _timed(run, client=None):
    """(wall seconds, CPU seconds of this process, its reaped children and the cluster's workers)."""
    cpu0, wall0 = _children_cpu() + (_worker_cpu(client) if client else 0), time.perf_counter()
    run()
    wall = time.perf_counter() - wall0
    return wall, _children_cpu() + (_worker_cpu(client) if client else 0) - cpu0


def _median(samples):
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/tmp/cs-bench-dask")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--folders", type=int, default=10)
    opts = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    jobs = parallel.default_jobs()
    gt_glob = os.path.join(opts.data, "gtFine", "val", "*", "*_gtFine_labelIds.png")
    if len(glob.glob(gt_glob)) != opts.frames:
        shutil.rmtree(opts.data, ignore_errors=True)
        sample.generate(opts.data, frames=opts.frames, predictions=True, progress=False)
    gts = sorted(glob.glob(gt_glob))
    pred_dir = os.path.join(opts.data, "results", "semantic")
    predictions = [os.path.join(pred_dir, os.path.basename(g).replace("_gtFine_labelIds", "_pred")) for g in gts]
    folders = []
    for k in range(opts.folders):  # one folder per "checkpoint" (copies: each is read from its own files)
        folder = os.path.join(opts.data, "sweep", f"run{k:02d}")
        if not os.path.isdir(folder):
            shutil.copytree(pred_dir, folder)
        folders.append([os.path.join(folder, os.path.basename(p)) for p in predictions])

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    startup = time.perf_counter() - start

    def local():
        semantic_files.evaluate_files(predictions, gts, jobs, progress=False)

    def on_dask():
        semantic_files.evaluate_files(predictions, gts, progress=False, client=client)

    def sweep():
        semantic_files.evaluate_sweep(folders, gts, jobs, progress=False)

    def separate():
        for folder in folders:
            semantic_files.evaluate_files(folder, gts, jobs, progress=False)

    local(), on_dask()  # warm the page cache and the workers' imports
    timings = {"local": [], "dask": [], "sweep": [], "separate": []}
    for _ in range(opts.runs):
        timings["local"].append(_timed(local))
        timings["dask"].append(_timed(on_dask, client))
        timings["sweep"].append(_timed(sweep))
        timings["separate"].append(_timed(separate))
    client.close()
    cluster.close()

    n = len(gts)
    med = {k: _median(v) for k, v in timings.items()}
    print(f"## Dask executor and the sweep ({n} frames, 2048x1024, the sample generator's default density; {jobs} cores; "
          f"median of {opts.runs} interleaved runs)\n")
    print("| run | wall | CPU s / frame |")
    print("| --- | --- | --- |")
    print(f"| pixel evaluation, local pool (-j {jobs}) | {med['local'][0]:.2f} s | {med['local'][1] / n:.4f} |")
    print(f"| pixel evaluation, LocalCluster ({jobs} workers) | {med['dask'][0]:.2f} s | {med['dask'][1] / n:.4f} |")
    print(f"| LocalCluster start-up (once) | {startup:.2f} s | |")
    frames = n * opts.folders
    print(f"| sweep: {opts.folders} prediction folders in one call | {med['sweep'][0]:.2f} s "
          f"| {med['sweep'][1] / frames:.4f} per scored frame |")
    print(f"| the same as {opts.folders} separate calls | {med['separate'][0]:.2f} s "
          f"| {med['separate'][1] / frames:.4f} per scored frame |")
    print(f"\nDask overhead per frame: {1000 * (med['dask'][0] - med['local'][0]) / n:+.1f} ms wall, "
          f"{1000 * (med['dask'][1] - med['local'][1]) / n:+.1f} ms CPU.  "
          f"Sweep speed-up over separate calls: {med['separate'][0] / med['sweep'][0]:.2f}x wall, "
          f"{med['separate'][1] / med['sweep'][1]:.2f}x CPU.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
