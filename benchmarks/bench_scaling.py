"""How the batch tools scale with workers, and what their parent process costs; writes SCALING.md.

    python benchmarks/bench_scaling.py [--frames 500] [--jobs 1,2,4,8,16] [--runs 1] [--data DIR]
    python benchmarks/bench_scaling.py --parent [--frames 100] [--more-frames 500] [--jobs 1,2] [--runs 3]

The first form fills SCALING.md's scaling table; ``--parent`` its table of the parent's serial work:
its CPU per frame while the tool's maps run against the workers', the wall time before the first map
starts and after the last one ends, and the whole run of a one-frame data set (the fixed serial time,
interpreter start and imports included).  A second, larger data set (``--more-frames``, at the largest
``-j`` only; by default the size of Cityscapes' validation set) gives the same per-frame figures, and
between the two sizes the parent's CPU in the maps splits into what each further frame adds (the slope:
what limits scaling on a large set) and a fixed part per run (the pool's start and close).  The larger
set also runs with ``--many-jobs`` workers (16): on a machine with fewer cores they share them, so only
the parent's CPU of that run is reported, its work per reply and per fork with that many workers.
With Dask installed, ``--parent`` also runs the evaluators on Dask two ways: ``--scheduler local`` (a
``LocalCluster`` of -j workers each run starts, its scheduler in the tool's process; the cluster's
start is timed apart from the maps, and its workers' CPU, their start-up included, is in the per-frame
worker column but not in the slope), and against a cluster started once by the benchmark, scheduler
and workers (as many as the largest -j) in processes of their own, as on a real cluster, where the
tool's process is only the client (the workers' CPU read from the workers before and after each run).
Each rewrites only its own table (between its markers).

Data: full-size frames of typical Cityscapes density from ``cityscapesscripts.sample``
(``detail`` 0.38: about 50 objects, 15 ground-truth instances and 14 predicted masks a
frame), every PNG rewritten by Pillow with its defaults, as bench.py makes them.

Each tool runs as its console script would (a fresh process whose ``sys.argv[0]`` is the
script's name, its Python a fresh venv with a wheel of this checkout installed, as bench.py runs ours:
compiled to bytecode, no editable-install finder, no ``.pth`` file of the machine's own Python) under a small wrapper that reports the process's own CPU time (the parent) and that of the workers it
waited for, and around each of the tool's maps (``parallel.map_items``: the pool's start, every frame's
message and merge, its close) the time it starts and ends and the parent's CPU time in between.  While it runs, the benchmark samples ``/proc/PID/task`` every 10 ms: the most
threads the parent had.  The instance evaluator runs with a fresh cache folder each time
(a cold ground-truth cache, as a first run).  Runs of one tool alternate over the ``-j``
values; each cell is the median over runs.
"""
import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import installed_python  # noqa: E402

