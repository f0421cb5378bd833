"""csViewer in a real (headless) Chromium: browse, overlays, pixel colours, hover, zoom, keys, screenshots.

Set ``CSVIEWER_SCREENSHOTS=DIR`` to keep the screenshots (the README's come from here:
``CSVIEWER_SCREENSHOTS=docs/viewer pytest tests/test_viewer_browser.py``).
"""
import os
import re

import numpy as np
import pytest

from browser import Page, controls_without_a_key, focus_rings
from cityscapesscripts.helpers.labels import id2label, name2label
from cityscapesscripts.web import server
from cityscapesscripts.web.viewer import DISPARITY_COLORS, Viewer, make_router
from viewer_data import (CITY, FRAMES, PERSONS, boxes_2d, disparity_map, golden, inner_point, inner_points,
                         make_dataset, predicted, read)


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    root = make_dataset(str(tmp_path_factory.mktemp("viewer_browser") / "data"))
    srv = server.start_in_thread(make_router(Viewer(root, pred=os.path.join(root, "results"))))
    page = Page(browser, server.url_of(srv))
    page.wait("window.viewer && viewer.ready")
    yield page
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    folder = os.environ.get("CSVIEWER_SCREENSHOTS") or str(tmp_path_factory.mktemp("screenshots"))
    os.makedirs(folder, exist_ok=True)
    return folder


def shown(page):
    return page.js("return viewer.shown ? viewer.shown.frame.id : null")


def go_to(page, position, layer="gtFine", alpha=1.0, source="polygons"):
    """Show image ``position`` with ``layer`` at opacity ``alpha``, through the page's own controls."""
    count = page.js("return viewer.shownCount")
    page.js("""const [layer, png] = arguments;
               document.getElementById('from-png').checked = png;
               const select = document.getElementById('layer'); select.value = layer; select.onchange();""",
            layer, source == "png")
    page.wait(f"viewer.shownCount > {count}")
    count = page.js("return viewer.shownCount")
    if page.js("return viewer.position") != position:
        page.js("show(arguments[0])", position)
        page.wait(f"viewer.shownCount > {count}")
    page.js("setAlpha(arguments[0])", alpha)
    page.wait("!document.getElementById('status').textContent.startsWith('loading')")


def mix(image, overlay, alpha):
    return np.round(image * (1 - alpha) + overlay * alpha)


ROW_SUMS = "(data, width) => Array.from({length: data.length / 4 / width}, (_, y) => {" \
           "let s = 0; for (let i = y * width * 4; i < (y + 1) * width * 4; i += 4) " \
           "s += data[i] + 3 * data[i + 1] + 7 * data[i + 2]; return s; })"


def row_sums(rgb):
    """One number per row of an (H, W, 3) image, as ROW_SUMS computes it in the page."""
    return (rgb[..., 0] + 3 * rgb[..., 1] + 7 * rgb[..., 2]).sum(axis=1).tolist()


