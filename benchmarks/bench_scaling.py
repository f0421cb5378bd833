"""How the batch tools scale with workers, and what their parent process costs; writes SCALING.md.

    python benchmarks/bench_scaling.py [--frames 500] [--jobs 1,2,4,8,16] [--runs 1] [--data DIR]

Data: full-size frames of typical Cityscapes density from ``cityscapesscripts.sample``
(``detail`` 0.38: about 50 objects, 15 ground-truth instances and 14 predicted masks a
frame), every PNG rewritten by Pillow with its defaults, as bench.py makes them.

Each tool runs as its console script would (a fresh process whose ``sys.argv[0]`` is the
script's name) under a small wrapper that reports the process's own CPU time (the parent) and that of the workers it
waited for.  While it runs, the benchmark samples ``/proc/PID/task`` every 10 ms: the most
threads the parent had.  The instance evaluator runs with a fresh cache folder each time
(a cold ground-truth cache, as a first run).  Runs of one tool alternate over the ``-j``
values; each cell is the median over runs.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# The tool's process writes its own and its waited-for children's CPU seconds to $SCALING_RUSAGE on exit.
WRAPPER = """
import atexit, json, os, resource, runpy, sys
def _report():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ["SCALING_RUSAGE"], "w") as f:
        json.dump({"parent": own.ru_utime + own.ru_stime, "workers": kids.ru_utime + kids.ru_stime}, f)
atexit.register(_report)
script, module = sys.argv[1:3]
sys.argv = [script] + sys.argv[3:]  # as the console script starts it: the package sees the script's name
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def tools(data):
    """(console script, module, arguments) of each batch tool on the data set."""
    gt = os.path.join(data, "gtFine", "val")
    results = os.path.join(data, "results")
    return [
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


def make_data(root, frames):
    from bench import _repack_with_pillow

    from cityscapesscripts import parallel, sample
    data = os.path.join(root, f"typical{frames}")
    if not os.path.isdir(data):
        sample.generate(data, frames, predictions=True, detail=0.38, progress=False)
        _repack_with_pillow(data, parallel)
    return data


def run_once(script, module, arguments, jobs):
    """Wall seconds, parent and workers' CPU seconds, the most threads the parent had."""
    scratch = tempfile.mkdtemp()
    env = dict(os.environ, SCALING_RUSAGE=os.path.join(scratch, "rusage.json"), XDG_CACHE_HOME=scratch)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", WRAPPER, script, module, *arguments, "-j", str(jobs)], env=env,
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
    wall = time.perf_counter() - start
    sampler.join()
    if process.returncode:
        raise RuntimeError(f"{module} -j {jobs} failed: {err.decode()[-2000:]}")
    with open(env["SCALING_RUSAGE"]) as f:
        cpu = json.load(f)
    shutil.rmtree(scratch, ignore_errors=True)
    return {"wall": wall, "parent": cpu["parent"], "workers": cpu["workers"], "threads": max(threads)}


def measure(data, jobs_list, runs):
    rows = {}
    for name, module, arguments in tools(data):
        samples = {j: [] for j in jobs_list}
        for _ in range(runs):
            for j in jobs_list:
                samples[j].append(run_once(name, module, arguments, j))
        rows[name] = {j: {key: statistics.median(s[key] for s in samples[j]) for key in samples[j][0]}
                      for j in jobs_list}
        print(name, json.dumps(rows[name]), flush=True)
    return rows


def write_report(rows, frames, runs, jobs_list, path, meta):
    lines = ["# Scaling with workers", "",
             f"{meta}. {frames} full-size frames of typical density; medians of {runs} run(s). "
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
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=500)
    p.add_argument("--jobs", default="1,2,4,8,16", help="comma-separated -j values")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cityscapes-scaling"))
    p.add_argument("--report", default=os.path.join(HERE, "SCALING.md"))
    p.add_argument("--json", help="also write the measurements as JSON")
    opts = p.parse_args()
    jobs_list = [int(j) for j in opts.jobs.split(",")]
    started = time.perf_counter()
    data = make_data(opts.data, opts.frames)
    print(f"data ready in {time.perf_counter() - started:.0f} s", flush=True)
    rows = measure(data, jobs_list, opts.runs)
    import numpy
    meta = (f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
            f"NumPy {numpy.__version__}, OPENBLAS_NUM_THREADS "
            f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"meta": meta, "frames": opts.frames, "runs": opts.runs, "rows": rows}, f, indent=1)
    write_report(rows, opts.frames, opts.runs, jobs_list, opts.report, meta)
    print(open(opts.report).read())


if __name__ == "__main__":
    main()