# The tool's process writes its own and its waited-for children's CPU seconds, and its maps' start, end and
# CPU seconds, to $SCALING_RUSAGE on exit.
WRAPPER = """
import atexit, json, os, resource, runpy, sys, time
maps = {"first": None, "last": None, "cpu": 0.0, "cluster": 0.0, "cluster_cpu": 0.0}
def _report():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ["SCALING_RUSAGE"], "w") as f:
        json.dump({"parent": own.ru_utime + own.ru_stime, "workers": kids.ru_utime + kids.ru_stime,
                   "map_first": maps["first"], "map_last": maps["last"], "map_cpu": maps["cpu"],
                   "cluster": maps["cluster"], "cluster_cpu": maps["cluster_cpu"]}, f)
atexit.register(_report)
script, module = sys.argv[1:3]
sys.argv = [script] + sys.argv[3:]  # as the console script starts it: the package sees the script's name
from cityscapesscripts import parallel
_map_items = parallel.map_items
def timed_map_items(*args, **kwargs):
    started, cpu = time.time(), time.process_time()
    maps["first"] = maps["first"] or started
    try:
        yield from _map_items(*args, **kwargs)
    finally:
        maps["last"], maps["cpu"] = time.time(), maps["cpu"] + time.process_time() - cpu
parallel.map_items = timed_map_items
from cityscapesscripts.parallel import run as _run
_connect = _run.connect
def timed_connect(*args, **kwargs):  # a --scheduler local cluster's start, inside the first map: timed apart
    started, cpu = time.time(), time.process_time()
    try:
        return _connect(*args, **kwargs)
    finally:
        maps["cluster"] += time.time() - started
        maps["cluster_cpu"] += time.process_time() - cpu
_run.connect = timed_connect
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def tools(data, scheduler=None):
    """(console script, module, arguments) of each batch tool on the data set; with a ``scheduler``
    (``local``: a cluster each run starts; an address), the evaluators on Dask instead."""
    gt = os.path.join(data, "gtFine", "val")
    results = os.path.join(data, "results")
    every = [
        ("csCreateTrainIdLabelImgs", "cityscapesscripts.preparation.createTrainIdLabelImgs",
         ["--dataset", data, "--split", "val", "-q"]),
        ("csEvalPixelLevelSemanticLabeling", "cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling",
         ["--gt", gt, "--pred", os.path.join(results, "semantic"), "-q"]),
        ("csEvalInstanceLevelSemanticLabeling", "cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling",
         ["--gt", gt, "--pred", os.path.join(results, "instance"), "-q"]),
        ("csEvalPanopticSemanticLabeling", "cityscapesscripts.evaluation.evalPanopticSemanticLabeling",
         ["--gt-json-file", os.path.join(data, "gtFine", "cityscapes_panoptic_val.json"),
          "--prediction-json-file", os.path.join(results, "panoptic", "cityscapes_panoptic_val.json"),
          "--json", os.path.join(tempfile.gettempdir(), "scaling-pq.json"), "-q"]),
    ]
    if scheduler:
        return [(script, module, arguments + ["--scheduler", scheduler]) for script, module, arguments in every[1:]]
    return every


def make_data(root, frames):
    from bench import _repack_with_pillow

    from cityscapesscripts import parallel, sample
    data = os.path.join(root, f"typical{frames}")
    if not os.path.isdir(data):
        sample.generate(data, frames, predictions=True, detail=0.38, progress=False)
        _repack_with_pillow(data, parallel)
    return data


# the Python the tools run on: a venv with a wheel of this checkout installed (set by main)
TOOL_PYTHON = sys.executable


def run_once(script, module, arguments, jobs, worker_cpu=None):
    """Wall seconds, parent and workers' CPU seconds, the most threads the parent had; the parent's CPU
    seconds in the maps, the wall seconds before the first map and after the last.  ``worker_cpu()``: the
    CPU seconds of workers that are not the tool's children (a cluster's), read before and after."""
    cluster_before = worker_cpu() if worker_cpu else 0.0
    scratch = tempfile.mkdtemp()
    env = dict(os.environ, SCALING_RUSAGE=os.path.join(scratch, "rusage.json"), XDG_CACHE_HOME=scratch)
    started = time.time()
    start = time.perf_counter()
    process = subprocess.Popen([TOOL_PYTHON, "-c", WRAPPER, script, module, *arguments, "-j", str(jobs)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=scratch)
    threads = [1]

    def sample_threads():
        while process.poll() is None:
            try:
                threads.append(len(os.listdir(f"/proc/{process.pid}/task")))
            except OSError:
                pass
            time.sleep(0.01)
    sampler = threading.Thread(target=sample_threads)
    sampler.start()
    _, err = process.communicate()
    wall, ended = time.perf_counter() - start, time.time()
    sampler.join()
    if process.returncode:
        raise RuntimeError(f"{module} -j {jobs} failed: {err.decode()[-2000:]}")
    with open(env["SCALING_RUSAGE"]) as f:
        cpu = json.load(f)
    shutil.rmtree(scratch, ignore_errors=True)
    workers = worker_cpu() - cluster_before if worker_cpu else cpu["workers"]
    return {"wall": wall, "parent": cpu["parent"], "workers": workers, "threads": max(threads),
            "map_cpu": cpu["map_cpu"] - cpu["cluster_cpu"], "cluster": cpu["cluster"],
            "before": cpu["map_first"] - started, "after": ended - cpu["map_last"]}


def measure(data, jobs_list, runs, scheduler=None, worker_cpu=None):
    """Medians per tool (named as in the report) and -j; ``scheduler`` and ``worker_cpu`` as in
    :func:`tools` and :func:`run_once`."""
    rows = {}
    for name, module, arguments in tools(data, scheduler):
        samples = {j: [] for j in jobs_list}
        for _ in range(runs):
            for j in jobs_list:
                samples[j].append(run_once(name, module, arguments, j, worker_cpu))
        label = name + ("" if scheduler is None else " --scheduler local" if scheduler == "local"
                        else " --scheduler ADDRESS (the tool only the client)")
        rows[label] = {j: {key: statistics.median(s[key] for s in samples[j]) for key in samples[j][0]}
                       for j in jobs_list}
        print(label, json.dumps(rows[label]), flush=True)
    return rows


@contextlib.contextmanager
def dask_cluster(workers):
    """A Dask scheduler and ``workers`` single-threaded workers, each in a process of its own (as on a cluster,
    where the tool's process is only the client): ``(address, a function giving the workers' CPU seconds)``."""
    from distributed import Client
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                   "--port", str(port), "--no-dashboard"], **quiet)]
    try:
        processes.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers",
                                           str(workers), "--nthreads", "1", "--no-dashboard"], **quiet))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
            yield address, lambda: sum(client.run(time.process_time).values())
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait()


def replace_between_markers(path, name, lines):
    """Put ``lines`` in the report between ``<!-- NAME -->`` and ``<!-- /NAME -->`` (appended if absent)."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = open(path).read() if os.path.exists(path) else ""
    block = "\n".join([begin, *lines, end])
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def write_report(rows, frames, runs, jobs_list, path, meta):
    lines = [f"{meta}. {frames} full-size frames of typical density; medians of {runs} run(s). "
             "Produced by `python benchmarks/bench_scaling.py`.", "",
             "| tool | " + " | ".join(f"-j {j} (s)" for j in jobs_list) + f" | -j {jobs_list[-1]} / -j 1 | "
             f"parent CPU at -j {jobs_list[-1]} (s) | workers' CPU at -j {jobs_list[-1]} (s) | "
             f"workers' CPU / parent CPU | most parent threads |",
             "| --- | " + " | ".join("---" for _ in jobs_list) + " | --- | --- | --- | --- | --- |"]
    for name, by_jobs in rows.items():
        last, first = by_jobs[jobs_list[-1]], by_jobs[jobs_list[0]]
        ratio = first["wall"] / last["wall"]
        share = last["workers"] / last["parent"] if last["parent"] else float("nan")
        lines.append(f"| {name} | " + " | ".join(f"{by_jobs[j]['wall']:.2f}" for j in jobs_list)
                     + f" | {ratio:.1f}x | {last['parent']:.2f} | {last['workers']:.2f} | {share:.0f} | "
                     + f"{max(v['threads'] for v in by_jobs.values())} |")
    replace_between_markers(path, "scaling", lines)


