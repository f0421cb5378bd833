"""csLabelTool in headless Chromium: scripted edits, saving, conflicts, read-only folders, drafts.

Set ``CSLABELTOOL_SCREENSHOTS=DIR`` to keep the screenshots (the README's come from here:
``CSLABELTOOL_SCREENSHOTS=docs pytest tests/test_label_tool_browser.py``).
"""
import contextlib
import copy
import json
import os
import shutil
import time

import numpy as np
import pytest
from matplotlib.path import Path

from browser import Page, controls_without_a_key, focus_rings
from cityscapesscripts.annotation import editing
from cityscapesscripts.preparation.json2labelImg import json2labelImg
from cityscapesscripts.web import labeltool, server
from conftest import GOLDEN, read_png

FRAME = "gtFine/val/lindau/lindau_001401_000019_gtFine_polygons.json"
DATE = "22-Nov-2026 06:05:09"


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    """The small golden set's Lindau frames; edits record a fixed user and date."""
    root = tmp_path / "dataset"
    for kind in ("gtFine", "leftImg8bit"):
        shutil.copytree(os.path.join(GOLDEN, "small", kind, "val", "lindau"), root / kind / "val" / "lindau")
    monkeypatch.setattr(editing, "_user", lambda: "annotator")
    monkeypatch.setattr(editing, "annotation_date", lambda: DATE)
    return root


@pytest.fixture
def tool(dataset, browser):
    """The label tool on ``dataset``, opened on FRAME at 2 screen pixels per image pixel."""
    app = server.start_in_thread(labeltool.make_router(dataset))
    page = LabelToolPage(browser, server.url_of(app) + "#" + FRAME)
    yield page
    page.js("window.labelTool.state.objects = JSON.parse(window.labelTool.state.savedJson)")  # leave quietly
    app.shutdown()


class LabelToolPage(Page):
    def __init__(self, driver, url):
        super().__init__(driver, url)
        self.wait("window.labelTool && labelTool.state.path && !labelTool.state.busy")
        self.js("labelTool.setView(2, 0, 0)")

    def actions(self):
        from selenium.webdriver.common.action_chains import ActionChains
        return ActionChains(self.driver)

    def at(self, x, y):
        """Actions with the mouse over image pixel (x, y)."""
        from selenium.webdriver.common.by import By
        canvas = self.driver.find_element(By.CSS_SELECTOR, "#canvas")
        sx, sy = self.js("return labelTool.toScreen(arguments[0], arguments[1])", x, y)
        w, h = self.js("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", canvas)
        return self.actions().move_to_element_with_offset(canvas, round(sx - w / 2), round(sy - h / 2))

    def click_at(self, x, y):
        self.at(x, y).click().perform()

    def drag(self, start, end):
        scale = self.js("return labelTool.state.view.scale")
        dx, dy = end[0] - start[0], end[1] - start[1]
        self.at(*start).click_and_hold().move_by_offset(dx * scale, dy * scale).release().perform()

    def press(self, *keys):
        self.actions().send_keys(*keys).perform()

    def pick_label(self, text):
        self.wait("!document.getElementById('picker').classList.contains('hidden')")
        from selenium.webdriver.common.keys import Keys
        self.press(text, Keys.ENTER)
        self.wait("document.getElementById('picker').classList.contains('hidden')")

    def draw(self, points, label):
        self.press("n")
        for p in points + points[:1]:  # clicking the first point again closes the polygon
            self.click_at(*p)
        self.pick_label(label)

    def state(self, expression):
        return self.js(f"return labelTool.state.{expression}")

    def objects(self):
        """The objects as they would be saved (without the page's own ``uid``)."""
        return self.js("return labelTool.state.objects.map(({uid, ...o}) => o);")

    def selected(self):
        index = self.state("selected")
        return None if index < 0 else self.objects()[index]

    def save(self):
        self.press("s")
        self.wait("!labelTool.state.busy && (!labelTool.isDirty() "
                  "|| !document.getElementById('ask').classList.contains('hidden'))")


