// csLabelTool front end: edit the polygons of one image at a time, save through the server.
// Objects are kept in drawing order (later objects are drawn over earlier ones), as in the file;
// deleted objects stay in the list, marked, so a save keeps them in the file.
"use strict";
(() => {
  const HIT_PX = 6;          // how close (screen pixels) the mouse must be to a vertex or an edge
  const DRAG_PX = 3;         // movement that turns a press into a drag
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");

  const state = {
    frames: [], frame: -1, path: null, image: null, width: 0, height: 0, version: null,
    objects: [], savedJson: "[]", undo: [], redo: [], selected: -1, hover: -1,
    drawing: null, labels: [], colors: {}, lastLabel: null,
    view: { scale: 1, ox: 0, oy: 0 }, alpha: 0.5, alphaZero: false, highlightClass: false,
    preview: false, lastClick: null, press: null, mouse: null, busy: false, revision: 0, panelKey: null,
    // in the page only, by object uid: hidden objects are not drawn, locked ones not selected (clicks go
    // through both to the objects below); the file does not record either
    hidden: new Set(), locked: new Set(),
    // the review's correction boxes (the original's correction mode): {type, annotation, bbox: [x, y, w, h]}
    review: false, boxes: [], savedBoxes: "[]", box: -1,
  };
  const BOX_TYPES = { 1: ["to correct", "#ff0000"], 2: ["to review", "#ffff00"], 3: ["resolved", "#00ff00"], 4: ["question", "#0000ff"] };
  const CLIPBOARD_KEY = "csLabelTool.clipboard";  // a copied polygon, also for another tab or image
  const VIEWER_PORT = 8050;  // csViewer's default, beside which csViewer's link expects this tool on 8051

  // ---- server (api() and pathUrl() are in common.js) -----------------------------------------
  const fileUrl = (route, rel) => pathUrl(`api/${route}/`, rel);

  // The label ids the preparation draws from `objects` (an ImageData of the 8-bit PNG, grey in RGBA).
  async function fetchPreview(rel, objects) {
    const response = await fetch(fileUrl("preview", rel), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ objects }),
    });
    if (!response.ok) throw new Error((await response.json()).error || `${response.status}`);
    const bitmap = await createImageBitmap(await response.blob(), { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    return pixelsOf(bitmap);
  }

  // ---- geometry -------------------------------------------------------------------------------
  const toImage = (sx, sy) => [(sx - state.view.ox) / state.view.scale, (sy - state.view.oy) / state.view.scale];
  const toScreen = (x, y) => [x * state.view.scale + state.view.ox, y * state.view.scale + state.view.oy];
  const snap = ([x, y]) => [Math.round(x), Math.round(y)];  // Cityscapes polygons have whole-pixel vertices

  // even-odd rule, as the original picks objects (pointInPolygon of polygons.js)
  const inside = (polygon, x, y) => pointInPolygon([x, y], polygon);

  function objectsAt(x, y) {  // indices of visible objects under (x, y), topmost first
    const found = [];
    for (let i = state.objects.length - 1; i >= 0; i--) {
      const o = state.objects[i];
      if (!o.deleted && !state.hidden.has(o.uid) && !state.locked.has(o.uid) && inside(o.polygon, x, y)) found.push(i);
    }
    return found;
  }

  // The vertex or edge of `polygon` nearest to the screen point (sx, sy), within HIT_PX.
  function nearest(polygon, sx, sy) {
    let best = null;
    polygon.forEach(([x, y], i) => {
      const [px, py] = toScreen(x, y);
      const d = Math.hypot(px - sx, py - sy);
      if (d <= HIT_PX && (!best || d < best.d)) best = { kind: "vertex", index: i, d };
    });
    if (best) return best;
    polygon.forEach((p, i) => {
      const [ax, ay] = toScreen(...p), [bx, by] = toScreen(...polygon[(i + 1) % polygon.length]);
      const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
      if (len2 === 0) return;
      const t = ((sx - ax) * (bx - ax) + (sy - ay) * (by - ay)) / len2;
      if (t <= 0 || t >= 1) return;
      const d = Math.hypot(ax + t * (bx - ax) - sx, ay + t * (by - ay) - sy);
      if (d <= HIT_PX && (!best || d < best.d)) best = { kind: "edge", index: i + 1, d };
    });
    return best;
  }

  // ---- edits and history ----------------------------------------------------------------------
  // Objects carry a `uid` in the page only (the server ignores it): it follows an object through
  // saves, so the undo history can be renumbered to the file as saved.
  let nextUid = 1;
  const withUids = (objects) => objects.map((o) => ({ ...o, uid: nextUid++ }));
  const snapshot = () => JSON.stringify(state.objects);
  const isDirty = () => snapshot() !== state.savedJson;

  // Every edit goes through here: the state before it goes on the undo stack.
  function edit(description, change) {
    state.undo.push({ objects: snapshot(), selected: state.selected });
    state.redo = [];
    change();
    changed(description);
  }

  function changed(description) {
    state.revision += 1;
    if (description) status(description);
    scheduleDraft();
    schedulePreview();
    render();
  }

  function restore(from, to) {
    const step = from.pop();
    if (!step) return;
    to.push({ objects: snapshot(), selected: state.selected });
    state.objects = JSON.parse(step.objects);
    state.selected = step.selected < state.objects.length ? step.selected : -1;
    state.drawing = null;
    changed(from === state.undo ? "undone" : "redone");
  }
  const undo = () => restore(state.undo, state.redo);
  const redo = () => restore(state.redo, state.undo);

  const selectedObject = () => (state.selected >= 0 ? state.objects[state.selected] : null);
  const describe = (o) => `${o.label} (id ${o.source === undefined ? "new" : o.id})`;

  function deleteSelected() {
    const o = selectedObject();
    if (!o) return;
    edit(`deleted ${describe(o)}`, () => { o.deleted = 1; state.selected = -1; });
  }

  // Hide or lock an object (by its index): it stays in the file as it is.
  function toggleFlag(set, index, what) {
    const o = state.objects[index];
    if (!o) return;
    if (set.has(o.uid)) set.delete(o.uid); else set.add(o.uid);
    if (set.has(o.uid) && state.selected === index) state.selected = -1;
    status(`${describe(o)} ${set.has(o.uid) ? "" : "no longer "}${what}`);
    state.panelKey = null;
    render();
  }
  const hideSelected = () => toggleFlag(state.hidden, state.selected, "hidden");
  const lockSelected = () => toggleFlag(state.locked, state.selected, "locked");

  // Copy the selected polygon; paste it (same label, same vertices) into this image or another one.
  function copySelected() {
    const o = selectedObject();
    if (!o) { status("select an object to copy first", true); return; }
    localStorage.setItem(CLIPBOARD_KEY, JSON.stringify({ label: o.label, polygon: o.polygon }));
    status(`copied ${describe(o)}; Ctrl+V pastes it, here or in another image`);
  }

  function paste() {
    let copied = null;
    try { copied = JSON.parse(localStorage.getItem(CLIPBOARD_KEY)); } catch (error) { /* nothing usable */ }
    if (!copied || !Array.isArray(copied.polygon)) { status("nothing copied yet (Ctrl+C copies the selected object)", true); return; }
    edit(`pasted ${copied.label}`, () => {
      state.objects.push({ label: copied.label, polygon: copied.polygon.map((p) => p.slice()), deleted: 0, uid: nextUid++ });
      state.selected = state.objects.length - 1;
    });
  }

  // Move the selected object past the next visible object above (+1) or below (-1) it.
  function changeLayer(step) {
    const i = state.selected;
    if (i < 0) return;
    let j = i + step;
    while (j >= 0 && j < state.objects.length && state.objects[j].deleted) j += step;
    if (j < 0 || j >= state.objects.length) return;
    edit(`${step > 0 ? "raised" : "lowered"} ${describe(state.objects[i])}`, () => {
      const [o] = state.objects.splice(i, 1);
      state.objects.splice(j, 0, o);
      state.selected = j;
    });
  }

  async function relabelSelected() {
    const o = selectedObject();
    if (!o) return;
    const label = await pickLabel(`New label for ${describe(o)}`, o.label);
    if (label && label !== o.label) {
      edit(`${describe(o)} is now ${label}`, () => { o.label = label; });
      state.lastLabel = label;
    }
  }

  function startDrawing() {
    state.selected = -1;
    state.drawing = [];
    status("drawing: click to add points; click the first point, Enter or N to close; Ctrl+Shift / Ctrl+Alt + click "
      + "on an object: intersect / merge with it; Backspace removes a point; Esc cancels");
    render();
  }

  async function finishDrawing() {
    const points = state.drawing;
    if (!points || points.length < 3) {
      status("a polygon needs at least 3 points", true);
      return;
    }
    state.drawing = null;
    render();
    const label = await pickLabel("Label of the new object", state.lastLabel);
    if (!label) {
      state.drawing = points;  // keep the drawn points: the user may pick again
      status("no label chosen; press N or Enter to choose one, Esc to drop the polygon");
      render();
      return;
    }
    state.lastLabel = label;
    edit(`new ${label}`, () => {
      state.objects.push({ label, polygon: points, deleted: 0, uid: nextUid++ });
      state.selected = state.objects.length - 1;
    });
  }

  // The drawn polygon intersected or merged with the object `index` becomes a new object (the original's
  // Ctrl+Shift / Ctrl+Alt click): a border drawn roughly over a neighbour follows the neighbour's.
  async function combineWith(index, op) {
    const other = state.objects[index];
    if (!other) { status("click on an object to intersect or merge the drawn polygon with", true); return; }
    const rings = clipPolygons(state.drawing, other.polygon, op);
    if (!rings.length) {
      status(op === "union" ? `the polygon does not overlap ${describe(other)}: nothing to merge`
        : `the polygon does not overlap ${describe(other)}`, true);
      return;
    }
    const drawn = state.drawing;
    state.drawing = null;
    render();
    const label = await pickLabel(`Label of the ${op === "union" ? "merged" : "intersected"} object`, other.label);
    if (!label) { state.drawing = drawn; render(); return; }
    state.lastLabel = label;
    edit(`${op === "union" ? "merged" : "intersected"} with ${describe(other)}: new ${label}` +
      (rings.length > 1 ? ` (${rings.length} pieces)` : ""), () => {
      for (const polygon of rings) state.objects.push({ label, polygon, deleted: 0, uid: nextUid++ });
      state.selected = state.objects.length - 1;
    });
  }

  // ---- selection ------------------------------------------------------------------------------
  function selectAt(x, y, sx, sy) {
    const found = objectsAt(x, y);
    const again = state.lastClick && Math.hypot(state.lastClick[0] - sx, state.lastClick[1] - sy) <= DRAG_PX;
    let pick = found.length ? found[0] : -1;
    if (again && found.includes(state.selected)) {
      pick = found[(found.indexOf(state.selected) + 1) % found.length];
    }
    state.lastClick = [sx, sy];
    state.selected = pick;
    if (pick >= 0) status(`selected ${describe(state.objects[pick])}` + (found.length > 1 ? ` (${found.indexOf(pick) + 1} of ${found.length} here; click again for the next)` : ""));
    render();
  }

  // ---- mouse ----------------------------------------------------------------------------------
  function mousePosition(event) {
    const r = canvas.getBoundingClientRect();
    return [event.clientX - r.left, event.clientY - r.top];
  }

  canvas.addEventListener("contextmenu", (e) => e.preventDefault());

  canvas.addEventListener("mousedown", (event) => {
    event.preventDefault();  // keep the focus where it is (the label picker may just have taken it)
    if (!state.path) return;
    const [sx, sy] = mousePosition(event);
    const [x, y] = toImage(sx, sy);
    if (event.button === 2 || event.button === 1) {
      state.press = { kind: "pan", sx, sy, ox: state.view.ox, oy: state.view.oy };
      return;
    }
    if (event.button !== 0) return;
    if (state.review) {  // a drag draws a box, a click selects one
      state.press = { kind: "box", sx, sy, x, y, moved: false };
      return;
    }
    if (state.drawing && state.drawing.length >= 3 && event.ctrlKey && (event.shiftKey || event.altKey)) {
      combineWith(objectsAt(x, y)[0], event.shiftKey ? "intersect" : "union");
      return;
    }
    if (state.drawing) {
      const first = state.drawing[0];
      if (first && state.drawing.length >= 3 && Math.hypot(...toScreen(...first).map((v, k) => v - [sx, sy][k])) <= HIT_PX) {
        finishDrawing();
      } else {
        state.drawing.push(snap([x, y]));
        render();
      }
      return;
    }
    const o = selectedObject();
    if (o && !event.ctrlKey) {
      const hit = nearest(o.polygon, sx, sy);
      if (hit && hit.kind === "vertex" && event.shiftKey) {
        if (o.polygon.length <= 3) { status("a polygon keeps at least 3 vertices", true); return; }
        edit(`deleted a vertex of ${describe(o)}`, () => o.polygon.splice(hit.index, 1));
        return;
      }
      if (hit && hit.kind === "vertex") {
        state.press = { kind: "vertex", index: hit.index, sx, sy, moved: false };
        return;
      }
      if (hit && hit.kind === "edge") {
        edit(`inserted a vertex into ${describe(o)}`, () => o.polygon.splice(hit.index, 0, snap([x, y])));
        state.press = { kind: "vertex", index: hit.index, sx, sy, moved: true };  // already on the undo stack
        return;
      }
      if (inside(o.polygon, x, y)) {
        state.press = { kind: "object", sx, sy, x, y, start: o.polygon.map((p) => p.slice()), moved: false };
        return;
      }
    }
    state.press = { kind: "click", sx, sy, x, y };
  });

  window.addEventListener("mousemove", (event) => {
    if (!state.path) return;
    const [sx, sy] = mousePosition(event);
    const [x, y] = toImage(sx, sy);
    state.mouse = [sx, sy];
    const press = state.press;
    if (press && press.kind === "pan") {
      state.view.ox = press.ox + sx - press.sx;
      state.view.oy = press.oy + sy - press.sy;
    } else if (press && press.kind === "box") {
      press.moved = press.moved || Math.hypot(sx - press.sx, sy - press.sy) >= DRAG_PX;
      press.to = [x, y];
    } else if (press && (press.kind === "vertex" || press.kind === "object")) {
      const o = selectedObject();
      if (!press.moved && Math.hypot(sx - press.sx, sy - press.sy) < DRAG_PX) return;
      if (!press.moved) {
        state.undo.push({ objects: snapshot(), selected: state.selected });
        state.redo = [];
        press.moved = true;
      }
      if (press.kind === "vertex") {
        o.polygon[press.index] = snap([x, y]);
      } else {
        const dx = Math.round(x - press.x), dy = Math.round(y - press.y);
        o.polygon = press.start.map(([px, py]) => [px + dx, py + dy]);
      }
    } else if (event.target === canvas) {
      const found = objectsAt(x, y);
      state.hover = found.length ? found[0] : -1;
    }
    render();
  });

  window.addEventListener("mouseup", (event) => {
    const press = state.press;
    state.press = null;
    if (!press || !state.path) return;
    const [sx, sy] = mousePosition(event);
    if (press.kind === "vertex" || press.kind === "object") {
      if (press.moved) {
        changed(`${press.kind === "vertex" ? "moved a vertex of" : "moved"} ${describe(selectedObject())}`);
        return;
      }
      if (press.kind === "vertex") return;
    }
    if (press.kind === "pan") return;
    if (press.kind === "box") { finishBox(press); return; }
    if (Math.hypot(sx - press.sx, sy - press.sy) < DRAG_PX) selectAt(press.x, press.y, sx, sy);
  });

  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [sx, sy] = mousePosition(event);
    const factor = Math.exp(-event.deltaY * 0.0015);
    const v = state.view;
    const scale = Math.min(Math.max(v.scale * factor, 0.05), 40);
    v.ox = sx - ((sx - v.ox) * scale) / v.scale;
    v.oy = sy - ((sy - v.oy) * scale) / v.scale;
    v.scale = scale;
    render();
  }, { passive: false });

  // ---- review: correction boxes ---------------------------------------------------------------
  const boxesDirty = () => JSON.stringify(state.boxes) !== state.savedBoxes;
  const unsaved = () => isDirty() || boxesDirty();

  function setReview(on) {
    state.review = on;
    state.selected = -1;
    state.drawing = null;
    $("review").classList.toggle("on", on);
    status(on ? "review: drag to draw a correction box; 1-4 its type, M its comment, E / R previous / next, D deletes it, C ends"
      : "review ended");
    state.panelKey = null;
    render();
  }

  function finishBox(press) {
    if (!press.moved) {  // a click: the topmost box under it
      const [x, y] = [press.x, press.y];
      const hit = state.boxes.map((b, i) => i).reverse().find((i) => {
        const [bx, by, bw, bh] = state.boxes[i].bbox;
        return x >= bx && x <= bx + bw && y >= by && y <= by + bh;
      });
      state.box = hit === undefined ? -1 : hit;
      render();
      return;
    }
    const [[x0, y0], [x1, y1]] = [snap([press.x, press.y]), snap(press.to)];
    state.boxes.push({ type: 1, annotation: "", bbox: [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)] });
    state.box = state.boxes.length - 1;
    boxChanged("new correction box (type: to correct); M for its comment");
  }

  function boxChanged(description) {
    status(description);
    state.panelKey = null;
    render();
  }

  function setBoxType(type) {
    const box = state.boxes[state.box];
    if (!box) return;
    box.type = type;
    boxChanged(`correction box: ${BOX_TYPES[type][0]}`);
  }

  function stepBox(step) {
    if (!state.boxes.length) return;
    state.box = (Math.max(state.box, 0) + step + state.boxes.length) % state.boxes.length;
    boxChanged(`correction box ${state.box + 1} of ${state.boxes.length}`);
  }

  function deleteBox() {
    if (state.box < 0) return;
    state.boxes.splice(state.box, 1);
    state.box = Math.min(state.box, state.boxes.length - 1);
    boxChanged("correction box deleted");
  }

  async function commentBox() {
    const box = state.boxes[state.box];
    if (!box) return;
    const text = await askText("Comment of the correction box", box.annotation);
    if (text !== null) { box.annotation = text; boxChanged("comment changed"); }
  }

  async function loadBoxes(path) {
    try {
      state.boxes = (await api(fileUrl("corrections", path))).corrections;
    } catch (error) {
      state.boxes = [];
      status(`cannot read the correction boxes: ${error.message}`, true);
    }
    state.savedBoxes = JSON.stringify(state.boxes);
    state.box = state.boxes.length ? 0 : -1;
  }

  async function saveBoxes() {
    const result = await api(fileUrl("corrections", state.path), { corrections: state.boxes });
    state.boxes = result.corrections;
    state.savedBoxes = JSON.stringify(state.boxes);
    return result.file;
  }

  function drawBoxes() {
    state.boxes.forEach((box, i) => {
      const [x, y, w, h] = box.bbox;
      const [sx, sy] = toScreen(x, y);
      ctx.strokeStyle = BOX_TYPES[box.type][1];
      ctx.lineWidth = i === state.box ? 4 : 2;
      ctx.setLineDash(i === state.box ? [] : [6, 3]);
      ctx.strokeRect(sx, sy, w * state.view.scale, h * state.view.scale);
      ctx.setLineDash([]);
      if (box.annotation) {
        ctx.font = "13px system-ui, sans-serif";
        ctx.fillStyle = "rgba(0,0,0,0.7)";
        ctx.fillRect(sx, sy - 18, ctx.measureText(box.annotation).width + 8, 18);
        ctx.fillStyle = "#fff";
        ctx.fillText(box.annotation, sx + 4, sy - 5);
      }
    });
    const press = state.press;
    if (press && press.kind === "box" && press.moved) {
      const [ax, ay] = toScreen(press.x, press.y), [bx, by] = toScreen(...press.to);
      ctx.strokeStyle = BOX_TYPES[1][1];
      ctx.lineWidth = 2;
      ctx.strokeRect(ax, ay, bx - ax, by - ay);
    }
  }

  // ---- keyboard -------------------------------------------------------------------------------
  const DROPDOWN_KEYS = new Set(["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End", "Enter"]);
  const typingIn = (target) => target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type === "text");
  const modalOpen = () => ["picker", "ask", "text"].some((id) => !$(id).classList.contains("hidden"));

  window.addEventListener("keydown", (event) => {
    const ctrl = event.ctrlKey || event.metaKey;
    if (ctrl && event.key.toLowerCase() === "s") event.preventDefault();  // never the browser's "Save page"
    if (!$("help").classList.contains("hidden")) {
      if (["Escape", "h", "H", "?"].includes(event.key)) { toggleHelp(false); event.preventDefault(); }
      return;
    }
    if (modalOpen() || typingIn(event.target)) return;
    // a focused dropdown keeps the keys that move through its options; any other control (slider,
    // checkbox, button) gives every shortcut back
    if (event.target.tagName === "SELECT" && DROPDOWN_KEYS.has(event.key)) return;
    const key = event.key;
    const actions = {
      s: () => save(), u: () => (event.shiftKey ? redo() : undo()),
      n: () => (state.drawing ? finishDrawing() : startDrawing()),
      d: deleteSelected, Delete: deleteSelected, m: relabelSelected, l: relabelSelected,
      ArrowUp: () => changeLayer(+1), ArrowDown: () => changeLayer(-1),
      ArrowLeft: () => go(state.frame - 1), ArrowRight: () => go(state.frame + 1),
      q: deselect, Escape: deselect,
      // Enter and Backspace only while drawing: else a focused button keeps Enter
      ...(state.drawing ? { Enter: finishDrawing, Backspace: () => { state.drawing.pop(); render(); } } : {}),
      "+": () => setAlpha(state.alpha + 0.1), "-": () => setAlpha(state.alpha - 0.1),
      0: () => { state.alphaZero = true; render(); },
      g: () => { state.highlightClass = !state.highlightClass; render(); },
      p: () => {
        if (event.shiftKey) { setPreview(true, !$("preview-panel").classList.contains("large")); return; }
        $("preview-toggle").checked = !state.preview;
        setPreview(!state.preview);
      },
      z: () => { fit(); render(); },
      f: () => $("path").classList.toggle("hidden"),
      i: () => $("frame").focus(),
      c: () => setReview(!state.review),
      v: () => (event.shiftKey ? showAll() : hideSelected()), k: lockSelected,
      h: () => toggleHelp(true), "?": () => toggleHelp(true),
      w: () => { if (!$("view").classList.contains("hidden")) window.open($("view-link").href, "_blank"); },
    };
    const reviewActions = {
      1: () => setBoxType(1), 2: () => setBoxType(2), 3: () => setBoxType(3), 4: () => setBoxType(4),
      e: () => stepBox(-1), r: () => stepBox(1), d: deleteBox, Delete: deleteBox, m: commentBox,
    };
    const named = key.length === 1 ? key.toLowerCase() : key;
    let action;
    if (!ctrl && state.review && reviewActions[named]) {
      action = reviewActions[named];
    } else if (ctrl) {
      // Ctrl+C copies the selected object; with none, the browser copies the text selected as usual
      action = { z: event.shiftKey ? redo : undo, Z: redo, y: redo, s: save, v: paste,
        c: selectedObject() ? copySelected : undefined }[key];
    } else {
      action = actions[named];
    }
    if (action) {
      event.preventDefault();
      action();
    }
  });

  window.addEventListener("keyup", (event) => {
    if (event.key === "0") { state.alphaZero = false; render(); }
  });

  function showAll() {
    state.hidden.clear();
    state.panelKey = null;
    status("every object shown");
    render();
  }

  function deselect() {
    if (state.drawing) {
      state.drawing = null;
      status("drawing cancelled");
    }
    state.selected = -1;
    render();
  }

  function setAlpha(value) {
    state.alpha = Math.min(Math.max(value, 0), 1);
    $("alpha").value = state.alpha;
    render();
  }

  function toggleHelp(show) {
    $("help").classList.toggle("hidden", !show);
  }

  // ---- label picker and questions -------------------------------------------------------------
  function pickLabel(title, current) {
    return new Promise((resolve) => {
      const filter = $("picker-filter"), list = $("picker-list");
      let shown = [], active = 0;
      $("picker-title").textContent = title;
      filter.value = "";
      const fill = () => {
        const text = filter.value.trim().toLowerCase();
        const starts = (l) => l.name.toLowerCase().startsWith(text);  // "tr": truck before rail track
        shown = [...state.labels.filter(starts), ...state.labels.filter((l) => !starts(l) && l.name.toLowerCase().includes(text))];
        active = Math.max(0, text ? 0 : shown.findIndex((l) => l.name === current));
        list.replaceChildren(...shown.map((l, i) => {
          const li = document.createElement("li");
          li.dataset.label = l.name;
          li.className = i === active ? "active" : "";
          li.innerHTML = `<span class="swatch" style="background:${l.css}"></span>`;
          li.append(l.name);
          li.addEventListener("click", () => done(l.name));
          return li;
        }));
        const el = list.children[active];
        if (el) el.scrollIntoView({ block: "nearest" });
      };
      const move = (step) => {
        if (!shown.length) return;
        list.children[active].className = "";
        active = (active + step + shown.length) % shown.length;
        list.children[active].className = "active";
        list.children[active].scrollIntoView({ block: "nearest" });
      };
      const onKey = (e) => {
        if (e.key === "ArrowDown") { move(1); e.preventDefault(); }
        else if (e.key === "ArrowUp") { move(-1); e.preventDefault(); }
        else if (e.key === "Enter") { e.preventDefault(); done(shown.length ? shown[active].name : null); }
        else if (e.key === "Escape") { e.preventDefault(); done(null); }
        e.stopPropagation();
      };
      function done(label) {
        filter.removeEventListener("input", fill);
        filter.removeEventListener("keydown", onKey);
        $("picker-ok").onclick = $("picker-cancel").onclick = null;
        $("picker").classList.add("hidden");
        resolve(label);
      }
      filter.addEventListener("input", fill);
      filter.addEventListener("keydown", onKey);
      $("picker-ok").onclick = () => done(shown.length ? shown[active].name : null);
      $("picker-cancel").onclick = () => done(null);
      $("picker").classList.remove("hidden");
      fill();
      filter.focus();
    });
  }

  // A modal question; resolves to the chosen button's value.
  function ask(title, text, buttons) {
    return new Promise((resolve) => {
      $("ask-title").textContent = title;
      $("ask-text").textContent = text;
      $("ask-buttons").replaceChildren(...buttons.map(([caption, value]) => {
        const b = document.createElement("button");
        b.textContent = caption;
        b.dataset.answer = value;
        b.title = `${caption} (Tab to it, Enter)`;
        b.addEventListener("click", () => { $("ask").classList.add("hidden"); resolve(value); });
        return b;
      }));
      $("ask").classList.remove("hidden");
      $("ask-buttons").lastChild.focus();
    });
  }

  // A modal text question; resolves to the text, or null when cancelled.
  function askText(title, current) {
    return new Promise((resolve) => {
      const input = $("text-input");
      $("text-title").textContent = title;
      input.value = current || "";
      const done = (value) => {
        input.onkeydown = $("text-ok").onclick = $("text-cancel").onclick = null;
        $("text").classList.add("hidden");
        resolve(value);
      };
      input.onkeydown = (e) => {
        if (e.key === "Enter") { e.preventDefault(); done(input.value); }
        if (e.key === "Escape") { e.preventDefault(); done(null); }
        e.stopPropagation();
      };
      $("text-ok").onclick = () => done(input.value);
      $("text-cancel").onclick = () => done(null);
      $("text").classList.remove("hidden");
      input.focus();
    });
  }

  // ---- drafts, preview and saving -------------------------------------------------------------
  let draftTimer = null, previewTimer = null;
  const discardDraft = (path) => api(fileUrl("discard-draft", path), {}).catch(() => {});

  function scheduleDraft() {
    clearTimeout(draftTimer);
    const path = state.path;
    draftTimer = setTimeout(() => keepDraft(path), 800);
  }

  async function keepDraft(path) {
    if (path !== state.path || state.busy) return;  // a save in flight decides what is kept
    try {
      if (isDirty()) await api(fileUrl("draft", path), { draft: { version: state.version, objects: state.objects } });
      else await api(fileUrl("discard-draft", path), {});
    } catch (error) {
      status(`the draft could not be kept: ${error.message}`, true);
    }
  }

  function setPreview(on, large) {
    state.preview = on;
    $("preview-toggle").checked = on;
    $("preview-panel").classList.toggle("hidden", !on);
    if (large !== undefined) $("preview-panel").classList.toggle("large", large);
    schedulePreview();
  }

  function schedulePreview() {
    if (!state.preview || !state.path) return;
    clearTimeout(previewTimer);
    previewTimer = setTimeout(updatePreview, 250);
  }

  async function updatePreview() {
    const path = state.path;
    try {
      const ids = await fetchPreview(path, state.objects);
      if (path !== state.path) return;
      const pixels = ids.data;  // colour each label id as the label set does
      for (let i = 0; i < pixels.length; i += 4) {
        const color = state.idColors[pixels[i]];
        pixels[i] = color[0]; pixels[i + 1] = color[1]; pixels[i + 2] = color[2]; pixels[i + 3] = 255;
      }
      const canvas = $("preview");
      canvas.width = ids.width;
      canvas.height = ids.height;
      canvas.getContext("2d").putImageData(ids, 0, 0);
      $("preview-error").textContent = "";
    } catch (error) {
      $("preview-error").textContent = error.message;
    }
  }

  async function save() {
    if (!state.path || state.busy) return false;
    if (state.drawing) { status("finish or cancel the polygon being drawn first", true); return false; }
    if (!isDirty()) {
      if (!boxesDirty()) { status("nothing to save"); return true; }
      try {
        status(`saved the correction boxes to ${await saveBoxes()}`);
        return true;
      } catch (error) {
        status(`correction boxes not saved: ${error.message}`, true);
        return false;
      }
    }
    state.busy = true;
    const sent = JSON.parse(snapshot());
    let result;
    try {
      result = await api(fileUrl("save", state.path), { version: state.version, objects: sent });
    } catch (error) {
      state.busy = false;
      status(`not saved: ${error.message}`, true);
      if (error.data && error.data.current) return resolveConflict(error.message, error.data.current);
      await ask("Not saved", error.message, [["OK", "ok"]]);
      return false;
    }
    state.busy = false;
    clearTimeout(draftTimer);
    adoptSaved(result.annotation, sent);
    status(`saved ${state.path}`);
    return boxesDirty() ? save() : true;
  }

  // ---- save conflicts: the file changed on disk since it was opened ---------------------------
  const sameObject = (a, b) => a.label === b.label && Boolean(a.deleted) === Boolean(b.deleted)
    && JSON.stringify(a.polygon) === JSON.stringify(b.polygon);

  async function resolveConflict(message, current) {
    const answer = await ask("Not saved: the file changed on disk", message,
      [["Keep editing", "keep"], ["Show the difference, then overwrite", "difference"],
        ["Reload and reapply my edits", "reapply"]]);
    if (answer === "reapply") {
      const clashes = rebase(current, false);
      const text = clashes.length ? `Changed on disk too, your version kept: ${clashes.join(", ")}. ` : "";
      status(`reapplied your edits to the file as it is on disk now. ${text}Review, then save (U undoes them)`);
      return false;
    }
    if (answer !== "difference") return false;
    const confirmed = await ask("Changes on disk since you opened the file",
      `${differences(JSON.parse(state.savedJson), current.objects).join("\n")}\n\n`
      + "Overwriting writes your version of every object; objects only on disk stay in the file, marked deleted.",
      [["Keep editing", "keep"], ["Overwrite with my version", "overwrite"]]);
    if (confirmed !== "overwrite") return false;
    rebase(current, true);
    return save();
  }

  // What changed on disk between the objects opened (`before`) and those of the file now, in words.
  function differences(before, now) {
    const lines = [];
    for (let k = 0; k < Math.max(before.length, now.length); k++) {
      const [a, b] = [before[k], now[k]];
      if (!a) lines.push(`object ${k}: new ${b.label}`);
      else if (!b) lines.push(`object ${k} (${a.label}): removed from the file`);
      else if (a.label !== b.label) lines.push(`object ${k}: ${a.label} is now ${b.label}`);
      else if (Boolean(a.deleted) !== Boolean(b.deleted)) lines.push(`object ${k} (${a.label}): ${b.deleted ? "deleted" : "restored"}`);
      else if (!sameObject(a, b)) lines.push(`object ${k} (${a.label}): outline changed`);
    }
    return lines.length ? lines : ["No object differs: only the file's text changed (spacing, order of fields or other fields)."];
  }

  // The page's objects carried over to the file as it is now (`current`), which becomes the clean state
  // (one undo step back to it).  Reapplying (`mineWins` false) keeps the file's version of each object
  // the page did not edit, and the objects only on disk; overwriting keeps the page's version of every
  // object and marks those only on disk deleted.  Returns the objects both sides changed.
  function rebase(current, mineWins) {
    const opened = new Map(JSON.parse(state.savedJson).map((o) => [o.source, o]));
    const disk = current.objects;
    const uids = disk.map(() => nextUid++);
    const out = [], clashes = [];
    for (const mine of state.objects) {
      const before = mine.source === undefined ? null : opened.get(mine.source);
      const edited = !before || !sameObject(mine, before);
      const theirs = mine.source === undefined ? null : disk[mine.source];
      if (!theirs) {  // new here, or gone from the file: a new object if it is to stay
        if ((edited || mineWins) && !mine.deleted) out.push({ label: mine.label, polygon: mine.polygon, deleted: 0, uid: mine.uid });
        if (before && edited) clashes.push(describe(mine));
        continue;
      }
      uids[mine.source] = mine.uid;
      if (edited && before && !sameObject(theirs, before)) clashes.push(describe(mine));
      out.push(edited || mineWins ? { ...theirs, label: mine.label, polygon: mine.polygon, deleted: mine.deleted, uid: mine.uid }
        : { ...theirs, uid: mine.uid });
    }
    const placed = new Set(out.map((o) => o.uid));
    disk.forEach((o, k) => { if (!placed.has(uids[k])) out.push({ ...o, deleted: mineWins ? 1 : o.deleted, uid: uids[k] }); });
    const clean = disk.map((o, k) => ({ ...o, uid: uids[k] }));
    state.version = current.version;
    state.savedJson = JSON.stringify(clean);
    state.undo = [{ objects: state.savedJson, selected: -1 }];
    state.redo = [];
    state.objects = out;
    state.selected = -1;
    changed();
    return clashes;
  }

  // After a save: the file as saved becomes the clean state (new objects now have a place in it),
  // and the undo history is renumbered to it, so every edit can still be undone.  A step from before
  // an object was drawn gets that object as deleted (`absent`): the file keeps every object it has.
  function adoptSaved(annotation, sent) {
    const kept = sent.filter((o) => !(o.source === undefined && o.deleted));  // new and deleted: not written
    const saved = new Map(kept.map((o, k) => [o.uid, annotation.objects[k]]));
    const renumber = (objects) => {
      const out = objects.map((o) => {
        const s = saved.get(o.uid);
        if (!s) return o;
        return o.absent ? { ...s, uid: o.uid, deleted: 1, absent: true } : { ...o, source: s.source, id: s.id };
      });
      const present = new Set(objects.map((o) => o.uid));
      kept.forEach((o, k) => {
        if (!present.has(o.uid)) out.splice(Math.min(k, out.length), 0, { ...annotation.objects[k], uid: o.uid, deleted: 1, absent: true });
      });
      return out;
    };
    const editedMeanwhile = snapshot() !== JSON.stringify(sent);
    const selectedUid = state.selected >= 0 ? state.objects[state.selected].uid : null;
    state.version = annotation.version;
    const clean = kept.map((o, k) => ({ ...annotation.objects[k], uid: o.uid }));
    state.savedJson = JSON.stringify(clean);
    state.objects = editedMeanwhile ? renumber(state.objects) : clean;
    for (const step of [...state.undo, ...state.redo]) step.objects = JSON.stringify(renumber(JSON.parse(step.objects)));
    state.selected = state.objects.findIndex((o) => o.uid === selectedUid);
    changed();
  }

  // Before leaving an image with unsaved changes: save, discard or stay.
  async function mayLeave() {
    if (!unsaved()) return true;
    const answer = await ask("Unsaved changes", `${state.path} has unsaved changes.`,
      [["Stay", "stay"], ["Discard changes", "discard"], ["Save", "save"]]);
    if (answer === "save") return save();
    if (answer === "discard") {
      clearTimeout(draftTimer);
      await discardDraft(state.path);
      state.objects = JSON.parse(state.savedJson);
      state.boxes = JSON.parse(state.savedBoxes);
      return true;
    }
    return false;
  }

  window.addEventListener("beforeunload", (event) => {
    if (unsaved()) { event.preventDefault(); event.returnValue = ""; }
  });

  // ---- loading --------------------------------------------------------------------------------
  function show(annotation) {
    state.version = annotation.version;
    state.width = annotation.imgWidth;
    state.height = annotation.imgHeight;
    state.objects = withUids(annotation.objects);
    state.savedJson = snapshot();
    state.undo = [];
    state.redo = [];
    state.drawing = null;
    state.selected = -1;
    changed();
  }

  async function go(index) {
    if (index < 0 || index >= state.frames.length || index === state.frame) return;
    if (!(await mayLeave())) { $("frame").value = state.frame; return; }
    await open(index);
  }

  async function open(index) {
    const frame = state.frames[index];
    status(`opening ${frame.polygons} ...`);
    let loaded;
    try {
      loaded = await api(fileUrl("annotation", frame.polygons));
    } catch (error) {
      status(`cannot open ${frame.polygons}: ${error.message}`, true);
      $("frame").value = state.frame;
      return;
    }
    let image = null;
    if (frame.image) {
      image = new Image();
      image.src = fileUrl("image", frame.image);
      await image.decode().catch(() => status(`cannot show the image ${frame.image}`, true));
    }
    state.frame = index;
    state.path = frame.polygons;
    state.image = image;
    $("frame").value = index;
    $("path").textContent = frame.polygons;
    history.replaceState(null, "", "#" + encodeURIComponent(frame.polygons));
    showViewLink(frame);
    show(loaded.annotation);
    await loadBoxes(frame.polygons);
    fit();
    render();
    status(`${frame.polygons}: ${state.objects.filter((o) => !o.deleted).length} objects`);
    if (loaded.draft) await offerDraft(loaded.draft);
  }

  async function offerDraft(draft) {
    if (draft.version !== state.version) {
      const answer = await ask("Old draft", "A draft of this file was kept, but the file has changed since, so it cannot be restored here.",
        [["Discard it", "discard"], ["Keep it in the cache folder", "keep"]]);
      if (answer === "discard") await discardDraft(state.path);
      return;
    }
    const answer = await ask("Unsaved edits found", "Edits of this image that were never saved were kept as a draft. Restore them?",
      [["Discard", "discard"], ["Restore", "restore"]]);
    if (answer === "restore") {
      edit("restored the draft", () => { state.objects = withUids(draft.objects); });
    } else {
      await discardDraft(state.path);
    }
  }

  async function start() {
    const [frames, labels] = await Promise.all([api("api/frames"), api("api/labels")]);
    state.frames = frames.frames;
    state.root = frames.root;
    state.labels = labels.labels.map((l) => ({ ...l, css: `rgb(${l.color.join(",")})` }));
    state.labels.forEach((l) => { state.colors[l.name] = l.color; });
    state.lastLabel = labels.default;
    state.idColors = labels.idColors;
    $("frame").replaceChildren(...state.frames.map((f, i) => new Option(f.name, i)));
    if (!state.frames.length) { status("no *_polygons.json files under the dataset root", true); return; }
    const wanted = decodeURIComponent(location.hash.slice(1));
    const index = Math.max(0, state.frames.findIndex((f) => f.polygons === wanted));
    await open(index);
  }

  // ---- drawing --------------------------------------------------------------------------------
  function fit() {
    const r = canvas.getBoundingClientRect();
    if (!state.width || !r.width) return;
    const scale = Math.min(r.width / state.width, r.height / state.height);
    state.view = { scale, ox: (r.width - state.width * scale) / 2, oy: (r.height - state.height * scale) / 2 };
  }

  function colorOf(label) {
    const c = state.colors[label] || state.colors[label.replace(/group$/, "")];
    return c ? `${c[0]},${c[1]},${c[2]}` : "255,0,255";
  }

  function tracePath(polygon) {
    ctx.beginPath();
    polygon.forEach(([x, y], i) => {
      const [sx, sy] = toScreen(x, y);
      if (i === 0) ctx.moveTo(sx, sy); else ctx.lineTo(sx, sy);
    });
    ctx.closePath();
  }

  function render() {
    const r = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(r.width * ratio) || canvas.height !== Math.round(r.height * ratio)) {
      canvas.width = Math.round(r.width * ratio);
      canvas.height = Math.round(r.height * ratio);
    }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, r.width, r.height);
    if (!state.path) return;
    const v = state.view;
    ctx.imageSmoothingEnabled = v.scale < 1;
    if (state.image) {
      ctx.drawImage(state.image, v.ox, v.oy, state.width * v.scale, state.height * v.scale);
    } else {  // no camera image beside the annotation
      ctx.fillStyle = "#404040";
      ctx.fillRect(v.ox, v.oy, state.width * v.scale, state.height * v.scale);
    }
    const alpha = state.alphaZero ? 0 : state.alpha;
    const sel = selectedObject();
    const highlight = state.highlightClass && sel ? sel.label : null;
    state.objects.forEach((o, i) => {
      if (o.deleted || state.hidden.has(o.uid)) return;
      tracePath(o.polygon);
      const dim = highlight && o.label !== highlight;
      ctx.fillStyle = `rgba(${colorOf(o.label)},${dim ? alpha * 0.2 : alpha})`;
      ctx.fill("evenodd");
      if (alpha > 0) {
        ctx.strokeStyle = `rgba(0,0,0,${Math.min(1, alpha + 0.2)})`;
        ctx.lineWidth = 1;
        ctx.stroke();
      }
      if (i === state.hover && i !== state.selected) {
        ctx.strokeStyle = "rgba(255,255,255,0.9)";
        ctx.lineWidth = 2;
        ctx.stroke();
      }
    });
    if (sel) {
      tracePath(sel.polygon);
      ctx.strokeStyle = "#ffff00";
      ctx.lineWidth = 2;
      ctx.stroke();
      sel.polygon.forEach(([x, y], k) => drawVertex(x, y, k === 0 ? "#00ff00" : "#ff0000"));
    }
    if (state.drawing) {
      ctx.beginPath();
      state.drawing.forEach(([x, y], i) => {
        const [sx, sy] = toScreen(x, y);
        if (i === 0) ctx.moveTo(sx, sy); else ctx.lineTo(sx, sy);
      });
      if (state.mouse && state.drawing.length) ctx.lineTo(...state.mouse);
      ctx.strokeStyle = "#00ffff";
      ctx.lineWidth = 2;
      ctx.stroke();
      state.drawing.forEach(([x, y], k) => drawVertex(x, y, k === 0 ? "#00ff00" : "#ff0000"));
    }
    if (state.review) drawBoxes();
    // the side panels follow edits and selection, not every mouse move
    const panelKey = [state.revision, state.selected, state.frame, state.undo.length, state.redo.length].join("/");
    if (panelKey !== state.panelKey) {
      state.panelKey = panelKey;
      updatePanels();
    }
  }

  function drawVertex(x, y, color) {
    const [sx, sy] = toScreen(x, y);
    ctx.beginPath();
    ctx.arc(sx, sy, 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  function updatePanels() {
    const sel = selectedObject();
    const visible = state.objects.filter((o) => !o.deleted).length;
    const info = $("info");
    if (sel) {
      const layer = state.objects.slice(0, state.selected + 1).filter((o) => !o.deleted).length;
      info.innerHTML = `<div class="label"><span class="swatch" style="background:rgb(${colorOf(sel.label)})"></span></div>`
        + `<div>id <b class="id"></b> &middot; <b class="count"></b> vertices &middot; layer ${layer} of ${visible}</div>`;
      info.querySelector(".label").append(sel.label);
      info.querySelector(".id").textContent = sel.source === undefined ? "new" : sel.id;
      info.querySelector(".count").textContent = sel.polygon.length;
    } else {
      info.textContent = "nothing selected";
    }
    const list = $("objects");
    const items = [];
    for (let i = state.objects.length - 1; i >= 0; i--) {
      const o = state.objects[i];
      if (o.deleted) continue;
      const li = document.createElement("li");
      li.dataset.index = i;
      li.className = i === state.selected ? "selected" : "";
      const [hidden, locked] = [state.hidden.has(o.uid), state.locked.has(o.uid)];
      li.classList.toggle("hidden-object", hidden);
      li.innerHTML = `<button class="flag hide" title="hide / show this object (V; Shift+V: show all)">${hidden ? "&#9675;" : "&#9679;"}</button>`
        + `<button class="flag lock${locked ? " on" : ""}" title="lock / unlock this object: not selectable (K)">L</button>`
        + `<span class="swatch" style="background:rgb(${colorOf(o.label)})"></span>`;
      li.append(`${o.label} · ${o.source === undefined ? "new" : o.id} · ${o.polygon.length}`);
      items.push(li);
    }
    list.replaceChildren(...items);
    const dirty = isDirty();
    $("dirty").classList.toggle("hidden", !dirty);
    $("undo").disabled = !state.undo.length;
    $("redo").disabled = !state.redo.length;
    for (const id of ["relabel", "delete", "raise", "lower", "copy"]) $(id).disabled = !sel;
    $("prev").disabled = state.frame <= 0;
    $("next").disabled = state.frame >= state.frames.length - 1;
  }

  function status(text, isError = false) {
    $("status").textContent = text;
    $("status").classList.toggle("error", isError);
  }

  // ---- csViewer ------------------------------------------------------------------------------
  // The viewer is its own server (read-only; this one writes): the link shows the frame's image there
  // (its key: split/city/frame), and the command starts it.
  function showViewLink(frame) {
    $("view").classList.toggle("hidden", !frame.image);
    if (!frame.image) return;
    const [, split, city, file] = frame.image.split("/");
    const key = `${split}/${city}/${file.replace(/_leftImg8bit\.png$/, "")}`;
    $("view-link").href = `http://127.0.0.1:${VIEWER_PORT}/#${encodeURIComponent(key)}`;
    $("view-command").textContent = `csViewer ${state.root} --port ${VIEWER_PORT}`;
  }

  // ---- wiring ---------------------------------------------------------------------------------
  $("objects").addEventListener("click", (e) => {
    const li = e.target.closest("li");
    if (!li) return;
    const index = Number(li.dataset.index);
    const flag = e.target.closest("button");
    if (flag) {
      toggleFlag(flag.classList.contains("hide") ? state.hidden : state.locked, index,
        flag.classList.contains("hide") ? "hidden" : "locked");
      flag.blur();
      return;
    }
    const o = state.objects[index];
    if (state.locked.has(o.uid) || state.hidden.has(o.uid)) {
      status(`${describe(o)} is ${state.locked.has(o.uid) ? "locked" : "hidden"}: unlock or show it first`, true);
      return;
    }
    state.selected = index;
    render();
  });
  $("prev").onclick = () => go(state.frame - 1);
  $("next").onclick = () => go(state.frame + 1);
  $("frame").onchange = () => { $("frame").blur(); go(Number($("frame").value)); };
  $("save").onclick = () => save();
  $("undo").onclick = undo;
  $("redo").onclick = redo;
  $("draw").onclick = () => (state.drawing ? finishDrawing() : startDrawing());
  $("relabel").onclick = relabelSelected;
  $("delete").onclick = deleteSelected;
  $("raise").onclick = () => changeLayer(+1);
  $("lower").onclick = () => changeLayer(-1);
  $("copy").onclick = copySelected;
  $("review").onclick = () => { setReview(!state.review); $("review").blur(); };
  $("paste").onclick = paste;
  $("preview").onclick = () => $("preview-panel").classList.toggle("large");
  $("alpha").oninput = () => setAlpha(Number($("alpha").value));
  $("preview-toggle").onchange = () => setPreview($("preview-toggle").checked);
  $("help-button").onclick = () => toggleHelp(true);
  $("help-close").onclick = () => toggleHelp(false);
  window.addEventListener("resize", () => { fit(); render(); });

  // For scripted use (tests, the console): read-only views of the state and the actions.
  window.labelTool = {
    state, save, undo, redo, go, isDirty, unsaved, toScreen,
    setView: (scale, ox, oy) => { state.view = { scale, ox, oy }; render(); },
    ready: start().catch((error) => status(`cannot start: ${error.message}`, true)),
  };
})();
