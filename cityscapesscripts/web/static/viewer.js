// csViewer's page: browse frames, draw the server's layers (index map + colour table) over the image.
"use strict";

const $ = (id) => document.getElementById(id);
const FRAME_CACHE_SIZE = 8;   // frames kept (the shown one, its prefetched neighbours, the last visited)
const LAYER_CACHE_SIZE = 16;  // overlays kept (a few per frame)
const PLAY_PAUSE_MS = 150;
const SCORES_DELAY_MS = 400;
const EXACT_DELAY_MS = 300;   // staying this long on an image swaps its JPEG for the exact PNG
const MAX_PREVIEW_SCALE = 8;  // as the server's
const LABEL_TOOL_PORT = 8051;  // beside the viewer's default 8050
const DIVIDER_GRAB_PX = 12;   // how near the swipe divider (on screen) a drag grabs it when zoomed in
const SWIPE_STEP = 0.05;      // [ and ] move the divider by this part of the width
const PAIR_HIGHLIGHT = [255, 0, 255, 255];  // a confusion cell's pixels: magenta, in no label's colour

// State, also read by the browser tests.
const viewer = window.viewer = {
  ready: false, frames: [], list: [], position: 0, layer: "gtFine", alpha: 0.5, zoom: false, zoomFactor: 3,
  playing: false, shown: null, shownCount: 0, lastSwitchMs: null, switchTimes: [], layers: {}, pred: null,
  mouse: null, showPaths: true, hidden: new Set(), focus: null, labelColors: {}, view: {scale: 1, x: 0, y: 0},
  root: null, layer2: "none", compare: "outline", swipe: 0.5,
};
// frame key -> Promise of {image, width, height, exact, info}: the camera image (a JPEG preview, or the
// exact PNG once fetched) and the image's size
const frameCache = new Map();
// frame key|layer|source -> Promise of {overlay, layerError}
const layerCache = new Map();
let showToken = 0;

function status(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", Boolean(isError));
}

function source() { return $("from-png").checked ? "png" : "polygons"; }

// ---- loading ------------------------------------------------------------------------------
function cached(cache, key, size, make) {
  if (!cache.has(key)) {
    const promise = make();
    promise.catch(() => cache.delete(key));
    cache.set(key, promise);
    while (cache.size > size) cache.delete(cache.keys().next().value);
  }
  return cache.get(key);
}

// A frame with the current overlays: {frame, base: {image, width, height, exact, info}, overlay, layerError,
// second} (second: the second layer's, outlined over the first or swiped against it).
// The camera image, the frame's files and the overlay are fetched in parallel; the camera image as a
// JPEG at the canvas's size on screen, which the server makes and the browser decodes in a fraction of
// the PNG's time (and a fraction of its bytes through an SSH forward).
async function load(frame) {
  const [layer, from] = [viewer.layer, source()];
  const layerOf = (name) =>
    cached(layerCache, `${frame.key}|${name}|${from}`, LAYER_CACHE_SIZE, () => fetchLayer(frame, name, from));
  const [base, drawn, other] = await Promise.all([
    cached(frameCache, frame.key, FRAME_CACHE_SIZE, async () => {
      const [preview, info] = await Promise.all([loadPreview(frame, previewScale()),
        api(pathUrl("/api/frame/", frame.key))]);
      return {...preview, exact: false, info};
    }),
    layerOf(layer), layerOf(viewer.layer2),
  ]);
  return {frame, base, ...drawn, second: other.overlay};
}

// How many times smaller than the image its preview may be: as many as keep it at least 90% of the
// canvas's width on screen (in device pixels).
function previewScale() {
  const canvas = $("canvas");
  const onScreen = canvas.getBoundingClientRect().width * devicePixelRatio;
  return Math.max(1, Math.min(MAX_PREVIEW_SCALE, Math.floor(canvas.width / onScreen / 0.9)));
}

// The server's camera JPEG, {image, width, height} (the size of the image, not of the preview).  It is
// untagged, so sRGB as the page: decoded the browser's default way, with half the CPU of loadBitmap's
// exact path (no colour conversion asked).
async function loadPreview(frame, scale) {
  const response = await fetchOk(`${pathUrl("/api/camera/", frame.key)}?scale=${scale}`);
  const [width, height] = response.headers.get("X-Image-Size").split("x").map(Number);
  return {image: await createImageBitmap(await response.blob()), width, height};
}

async function fetchLayer(frame, layer, from) {
  if (layer === "none") return {overlay: null};
  const url = `${pathUrl(`/api/layer/${layer}/`, frame.key)}?source=${from}`;
  let payload;
  try { payload = await fetchBinary(url); } catch (e) { return {overlay: null, layerError: e.message}; }
  return {overlay: await decodeLayer(payload, layer)};
}

// The file's exact pixels in place of the JPEG, for an image looked at (not each one stepped past).
async function loadExact(loaded) {
  const base = loaded.base;
  if (base.exact || base.exactPending) return;
  base.exactPending = true;
  try {
    const [preview, exact] = [base.image, await loadBitmap(pathUrl("/api/file/", loaded.frame.image))];
    [base.image, base.exact] = [exact, true];
    preview.close();  // its memory now, not at the next garbage collection
  } finally {
    base.exactPending = false;
  }
  if (viewer.shown && viewer.shown.base === base) draw();
}