@contextlib.contextmanager
def another_tab(page):
    """The page's URL opened in a new tab of the same browser, closed afterwards."""
    url, first = page.driver.current_url, page.driver.current_window_handle
    page.driver.switch_to.new_window("tab")
    try:
        yield LabelToolPage(page.driver, url)
    finally:
        page.driver.close()
        page.driver.switch_to.window(first)


def screenshot_path(tmp_path, name):
    """Where a screenshot goes: $CSLABELTOOL_SCREENSHOTS (the README's) or the test's folder."""
    folder = os.environ.get("CSLABELTOOL_SCREENSHOTS") or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, name)


def eventually(condition, timeout=5.0):
    """Whether ``condition()`` becomes true within ``timeout`` seconds (files the page writes or removes)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def without_uid(objects):
    return [{k: v for k, v in o.items() if k != "uid"} for o in objects]


def even_odd_inside(polygon, x, y):
    inside = False
    for (xi, yi), (xj, yj) in zip(polygon, polygon[-1:] + polygon[:-1]):
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
    return inside


def region(polygon, shape):
    """(H, W) bool: pixels whose centre lies inside ``polygon``."""
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    return Path(polygon).contains_points(np.c_[xs.ravel(), ys.ravel()]).reshape(shape)


def grow(mask, pixels=2):
    out = mask.copy()
    for _ in range(pixels):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def shrink(mask, pixels=2):
    return ~grow(~mask, pixels)


def test_scripted_edits_then_save_prepare_to_the_expected_label_image(tool, dataset, tmp_path):
    from selenium.webdriver.common.keys import Keys
    path = dataset / FRAME
    original = json.loads(path.read_text())
    golden = read_png(os.path.join(GOLDEN, "small", FRAME.replace("_polygons.json", "_labelIds.png")))
    n = len(original["objects"])

    # draw an object, move a vertex, insert one by clicking an edge and dragging it, relabel
    tool.draw([(200, 170), (260, 170), (260, 210), (200, 210)], "car")
    assert tool.selected() == {"label": "car", "polygon": [[200, 170], [260, 170], [260, 210], [200, 210]], "deleted": 0}
    tool.drag((260, 210), (270, 220))
    tool.drag((230, 170), (230, 160))
    truck = [[200, 170], [230, 160], [260, 170], [270, 220], [200, 210]]
    assert tool.selected()["polygon"] == truck
    tool.press("m")
    tool.pick_label("truck")
    assert tool.selected()["label"] == "truck"
    info = tool.text("#info")
    assert "truck" in info and "id new" in info and "5 vertices" in info

    # insert a vertex by a click on an edge, then delete it with Shift + click
    tool.click_at(235, 215)
    assert tool.selected()["polygon"] == truck[:4] + [[235, 215]] + truck[4:]
    tool.at(235, 215).key_down(Keys.SHIFT).click().key_up(Keys.SHIFT).perform()
    assert tool.selected()["polygon"] == truck

    # a second object over the first, moved as a whole, raised and lowered under the first
    tool.draw([(250, 190), (300, 190), (300, 240), (250, 240)], "person")
    tool.drag((275, 215), (280, 220))
    person = [[255, 195], [305, 195], [305, 245], [255, 245]]
    assert tool.selected()["polygon"] == person
    assert tool.state("objects.length") == n + 2 and tool.state("selected") == n + 1
    tool.press(Keys.ARROW_DOWN)
    assert [o["label"] for o in tool.objects()[n:]] == ["person", "truck"]
    tool.press(Keys.ARROW_UP)
    assert [o["label"] for o in tool.objects()[n:]] == ["truck", "person"]
    tool.press(Keys.ARROW_DOWN)
    assert [o["label"] for o in tool.objects()[n:]] == ["person", "truck"]
    assert tool.state("selected") == n

    # click selects the topmost object; clicking again goes down through the objects there
    visible = [i for i in reversed(range(n)) if even_odd_inside(original["objects"][i]["polygon"], 262, 200)]
    picked = []
    for _ in range(3):
        tool.click_at(262, 200)
        picked.append(tool.state("selected"))
    assert picked == [n + 1, n, visible[0]]

    # delete the bicycle: pick a pixel where the original drew it
    ys, xs = np.nonzero(shrink(golden == 33))
    tool.click_at(int(xs[len(xs) // 2]), int(ys[len(ys) // 2]))
    bicycle = tool.state("selected")
    assert original["objects"][bicycle]["label"] == "bicycle"
    tool.press("d")
    assert tool.state(f"objects[{bicycle}].deleted") == 1 and tool.state("selected") == -1

    # undo and redo of one more edit (deleting the truck), then undo it for good
    tool.click_at(220, 190)
    tool.press("d")
    assert tool.state(f"objects[{n + 1}].deleted") == 1
    tool.press("u")
    assert tool.state(f"objects[{n + 1}].deleted") == 0
    tool.press(Keys.SHIFT, "U")
    assert tool.state(f"objects[{n + 1}].deleted") == 1
    tool.press("u")
    assert tool.state(f"objects[{n + 1}].deleted") == 0

    # the live preview is the label image of the unsaved polygons: truck colour inside the truck
    tool.press("p")
    tool.wait("document.getElementById('preview').width === 512")
    assert tool.pixel("#preview", 220, 190) == (0, 0, 70, 255)       # truck
    assert tool.pixel("#preview", 290, 230) == (220, 20, 60, 255)    # person
    tool.screenshot(screenshot_path(tmp_path, "labeltool.png"))

    tool.save()
    assert not tool.js("return labelTool.isDirty()"), tool.text("#status")

    expected = copy.deepcopy(original)
    expected["objects"][bicycle]["deleted"] = 1
    expected["objects"] += [{"label": "person", "polygon": person, "user": "annotator", "date": DATE},
                            {"label": "truck", "polygon": truck, "user": "annotator", "date": DATE}]
    assert json.loads(path.read_text()) == expected

    out = tmp_path / "labelIds.png"
    json2labelImg(str(path), str(out), "ids")
    ids = read_png(out)
    truck_area, person_area = region(truck, ids.shape), region(person, ids.shape)
    bicycle_area = golden == 33
    assert (ids[shrink(truck_area)] == 27).all()
    assert (ids[shrink(person_area & ~grow(truck_area))] == 24).all()
    assert not (ids[bicycle_area & ~grow(truck_area | person_area)] == 33).any()
    untouched = ~grow(truck_area | person_area | bicycle_area)
    assert (ids[untouched] == golden[untouched]).all()


def test_edits_saved_can_still_be_undone_and_saved_again(tool, dataset):
    from selenium.webdriver.common.keys import Keys
    path = dataset / FRAME
    original = json.loads(path.read_text())
    tool.draw([(200, 170), (260, 170), (260, 210)], "car")
    tool.press("m")
    tool.pick_label("truck")
    tool.save()
    saved = json.loads(path.read_text())["objects"]
    assert [o["label"] for o in saved[-1:]] == ["truck"] and len(saved) == len(original["objects"]) + 1
    assert tool.objects()[-1]["source"] == len(saved) - 1 and not tool.js("return labelTool.isDirty()")

    tool.press("u")                                    # the relabel, made before the save
    assert tool.selected()["label"] == "car" and tool.js("return labelTool.isDirty()")
    tool.save()
    assert json.loads(path.read_text())["objects"][-1]["label"] == "car"
    tool.press("u")                                    # the drawing: the object is gone again
    tool.save()
    assert json.loads(path.read_text()) == original | {"objects": original["objects"] + [
        dict(saved[-1], label="car", deleted=1)]}
    tool.press(Keys.SHIFT, "U")
    tool.press(Keys.SHIFT, "U")
    tool.save()
    assert json.loads(path.read_text())["objects"][-1] == dict(saved[-1], deleted=0)


def test_a_save_over_a_file_changed_since_opening_is_refused_and_loses_nothing(tool, dataset):
    path = dataset / FRAME
    tool.click_at(120, 200)
    tool.press("d")                                   # our edit: delete an object
    edited = tool.objects()
    theirs = editing.load_annotation(path)            # someone else saves meanwhile
    theirs["objects"][0]["label"] = "terrain"
    editing.save_annotation(path, theirs["objects"], theirs["version"])
    saved_by_them = path.read_text()

    tool.save()
    message = tool.text("#ask-text")
    assert FRAME in message and "changed on disk since it was opened" in message
    draft = editing.draft_path(str(path))
    assert draft in message
    assert path.read_text() == saved_by_them
    assert tool.js("return labelTool.isDirty()") and tool.objects() == edited
    assert without_uid(json.load(open(draft))["draft"]["objects"]) == edited

    with another_tab(tool) as again:                    # reopened: the draft is of an older version
        again.wait("!document.getElementById('ask').classList.contains('hidden')")
        assert "the file has changed since" in again.text("#ask-text")
        again.click("#ask-buttons button[data-answer=discard]")
        assert eventually(lambda: not os.path.exists(draft))
        assert not again.js("return labelTool.isDirty()")


@pytest.fixture
def read_only(dataset, make_read_only):
    folder = dataset / os.path.dirname(FRAME)
    make_read_only(folder)
    return folder


def test_a_save_into_a_read_only_folder_is_refused_and_loses_nothing(tool, dataset, read_only):
    path = dataset / FRAME
    before = path.read_text()
    tool.click_at(120, 200)
    tool.press("m")
    tool.pick_label("terrain")
    edited = tool.objects()
    tool.save()
    message = tool.text("#ask-text")
    assert FRAME in message and "read-only" in message and editing.draft_path(str(path)) in message
    assert path.read_text() == before
    assert sorted(os.listdir(read_only)) == sorted(os.listdir(os.path.join(GOLDEN, "small", "gtFine", "val", "lindau")))
    assert tool.objects() == edited
    assert without_uid(editing.load_draft(str(path))["objects"]) == edited


def test_leaving_unsaved_changes_asks_and_the_draft_comes_back(tool, dataset):
    from selenium.webdriver.common.keys import Keys
    path = dataset / FRAME
    before = path.read_text()
    tool.click_at(120, 200)
    tool.press("d")
    edited = tool.objects()
    tool.press(Keys.ARROW_RIGHT)                       # next image: asked first
    tool.wait("!document.getElementById('ask').classList.contains('hidden')")
    assert "unsaved changes" in tool.text("#ask-text")
    tool.click("#ask-buttons button[data-answer=stay]")
    assert tool.state("path") == FRAME and tool.objects() == edited

    assert eventually(lambda: os.path.exists(editing.draft_path(str(path))))  # kept within a second of the edit
    assert without_uid(editing.load_draft(str(path))["objects"]) == edited
    assert path.read_text() == before                  # never over the file

    with another_tab(tool) as again:                   # the same image opened again elsewhere
        again.wait("!document.getElementById('ask').classList.contains('hidden')")
        assert "never saved" in again.text("#ask-text")
        again.click("#ask-buttons button[data-answer=restore]")
        again.wait("labelTool.isDirty()")
        assert again.objects() == edited
        again.press("u")                               # restoring is an edit like the others
        assert not again.js("return labelTool.isDirty()")


def test_help_overlay_lists_the_shortcuts(tool):
    tool.press("h")
    tool.wait("!document.getElementById('help').classList.contains('hidden')")
    text = tool.text("#help")
    for shortcut in ("Shift + click on a vertex", "Up / Down", "Backspace", "Ctrl + Z"):
        assert shortcut in text
    tool.press("h")
    tool.wait("document.getElementById('help').classList.contains('hidden')")


def test_every_shortcut_works_after_the_preview_checkbox_slider_or_image_dropdown_was_used(tool, dataset):
    """Bug 3 of issue 29: after touching a control the shortcuts stopped, and Ctrl+S saved the page."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    path = dataset / FRAME
    # a listener after the tool's own: did the tool keep the browser from acting on the key?
    tool.js("window.prevented = []; window.addEventListener('keydown', "
            "e => window.prevented.push([e.key, e.ctrlKey, e.defaultPrevented]))")
    for control in ("#preview-toggle", "#alpha"):
        tool.click(control)
        assert tool.js("return document.activeElement.id") == control[1:]
        tool.click_at(120, 200)
        assert tool.state("selected") >= 0, tool.text("#status")
        count = len(tool.objects())
        tool.press("d")
        assert tool.state("selected") == -1 and sum(o["deleted"] for o in tool.objects()) == 1, control
        tool.press("u")
        assert not tool.js("return labelTool.isDirty()"), control
        tool.press("n")
        assert tool.state("drawing") == [], control
        tool.press(Keys.ESCAPE)
        assert tool.state("drawing") is None
        tool.click_at(120, 200)
        tool.press("m")
        tool.pick_label("terrain")
        assert tool.selected()["label"] == "terrain", control
        tool.actions().key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
        assert not tool.js("return labelTool.isDirty()") and len(tool.objects()) == count, control
        for key in ("d", "u"):  # delete and save, then undo and save again: the file as it was
            tool.press(key)
            tool.actions().key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
            tool.wait("!labelTool.state.busy && !labelTool.isDirty()")
            saved = json.loads(path.read_text())["objects"]
            assert sum(1 for o in saved if o.get("deleted")) == (key == "d"), control
            assert ["s", True, True] in tool.js("return window.prevented"), control  # no "Save page" dialog
            tool.js("window.prevented = []")
    Select(tool.driver.find_element(By.ID, "frame")).select_by_index(1)  # another image, with the mouse
    tool.wait("labelTool.state.frame === 1 && !labelTool.state.busy")
    tool.press(Keys.ARROW_LEFT)
    tool.wait("labelTool.state.frame === 0")
    assert tool.js("return document.getElementById('frame').value") == "0"


