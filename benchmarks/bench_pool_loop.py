"""The parent's CPU per item in the local pool's message loop, at several worker counts.

    python benchmarks/bench_pool_loop.py [--items 500] [--jobs 2,16] [--runs 5]

Each item is a millisecond of busy work in a worker and comes back as a small integer, so what the
parent spends is the loop itself: handing out chunks, waiting, reading and unpickling replies, and the
pool's start and close.  With more workers than cores the workers share the cores, but the parent's
CPU per item still shows how its loop grows with the number of workers (issue 31).
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from cityscapesscripts import parallel  # noqa: E402 - after the thread setting, as the console tools do


def busy_millisecond(item):
    start = time.perf_counter()
    while time.perf_counter() - start < 0.001:
        pass
    return item


def parent_cpu_per_item(items, jobs):
    start = time.process_time()
    for _ in parallel.map_items(busy_millisecond, list(range(items)), jobs=jobs, progress=False):
        pass
    return (time.process_time() - start) / items


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=500)
    p.add_argument("--jobs", default="2,16", help="comma-separated -j values")
    p.add_argument("--runs", type=int, default=5)
    opts = p.parse_args()
    parent_cpu_per_item(20, 2)  # the first pool's one-time costs
    print("| workers | parent CPU per item (us) |\n| --- | --- |")
    for jobs in (int(j) for j in opts.jobs.split(",")):
        per_item = statistics.median(parent_cpu_per_item(opts.items, jobs) for _ in range(opts.runs))
        print(f"| {jobs} | {1e6 * per_item:.0f} |")


if __name__ == "__main__":
    main()