// A raster layer: its index map, coloured by its table (one lookup per pixel) as the legend and the
// highlighted object allow; or boxes, drawn.
async function decodeLayer(payload, layer) {
  const {width, height} = payload;
  const canvas = new OffscreenCanvas(width, height);
  if (payload.kind === "boxes") {
    drawBoxes(canvas.getContext("2d"), payload.boxes);
    return {kind: "boxes", layer, boxes: payload.boxes, canvas, width, height};
  }
  const index = payload.array;
  const present = new Uint8Array(payload.colors.length);  // the entries the map uses: the legend's labels
  for (let i = 0; i < index.length; i++) present[index[i]] = 1;
  const overlay = {kind: "raster", layer, index, names: payload.names, labels: payload.labels || [], pairs: payload.pairs,
    colors: payload.colors, present, canvas, width, height, painted: null, table: null, outline: null};
  paint(overlay);
  return overlay;
}

// What decides an overlay's colours besides its table: hidden labels, the highlighted object.
function paintKey(overlay) {
  const focus = viewer.focus && viewer.focus.layer === overlay.layer ? viewer.focus.key : "";
  return `${[...viewer.hidden].join("|")}#${focus}`;
}

function paint(overlay) {
  const key = paintKey(overlay);
  if (overlay.kind !== "raster" || overlay.painted === key) return;
  const focus = viewer.focus && viewer.focus.layer === overlay.layer ? viewer.focus : null;
  const table = overlay.table = new Uint32Array(overlay.colors.map(([r, g, b, a], k) => {
    const off = viewer.hidden.has(overlay.labels[k]) || (focus && !focus.shows(overlay, k));
    if (!off && focus && focus.color) [r, g, b, a] = focus.color;
    return off ? 0 : (r | g << 8 | b << 16 | a << 24) >>> 0;
  }));
  const {index, width, height} = overlay;
  const rgba = new ImageData(width, height);
  const out = new Uint32Array(rgba.data.buffer);  // RGBA bytes as little-endian words
  for (let i = 0; i < index.length; i++) out[i] = table[index[i]];
  const context = overlay.canvas.getContext("2d");
  context.clearRect(0, 0, width, height);
  context.putImageData(rgba, 0, 0);
  overlay.painted = key;
}

// Boxes as the original viewer draws them.  CityPersons: full box solid, visible part dashed and
// filled, ignore regions hatched.  3D boxes: each side projected, faint fill, sides facing away dotted, a thick heading arrow;
// their 2D boxes: faint fill, solid outline.
function drawBoxes(context, boxes) {
  for (const {color, box, visible, instance, faces, arrow, fill} of boxes) {
    const css = `rgb(${color.join(",")})`;
    context.strokeStyle = css;
    context.fillStyle = css;
    context.setLineDash([]);
    if (faces) {
      drawFaces(context, faces, arrow, fill);
      continue;
    }
    context.lineWidth = 3;
    if (fill !== undefined) {
      context.globalAlpha = fill;
      context.fillRect(...box);
      context.globalAlpha = 1;
      context.strokeRect(...box);
      continue;
    }
    context.strokeRect(...box);
    if (instance) {
      context.lineWidth = 1;
      context.setLineDash([6, 4]);
      context.strokeRect(...visible);
      context.globalAlpha = 0.4;
      context.fillRect(...visible);
      context.globalAlpha = 1;
    } else {  // ignore regions and groups: hatched
      context.fillStyle = diagonalCross(context, css);
      context.fillRect(...box);
    }
  }
}

// Qt's DiagCrossPattern, with which the original fills ignore regions: diagonals both ways every 8 px.
function diagonalCross(context, css) {
  const tile = new OffscreenCanvas(8, 8);
  const tileContext = tile.getContext("2d");
  tileContext.strokeStyle = css;
  tileContext.beginPath();
  tileContext.moveTo(0, 0); tileContext.lineTo(8, 8); tileContext.moveTo(8, 0); tileContext.lineTo(0, 8);
  tileContext.stroke();
  return context.createPattern(tile, "repeat");
}

function drawFaces(context, faces, arrow, fill) {
  const path = (points) => {
    context.beginPath();
    points.forEach(([x, y], i) => (i ? context.lineTo(x, y) : context.moveTo(x, y)));
    context.closePath();
  };
  context.lineWidth = 2;
  for (const {points, visible} of faces) {
    if (points.length < 2) continue;
    path(points);
    context.setLineDash(visible ? [] : [1, 10]);
    if (visible) {
      context.globalAlpha = fill;
      context.fill();
      context.globalAlpha = 1;
    }
    context.stroke();
  }
  if (arrow.length >= 2) {
    context.setLineDash([]);
    context.lineWidth = 5;
    path(arrow);
    context.stroke();
  }
}

// ---- showing ------------------------------------------------------------------------------
async function show(position, started = performance.now()) {
  if (!viewer.list.length) return;
  viewer.position = Math.max(0, Math.min(position, viewer.list.length - 1));
  const frame = viewer.list[viewer.position];
  const token = ++showToken;
  status(`loading ${frame.id} ...`);
  let loaded;
  try {
    loaded = await load(frame);
  } catch (e) {
    if (token === showToken) status(`${frame.id}: ${e.message}`, true);
    return;
  }
  if (token !== showToken) return;  // a newer request took over
  if (viewer.focus && viewer.focus.frame !== frame.key) viewer.focus = null;  // highlights are per image
  viewer.shown = loaded;
  draw();
  describe(loaded);
  showLegend();
  showHover();
  await new Promise(requestAnimationFrame);
  viewer.lastSwitchMs = performance.now() - started;
  viewer.switchTimes.push(viewer.lastSwitchMs);
  viewer.shownCount++;
  history.replaceState(null, "", "#" + frame.key);
  status(loaded.layerError && viewer.layer !== "none" ? loaded.layerError :
    `${frame.id}  (${viewer.lastSwitchMs.toFixed(0)} ms)`, Boolean(loaded.layerError));
  for (const step of [1, -1]) {  // prefetch the neighbours
    const neighbour = viewer.list[viewer.position + step];
    if (neighbour) load(neighbour).catch(() => {});
  }
  if (viewer.pred) {  // never another image's numbers beside this one
    for (const id of ["scores", "class-iou", "confusion", "objects"]) $(id).replaceChildren();
    $("class-iou-title").hidden = $("confusion-title").hidden = $("objects-title").hidden = true;
  }
  if (!viewer.playing) settle(loaded);
}