def change_on_disk(path, first_label=None, spacing=False):
    """Someone else saves ``path`` meanwhile: object 0 relabelled and/or the text's spacing changed."""
    theirs = editing.load_annotation(path)
    if first_label:
        theirs["objects"][0]["label"] = first_label
        editing.save_annotation(path, theirs["objects"], theirs["version"])
    if spacing:
        path.write_text(path.read_text() + "\n")
    return path.read_text()


def test_after_a_save_conflict_the_edits_can_be_reapplied_to_the_file_on_disk(tool, dataset):
    """Bug 4 of issue 29: after a conflict, reload the file and reapply the page's edits onto it."""
    path = dataset / FRAME
    tool.click_at(120, 200)
    deleted = tool.state("selected")
    tool.press("d")
    change_on_disk(path, first_label="terrain", spacing=True)
    tool.save()
    assert "changed on disk since it was opened" in tool.text("#ask-text")
    tool.click("#ask-buttons button[data-answer=reapply]")
    tool.wait("document.getElementById('ask').classList.contains('hidden')")
    objects = tool.objects()
    assert objects[0]["label"] == "terrain" and objects[deleted]["deleted"] == 1
    assert tool.js("return labelTool.isDirty()")
    tool.save()
    saved = json.loads(path.read_text())["objects"]
    assert saved[0]["label"] == "terrain" and saved[deleted]["deleted"] == 1
    assert sum(1 for o in saved if o.get("deleted")) == 1 and path.read_text().endswith("}\n")
    tool.press("u")  # one step back: the file as it was found on disk
    assert tool.objects()[deleted]["deleted"] == 0 and tool.objects()[0]["label"] == "terrain"


