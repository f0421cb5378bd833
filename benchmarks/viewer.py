"""csViewer: where to colour the overlays, and how fast images switch in the browser; writes VIEWER.md.

    python benchmarks/viewer.py [--frames 6] [--runs 5] [--out benchmarks/VIEWER.md]
    python benchmarks/viewer.py --grid 500 [--data DIR] [--runs 3] [--screenshot docs/viewer/grid.png]

The grid (``--grid N``): a synthetic split of N frames with predictions (or
the dataset at ``--data``, made by ``csSampleDataset DIR --frames N --split
val --predictions``), a fresh server each run; the page measures, from the
moment the grid opens, when the first thumbnail is painted and when every
image's scores are known, then the frame intervals while scrolling it from
top to bottom.

Data: full-size (2048x1024) synthetic frames with predictions from
``cityscapesscripts.sample``.  Server timings are medians of --runs runs in
this process; browser timings come from headless Chromium (Debian's
``chromium`` and ``chromium-driver``, the test harness of tests/browser.py),
measured by the page itself from the key press to the painted frame.

Two ways to get a labelled frame on screen were measured:

* index map (what csViewer does): the server rasterizes the polygons into
  an object-index map and sends it deflated with a small colour/name table;
  the browser colours it by a table lookup and keeps it for hovering.
* server-side colour: the server encodes the coloured overlay (RGBA PNG), or
  the overlay already blended with the camera image (RGB PNG, one request per
  opacity change); the browser only decodes and draws it.

and two ways to get the camera image there: the PNG as stored, decoded by
the browser, or a JPEG the server transcodes (what csViewer shows first; the
exact PNG replaces it once one stays on an image).  A cold switch is timed
from the request to the painted frame with both the camera image and the
overlay, nothing cached in the page or the server.
"""
import argparse
import base64
import collections
import glob
import http.client
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import urllib.parse

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from browser import Page, launch  # noqa: E402
from cityscapesscripts import sample  # noqa: E402
from cityscapesscripts.evaluation import instance_ap  # noqa: E402
from cityscapesscripts.helpers.annotation import Annotation  # noqa: E402
from cityscapesscripts.io import png  # noqa: E402
from cityscapesscripts.preparation import rasterize  # noqa: E402
from cityscapesscripts.web import server  # noqa: E402
from cityscapesscripts.web.viewer import Viewer, make_router  # noqa: E402