// For an image looked at (not each one stepped or played past): its exact pixels and its scores, which
// take the server a while.  Also when play stops on it.
function settle(loaded) {
  const token = showToken;
  const current = () => token === showToken && viewer.shown === loaded;
  setTimeout(() => current() && loadExact(loaded).catch((e) => status(e.message, true)), EXACT_DELAY_MS);
  if (viewer.pred) {
    setTimeout(() => current() && showScores(loaded, current), SCORES_DELAY_MS);
    if ("pred-instances" in loaded.base.info.layers) {
      setTimeout(() => current() && showObjects(loaded, current), SCORES_DELAY_MS);
    }
  }
}

function draw() {
  const shown = viewer.shown;
  if (!shown) return;
  const canvas = $("canvas");
  const {base: {image, width, height}, overlay} = shown;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
    fit();
  }
  const context = canvas.getContext("2d");
  context.globalAlpha = 1;
  context.drawImage(image, 0, 0, width, height);
  const second = shown.second;
  if (second && viewer.compare === "swipe") {  // the first layer left of the divider, the second right
    const split = Math.round(width * viewer.swipe);
    drawLayer(context, overlay, 0, split, width, height);
    drawLayer(context, second, split, width, width, height);
    context.fillStyle = "#fff";
    const line = Math.max(2, Math.round(2 * width / canvas.getBoundingClientRect().width));
    context.fillRect(split - line / 2, 0, line, height);
  } else {
    drawLayer(context, overlay, 0, width, width, height);
    if (second) context.drawImage(outlineOf(second), 0, 0, width, height);
  }
  drawLens();
}

// `overlay` at the chosen opacity between image columns x0 and x1.
function drawLayer(context, overlay, x0, x1, width, height) {
  if (!overlay) return;
  paint(overlay);
  context.save();
  context.beginPath();
  context.rect(x0, 0, x1 - x0, height);
  context.clip();
  context.globalAlpha = viewer.alpha;
  context.drawImage(overlay.canvas, 0, 0, width, height);
  context.restore();
}

// A raster layer's outlines, opaque: the pixels on either side of a border between two of its names (two
// labels, two instances), in the colour of their own side; boxes are outlines already.
function outlineOf(overlay) {
  if (overlay.kind !== "raster") return overlay.canvas;
  paint(overlay);
  if (overlay.outline && overlay.outline.painted === overlay.painted) return overlay.outline.canvas;
  const first = new Map();  // entries of one name (polygons of one label) are one region
  const region = Uint32Array.from(overlay.names, (name, k) => (first.has(name) ? first.get(name) : first.set(name, k).get(name)));
  const {index, width, height, table} = overlay;
  const rgba = new ImageData(width, height);
  const out = new Uint32Array(rgba.data.buffer);
  for (let y = 0; y < height; y++) {
    for (let x = 0, i = y * width; x < width; x++, i++) {
      const r = region[index[i]];
      const edge = (x > 0 && region[index[i - 1]] !== r) || (x < width - 1 && region[index[i + 1]] !== r) ||
        (y > 0 && region[index[i - width]] !== r) || (y < height - 1 && region[index[i + width]] !== r);
      if (edge && table[index[i]]) out[i] = (table[index[i]] | 0xff000000) >>> 0;
    }
  }
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext("2d").putImageData(rgba, 0, 0);
  overlay.outline = {canvas, painted: overlay.painted};
  return canvas;
}

function describe(loaded) {
  const {frame, base: {info}} = loaded;
  $("title").textContent = frame.id;
  $("position").textContent = `${viewer.position + 1} / ${viewer.list.length}`;
  $("jump").value = "";
  const rows = [["image", frame.image], ...Object.entries(info.layers).map(([k, v]) => [viewer.layers[k], v])];
  $("paths").replaceChildren(...rows.map(([what, path]) => {
    const item = document.createElement("li");
    item.innerHTML = "<b></b><br>";
    item.firstChild.textContent = what;
    item.append(path);
    return item;
  }));
  $("paths").hidden = !viewer.showPaths;
  showEditLink(info);
  $("problem").hidden = !info.problem;
  $("problem").textContent = info.problem || "";
  for (const option of [...$("layer").options, ...$("layer2").options]) {
    if (option.value === "none") continue;
    option.textContent = viewer.layers[option.value] + (option.value in info.layers ? "" : " (none here)");
  }
}

// The image's scores, and its per-class IoU, worst first; a class clicked is shown alone.
async function showScores(loaded, current) {
  let summary;
  try { summary = await api(pathUrl("/api/summary/", loaded.frame.key)); } catch (e) { summary = {scores: {error: e.message}}; }
  if (!current()) return;
  $("scores").replaceChildren(...Object.entries(summary.scores).map(([metric, value]) => {
    const row = document.createElement("tr");
    row.innerHTML = "<td></td><td class=value></td>";
    row.cells[0].textContent = metric;
    row.cells[1].textContent = typeof value === "number" ? value.toFixed(3) : (value === null ? "n/a" : value);
    return row;
  }));
  const classes = Object.entries(summary.classIoU || {}).sort((a, b) => a[1] - b[1]);
  $("class-iou-title").hidden = !classes.length;
  $("class-iou").replaceChildren(...classes.map(([name, iou]) => {
    const row = document.createElement("tr");
    row.innerHTML = "<td><button class=link></button></td><td class=value></td>";
    const button = row.querySelector("button");
    button.append(swatch(name), name);
    button.title = `show only ${name}; again: every class (click)`;
    button.onclick = () => { solo(name); button.blur(); };
    row.cells[1].textContent = iou.toFixed(3);
    return row;
  }));
  showConfusion(summary.confusion, loaded.frame.key);
}