def test_after_a_save_conflict_the_difference_is_shown_before_overwriting(tool, dataset):
    """Bug 4 of issue 29: the other choice, overwrite, once the changes on disk are shown."""
    path = dataset / FRAME
    original = json.loads(path.read_text())["objects"]
    tool.click_at(120, 200)
    relabelled = tool.state("selected")
    tool.press("m")
    tool.pick_label("terrain")
    change_on_disk(path, spacing=True)           # whitespace only: no object differs
    tool.save()
    tool.click("#ask-buttons button[data-answer=difference]")
    tool.wait("document.getElementById('ask-title').textContent.startsWith('Changes on disk')")
    assert "No object differs" in tool.text("#ask-text")
    tool.click("#ask-buttons button[data-answer=keep]")  # not yet: still unsaved, nothing written
    assert tool.js("return labelTool.isDirty()")
    theirs = change_on_disk(path, first_label="building")
    tool.save()
    tool.click("#ask-buttons button[data-answer=difference]")
    tool.wait("document.getElementById('ask-title').textContent.startsWith('Changes on disk')")
    assert f"object 0: {original[0]['label']} is now building" in tool.text("#ask-text")
    assert path.read_text() == theirs
    tool.click("#ask-buttons button[data-answer=overwrite]")
    tool.wait("!labelTool.state.busy && !labelTool.isDirty()")
    saved = json.loads(path.read_text())["objects"]
    assert saved[0]["label"] == original[0]["label"] and saved[relabelled]["label"] == "terrain"
    assert [o["polygon"] for o in saved] == [o["polygon"] for o in original]