def write_parent_report(rows, one_frame, more, many, many_jobs, frames, more_frames, runs, jobs_list, path, meta):
    """The parent's table at the largest -j: its CPU per frame in the maps against a worker's, on both sets;
    what a further frame adds to each and the maps' fixed part (the slope and intercept between the sets);
    the parent's CPU per frame on the larger set with ``many_jobs`` workers (``many``), against a worker's at
    the largest -j; the wall time around the maps; a one-frame run's wall time."""
    j = jobs_list[-1]
    lines = [f"{meta}. {frames} and {more_frames} full-size frames of typical density; medians of {runs} run(s); "
             f"the columns after the wall times at -j {j}. Produced by `python benchmarks/bench_scaling.py --parent`.",
             "",
             "| tool | " + " | ".join(f"-j {k} (s)" for k in jobs_list)
             + "".join(f" | parent CPU / frame, {n} frames (ms) | worker CPU / frame, {n} frames (ms) | ratio"
                       for n in (frames, more_frames))
             + f" | parent CPU / frame, {more_frames} frames at -j {many_jobs} (ms) | ratio"
             + " | parent CPU a further frame adds (ms) | worker CPU a further frame adds (ms) | ratio | "
             "fixed parent CPU of the maps (ms) | parent CPU, whole run (s) | before the first map (s) | "
             "Dask: start-up or connection (s) | after the last map (s) | one-frame run, wall (s) | "
             "most parent threads |",
             "| --- | " + " | ".join("---" for _ in jobs_list) + " |" + " --- |" * 18]
    for name, by_jobs in rows.items():
        small, large = by_jobs[j], more[name]
        per_frame = ""
        for run, n in ((small, frames), (large, more_frames)):
            parent_ms, worker_ms = 1000 * run["map_cpu"] / n, 1000 * run["workers"] / n
            per_frame += f" | {parent_ms:.3f} | {worker_ms:.2f} | 1/{worker_ms / parent_ms:.0f}"
        if name in many:
            parent_ms = 1000 * many[name]["map_cpu"] / more_frames
            per_frame += f" | {parent_ms:.3f} | 1/{1000 * large['workers'] / more_frames / parent_ms:.0f}"
        else:
            per_frame += " | - | -"
        parent_slope, worker_slope = (1000 * (large[key] - small[key]) / (more_frames - frames)
                                      for key in ("map_cpu", "workers"))
        fixed_ms = 1000 * small["map_cpu"] - parent_slope * frames
        cluster = f"{small['cluster']:.2f}" if small["cluster"] else "-"
        lines.append(f"| {name} | " + " | ".join(f"{by_jobs[k]['wall']:.2f}" if k in by_jobs else "-"
                                                 for k in jobs_list) + per_frame
                     + f" | {parent_slope:.3f} | {worker_slope:.2f} | 1/{worker_slope / parent_slope:.0f} | "
                     f"{fixed_ms:.1f} | {small['parent']:.2f} | {small['before']:.3f} | {cluster} | "
                     f"{small['after']:.3f} | {one_frame[name]['wall']:.3f} | "
                     f"{max(v['threads'] for v in by_jobs.values())} |")
    replace_between_markers(path, "parent", lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parent", action="store_true", help="the parent's serial work (default: 100 frames, -j 1,2)")
    p.add_argument("--frames", type=int)
    p.add_argument("--more-frames", type=int, default=500,
                   help="with --parent: the larger set (default: as many frames as Cityscapes' val), at the largest -j")
    p.add_argument("--many-jobs", type=int, default=16,
                   help="with --parent: the local pool's parent CPU on the larger set at this -j too (0: not)")
    p.add_argument("--jobs", help="comma-separated -j values")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cityscapes-scaling"))
    p.add_argument("--report", default=os.path.join(HERE, "SCALING.md"))
    p.add_argument("--json", help="also write the measurements as JSON")
    opts = p.parse_args()
    global TOOL_PYTHON
    TOOL_PYTHON = installed_python(tempfile.mkdtemp())
    frames = opts.frames or (100 if opts.parent else 500)
    jobs_list = [int(j) for j in (opts.jobs or ("1,2" if opts.parent else "1,2,4,8,16")).split(",")]
    started = time.perf_counter()
    data = make_data(opts.data, frames)
    print(f"data ready in {time.perf_counter() - started:.0f} s", flush=True)
    import numpy
    meta = (f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
            f"NumPy {numpy.__version__}, OPENBLAS_NUM_THREADS "
            f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    measured = {"meta": meta, "frames": frames, "runs": opts.runs}
    if not opts.parent:
        measured["rows"] = rows = measure(data, jobs_list, opts.runs)
        write_report(rows, frames, opts.runs, jobs_list, opts.report, meta)
    else:
        with contextlib.ExitStack() as stack:
            # (scheduler, its -j values, the workers' CPU): the local pool; Dask with a cluster each run starts;
            # Dask with the scheduler and workers apart, the tool only its client (its workers, started once)
            variants = [(None, jobs_list, None)]
            if importlib.util.find_spec("distributed") is None:
                print('without Dask: no Dask rows (pip install "dask[distributed]")', flush=True)
            else:
                address, worker_cpu = stack.enter_context(dask_cluster(jobs_list[-1]))
                variants += [("local", jobs_list, None), (address, jobs_list[-1:], worker_cpu)]

            def at(frames, jobs=None, only_pool=False):
                found = {}
                for scheduler, jobs_of, worker_cpu in variants[:1] if only_pool else variants:
                    js = jobs_of if jobs is None else [jobs]
                    found.update(measure(make_data(opts.data, frames), js, opts.runs, scheduler, worker_cpu))
                return found
            measured["rows"] = rows = at(frames)
            measured["one_frame"] = one_frame = {name: by_jobs[min(by_jobs)] for name, by_jobs in at(1, 1).items()}
            more = {name: by_jobs[jobs_list[-1]] for name, by_jobs in at(opts.more_frames, jobs_list[-1]).items()}
            many = {name: by_jobs[opts.many_jobs] for name, by_jobs in
                    at(opts.more_frames, opts.many_jobs, only_pool=True).items()} if opts.many_jobs else {}
        measured["more"] = {"frames": opts.more_frames, "rows": more, "many_jobs": opts.many_jobs, "many": many}
        write_parent_report(rows, one_frame, more, many, opts.many_jobs, frames, opts.more_frames, opts.runs,
                            jobs_list, opts.report, meta)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(measured, f, indent=1)
    print(open(opts.report).read())


if __name__ == "__main__":
    main()