// The image's confusion counts (rows: ground truth, columns: prediction, last column: predicted as a class
// not evaluated), each cell shaded by its share of the row; a cell clicked shows its pixels on the errors
// layer (clicked again: every pixel).
function showConfusion(confusion, frameKey) {
  const table = $("confusion");
  $("confusion-title").hidden = !confusion;
  if (!confusion) { table.replaceChildren(); return; }
  const {ids, labels, counts, other} = confusion;
  const head = document.createElement("tr");
  head.append(document.createElement("th"), ...labels.map((name) => {
    const cell = document.createElement("th");
    cell.append(swatch(name));
    cell.title = `predicted ${name}`;
    return cell;
  }), Object.assign(document.createElement("th"), {textContent: "\u2205", title: "predicted a class not evaluated"}));
  table.replaceChildren(head, ...labels.map((truth, r) => {
    const row = document.createElement("tr");
    const header = document.createElement("th");
    header.append(swatch(truth));
    header.title = `ground truth ${truth}`;
    row.append(header);
    const total = counts[r].reduce((a, b) => a + b, 0) + other[r];
    [...counts[r], other[r]].forEach((count, c) => {
      const cell = document.createElement("td");
      const button = document.createElement("button");
      const predicted = c < ids.length ? labels[c] : "a class not evaluated";
      const share = total ? count / total : 0;
      button.className = "cell";
      button.dataset.truth = ids[r];
      button.dataset.predicted = c < ids.length ? ids[c] : "other";
      button.style.background = share ? `rgba(${c === r ? "80, 200, 120" : "255, 90, 90"}, ${0.25 + 0.75 * share})` : "";
      button.title = `truth ${truth}, predicted ${predicted}: ${count} pixels (${(100 * share).toFixed(1)}% of ` +
        `${truth}); show them (click)`;
      button.onclick = () => { highlightPair(ids[r], c < ids.length ? ids[c] : null, ids, frameKey); button.blur(); };
      cell.append(button);
      row.append(cell);
    });
    return row;
  }));
}

// Predicted and ground-truth instances: matched (TP), unmatched (FP, FN) at the evaluator's overlap; one
// clicked is highlighted alone on its layer.
async function showObjects(loaded, current) {
  let data;
  try { data = await api(pathUrl("/api/objects/", loaded.frame.key)); } catch (e) { status(e.message, true); return; }
  if (!current()) return;
  const order = {FN: 0, FP: 1, ignored: 2, TP: 3};
  const objects = data.objects.sort((a, b) => order[a.status] - order[b.status] || a.iou - b.iou);
  $("objects-title").hidden = !objects.length;
  $("objects-title").textContent = `objects at IoU ${data.threshold}`;
  $("objects").replaceChildren(...objects.map((o) => {
    const row = document.createElement("tr");
    row.className = `status-${o.status}`;
    row.innerHTML = "<td></td><td><button class=link></button></td><td class=value></td>";
    row.cells[0].textContent = o.status;
    const button = row.querySelector("button");
    const what = o.kind === "prediction" ? `predicted ${o.label} ${o.confidence.toFixed(3)}` : `${o.label} ${o.instance}`;
    button.append(swatch(o.label), what);
    button.title = `highlight this ${o.kind === "prediction" ? "prediction" : "ground-truth instance"} (click)`;
    button.onclick = () => { highlight(o, loaded.frame.key); button.blur(); };
    row.cells[2].textContent = o.iou.toFixed(2);
    row.cells[2].title = "IoU with its match (or its best overlap)";
    return row;
  }));
}

function swatch(label) {
  const box = document.createElement("span");
  box.className = "swatch";
  const color = viewer.labelColors[label];
  if (color) box.style.background = `rgb(${color.join(",")})`;
  return box;
}

// ---- legend, highlights ---------------------------------------------------------------------
// The labels of the overlay shown, in the label table's colours, each shown or hidden.
function showLegend() {
  const overlay = viewer.shown && viewer.shown.overlay;
  const names = [];
  if (overlay && overlay.kind === "raster") {
    overlay.labels.forEach((name, k) => { if (name && overlay.present[k] && !names.includes(name)) names.push(name); });
  }
  $("legend-title").hidden = !names.length;
  $("legend").replaceChildren(...names.sort().map((name) => {
    const item = document.createElement("li");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !viewer.hidden.has(name);
    box.title = `show / hide ${name} (click)`;
    box.onchange = () => { setHidden(name, !box.checked); box.blur(); };
    const only = document.createElement("button");
    only.className = "link";
    only.title = `show only ${name}; again: every label (click)`;
    only.append(swatch(name), name);
    only.onclick = () => { solo(name); only.blur(); };
    item.append(box, only);
    return item;
  }));
}

function setHidden(name, hidden) {
  if (hidden) viewer.hidden.add(name); else viewer.hidden.delete(name);
  draw();
  showLegend();
}

// Only `name` shown (among the labels of the overlay and those hidden before); again: every label.
function solo(name) {
  const overlay = viewer.shown && viewer.shown.overlay;
  const others = new Set((overlay && overlay.labels || []).filter((n) => n && n !== name));
  const alone = !viewer.hidden.has(name) && [...others].every((n) => viewer.hidden.has(n));
  viewer.hidden = alone ? new Set() : others;
  draw();
  showLegend();
}