def test_every_control_names_its_key_and_shows_its_focus(tool):
    assert controls_without_a_key(tool) == []
    rings = focus_rings(tool, 9)  # prev is disabled on the first image; undo, redo, label, delete... with nothing done
    assert [r[0] for r in rings] == ["frame", "next", "save", "draw", "paste", "review", "alpha", "preview-toggle",
                                     "help-button"]
    assert all(style == "solid" and width == "2px" for _, style, width in rings), rings
    tool.press("i")
    assert tool.js("return document.activeElement.id") == "frame"


STACKED = (345, 95)


def test_hidden_and_locked_objects_let_clicks_through_and_stay_in_the_file(tool, dataset):
    from selenium.webdriver.common.keys import Keys
    path = dataset / FRAME  # four objects lie over STACKED
    before = path.read_text()
    tool.click_at(*STACKED)
    top = tool.state("selected")
    tool.press("v")                                   # hidden: not drawn, clicks reach the object below
    assert tool.state("selected") == -1
    tool.click_at(*STACKED)
    below = tool.state("selected")
    assert below not in (-1, top)
    tool.press("k")                                   # locked too: the next click goes deeper still
    tool.click_at(*STACKED)
    assert tool.state("selected") not in (top, below)
    tool.press(Keys.SHIFT, "V")                       # every object shown again; the lock stays
    tool.press("q")
    tool.click_at(*STACKED)
    assert tool.state("selected") == top
    tool.js("document.querySelector('#objects li[data-index=\"%d\"]').click()" % below)  # locked: not selected
    assert tool.state("selected") == top and "locked" in tool.text("#status")
    assert not tool.js("return labelTool.isDirty()") and path.read_text() == before