def test_camera_image_shown_as_jpeg_then_the_files_exact_pixels(page):
    go_to(page, 1, "none", alpha=0.5)
    page.wait("viewer.shown.base.exact")
    exact = row_sums(read(f"leftImg8bit/val/{CITY}/{FRAMES[1]}_leftImg8bit.png")[..., :3])
    canvas = page.js(f"const c = document.getElementById('canvas');"
                     f"return ({ROW_SUMS})(c.getContext('2d').getImageData(0, 0, c.width, c.height).data, c.width)")
    assert canvas == exact
    # a frame not loaded yet comes as a JPEG at the canvas's size on screen: the same picture, not the pixels
    on_screen = page.js("return document.getElementById('canvas').getBoundingClientRect().width")
    scale = max(1, int(2048 / on_screen / 0.9))
    page.js("frameCache.clear()")
    first, width, preview = page.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "load(viewer.list[1]).then(l => done([l.base.exact, l.base.image.width, "
        f"({ROW_SUMS})(pixelsOf(l.base.image).data, l.base.image.width)]))")
    assert first is False and width == 2048 // scale and len(preview) == 1024 // scale
    image = read(f"leftImg8bit/val/{CITY}/{FRAMES[1]}_leftImg8bit.png")[..., :3]
    reduced = image.reshape(1024 // scale, scale, 2048 // scale, scale, 3).mean(axis=(1, 3))
    expected = row_sums(reduced)
    assert np.abs(np.subtract(preview, expected)).mean() < 0.01 * np.mean(expected)


def test_labels_drawn_with_the_original_colours(page, screenshots):
    go_to(page, 0, "gtFine", alpha=1.0)
    assert shown(page) == FRAMES[0]
    color = golden(FRAMES[0], "color")
    points = inner_points(golden(FRAMES[0], "labelIds"))
    assert len(points) >= 5
    for x, y in points:
        assert page.pixel("#canvas", x, y)[:3] == tuple(color[y, x, :3]), (x, y)
    # half transparent: camera image and label colour blended
    page.key("-")
    page.key("-")
    page.key("-")
    page.key("-")
    page.key("-")
    assert page.js("return viewer.alpha") == 0.5
    page.wait("viewer.shown.base.exact")
    image = read(f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")
    for x, y in points:
        pixel = np.array(page.pixel("#canvas", x, y)[:3])
        assert np.abs(pixel - mix(image[y, x, :3], color[y, x, :3], 0.5)).max() <= 1, (x, y)
    page.screenshot(os.path.join(screenshots, "gtFine.png"))


def test_labels_from_the_pngs(page):
    go_to(page, 1, "gtFine", alpha=1.0, source="png")
    color = golden(FRAMES[1], "color")
    for x, y in inner_points(golden(FRAMES[1], "labelIds")):
        assert page.pixel("#canvas", x, y)[:3] == tuple(color[y, x, :3]), (x, y)
    page.js("document.getElementById('from-png').checked = false")


def test_hover_names_the_label_and_instance(page):
    go_to(page, 0, "gtFine", alpha=0.5)
    label_ids, instance_ids = golden(FRAMES[0], "labelIds"), golden(FRAMES[0], "instanceIds")
    width = page.js("return document.getElementById('canvas').getBoundingClientRect().width")
    scale = width / 2048
    car = np.argwhere((instance_ids // 1000 == 26) & (instance_ids >= 1000))
    (cy, cx), (ry, rx) = car[len(car) // 2], inner_points(label_ids)[0][::-1]
    tips = []
    for y, x in ((cy, cx), (ry, rx)):
        page.hover("#canvas", x * scale, y * scale)
        page.wait("!document.getElementById('tip').hidden")
        hovered = page.text("#hover")
        hx, hy = map(int, re.search(r"\((\d+), (\d+)\)", hovered).groups())  # the pixel under the mouse
        name = id2label[label_ids[hy, hx]].name
        expected = f"{name} {instance_ids[hy, hx]}" if instance_ids[hy, hx] >= 1000 else name
        assert page.text("#tip") in (expected, name + "group")
        assert abs(hx - x) <= 2 and abs(hy - y) <= 2
        tips.append(page.text("#tip"))
    assert tips[0].startswith("car 26")  # (cx, cy) is in a car: its instance id shows


def test_next_previous_jump_and_path(page):
    go_to(page, 0, "gtFine")
    count = page.js("return viewer.shownCount")
    page.key("ArrowRight")
    page.wait(f"viewer.shownCount > {count}")
    assert shown(page) == FRAMES[1]
    assert page.text("#position") == "2 / 2"
    assert f"leftImg8bit/val/{CITY}/{FRAMES[1]}_leftImg8bit.png" in page.text("#paths")
    assert f"gtFine/val/{CITY}/{FRAMES[1]}_gtFine_polygons.json" in page.text("#paths")
    page.key("ArrowRight")  # at the end: stays
    page.key("ArrowLeft")
    page.wait(f"viewer.shownCount > {count + 1}")
    assert shown(page) == FRAMES[0]
    count = page.js("return viewer.shownCount")
    page.key("i")
    page.key(FRAMES[1][-13:])  # part of the name
    page.key("\n")
    page.wait(f"viewer.shownCount > {count}")
    assert shown(page) == FRAMES[1]


def test_switching_time(page):
    """Image switching measured in the browser (key press to frame painted); printed, not asserted."""
    go_to(page, 0, "gtFine")
    times = []
    for key in ["ArrowRight", "ArrowLeft"] * 3:
        count = page.js("return viewer.shownCount")
        page.key(key)
        page.wait(f"viewer.shownCount > {count}")
        times.append(page.js("return viewer.lastSwitchMs"))
    print(f"\nswitching 2048x1024 frames with the gtFine overlay: {', '.join(f'{t:.0f}' for t in times)} ms")
    assert len(times) == 6 and all(t > 0 for t in times)


def test_play_goes_to_the_end_and_stops(page):
    go_to(page, 0, "gtFine")
    page.key(" ")
    page.wait("!viewer.playing")
    assert shown(page) == FRAMES[-1]


def test_errors_view(page, screenshots):
    go_to(page, 0, "errors", alpha=1.0)
    truth, prediction = golden(FRAMES[0], "labelIds"), predicted(FRAMES[0])
    image = read(f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")
    ignored = np.array([id2label[i].ignoreInEval for i in range(34)])[truth]
    wrong = ~ignored & (truth != prediction)
    page.wait("viewer.shown.base.exact")
    for mask, expected in ((wrong, (255, 0, 0)), (ignored, (128, 128, 128)), (~ignored & ~wrong, None)):
        x, y = inner_point(mask)
        assert page.pixel("#canvas", x, y)[:3] == (expected or tuple(image[y, x, :3])), (x, y)
    page.wait("document.getElementById('scores').rows.length === 3")
    scores = page.text("#scores")
    assert "mIoU" in scores and "AP" in scores and "PQ" in scores
    go_to(page, 0, "errors", alpha=0.6)
    page.wait("document.getElementById('scores').rows.length === 3")
    page.screenshot(os.path.join(screenshots, "errors.png"))


@pytest.mark.parametrize("layer", ["instances", "pred", "pred-instances", "pred-panoptic", "gtCoarse"])
def test_other_overlays(page, screenshots, layer):
    go_to(page, 0, layer, alpha=0.7)
    assert page.js("return viewer.shown.overlay && viewer.shown.overlay.kind") == "raster"
    assert not page.js("return viewer.shown.layerError")
    if layer == "pred":
        # the prediction's label colours
        prediction = predicted(FRAMES[0])
        page.js("setAlpha(1)")
        for x, y in inner_points(prediction):
            assert page.pixel("#canvas", x, y)[:3] == tuple(id2label[prediction[y, x]].color)
        page.js("setAlpha(0.7)")
    page.hover("#canvas", 335, 393)  # on a car
    page.wait("!document.getElementById('tip').hidden")
    page.screenshot(os.path.join(screenshots, f"{layer}.png"))


def test_disparity_and_citypersons(page, screenshots):
    go_to(page, 0, "disparity", alpha=1.0)
    level = int(disparity_map()[600, 1000]) >> 7
    assert page.pixel("#canvas", 1000, 600)[:3] == tuple(DISPARITY_COLORS[min(max(level - 3, 0), 97)])
    page.js("setAlpha(0.6)")
    page.hover("#canvas", 600, 330)
    page.wait("document.getElementById('tip').textContent.startsWith('disparity')")
    page.screenshot(os.path.join(screenshots, "disparity.png"))
    go_to(page, 0, "citypersons", alpha=1.0)
    (label, (x, y, w, h), _), color = PERSONS[0], (220, 20, 60)
    assert page.pixel("#canvas", x, y + h // 2)[:3] == color  # the box's left edge
    scale = page.js("return document.getElementById('canvas').getBoundingClientRect().width") / 2048
    page.hover("#canvas", (x + w / 2) * scale, (y + h * 0.75) * scale)
    page.wait("!document.getElementById('tip').hidden")
    assert page.text("#tip") == label
    page.screenshot(os.path.join(screenshots, "citypersons.png"))


def test_3d_boxes(page, screenshots):
    go_to(page, 0, "bbox3d", alpha=1.0)
    boxes = page.js("return viewer.shown.overlay.boxes.filter(b => b.faces)")
    assert boxes
    x, y, w, h = max(boxes, key=lambda b: b["box"][2] * b["box"][3])["box"]
    scale = page.js("return document.getElementById('canvas').getBoundingClientRect().width") / 2048
    page.hover("#canvas", (x + w / 2) * scale, (y + h / 2) * scale)
    page.wait("!document.getElementById('tip').hidden")
    assert page.text("#tip").split(" ")[0] in {b["name"].split(" ")[0] for b in boxes}
    page.screenshot(os.path.join(screenshots, "bbox3d.png"))


@pytest.mark.parametrize("view", ["modal", "amodal"])
def test_2d_boxes_of_the_3d_annotation(page, screenshots, view):
    """Outline in the label colour on the fixture's box edges, faint fill inside (ignore regions: hatched),
    camera image outside."""
    go_to(page, 0, f"bbox3d-{view}", alpha=1.0)
    page.wait("viewer.shown.base.exact")
    image = read(f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")[..., :3]
    boxes = boxes_2d(view)
    other_view = {(label, instance): box for label, instance, box in boxes_2d("amodal" if view == "modal" else "modal")}

    def near(x, y, box, margin):
        bx, by, bw, bh = box
        return bx - margin <= x <= bx + bw + margin and by - margin <= y <= by + bh + margin

    checked = {"edge": 0, "inside": 0, "outside": 0}
    for i, (label, instance, (x, y, w, h)) in enumerate(boxes):
        color = np.array(name2label[label].color)
        others = [b for j, (_, _, b) in enumerate(boxes) if j != i]
        middle = y + h // 2
        # the 2D box of the other view differs: its left and right edges are no outline in this one
        xs = [x, x + w, x - 5, x + 5, x + w - 5, x + w + 5] + [e for e in (other_view.get((label, instance)) or ())[:1]]
        for px in xs:
            if not 0 <= px < 2048 or any(near(px, middle, b, 3) for b in others):
                continue
            if px in (x, x + w):
                kind, expected = "edge", color
            elif instance is not None and near(px, middle, (x + 3, y + 3, w - 6, h - 6), 0):
                kind, expected = "inside", mix(image[middle, px], color, 60 / 255)
            elif not near(px, middle, (x, y, w, h), 2):
                kind, expected = "outside", image[middle, px]
            else:
                continue
            pixel = np.array(page.pixel("#canvas", px, middle)[:3])
            assert np.abs(pixel - expected).max() <= 2, (label, instance, px, middle, kind)
            checked[kind] += 1
    assert min(checked.values()) >= 3, checked
    scale = page.js("return document.getElementById('canvas').getBoundingClientRect().width") / 2048
    label, instance, (x, y, w, h) = max(boxes[:-2], key=lambda b: b[2][2] * b[2][3])
    page.hover("#canvas", (x + w / 2) * scale, (y + h / 2) * scale)
    page.wait("!document.getElementById('tip').hidden")
    page.js("setAlpha(0.8)")
    page.screenshot(os.path.join(screenshots, f"bbox3d-{view}.png"))


def test_zoom_lens_and_help(page, screenshots):
    go_to(page, 0, "gtFine", alpha=0.5)
    page.key("z")
    instance_ids = golden(FRAMES[0], "instanceIds")
    y, x = np.argwhere(instance_ids // 1000 == 26)[0]  # the top of a car: the lens shows its outline
    scale = page.js("return document.getElementById('canvas').getBoundingClientRect().width") / 2048
    page.hover("#canvas", x * scale, (y + 10) * scale)
    page.wait("!document.getElementById('lens').hidden")
    x, y = page.js("return [viewer.mouse.x, viewer.mouse.y]")
    centre = page.pixel("#lens", 150, 150)
    assert np.abs(np.array(centre[:3]) - page.pixel("#canvas", x, y)[:3]).max() <= 2
    page.screenshot(os.path.join(screenshots, "zoom.png"))
    page.key("z")
    assert page.js("return document.getElementById('lens').hidden")
    page.key("h")
    assert page.js("return !document.getElementById('help').hidden")
    page.key("Escape")
    assert page.js("return document.getElementById('help').hidden")


def test_sort_by_score_worst_first(page):
    page.js("const order = document.getElementById('order'); order.value = 'mIoU'; order.onchange();")
    page.wait("viewer.list.length && document.getElementById('order').value === 'mIoU' && "
              "!document.getElementById('status').textContent.startsWith('computing')")
    scores = page.js("return fetch('/api/scores').then(r => r.json())")
    order = page.js("return viewer.list.map(f => f.key)")
    assert [scores[k]["mIoU"] for k in order] == sorted(scores[k]["mIoU"] for k in order)
    page.js("const order = document.getElementById('order'); order.value = 'name'; order.onchange();")
    page.wait("viewer.list[0].id === arguments[0]".replace("arguments[0]", repr(FRAMES[0])))
    assert page.js("return window.__errors") == []


def scores_shown(page):
    """The score panel as {metric: text}."""
    return page.js("return Object.fromEntries(Array.from(document.querySelectorAll('#scores tr'),"
                   " r => [r.cells[0].textContent, r.cells[1].textContent]))")


def expected_scores(page, key):
    scores = page.js("return fetch('/api/scores/' + arguments[0]).then(r => r.json())", key)
    return {k: f"{v:.3f}" for k, v in scores.items()}


def test_after_play_stops_the_score_panel_and_pixels_are_of_the_image_shown(page):
    """Bug 1 of issue 29: after play, the title's image had the last looked-at image's scores and its JPEG."""
    go_to(page, 0, "gtFine")
    first = page.js("return viewer.shown.frame.key")
    page.wait("document.querySelectorAll('#scores tr').length > 0")
    assert scores_shown(page) == expected_scores(page, first)
    page.key(" ")  # plays to the last image and stops there
    page.wait("!viewer.playing && viewer.shown.frame.id === arguments[0]".replace("arguments[0]", repr(FRAMES[-1])))
    last = page.js("return viewer.shown.frame.key")
    assert page.text("#title") == FRAMES[-1]
    assert expected_scores(page, last) != expected_scores(page, first)
    page.wait("viewer.shown.base.exact && document.querySelectorAll('#scores tr').length > 0")
    assert scores_shown(page) == expected_scores(page, last)

    go_to(page, 0, "gtFine")  # paused by hand at once: the image it stopped on settles
    page.wait("document.querySelectorAll('#scores tr').length > 0")
    page.key(" ")
    page.key(" ")
    page.wait("!viewer.playing")
    page.wait("!document.getElementById('status').textContent.startsWith('loading')")
    page.wait("viewer.shown.base.exact && document.querySelectorAll('#scores tr').length > 0")
    key = page.js("return viewer.shown.frame.key")
    assert page.text("#title") == key.split("/")[-1]
    assert scores_shown(page) == expected_scores(page, key)


def test_arrow_keys_step_after_a_dropdown_slider_or_checkbox_was_used_with_the_mouse(page):
    """Bug 2 of issue 29: after choosing in a dropdown with the mouse, the arrows changed the dropdown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    go_to(page, 0, "gtFine")
    for control in ("city", "order"):
        count = page.js("return viewer.shownCount")
        select = Select(page.driver.find_element(By.ID, control))
        choice = next(o.get_attribute("value") for o in select.options
                      if o.get_attribute("value") != select.first_selected_option.get_attribute("value"))
        select.select_by_value(choice)
        page.wait(f"viewer.shownCount > {count} && viewer.position === 0 && "
                  "!document.getElementById('status').textContent.startsWith('computing')")
        count = page.js("return viewer.shownCount")
        page.key("ArrowRight")
        page.wait(f"viewer.shownCount > {count}")
        assert page.js("return viewer.position") == 1
        assert page.js(f"return document.getElementById('{control}').value") == choice
        page.key("ArrowLeft")
        page.wait("viewer.position === 0")
    page.js("const order = document.getElementById('order'); order.value = 'name'; order.onchange();")
    page.wait("viewer.list[0].id === arguments[0]".replace("arguments[0]", repr(FRAMES[0])))
    alpha = page.js("return viewer.alpha")
    for control in ("#alpha", "#from-png", "#zoom"):
        page.click(control)
        if control == "#zoom":
            page.click(control)  # back off
        count = page.js("return viewer.shownCount")
        page.key("ArrowRight")
        page.wait(f"viewer.shownCount > {count}")
        assert page.js("return viewer.position") == 1, control
        page.key("ArrowLeft")
        page.wait("viewer.position === 0")
    page.js("document.getElementById('from-png').checked = false; setAlpha(arguments[0])", alpha)
    page.key(" ")  # space on the last used control (a button) plays, not presses it
    page.wait("!viewer.playing && viewer.position === 1")
    assert not page.js("return viewer.zoom")
    assert page.js("return window.__errors") == []


def test_every_control_names_its_key_and_shows_its_focus(page):
    assert controls_without_a_key(page) == []
    rings = focus_rings(page, 12)
    assert len({r[0] for r in rings}) == 12
    assert all(style == "solid" and width == "2px" for _, style, width in rings), rings
    page.js("document.activeElement.blur()")


def tiles(page):
    return page.js("return Array.from(document.querySelectorAll('#tiles .tile'), t => t.dataset.key)")


def test_grid_of_the_split_with_scores_filters_and_click_through(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    go_to(page, 0, "gtFine")
    page.key("g")
    page.wait("viewer.grid.open && viewer.grid.pending === 0 && viewer.grid.firstTileMs !== null")
    keys = [f"val/{CITY}/{name}" for name in FRAMES]
    assert tiles(page) == keys
    scores = {key: expected_scores(page, key) for key in keys}
    for key in keys:  # under each tile: the image's scores, as the side panel shows them
        text = page.js("return viewer.grid.tiles.get(arguments[0]).querySelector('.tile-scores').textContent", key)
        assert dict(pair.split(" ") for pair in text.split("  ")) == scores[key]

    page.click("#filter-name")
    page.key(FRAMES[1][-13:])                       # by name
    page.wait("document.querySelectorAll('#tiles .tile').length === 1")
    assert tiles(page) == keys[1:]
    page.js("const f = document.getElementById('filter-name'); f.value = ''; f.oninput();")
    summaries = page.js("return viewer.grid.summaries")
    only_first = sorted(set(summaries[keys[0]]["classes"]) - set(summaries[keys[1]]["classes"]))
    assert only_first  # the two frames' ground truths differ
    Select(page.driver.find_element(By.ID, "filter-class")).select_by_value(only_first[0])  # by class
    assert tiles(page) == keys[:1]
    Select(page.driver.find_element(By.ID, "filter-class")).select_by_value("")
    worst = min(keys, key=lambda k: float(scores[k]["mIoU"]))
    best = max(keys, key=lambda k: float(scores[k]["mIoU"]))
    Select(page.driver.find_element(By.ID, "filter-metric")).select_by_value("mIoU")
    page.js("const f = document.getElementById('score-min'); f.value = arguments[0]; f.oninput();",
            str(float(scores[best]["mIoU"]) - 0.0005))  # by score range
    assert tiles(page) == [best]
    page.js("const f = document.getElementById('score-min'); f.value = ''; f.oninput();")
    Select(page.driver.find_element(By.ID, "order")).select_by_value("mIoU")  # worst first
    assert tiles(page)[0] == worst
    Select(page.driver.find_element(By.ID, "order")).select_by_value("name")
    Select(page.driver.find_element(By.ID, "city")).select_by_value("")
    assert tiles(page) == keys

    count = page.js("return viewer.shownCount")
    page.driver.find_elements(By.CSS_SELECTOR, "#tiles .tile")[1].click()  # opens the image
    page.wait(f"viewer.shownCount > {count} && !viewer.grid.open")
    assert shown(page) == FRAMES[1] and page.js("return viewer.list.length") == 2
    page.key("ArrowLeft")
    page.wait("viewer.position === 0")
    assert shown(page) == FRAMES[0]
    page.key("g")                                     # the keyboard in the grid: Enter opens the focused tile
    page.wait("viewer.grid.open && document.activeElement.classList.contains('tile')")
    page.key("ArrowRight")
    count = page.js("return viewer.shownCount")
    page.key("\n")
    page.wait(f"viewer.shownCount > {count} && !viewer.grid.open")
    assert shown(page) == FRAMES[1]
    assert page.js("return window.__errors") == []


def click_in(page, container, text):
    """Click the button of ``container`` (a side-panel list) whose text is ``text``."""
    button = page.js(f"return Array.from(document.querySelectorAll('#{container} button'))"
                     ".find(b => b.textContent.trim() === arguments[0])", text)
    assert button is not None, f"no {text!r} in #{container}"
    button.click()


def test_legend_hides_labels_and_a_class_of_the_iou_table_is_shown_alone(page, screenshots):
    from selenium.webdriver.common.by import By
    go_to(page, 0, "gtFine", alpha=1.0)
    page.wait("viewer.shown.base.exact && document.querySelectorAll('#class-iou tr').length > 0")
    labels = golden(FRAMES[0], "labelIds")
    color = golden(FRAMES[0], "color")
    image = read(f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")
    road, car = inner_point(labels == name2label["road"].id), inner_point(labels == name2label["car"].id)
    legend = page.js("return Array.from(document.querySelectorAll('#legend li'), li => li.textContent)")
    assert legend == sorted({id2label[i].name for i in np.unique(labels)})
    box = page.driver.find_element(By.CSS_SELECTOR, "#legend li:has(button[title^='show only road;']) input")
    box.click()                                           # road hidden: the camera image shows through
    assert page.pixel("#canvas", *road)[:3] == tuple(image[road[1], road[0], :3])
    assert page.pixel("#canvas", *car)[:3] == tuple(color[car[1], car[0], :3])
    page.key("ArrowRight")                                # the keys still step after a legend click
    page.wait("viewer.position === 1")
    page.key("ArrowLeft")
    page.wait("viewer.position === 0 && viewer.shown.base.exact")
    page.driver.find_element(By.CSS_SELECTOR, "#legend li:has(button[title^='show only road;']) input").click()
    assert page.pixel("#canvas", *road)[:3] == tuple(color[road[1], road[0], :3])
    page.wait("document.querySelectorAll('#class-iou tr').length > 0")

    summary = page.js("return fetch('/api/summary/' + viewer.shown.frame.key).then(r => r.json())")
    rows = page.js("return Array.from(document.querySelectorAll('#class-iou tr'), r => [r.cells[0].textContent,"
                   " r.cells[1].textContent])")
    assert sorted(rows) == sorted([k, f"{v:.3f}"] for k, v in summary["classIoU"].items())
    assert [float(v) for _, v in rows] == sorted(float(v) for _, v in rows)  # worst first
    click_in(page, "class-iou", "car")                    # only the cars
    assert page.pixel("#canvas", *road)[:3] == tuple(image[road[1], road[0], :3])
    assert page.pixel("#canvas", *car)[:3] == tuple(color[car[1], car[0], :3])
    page.js("setAlpha(0.6)")
    page.screenshot(os.path.join(screenshots, "class-alone.png"))
    click_in(page, "class-iou", "car")                    # again: every class
    page.js("setAlpha(1)")
    assert page.pixel("#canvas", *road)[:3] == tuple(color[road[1], road[0], :3])


def test_object_list_highlights_the_object_clicked(page, screenshots):
    go_to(page, 0, "gtFine", alpha=1.0)
    page.wait("viewer.shown.base.exact && document.querySelectorAll('#objects tr').length > 0")
    objects = page.js("return fetch('/api/objects/' + viewer.shown.frame.key).then(r => r.json())")["objects"]
    rows = page.js("return Array.from(document.querySelectorAll('#objects tr'), r => r.cells[0].textContent)")
    assert sorted(rows) == sorted(o["status"] for o in objects)
    truth = next(o for o in objects if o["kind"] == "truth" and o["status"] == "TP")
    instance_ids = golden(FRAMES[0], "instanceIds")
    inside = inner_point(instance_ids == truth["instance"], margin=1)
    other = inner_point((instance_ids >= 1000) & (instance_ids != truth["instance"]), margin=1)
    image = read(f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")
    click_in(page, "objects", f"{truth['label']} {truth['instance']}")
    page.wait("viewer.layer === 'instances' && viewer.shown.overlay && viewer.shown.overlay.layer === 'instances'")
    page.wait("viewer.shown.base.exact")
    assert page.pixel("#canvas", *inside)[:3] != tuple(image[inside[1], inside[0], :3])  # coloured
    assert page.pixel("#canvas", *other)[:3] == tuple(image[other[1], other[0], :3])     # not shown
    page.wait("document.querySelectorAll('#objects tr').length > 0")
    page.js("setAlpha(0.7); document.getElementById('class-iou-title').scrollIntoView()")
    page.screenshot(os.path.join(screenshots, "object-highlighted.png"))
    prediction = next(o for o in objects if o["kind"] == "prediction")
    page.wait("document.querySelectorAll('#objects tr').length > 0")  # listed again for the image shown
    click_in(page, "objects", f"predicted {prediction['label']} {prediction['confidence']:.3f}")
    page.wait("viewer.layer === 'pred-instances' && viewer.shown.overlay.layer === 'pred-instances'")
    page.js("setAlpha(1)")
    entries = page.js("const o = viewer.shown.overlay; return Array.from(o.index).filter((v, i) => i % 97 === 0)")
    colored = page.js("const o = viewer.shown.overlay, c = o.canvas.getContext('2d').getImageData(0, 0, o.width,"
                      " o.height).data; return Array.from(o.index).map((v, i) => c[4 * i + 3]).filter((v, i) => i % 97 === 0)")
    assert {e for e, a in zip(entries, colored) if a} == {prediction["entry"]}
    page.wait("document.querySelectorAll('#objects tr').length > 0")
    click_in(page, "objects", f"predicted {prediction['label']} {prediction['confidence']:.3f}")  # again: all
    colored = page.js("const o = viewer.shown.overlay, c = o.canvas.getContext('2d').getImageData(0, 0, o.width,"
                      " o.height).data; return Array.from(o.index).map((v, i) => c[4 * i + 3]).filter((v, i) => i % 97 === 0)")
    assert len({e for e, a in zip(entries, colored) if a}) > 1


def test_zoom_and_pan_of_the_image_and_the_label_tool_link(page):
    go_to(page, 0, "gtFine", alpha=0.5)
    # a point a third of the way into the image: the mouse wheel zooms about it, so it stays where it is
    point = page.js("const r = document.getElementById('canvas').getBoundingClientRect();"
                    "return [r.left + r.width / 3, r.top + r.height / 3]")
    under = "const p = imagePoint({clientX: arguments[0], clientY: arguments[1]}); return [p.x, p.y];"
    before = page.js(under, *point)
    for _ in range(3):
        page.js("document.getElementById('stage').dispatchEvent(new WheelEvent('wheel', {deltaY: -100,"
                " bubbles: true, cancelable: true, clientX: arguments[0], clientY: arguments[1]}));", *point)
    assert page.js("return viewer.view.scale") == 1.25 ** 3
    assert np.abs(np.subtract(page.js(under, *point), before)).max() <= 1
    width = page.js("return document.getElementById('canvas').getBoundingClientRect().width")
    assert width == pytest.approx(page.js("return parseFloat(document.getElementById('canvas').style.width)")
                                  * 1.25 ** 3)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    canvas = page.driver.find_element(By.ID, "canvas")
    before = page.js("return [viewer.view.x, viewer.view.y]")
    ActionChains(page.driver).move_to_element(canvas).click_and_hold().move_by_offset(-40, -20).release().perform()
    after = page.js("return [viewer.view.x, viewer.view.y]")
    assert np.subtract(after, before).tolist() == [-40, -20]
    page.key("0")
    assert page.js("return viewer.view") == {"scale": 1, "x": 0, "y": 0}
    link = page.js("return document.getElementById('edit-link').href")
    assert link.endswith("/#" + f"gtFine/val/{CITY}/{FRAMES[0]}_gtFine_polygons.json".replace("/", "%2F"))
    root = page.js("return viewer.root")
    assert page.text("#edit-command") == f"csLabelTool {root} --port 8051"


def choose(page, control, value):
    """Choose ``value`` in dropdown ``control`` with the mouse, as a user does."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    Select(page.driver.find_element(By.ID, control)).select_by_value(value)


def test_second_layer_outlined_over_the_prediction_then_swiped_with_a_dragged_divider(page, screenshots):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    go_to(page, 0, "pred", alpha=1.0)
    count = page.js("return viewer.shownCount")
    choose(page, "layer2", "gtFine")  # the ground truth's outlines over the prediction's fill
    page.wait(f"viewer.shownCount > {count} && viewer.shown.second && viewer.shown.base.exact")
    truth_colors, instances = golden(FRAMES[0], "color")[..., :3], golden(FRAMES[0], "instanceIds")
    palette = np.zeros((256, 3), dtype=np.int64)
    for label in id2label.values():
        if label.id >= 0:
            palette[label.id] = label.color
    pred_colors = palette[predicted(FRAMES[0])]
    edge = np.zeros(instances.shape, dtype=bool)  # a pixel beside one of another instance or label
    edge[:, :-1] |= instances[:, :-1] != instances[:, 1:]
    edge[:, 1:] |= instances[:, 1:] != instances[:, :-1]
    edge[:-1] |= instances[:-1] != instances[1:]
    edge[1:] |= instances[1:] != instances[:-1]
    differ = (truth_colors != pred_colors).any(axis=2)
    on_edge = np.argwhere(edge & differ)
    inside = np.argwhere(~edge & differ)
    for y, x in on_edge[::max(1, len(on_edge) // 8)][:8]:
        assert page.pixel("#canvas", int(x), int(y))[:3] == tuple(truth_colors[y, x]), (x, y)
    for y, x in inside[::max(1, len(inside) // 8)][:8]:
        assert page.pixel("#canvas", int(x), int(y))[:3] == tuple(pred_colors[y, x]), (x, y)
    page.js("setAlpha(0.6)")
    page.screenshot(os.path.join(screenshots, "outlines.png"))
    page.js("setAlpha(1)")

    page.key("w")  # swipe: the prediction left of the divider, the ground truth right
    assert page.js("return [viewer.compare, document.getElementById('compare').value]") == ["swipe", "swipe"]

    def side_by_side(split):
        """Pixels both sides of the divider (at column ``split``) show their own layer."""
        for y, x in inside[::max(1, len(inside) // 200)]:
            if abs(x - split) > 8:
                expected = pred_colors[y, x] if x < split else truth_colors[y, x]
                assert page.pixel("#canvas", int(x), int(y))[:3] == tuple(expected), (x, y, split)
    side_by_side(1024)
    canvas = page.driver.find_element(By.ID, "canvas")
    width = page.js("return document.getElementById('canvas').getBoundingClientRect().width")
    ActionChains(page.driver).move_to_element_with_offset(canvas, 0, 0).click_and_hold() \
        .move_by_offset(int(-width / 4), 0).release().perform()  # from the middle to a quarter
    assert abs(page.js("return viewer.swipe") - 0.25) < 2 / width
    side_by_side(round(2048 * page.js("return viewer.swipe")))
    page.js("setAlpha(0.6)")
    page.screenshot(os.path.join(screenshots, "swipe.png"))
    page.js("setAlpha(1)")
    before = page.js("return viewer.swipe")
    page.key("]")  # the keys still work after the drag
    assert page.js("return viewer.swipe") == pytest.approx(before + 0.05)
    count = page.js("return viewer.shownCount")
    page.key("ArrowRight")
    page.wait(f"viewer.shownCount > {count} && viewer.position === 1 && viewer.shown.second")
    page.key("w")
    assert page.js("return viewer.compare") == "outline"
    count = page.js("return viewer.shownCount")
    choose(page, "layer2", "none")
    page.wait(f"viewer.shownCount > {count} && !viewer.shown.second")
    assert page.js("return document.getElementById('compare').disabled")
    page.key("ArrowLeft")  # after the mouse chose in the dropdown, the arrows step
    page.wait("viewer.position === 0")
    assert page.js("return window.__errors") == []


def test_confusion_matrix_beside_the_class_iou_and_a_cell_shows_its_pixels(page, screenshots):
    go_to(page, 0, "gtFine", alpha=1.0)
    page.wait("viewer.shown.base.exact && document.querySelectorAll('#confusion tr').length > 1")
    confusion = page.js("return fetch('/api/summary/' + viewer.shown.frame.key).then(r => r.json())")["confusion"]
    cells = page.js("return Array.from(document.querySelectorAll('#confusion button.cell'), b => b.title)")
    counts = [int(re.search(r": (\d+) pixels", title).group(1)) for title in cells]
    width = len(confusion["ids"]) + 1
    assert [counts[r * width:(r + 1) * width] for r in range(len(confusion["ids"]))] == [
        row + [other] for row, other in zip(confusion["counts"], confusion["other"])]
    truth, prediction = golden(FRAMES[0], "labelIds"), predicted(FRAMES[0])
    car = name2label["car"].id
    row = confusion["counts"][confusion["ids"].index(car)]
    wrong = max((c for c in confusion["ids"] if c != car), key=lambda c: row[confusion["ids"].index(c)])
    pair = (truth == car) & (prediction == wrong)
    assert pair.sum() == row[confusion["ids"].index(wrong)] > 0
    image = read(f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")
    elsewhere = inner_point((truth != car) & (truth != prediction) & np.isin(truth, confusion["ids"]), margin=1)
    page.click(f"#confusion button[data-truth='{car}'][data-predicted='{wrong}']")
    page.wait("viewer.layer === 'errors' && viewer.shown.overlay && viewer.shown.overlay.layer === 'errors'")
    page.wait("viewer.shown.base.exact")
    points = np.argwhere(pair)
    for y, x in points[::max(1, len(points) // 6)][:6]:
        assert page.pixel("#canvas", int(x), int(y)) == (255, 0, 255, 255), (x, y)
    assert page.pixel("#canvas", *elsewhere)[:3] == tuple(image[elsewhere[1], elsewhere[0], :3])  # not shown
    page.wait("document.querySelectorAll('#confusion tr').length > 1")  # listed again for the image shown
    page.js("setAlpha(0.7); document.getElementById('class-iou-title').scrollIntoView()")
    page.screenshot(os.path.join(screenshots, "confusion.png"))
    page.js("setAlpha(1)")
    page.key("ArrowRight")  # the keys still step after a click in the matrix
    page.wait("viewer.position === 1")
    page.key("ArrowLeft")
    page.wait("viewer.position === 0 && viewer.shown.base.exact && document.querySelectorAll('#confusion tr').length > 1")
    assert page.pixel("#canvas", *elsewhere)[:3] == (255, 0, 0)  # a new image: every error shown again
    page.click(f"#confusion button[data-truth='{car}'][data-predicted='{wrong}']")
    page.wait(f"viewer.focus && viewer.focus.key === 'pair:{car}:{wrong}'")
    page.click(f"#confusion button[data-truth='{car}'][data-predicted='{wrong}']")  # again: every pixel
    page.wait("viewer.focus === null")
    y, x = points[0]
    assert page.pixel("#canvas", int(x), int(y))[:3] == (255, 0, 0)
    assert page.pixel("#canvas", *elsewhere)[:3] == (255, 0, 0)
    assert page.js("return window.__errors") == []