// One object of the list alone on its layer (switched to); clicked again: every object.
function highlight(object, frameKey) {
  const layer = object.kind === "prediction" ? "pred-instances" : "instances";
  const key = `${object.kind}:${object.entry || object.instance}`;
  if (viewer.focus && viewer.focus.key === key) {
    viewer.focus = null;
  } else {
    const shows = object.kind === "prediction" ? (overlay, k) => k === object.entry
      : (overlay, k) => overlay.names[k].endsWith(` ${object.instance}`);
    viewer.focus = {layer, key, frame: frameKey, shows};
  }
  if (viewer.layer !== layer) {
    viewer.layer = $("layer").value = layer;
    show(viewer.position);
  } else {
    draw();
  }
}

// The pixels of ground truth `truth` predicted as `predicted` (null: as a class not evaluated, none of
// `evaluated`) in the highlight colour on the errors layer (switched to), the others not shown; again: all.
function highlightPair(truth, predicted, evaluated, frameKey) {
  const key = `pair:${truth}:${predicted}`;
  if (viewer.focus && viewer.focus.key === key) {
    viewer.focus = null;
  } else {
    const shows = (overlay, k) => overlay.pairs[k][0] === truth &&
      (predicted === null ? !evaluated.includes(overlay.pairs[k][1]) : overlay.pairs[k][1] === predicted);
    viewer.focus = {layer: "errors", key, frame: frameKey, shows, color: PAIR_HIGHLIGHT};
  }
  if (viewer.layer !== "errors") {
    viewer.layer = $("layer").value = "errors";
    show(viewer.position);
  } else {
    draw();
  }
}

// ---- zoom and pan of the image ------------------------------------------------------------
// The canvas fills the stage (small images too); on top, a zoom and a pan of its own (CSS transform).
function fit() {
  const canvas = $("canvas"), stage = $("stage");
  const scale = Math.min((stage.clientWidth - 16) / canvas.width, (stage.clientHeight - 16) / canvas.height);
  canvas.style.width = `${Math.max(1, canvas.width * scale)}px`;
  canvas.style.height = `${Math.max(1, canvas.height * scale)}px`;
  setView(1, 0, 0);
}

function setView(scale, x, y) {
  viewer.view = {scale, x, y};
  $("canvas").style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
  drawLens();
}

// Zoom by `factor` about the stage point (cx, cy) (in the canvas's untransformed box).
function zoomAt(factor, cx, cy) {
  const {scale, x, y} = viewer.view;
  const next = Math.max(1, Math.min(32, scale * factor));
  if (next === 1) { setView(1, 0, 0); return; }
  setView(next, cx - (cx - x) * next / scale, cy - (cy - y) * next / scale);
}

function canvasPoint(event) {
  const canvas = $("canvas"), stage = $("stage").getBoundingClientRect();
  return [event.clientX - stage.left - canvas.offsetLeft, event.clientY - stage.top - canvas.offsetTop];
}

// Dragging moves the swipe divider (grabbed anywhere at the fitted size, near it when zoomed in), else
// pans a zoomed image.
function onPanStart(event) {
  if (event.button !== 0) return;
  const divider = swiping() && (viewer.view.scale === 1 || nearDivider(event));
  if (!divider && viewer.view.scale === 1) return;
  event.preventDefault();
  const start = {x: event.clientX, y: event.clientY, view: viewer.view};
  const move = divider ? (e) => setSwipe(swipeAt(e))
    : (e) => setView(start.view.scale, start.view.x + e.clientX - start.x, start.view.y + e.clientY - start.y);
  if (divider) move(event);
  const up = () => { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); };
  window.addEventListener("mousemove", move);
  window.addEventListener("mouseup", up);
}

// ---- two layers: outlines over the first, or swiped against it ----------------------------------
const swiping = () => Boolean(viewer.compare === "swipe" && viewer.shown && viewer.shown.second);

// Where the mouse is, as a fraction of the image's width.
function swipeAt(event) {
  const rect = $("canvas").getBoundingClientRect();
  return (event.clientX - rect.left) / rect.width;
}

const nearDivider = (event) =>
  Math.abs(swipeAt(event) - viewer.swipe) * $("canvas").getBoundingClientRect().width < DIVIDER_GRAB_PX;

function setSwipe(fraction) {
  viewer.swipe = Math.max(0, Math.min(1, fraction));
  draw();
  showHover();
}

function setSecondLayer(name) {
  viewer.layer2 = $("layer2").value = name;
  $("compare").disabled = name === "none";
  show(viewer.position);
}

function setCompare(mode) {
  viewer.compare = $("compare").value = mode;
  draw();
  showHover();
}

// ---- the label tool -------------------------------------------------------------------------
// csLabelTool is its own server (it writes; the viewer never does): the link opens the image's polygons
// there, and the command starts it.
function showEditLink(info) {
  const polygons = Object.values(info.layers).find((path) => /^gtFine\/.*_gtFine_polygons\.json$/.test(path));
  $("edit").hidden = !polygons;
  if (!polygons) return;
  $("edit-link").href = `http://127.0.0.1:${LABEL_TOOL_PORT}/#${encodeURIComponent(polygons)}`;
  $("edit-command").textContent = `csLabelTool ${viewer.root} --port ${LABEL_TOOL_PORT}`;
}

// ---- hover and zoom -----------------------------------------------------------------------
function imagePoint(event) {
  const canvas = $("canvas");
  const rect = canvas.getBoundingClientRect();
  const x = Math.floor((event.clientX - rect.left) * canvas.width / rect.width);
  const y = Math.floor((event.clientY - rect.top) * canvas.height / rect.height);
  return x >= 0 && y >= 0 && x < canvas.width && y < canvas.height ? {x, y, event} : null;
}

