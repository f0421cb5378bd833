"""csLabelTool: how long opening, saving and previewing a full-size frame take; writes LABELTOOL.md.

    python benchmarks/labeltool.py [--frames 4] [--runs 5] [--out benchmarks/LABELTOOL.md]

Data: full-size (2048x1024) synthetic frames from ``cityscapesscripts.sample``
(their polygon files are 1-2 MB, larger than real Cityscapes ones).  Server
timings are medians of --runs runs in this process; browser timings come from
headless Chromium (the harness of tests/browser.py), measured by the page.

The live preview was measured two ways: the label ids as a grey PNG coloured
by the page (what csLabelTool does), and the colour image encoded by the
server.
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from browser import Page, launch  # noqa: E402
from cityscapesscripts import sample  # noqa: E402
from cityscapesscripts.annotation import editing  # noqa: E402
from cityscapesscripts.helpers.labelset import CITYSCAPES  # noqa: E402
from cityscapesscripts.io import layout, png  # noqa: E402
from cityscapesscripts.preparation.rasterize import encode, rasterize_objects  # noqa: E402
from cityscapesscripts.web import labeltool, server  # noqa: E402
from viewer import median_ms  # noqa: E402  (benchmarks/viewer.py)


def server_side(path, runs):
    loaded = editing.load_annotation(path)

    def save_one_vertex():
        current = editing.load_annotation(path)
        current["objects"][3]["polygon"][0][0] += 1
        editing.save_annotation(path, current["objects"], current["version"], CITYSCAPES)

    def object_map():
        objects = ((i, o["label"], o["deleted"], o["polygon"]) for i, o in enumerate(loaded["objects"]))
        return rasterize_objects(objects, loaded["imgWidth"], loaded["imgHeight"], CITYSCAPES)

    return [
        ("open (load_annotation)", median_ms(lambda: editing.load_annotation(path), runs)),
        ("open, move one vertex, save", median_ms(save_one_vertex, runs)),
        ("open and save without edits", median_ms(
            lambda: editing.save_annotation(path, editing.load_annotation(path)["objects"],
                                            editing.file_version(open(path, "rb").read())), runs)),
        ("preview: label ids PNG (ours)", median_ms(lambda: png.encode_png(encode(object_map(), "labelIds")), runs)),
        ("preview: colour PNG", median_ms(lambda: png.encode_png(encode(object_map(), "color")[..., :3]), runs)),
    ]


def browser_side(url, frames, runs):
    driver = launch()
    try:
        page = Page(driver, url)
        page.wait("window.labelTool && labelTool.state.path && !labelTool.state.busy")
        switch = []
        for k in range(runs):
            switch.append(driver.execute_async_script(
                "const done = arguments[arguments.length - 1]; const t = performance.now();"
                "labelTool.go(arguments[0]).then(() => done(performance.now() - t));", (k + 1) % frames))
        page.js("document.getElementById('preview-toggle').click()")
        page.wait("document.getElementById('preview').width > 0")
        preview = []
        for _ in range(runs):  # an edit, then the preview drawn (after the page's 250 ms pause for more edits)
            preview.append(driver.execute_async_script(
                "const done = arguments[arguments.length - 1]; const c = document.getElementById('preview');"
                "c.width = 0; const t = performance.now(); const o = labelTool.state.objects.find((o) => !o.deleted);"
                "o.polygon[0][0] += 1; document.getElementById('preview-toggle').click();"
                "document.getElementById('preview-toggle').click();"
                "const poll = () => c.width > 0 ? done(performance.now() - t - 250) : setTimeout(poll, 2); poll();"))
        return [("switch image (annotation and camera image)", statistics.median(switch)),
                ("edit to preview drawn (without the 250 ms pause)", statistics.median(preview))]
    finally:
        driver.quit()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(HERE, "LABELTOOL.md"))
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root:
        sample.generate(root, frames=opts.frames)
        files = layout.find_annotations(root)
        size = os.path.getsize(files[0])
        server_rows = server_side(files[0], opts.runs)
        app = server.start_in_thread(labeltool.make_router(root))
        try:
            browser_rows = browser_side(server.url_of(app), len(files), opts.runs)
        finally:
            app.shutdown()
    lines = [
        "# csLabelTool: measurements", "",
        f"`python benchmarks/labeltool.py --frames {opts.frames} --runs {opts.runs}` on {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs (load average {os.getloadavg()[0]:.0f} at the end), "
        f"Python {platform.python_version()}; 2048x1024 frames from `csSampleDataset`, polygon file of "
        f"{size / 1e6:.1f} MB.", "",
        "## Server", "", "| what | ms (median) |", "| --- | ---: |",
        *[f"| {name} | {ms:.1f} |" for name, ms in server_rows], "",
        "## Browser (headless Chromium)", "", "| what | ms (median) |", "| --- | ---: |",
        *[f"| {name} | {ms:.1f} |" for name, ms in browser_rows], "",
    ]
    with open(opts.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