def test_a_polygon_copied_in_one_image_is_pasted_into_another(tool, dataset):
    from selenium.webdriver.common.keys import Keys
    tool.click_at(120, 200)
    copied = tool.selected()
    tool.actions().key_down(Keys.CONTROL).send_keys("c").key_up(Keys.CONTROL).perform()
    tool.press(Keys.ARROW_RIGHT)
    tool.wait("labelTool.state.frame === 1 && !labelTool.state.busy")
    count = len(tool.objects())
    tool.actions().key_down(Keys.CONTROL).send_keys("v").key_up(Keys.CONTROL).perform()
    objects = tool.objects()
    assert len(objects) == count + 1 and tool.state("selected") == count
    assert objects[-1] == {"label": copied["label"], "polygon": copied["polygon"], "deleted": 0}
    tool.save()
    saved = json.loads((dataset / tool.state("path")).read_text())["objects"][-1]
    assert (saved["label"], saved["polygon"]) == (copied["label"], copied["polygon"])
    tool.press("u")  # pasting is an edit like the others
    assert len(tool.objects()) == count + 1 and tool.objects()[-1]["deleted"] == 1


def test_the_preview_can_be_enlarged(tool, tmp_path):
    from selenium.webdriver.common.keys import Keys
    tool.press("p")
    tool.wait("document.getElementById('preview').width === labelTool.state.width")  # drawn
    small = tool.js("return document.getElementById('preview').getBoundingClientRect().width")
    tool.press(Keys.SHIFT, "P")
    large = tool.js("return document.getElementById('preview').getBoundingClientRect().width")
    assert large > 2.5 * small
    tool.screenshot(screenshot_path(tmp_path, "labeltool-preview.png"))
    tool.click("#preview")
    assert tool.js("return document.getElementById('preview').getBoundingClientRect().width") == small