// What the overlay shows at image pixel (x, y): the label (and instance id) or the top box.
function nameAt(x, y) {
  const shown = viewer.shown;
  if (!shown) return "";
  if (shown.second && viewer.compare === "swipe") {
    return overlayNameAt(x >= Math.round(shown.base.width * viewer.swipe) ? shown.second : shown.overlay, x, y);
  }
  const [first, outlined] = [overlayNameAt(shown.overlay, x, y), shown.second && overlayNameAt(shown.second, x, y)];
  return outlined ? `${first}${first ? "; " : ""}outlined: ${outlined}` : first;
}

function overlayNameAt(overlay, x, y) {
  if (!overlay || x >= overlay.width || y >= overlay.height) return "";
  if (overlay.kind === "raster") return overlay.names[overlay.index[y * overlay.width + x]] || "";
  for (let i = overlay.boxes.length - 1; i >= 0; i--) {
    const [bx, by, bw, bh] = overlay.boxes[i].box;
    if (x >= bx && x < bx + bw && y >= by && y < by + bh) return overlay.boxes[i].name;
  }
  return "";
}

function onMouseMove(event) {
  viewer.mouse = imagePoint(event);
  showHover();
}

// The name under the mouse, beside it and in the side panel (also after the overlay changed).
function showHover() {
  const tip = $("tip");
  if (!viewer.mouse) { tip.hidden = true; $("hover").innerHTML = "&nbsp;"; drawLens(); return; }
  const event = viewer.mouse.event;
  const name = nameAt(viewer.mouse.x, viewer.mouse.y);
  $("hover").textContent = name ? `${name}  (${viewer.mouse.x}, ${viewer.mouse.y})` :
    `(${viewer.mouse.x}, ${viewer.mouse.y})`;
  const stage = $("stage").getBoundingClientRect();
  tip.hidden = !name;
  tip.textContent = name;
  tip.style.left = `${event.clientX - stage.left + 14}px`;
  tip.style.top = `${event.clientY - stage.top - (viewer.zoom ? 180 : 30)}px`;
  drawLens();
}

function drawLens() {
  const lens = $("lens");
  lens.hidden = !(viewer.zoom && viewer.mouse);
  if (lens.hidden) return;
  const {x, y, event} = viewer.mouse;
  const size = lens.width / viewer.zoomFactor;
  const context = lens.getContext("2d");
  context.imageSmoothingEnabled = false;
  context.fillStyle = "#000";
  context.fillRect(0, 0, lens.width, lens.height);
  context.drawImage($("canvas"), x - size / 2, y - size / 2, size, size, 0, 0, lens.width, lens.height);
  const stage = $("stage").getBoundingClientRect();
  lens.style.left = `${event.clientX - stage.left - lens.width / 2}px`;
  lens.style.top = `${event.clientY - stage.top - lens.height / 2}px`;
}

// ---- controls -----------------------------------------------------------------------------
function setAlpha(value) {
  viewer.alpha = Math.round(Math.max(0, Math.min(1, value)) * 10) / 10;
  $("alpha").value = viewer.alpha;
  $("alpha-value").textContent = viewer.alpha.toFixed(1);
  draw();
}

function setZoom(on) {
  viewer.zoom = on;
  $("zoom").classList.toggle("on", on);
  drawLens();
}

async function togglePlay() {
  viewer.playing = !viewer.playing;
  $("play").classList.toggle("on", viewer.playing);
  $("play").textContent = viewer.playing ? "pause" : "play";
  if (!viewer.playing) {
    if (viewer.shown) settle(viewer.shown);  // a show still in flight settles its own image
    return;
  }
  while (viewer.playing && viewer.position < viewer.list.length - 1) {
    await show(viewer.position + 1);
    await new Promise((resolve) => setTimeout(resolve, PLAY_PAUSE_MS));
  }
  if (viewer.playing) togglePlay();
}

function jump() {
  const name = $("jump").value.trim();
  if (!name) return;
  let position = viewer.list.findIndex((f) => f.id === name || f.key === name);
  if (position < 0) position = viewer.list.findIndex((f) => f.id.includes(name));
  if (position < 0) { status(`no image named ${name} in this list`, true); return; }
  $("jump").blur();
  show(position);
}

// `list` in the chosen order: by name, or worst `order` (a metric) first, unscored last.
function sortFrames(list, order, score) {
  if (order === "name") return list;
  return list.slice().sort((a, b) => {
    const va = score(a, order), vb = score(b, order);
    if (va == null || vb == null) return (va == null) - (vb == null);
    return va - vb;
  });
}

// The frames of the chosen split/city, in the chosen order.
async function rebuildList(keepKey) {
  const choice = $("city").value;
  let list = viewer.frames.filter((f) => choice === "" || `${f.split}/${f.city}` === choice);
  const order = $("order").value;
  if (order !== "name") {
    status("computing the scores of every image ...");
    const scores = await api("/api/scores");
    list = sortFrames(list, order, (f, metric) => (scores[f.key] || {})[metric]);
  }
  setList(list, keepKey);
}

function setList(list, key) {
  viewer.list = list;
  $("frame-names").replaceChildren(...list.map((f) => new Option(f.id)));
  const position = key ? list.findIndex((f) => f.key === key) : 0;
  return show(Math.max(0, position));
}

// ---- the grid of the split ------------------------------------------------------------------
// Tiles (made once per frame, then only reordered) with the thumbnail and the scores, which the server
// computes in the background and the page asks for until all are known.
const SUMMARY_POLL_MS = 400;
const grid = viewer.grid = {
  open: false, summaries: {}, pending: null, tiles: new Map(), list: [],
  openedAt: null, firstTileMs: null, scoresDoneMs: null, polling: false,
};

const scoreOf = (frame, metric) => ((grid.summaries[frame.key] || {}).scores || {})[metric];