def median_ms(func, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def server_side(viewer, url, runs):
    """Milliseconds and bytes sent per layer of the first frame (HTTP, deflated), ours and the alternatives."""
    frame = viewer.frames[0]
    polygons = frame.file("gtFine", "polygons", "json")
    image = png.read_rgb(os.path.join(viewer.root, frame.image))
    host, port = urllib.parse.urlsplit(url).netloc.split(":")

    def request_path(path):
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.request("GET", path, headers={"Accept-Encoding": "deflate"})
        body = connection.getresponse().read()
        connection.close()
        return body

    def request(layer):
        viewer._cache.clear()
        return request_path(f"/api/layer/{layer}/{frame.key}")

    def object_map():
        annotation = Annotation()
        annotation.fromJsonFile(polygons)
        return rasterize.rasterize(annotation, viewer.label_set)

    def rgba_overlay():
        return png.encode_png(rasterize.encode(object_map(), "color"))

    def blended():
        color = rasterize.encode(object_map(), "color")[..., :3].astype(np.uint16)
        return png.encode_png(((image.astype(np.uint16) + color + 1) // 2).astype(np.uint8))

    rows = {}
    rows["camera image: the PNG file as stored"] = median_ms(lambda: request_path(
        "/api/file/" + urllib.parse.quote(frame.image)), runs)
    rows["camera image: JPEG, quality 90"] = median_ms(lambda: request_path(
        "/api/camera/" + urllib.parse.quote(frame.key)), runs)
    rows["camera image: JPEG, quality 90, half size (ours at 1400x900)"] = median_ms(lambda: request_path(
        "/api/camera/" + urllib.parse.quote(frame.key) + "?scale=2"), runs)
    rows["gtFine as index map + table (ours)"] = median_ms(lambda: request("gtFine"), runs)
    rows["gtFine as RGBA overlay PNG"] = median_ms(rgba_overlay, runs)
    rows["gtFine blended with the image, RGB PNG"] = median_ms(blended, runs)
    for layer in ("instances", "pred", "errors", "pred-instances", "pred-panoptic"):
        rows[f"{layer} (ours)"] = median_ms(lambda layer=layer: request(layer), runs)
    rows["per-image scores (mIoU, AP, PQ)"] = median_ms(
        lambda: (viewer._scores.clear(), viewer.scores(frame)), runs)
    return ({name: (ms, len(result) if isinstance(result, bytes) else None) for name, (ms, result) in rows.items()},
            rgba_overlay())


PNG_ROW = "fetch + decode the camera image, PNG"
JPEG_ROW = "fetch + decode the camera image, JPEG"
PREVIEW_ROW = "fetch + decode the camera image, JPEG at the canvas's size on screen (ours)"


# the last image's exact PNG swapped in (as for an image looked at), prefetches finished
SETTLE = """const done = arguments[arguments.length - 1];
(async () => {
  while (!(viewer.shown && viewer.shown.base.exact)) await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.allSettled([...frameCache.values(), ...layerCache.values()]);
})().then(() => done());"""
# a jump to image arguments[0] with nothing cached in the page; answers the page's own measurement.
# CPU is counted from there to the next SETTLE: the image, its two neighbours prefetched, its exact PNG.
COLD_SWITCH = """const done = arguments[arguments.length - 1];
frameCache.clear(); layerCache.clear();
show(arguments[0], performance.now()).then(() => done(viewer.lastSwitchMs));"""


def chromium_cpu_seconds(driver):
    """CPU seconds used so far by the processes of this driver's Chromium (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    children = collections.defaultdict(list)
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        children[int(fields[1])].append((int(stat.split("/")[2]), (int(fields[11]) + int(fields[12])) / tick))
    total, todo = 0.0, [driver.service.process.pid]
    while todo:
        for pid, seconds in children.get(todo.pop(), []):
            total += seconds
            todo.append(pid)
    return total


def count_handler_cpu(router, seconds_by_path):
    """Add each request's handler CPU time (its thread's) to ``seconds_by_path[request path]``."""
    dispatch = router.dispatch

    def timed(request):
        start = time.thread_time()
        try:
            return dispatch(request)
        finally:
            seconds_by_path[request.path] = seconds_by_path.get(request.path, 0) + time.thread_time() - start
    router.dispatch = timed
    return router


def browser_side(url, viewer, rgba_png, runs, handler_cpu):
    frames = len(viewer.frames)
    driver = launch()
    try:
        page = Page(driver, url)
        page.wait("window.viewer && viewer.ready", 60)
        page.js("document.getElementById('city').value = ''; rebuildList();")  # every image, all cities
        page.wait(f"viewer.list.length === {frames}")
        results = {}
        # the browser's share of each method, for the same gtFine overlay of frame 0
        results["fetch (inflate) + colour an index map"] = statistics.median(driver.execute_async_script("""
            const [runs, done] = [arguments[0], arguments[arguments.length - 1]];
            (async () => {
              const url = '/api/layer/gtFine/' + viewer.frames[0].key;
              await fetchBinary(url);  // the server's cache now holds it: this times the transfer and the browser
              const times = [];
              for (let i = 0; i < runs; i++) {
                const t = performance.now();
                await decodeLayer(await fetchBinary(url));
                times.push(performance.now() - t);
              }
              return times;
            })().then(done);""", runs))
        results["decode an RGBA overlay PNG"] = statistics.median(driver.execute_async_script("""
            const [data, runs, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
            (async () => {
              const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
              const canvas = new OffscreenCanvas(2048, 1024), context = canvas.getContext('2d');
              const times = [];
              for (let i = 0; i < runs; i++) {
                const t = performance.now();
                const bitmap = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
                context.drawImage(bitmap, 0, 0);
                times.push(performance.now() - t);
              }
              return times;
            })().then(done);""", base64.b64encode(rgba_png).decode("ascii"), runs))
        # the browser draws the preview as it draws the exact PNG: only fetching and decoding differ
        camera_loads = {PNG_ROW: "loadBitmap(pathUrl('/api/file/', viewer.frames[0].image))",
                        JPEG_ROW: "loadPreview(viewer.frames[0], 1)",
                        PREVIEW_ROW: "loadPreview(viewer.frames[0], previewScale())"}
        for row, expression in camera_loads.items():
            results[row] = statistics.median(driver.execute_async_script(f"""
                const [runs, done] = [arguments[0], arguments[arguments.length - 1]];
                (async () => {{
                  const times = [];
                  for (let i = 0; i < runs; i++) {{
                    const t = performance.now();
                    await {expression};
                    times.push(performance.now() - t);
                  }}
                  return times;
                }})().then(done);""", runs))
        scale = page.js("return previewScale()")
        results["redraw at a new opacity"] = statistics.median(page.js("""
            const times = [];
            for (let i = 0; i < arguments[0]; i++) {
              const t = performance.now(); setAlpha(i % 2 ? 0.4 : 0.6); times.push(performance.now() - t);
            }
            return times;""", runs))
        for layer in ("gtFine", "errors"):
            page.js("const s = document.getElementById('layer'); s.value = arguments[0]; s.onchange();", layer)
            page.wait("!document.getElementById('status').textContent.startsWith('loading')")
            cold, warm, server_cpu, browser_cpu = [], [], [], []
            page.js("viewer.pred = null")  # no per-image scores while switching (timed above)
            driver.execute_async_script(SETTLE)
            for position in range(frames):
                # cold: nothing cached in the page or the server, no prefetch still running
                viewer._cache.clear()
                handler_cpu.clear()
                before = chromium_cpu_seconds(driver)
                cold.append(driver.execute_async_script(COLD_SWITCH, position))
                driver.execute_async_script(SETTLE)
                browser_cpu.append((chromium_cpu_seconds(driver) - before) * 1000)
                server_cpu.append(sum(handler_cpu.values()) * 1000)
            results[f"switch image, {layer}, nothing cached"] = statistics.median(cold)
            results[f"  CPU of the server per image looked at, {layer}"] = statistics.median(server_cpu)
            results[f"  CPU of the browser per image looked at, {layer}"] = statistics.median(browser_cpu)
            page.js("show(0)")
            page.wait("viewer.position === 0 && viewer.shown.frame.key === viewer.list[0].key")
            for position in range(1, frames):
                # prefetched: the next frame was loaded while the current one was looked at
                driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                            "load(viewer.list[arguments[0]]).then(() => done());", position)
                count = page.js("return viewer.shownCount")
                page.key("ArrowRight")
                page.wait(f"viewer.shownCount > {count}", 60)
                warm.append(page.js("return viewer.lastSwitchMs"))
            results[f"switch image, {layer}, next image prefetched"] = statistics.median(warm)
        return results, scale
    finally:
        driver.quit()


GRID_HEADING = "## Grid of the split"


def grid_run(data, screenshot=None):
    """One cold grid: first tile painted (ms), all scores known (ms), the frame intervals (ms) of two
    scrolls through it (thumbnails loading, then loaded), CPU seconds of the scoring workers."""
    viewer = Viewer(data, pred=os.path.join(data, "results"))
    srv = server.start_in_thread(make_router(viewer))
    driver = launch()
    cpu_before = worker_cpu_seconds()
    try:
        page = Page(driver, server.url_of(srv))
        page.wait("window.viewer && viewer.ready", 60)
        page.js("document.getElementById('city').value = ''; setGrid(true);")
        page.wait("viewer.grid.firstTileMs !== null", 60)
        page.wait("viewer.grid.scoresDoneMs !== null", 600)
        scrolls = [driver.execute_async_script(SCROLL_THROUGH) for _ in range(2)]  # thumbnails loading, loaded
        if screenshot:
            page.js("document.getElementById('order').value = 'mIoU'; renderGrid();"
                    "document.getElementById('tiles').scrollTop = 0;")
            page.wait("Array.from(document.querySelectorAll('#tiles img')).slice(0, 15).every(i => i.complete)", 60)
            page.screenshot(screenshot)
        return (page.js("return viewer.grid.firstTileMs"), page.js("return viewer.grid.scoresDoneMs"),
                scrolls, worker_cpu_seconds() - cpu_before)
    finally:
        driver.quit()
        srv.shutdown()
        srv.server_close()


def worker_cpu_seconds():
    """CPU seconds of this process's finished child processes (the scoring pool's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Scroll the grid from top to bottom, a screenful per 10 frames (a brisk wheel); the frame intervals.
SCROLL_THROUGH = """
    const done = arguments[arguments.length - 1];
    const tiles = document.getElementById('tiles'), intervals = [];
    tiles.scrollTop = 0;
    let last = null;
    const step = (now) => {
      if (last !== null) intervals.push(now - last);
      last = now;
      if (tiles.scrollTop + tiles.clientHeight >= tiles.scrollHeight - 1) { done(intervals); return; }
      tiles.scrollTop += tiles.clientHeight / 10;
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);"""


def summary_parts(data, frames=20):
    """CPU milliseconds per image (medians over the first ``frames`` frames) of each part of a summary."""
    viewer = Viewer(data, pred=os.path.join(data, "results"))
    chosen = viewer.frames[:frames]

    def matched(frame):
        predictions = viewer.predictions.instances(frame.id)
        accumulator = instance_ap.InstanceAccumulator(viewer.label_set)
        accumulator.add(masks=[p.mask for p in predictions], labels=[p.label_id for p in predictions],
                        scores=[p.confidence for p in predictions],
                        ground_truth=frame.ground_truth().instance_ids(), name=frame.id)
        return accumulator
    parts = {
        "semantic: labelIds and prediction PNGs counted in one pass, class IoU": lambda f: viewer._semantic_accumulator(
            viewer.sources(f)["pred"], f.ground_truth()).result(),
        "instances: ground-truth instanceIds decoded, each mask PNG counted as inflated": matched,
        "instances: AP from the matches": None,
        "panoptic: both RGB PNGs counted in one pass, PQ": viewer._panoptic_scores,
        "the whole summary": viewer._summarize,
    }
    times = {}
    for name, part in parts.items():
        samples = []
        for frame in chosen:
            if part is None:  # the AP alone, from matches made beforehand
                accumulator = matched(frame)
                start = time.process_time()
                accumulator.result()
            else:
                start = time.process_time()
                part(frame)
            samples.append(time.process_time() - start)
        times[name] = 1000 * statistics.median(samples)
    return times


def grid_report(data, runs, load_start, screenshot=None):
    frames = len(glob.glob(os.path.join(data, "leftImg8bit", "*", "*", "*_leftImg8bit.png")))
    first, scores, loading, loaded, cpu = [], [], [], [], []
    for run in range(runs):
        a, b, (c, d), e = grid_run(data, screenshot if run == runs - 1 else None)
        first.append(a)
        scores.append(b)
        loading += c
        loaded += d
        cpu.append(e)
    parts = summary_parts(data)

    def smooth(intervals):
        intervals = sorted(intervals)
        return f"{statistics.median(intervals):.1f} ms | {intervals[int(0.95 * (len(intervals) - 1))]:.1f} ms"
    return "\n".join([
        GRID_HEADING,
        "",
        f"`python benchmarks/viewer.py --grid {frames} --runs {runs}`: {frames} 2048x1024 synthetic frames with "
        f"semantic, instance and panoptic predictions, {os.cpu_count()} cores shared with other jobs (load "
        f"average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end); each run a fresh server "
        "(nothing cached), times from opening the grid in headless Chromium (1400x900).",
        "",
        "| what | median | worst (scrolling: 95th percentile) |",
        "| --- | ---: | ---: |",
        f"| first thumbnail painted | {statistics.median(first):.0f} ms | {max(first):.0f} ms |",
        f"| scores (mIoU, AP, PQ) of all {frames} images known | {statistics.median(scores) / 1000:.1f} s "
        f"| {max(scores) / 1000:.1f} s |",
        f"|   CPU time of the scoring workers, all together | {statistics.median(cpu):.1f} s | {max(cpu):.1f} s |",
        f"| frame interval scrolling top to bottom, thumbnails loading | {smooth(loading)} |",
        f"| frame interval scrolling top to bottom again, thumbnails loaded | {smooth(loaded)} |",
        "",
        "The scores are the evaluators' accumulators on each image (identical to the command-line "
        "evaluators on a one-image list), computed once per server in the background on every core and "
        "cached; the page asks for those known every 0.4 s and fills the tiles as they come. Thumbnails "
        "(256 px wide JPEGs) load as their tiles come near the screen. The time until all scores are known "
        "depends on what else the machine runs: with the cores free, it is the workers' CPU time shared by "
        "the cores. Each worker unpickles the viewer (its frame and prediction lists, a few MB) once, not "
        "with every chunk of frames, and runs at a lower priority than the server, so the thumbnails and the "
        "image the user opens come first. The label and panoptic PNGs are counted in one pass as they are "
        "inflated (the evaluators' kernels), never decoded whole; the instance part, every mask PNG inflated "
        "and counted, is most of what is left.",
        "",
        "Where a summary's CPU time goes (one process, median of 20 images; "
        "`summary_parts` in the script):",
        "",
        "| part | CPU per image |",
        "| --- | ---: |",
        *(f"| {name} | {ms:.1f} ms |" for name, ms in parts.items()),
        "",
    ])


def with_grid_section(text, grid):
    """``text`` (VIEWER.md) with ``grid`` as its grid section, in place of the one it had."""
    return text.partition(GRID_HEADING)[0].rstrip("\n") + "\n\n" + grid


def report(server_rows, browser_rows, preview_scale, frames, runs, load_start):
    lines = [
        "# csViewer: measurements",
        "",
        f"`python benchmarks/viewer.py --frames {frames} --runs {runs}` on {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs (load average {load_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end), "
        f"Python {platform.python_version()}; "
        "2048x1024 synthetic frames from `csSampleDataset` (50-150 polygons each) with predictions.",
        "",
        "## Server: one overlay of one frame",
        "",
        "Ours: one HTTP request, nothing cached (read, rasterize or look up, deflate); "
        "the alternatives: rasterize and encode only.",
        "",
        "| what | ms (median) | bytes sent |",
        "| --- | ---: | ---: |",
    ]
    for name, (ms, size) in server_rows.items():
        lines.append(f"| {name} | {ms:.1f} | {size if size is not None else '-'} |")
    lines += ["", "## Browser (headless Chromium)", "", "| what | ms (median) |", "| --- | ---: |"]
    for name, ms in browser_rows.items():
        lines.append(f"| {name} | {ms:.1f} |")
    ours = server_rows["gtFine as index map + table (ours)"][0] + browser_rows["fetch (inflate) + colour an index map"]
    theirs = server_rows["gtFine as RGBA overlay PNG"][0] + browser_rows["decode an RGBA overlay PNG"]
    lines += [
        "",
        "## Decision",
        "",
        f"Index map + table, coloured in the browser: {ours:.0f} ms per overlay (server + browser) against "
        f"{theirs:.0f} ms for an RGBA overlay coloured on the server; a blended image would also cost a "
        "request per opacity change, where ours redraws locally. The index map also answers hovering "
        "(label and instance id under the mouse) without a request, and keeps the rasterizer's exact "
        "coverage. Switching to a prefetched image is a redraw.",
        "",
        f"The camera image as a JPEG made on the fly at the canvas's size on screen (here 1/"
        f"{preview_scale} of the width in this 1400x900 window): "
        f"{browser_rows[PREVIEW_ROW]:.0f} ms from request to decoded bitmap, against "
        f"{browser_rows[JPEG_ROW]:.0f} ms for a full-size JPEG and {browser_rows[PNG_ROW]:.0f} ms for the PNG "
        "as stored, and a fraction of their bytes (through an SSH forward too). It is shown at once; staying "
        "on an image for 0.3 s swaps in the exact PNG, so the pixels one inspects (zoom lens) are the file's.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(HERE, "VIEWER.md"))
    parser.add_argument("--grid", type=int, metavar="N", help="measure only the grid, on N frames")
    parser.add_argument("--data", help="for --grid: a synthetic dataset already made (csSampleDataset)")
    parser.add_argument("--screenshot", help="for --grid: save the grid, worst mIoU first, to this PNG")
    opts = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    previous = open(opts.out).read() if os.path.exists(opts.out) else ""
    if opts.grid:
        with tempfile.TemporaryDirectory() as scratch:
            data = opts.data
            if data is None:
                data = os.path.join(scratch, "data")
                sample.generate(data, opts.grid, 2048, 1024, predictions=True, progress=False)
            grid = grid_report(data, opts.runs, load_start, opts.screenshot)
        with open(opts.out, "w") as f:
            f.write(with_grid_section(previous, grid))
        print(grid)
        return
    with tempfile.TemporaryDirectory() as data:
        sample.generate(data, opts.frames, 2048, 1024, predictions=True, progress=False)
        viewer = Viewer(data, pred=os.path.join(data, "results"))
        handler_cpu = {}
        srv = server.start_in_thread(count_handler_cpu(make_router(viewer), handler_cpu))
        url = server.url_of(srv)
        try:
            server_rows, rgba_png = server_side(viewer, url, opts.runs)
            browser_rows, scale = browser_side(url, viewer, rgba_png, opts.runs, handler_cpu)
        finally:
            srv.shutdown()
            srv.server_close()
    text = report(server_rows, browser_rows, scale, opts.frames, opts.runs, load_start)
    _, heading, grid = previous.partition(GRID_HEADING)
    if heading:  # measured by its own run (--grid): kept
        text = with_grid_section(text, heading + grid)
    with open(opts.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