def test_review_mode_draws_correction_boxes_saved_as_the_original_saves_them(tool, dataset, tmp_path):
    from selenium.webdriver.common.keys import Keys
    before = (dataset / FRAME).read_text()
    tool.press("c")
    tool.drag((100, 50), (140, 80))                   # a box
    tool.press("4")                                   # question
    tool.press("m")
    tool.wait("!document.getElementById('text').classList.contains('hidden')")
    tool.press("car or truck?", Keys.ENTER)
    tool.drag((300, 120), (310, 150))                 # another, to correct (the default)
    assert tool.state("boxes") == [{"type": 4, "annotation": "car or truck?", "bbox": [100, 50, 40, 30]},
                                   {"type": 1, "annotation": "", "bbox": [300, 120, 10, 30]}]
    assert tool.js("return labelTool.unsaved()") and not tool.js("return labelTool.isDirty()")
    tool.screenshot(screenshot_path(tmp_path, "labeltool-review.png"))
    tool.press("s")
    xml = dataset / "gtFine_corrections" / "val" / "lindau" / "lindau_001401_000019.xml"
    assert eventually(xml.exists)
    text = xml.read_text()
    assert text.startswith("<correction>\n<filename>lindau_001401_000019_leftImg8bit.png</filename>\n")
    assert ("<correction>\n<type>4</type>\n<annotation>car or truck?</annotation>\n<bbox>\n<x>100</x>\n<y>50</y>\n"
            "<width>40</width>\n<height>30</height>\n</bbox>\n</correction>\n") in text
    assert (dataset / FRAME).read_text() == before   # the annotation is untouched
    tool.wait("!labelTool.unsaved()")
    with another_tab(tool) as again:                  # opened again: the boxes come back
        assert again.state("boxes")[0]["annotation"] == "car or truck?"
    tool.click_at(305, 130)                           # click selects a box; E / R step; D deletes
    assert tool.state("box") == 1
    tool.press("e")
    assert tool.state("box") == 0
    tool.press(Keys.DELETE)
    tool.press("s")
    assert eventually(lambda: "car or truck" not in xml.read_text())
    assert xml.read_text().count("<type>") == 1
    tool.press("c")
    assert not tool.state("review")


def polygon_area(points):
    return abs(sum(x * v - u * y for (x, y), (u, v) in zip(points, points[1:] + points[:1]))) / 2


SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10]]


@pytest.mark.parametrize("a, b, op, vertices, area", [  # results drawn by hand
    (SQUARE, [[5, 5], [15, 5], [15, 15], [5, 15]], "intersect", {(5, 5), (10, 5), (10, 10), (5, 10)}, 25),
    (SQUARE, [[5, 5], [15, 5], [15, 15], [5, 15]], "union",
     {(0, 0), (10, 0), (10, 5), (15, 5), (15, 15), (5, 15), (5, 10), (0, 10)}, 175),
    # a border drawn over the neighbour, whose edge lies on the square's: it follows the neighbour's
    ([[0, 0], [14, 0], [14, 10], [0, 10]], [[10, 0], [20, 0], [20, 10], [10, 10]], "intersect",
     {(10, 0), (14, 0), (14, 10), (10, 10)}, 40),
    ([[0, 0], [14, 0], [14, 10], [0, 10]], [[10, 0], [20, 0], [20, 10], [10, 10]], "union",
     {(0, 0), (20, 0), (20, 10), (0, 10)}, 200),
    (SQUARE, [[0, 0], [10, 0], [10, 5], [0, 5]], "intersect", {(0, 0), (10, 0), (10, 5), (0, 5)}, 50),  # shared edges
    (SQUARE, [[0, 0], [10, 0], [10, 5], [0, 5]], "union", {(0, 0), (10, 0), (10, 10), (0, 10)}, 100),
    ([[2, 2], [4, 2], [4, 4]], SQUARE, "intersect", {(2, 2), (4, 2), (4, 4)}, 2),  # nested
    ([[2, 2], [4, 2], [4, 4]], SQUARE, "union", {(0, 0), (10, 0), (10, 10), (0, 10)}, 100),
    (SQUARE, [[20, 0], [30, 0], [30, 10]], "intersect", None, 0),  # apart
    (SQUARE, [[20, 0], [30, 0], [30, 10]], "union", None, 0),
])
def test_intersection_and_union_of_polygons(tool, a, b, op, vertices, area):
    rings = tool.js("return clipPolygons(arguments[0], arguments[1], arguments[2])", a, b, op)
    if vertices is None:
        assert rings == []
        return
    assert len(rings) == 1
    assert {tuple(p) for p in rings[0]} == vertices and len(rings[0]) == len(vertices)
    assert polygon_area(rings[0]) == area