function gridFrames() {
  const [city, name, cls] = [$("city").value, $("filter-name").value.trim(), $("filter-class").value];
  const [metric, low, high] = [$("filter-metric").value, $("score-min").value, $("score-max").value];
  let list = viewer.frames.filter((f) => (city === "" || `${f.split}/${f.city}` === city) && f.id.includes(name));
  if (cls) list = list.filter((f) => ((grid.summaries[f.key] || {}).classes || []).includes(cls));
  if (metric && (low !== "" || high !== "")) {
    list = list.filter((f) => {
      const value = scoreOf(f, metric);
      return value != null && (low === "" || value >= Number(low)) && (high === "" || value <= Number(high));
    });
  }
  return sortFrames(list, $("order").value, scoreOf);
}

function renderGrid() {
  grid.list = gridFrames();
  $("tiles").replaceChildren(...grid.list.map(tileOf));
  const pending = grid.pending ? `; ${grid.pending} still being scored` : "";
  $("grid-count").textContent = `${grid.list.length} of ${viewer.frames.length} images${pending}`;
}

function tileOf(frame) {
  if (grid.tiles.has(frame.key)) return grid.tiles.get(frame.key);
  const tile = document.createElement("button");
  tile.className = "tile";
  tile.dataset.key = frame.key;
  tile.title = `${frame.key}: open it (Enter)`;
  const image = new Image(256, 128);
  image.loading = "lazy";
  image.alt = frame.id;
  image.addEventListener("load", () => {
    if (grid.firstTileMs === null) requestAnimationFrame(() => { grid.firstTileMs = performance.now() - grid.openedAt; });
  }, {once: true});
  image.src = pathUrl("/api/thumbnail/", frame.key);
  const [name, scores] = [document.createElement("span"), document.createElement("span")];
  name.className = "name";
  name.textContent = frame.id;
  scores.className = "tile-scores";
  tile.append(image, name, scores);
  tile.onclick = () => openFromGrid(frame);
  grid.tiles.set(frame.key, tile);
  fillTile(tile);
  return tile;
}

function fillTile(tile) {
  const summary = grid.summaries[tile.dataset.key];
  const line = tile.lastChild;
  line.classList.toggle("pending", !summary);
  if (!summary) { line.textContent = viewer.pred ? "scoring ..." : ""; return; }
  if (summary.error) { line.textContent = "error"; line.title = summary.error; return; }
  line.textContent = Object.entries(summary.scores)
    .map(([metric, value]) => `${metric} ${value === null ? "n/a" : value.toFixed(3)}`).join("  ");
}

async function pollSummaries() {
  let data;
  try { data = await api("/api/summaries"); } catch (e) { status(e.message, true); grid.polling = false; return; }
  const known = grid.summaries;
  grid.summaries = data.summaries;
  grid.pending = data.pending;
  grid.tiles.forEach((tile, key) => { if (!(key in known)) fillTile(tile); });
  const bySummary = $("filter-class").value || $("score-min").value || $("score-max").value || $("order").value !== "name";
  if (grid.open && (bySummary || !data.pending)) renderGrid();
  if (data.pending) {
    setTimeout(pollSummaries, SUMMARY_POLL_MS);
  } else {
    grid.scoresDoneMs = performance.now() - grid.openedAt;
    grid.polling = false;
  }
}

function setGrid(open) {
  grid.open = open;
  $("tiles").hidden = $("grid-bar").hidden = !open;
  $("single").hidden = open;
  $("grid-button").classList.toggle("on", open);
  if (!open) return;
  if (viewer.playing) togglePlay();
  if (grid.openedAt === null) grid.openedAt = performance.now();
  renderGrid();
  if (!grid.polling && grid.pending !== 0) {
    grid.polling = true;
    pollSummaries();
  }
  const current = viewer.shown && grid.tiles.get(viewer.shown.frame.key);
  if (current && current.isConnected) { current.focus({preventScroll: true}); current.scrollIntoView({block: "nearest"}); }
}

// A tile opens its image; the arrow keys then step through the images the grid showed, in its order.
function openFromGrid(frame) {
  setGrid(false);
  setList(grid.list, frame.key);
}

// The tile before or after the focused one (arrow keys in the grid).
function stepTile(step) {
  const tiles = [...$("tiles").children];
  const at = tiles.indexOf(document.activeElement);
  const next = tiles[Math.max(0, Math.min(tiles.length - 1, at < 0 ? 0 : at + step))];
  if (next) { next.focus({preventScroll: true}); next.scrollIntoView({block: "nearest"}); }
}

function onGridKey(event) {
  const actions = {
    g: () => setGrid(false), Escape: () => setGrid(false),
    ArrowRight: () => stepTile(1), ArrowLeft: () => stepTile(-1),
    "/": () => $("filter-name").focus(), c: () => $("filter-class").focus(), m: () => $("filter-metric").focus(),
    n: () => $("score-min").focus(), x: () => $("score-max").focus(), o: () => $("city").focus(),
    s: () => $("order").focus(), h: () => { $("help").hidden = !$("help").hidden; },
  };
  if (event.ctrlKey || event.metaKey || event.altKey || !(event.key in actions)) return;
  event.preventDefault();
  actions[event.key]();
}

// Keys a focused dropdown keeps: moving through its options.  Every other shortcut works whatever
// control was used last (a slider or checkbox would take the arrows or space).
const DROPDOWN_KEYS = new Set(["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End", "Enter"]);