def test_intersection_in_pieces_and_a_union_around_a_hole(tool):
    u_shape = [[0, 0], [30, 0], [30, 30], [20, 30], [20, 10], [10, 10], [10, 30], [0, 30]]
    bar = [[-5, 20], [35, 20], [35, 25], [-5, 25]]
    pieces = tool.js("return clipPolygons(arguments[0], arguments[1], 'intersect')", bar, u_shape)
    assert sorted(sorted(map(tuple, p)) for p in pieces) == [[(0, 20), (0, 25), (10, 20), (10, 25)],
                                                            [(20, 20), (20, 25), (30, 20), (30, 25)]]
    union = tool.js("return clipPolygons(arguments[0], arguments[1], 'union')", bar, u_shape)
    assert len(union) == 1 and polygon_area(union[0]) == 900  # the outline; the hole (10..20, 10..20) dropped
    assert {tuple(p) for p in union[0]} == {
        (-5, 20), (0, 20), (0, 0), (30, 0), (30, 20), (35, 20), (35, 25), (30, 25), (30, 30), (20, 30), (20, 25),
        (10, 25), (10, 30), (0, 30), (0, 25), (-5, 25)}


def test_a_drawn_polygon_intersected_with_an_object_becomes_a_new_object(tool, dataset):
    from selenium.webdriver.common.keys import Keys
    tool.click_at(*STACKED)
    target = tool.selected()
    tool.press("q")
    drawn = [[300, 60], [400, 60], [400, 130], [300, 130]]
    tool.press("n")
    for point in drawn:
        tool.click_at(*point)
    expected = tool.js("return clipPolygons(arguments[0], arguments[1], 'intersect')", drawn, target["polygon"])
    assert expected
    tool.at(*STACKED).key_down(Keys.CONTROL).key_down(Keys.SHIFT).click().key_up(Keys.SHIFT) \
        .key_up(Keys.CONTROL).perform()
    tool.wait("!document.getElementById('picker').classList.contains('hidden')")
    assert tool.js("return document.querySelector('#picker-list li.active').dataset.label") == target["label"]
    tool.press(Keys.ENTER)
    objects = tool.objects()
    assert [o["polygon"] for o in objects[-len(expected):]] == expected
    assert all(o["label"] == target["label"] for o in objects[-len(expected):])
    tool.press("u")                                   # one edit: undone at once
    assert not tool.js("return labelTool.isDirty()")


def test_the_image_links_back_to_csviewer_with_the_command_that_starts_it(tool, dataset):
    """As csViewer links to the label tool: the link names the frame's key (split/city/frame), which the viewer
    opens; the command beside it starts the viewer on this root."""
    link = tool.js("return document.getElementById('view-link').href")
    assert link == "http://127.0.0.1:8050/#" + "val/lindau/lindau_001401_000019".replace("/", "%2F")
    assert tool.text("#view-command") == f"csViewer {os.path.realpath(dataset)} --port 8050"
    from cityscapesscripts.web.viewer import Viewer
    assert "val/lindau/lindau_001401_000019" in Viewer(str(dataset)).by_key  # a frame the viewer shows
    assert "(W)" in tool.js("return document.getElementById('view-link').title")
    opened = tool.js("const opened = []; window.open = (url, target) => { opened.push(url); return null; };"
                     "window.__opened = opened; return opened.length")
    tool.click("#preview-toggle")  # W works whatever control was used last
    tool.press("w")
    assert tool.js("return window.__opened") == [link] and opened == 0
    lonely = "gtFine/val/lindau/lindau_999999_000019_gtFine_polygons.json"  # polygons without a camera image
    shutil.copy(dataset / FRAME, dataset / lonely)
    tool.driver.get(tool.driver.current_url.split("#")[0] + "#" + lonely)
    tool.driver.refresh()  # the hash alone changed: load the page again
    tool.wait(f"window.labelTool && labelTool.state.path === {lonely!r} && !labelTool.state.busy")
    assert tool.js("return document.getElementById('view').classList.contains('hidden')")  # no image: no link