function onKey(event) {
  const target = event.target;
  if (target.tagName === "INPUT" && ["text", "search", "number"].includes(target.type)) {  // typing
    if (event.key === "Enter" && target.id === "jump") jump();
    if (event.key === "Escape" || event.key === "Enter") target.blur();
    return;
  }
  if (target.tagName === "SELECT" && DROPDOWN_KEYS.has(event.key)) return;
  if (grid.open) { onGridKey(event); return; }
  const actions = {
    ArrowRight: () => show(viewer.position + 1, performance.now()),
    ArrowLeft: () => show(viewer.position - 1, performance.now()),
    " ": togglePlay,
    "+": () => setAlpha(viewer.alpha + 0.1),
    "=": () => setAlpha(viewer.alpha + 0.1),
    "-": () => setAlpha(viewer.alpha - 0.1),
    z: () => setZoom(!viewer.zoom),
    0: () => setView(1, 0, 0),
    e: () => { if (!$("edit").hidden) window.open($("edit-link").href, "_blank"); },
    h: () => { $("help").hidden = !$("help").hidden; },
    i: () => $("jump").focus(),
    o: () => $("city").focus(),
    l: () => $("layer").focus(),
    y: () => $("layer2").focus(),
    w: () => setCompare(viewer.compare === "swipe" ? "outline" : "swipe"),
    "[": () => setSwipe(viewer.swipe - SWIPE_STEP),
    "]": () => setSwipe(viewer.swipe + SWIPE_STEP),
    s: () => $("order").focus(),
    p: () => { $("from-png").checked = !$("from-png").checked; show(viewer.position); },
    g: () => setGrid(true),
    f: () => { viewer.showPaths = !viewer.showPaths; $("paths").hidden = !viewer.showPaths; },
    Escape: () => { $("help").hidden = true; target.blur && target.blur(); if (viewer.playing) togglePlay(); },
  };
  if (event.ctrlKey || event.metaKey || event.altKey || !(event.key in actions)) return;
  event.preventDefault();
  actions[event.key]();
}

function onWheel(event) {
  event.preventDefault();
  if (event.ctrlKey) {
    setAlpha(viewer.alpha + (event.deltaY < 0 ? 0.1 : -0.1));
  } else if (viewer.zoom) {
    viewer.zoomFactor = Math.max(1, Math.min(16, viewer.zoomFactor * (event.deltaY < 0 ? 1.25 : 0.8)));
    drawLens();
  } else {
    zoomAt(event.deltaY < 0 ? 1.25 : 0.8, ...canvasPoint(event));
  }
}

async function start() {
  const data = await api("/api/frames");
  viewer.frames = data.frames;
  viewer.layers = data.layers;
  viewer.pred = data.pred;
  viewer.root = data.root;
  for (const label of data.labels) viewer.labelColors[label.name] = label.color;
  const cities = [...new Set(data.frames.map((f) => `${f.split}/${f.city}`))];
  $("city").replaceChildren(new Option("all images", ""), ...cities.map((c) => new Option(c.replace("/", " / "), c)));
  $("layer").replaceChildren(new Option("no overlay", "none"),
    ...Object.entries(data.layers).map(([name, title]) => new Option(title, name)));
  $("layer").value = viewer.layer;
  $("layer2").replaceChildren(new Option("no second layer", "none"),
    ...Object.entries(data.layers).map(([name, title]) => new Option(title, name)));
  $("compare").disabled = true;
  $("filter-class").append(...data.labels.map((l) => new Option(l.name, l.name)));
  $("filter-metric").hidden = $("score-min").hidden = $("score-max").hidden = !data.pred;
  if (data.pred) {
    for (const metric of ["mIoU", "AP", "PQ"]) {
      $("order").append(new Option(`worst ${metric} first`, metric));
      $("filter-metric").append(new Option(metric, metric));
    }
  }
  const wanted = decodeURIComponent(location.hash.slice(1));
  const first = data.frames.find((f) => f.key === wanted) || data.frames[0];
  $("city").value = `${first.split}/${first.city}`;
  // a choice made leaves the arrow keys to stepping; in the grid, the tiles follow every filter
  $("city").onchange = () => { $("city").blur(); if (grid.open) renderGrid(); else rebuildList(); };
  $("order").onchange = () => {
    $("order").blur();
    if (grid.open) renderGrid(); else rebuildList(viewer.shown && viewer.shown.frame.key);
  };
  for (const id of ["filter-class", "filter-metric"]) $(id).onchange = () => { $(id).blur(); renderGrid(); };
  for (const id of ["filter-name", "score-min", "score-max"]) $(id).oninput = renderGrid;
  $("grid-button").onclick = () => setGrid(!grid.open);
  $("layer").onchange = () => { viewer.layer = $("layer").value; $("layer").blur(); show(viewer.position); };
  $("layer2").onchange = () => { $("layer2").blur(); setSecondLayer($("layer2").value); };
  $("compare").onchange = () => { $("compare").blur(); setCompare($("compare").value); };
  $("from-png").onchange = () => show(viewer.position);
  $("alpha").oninput = () => setAlpha(Number($("alpha").value));
  $("prev").onclick = () => show(viewer.position - 1);
  $("next").onclick = () => show(viewer.position + 1);
  $("play").onclick = togglePlay;
  $("zoom").onclick = () => setZoom(!viewer.zoom);
  $("help-button").onclick = () => { $("help").hidden = !$("help").hidden; };
  $("jump").onchange = jump;
  $("canvas").addEventListener("mousemove", onMouseMove);
  $("canvas").addEventListener("mouseleave", () => { viewer.mouse = null; $("tip").hidden = true; drawLens(); });
  $("stage").addEventListener("wheel", onWheel, {passive: false});
  $("canvas").addEventListener("mousedown", onPanStart);
  $("fit").onclick = () => { setView(1, 0, 0); $("fit").blur(); };
  new ResizeObserver(fit).observe($("stage"));
  document.addEventListener("keydown", onKey);
  await rebuildList(first.key);
  viewer.ready = true;
}

start().catch((e) => status(e.message, true));
