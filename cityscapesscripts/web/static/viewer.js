// csViewer's page: browse frames, draw the server's layers (index map + colour table) over the image.
"use strict";

const $ = (id) => document.getElementById(id);
const FRAME_CACHE_SIZE = 8;   // frames kept (the shown one, its prefetched neighbours, the last visited)
const LAYER_CACHE_SIZE = 16;  // overlays kept (a few per frame)
const PLAY_PAUSE_MS = 150;
const SCORES_DELAY_MS = 400;
const EXACT_DELAY_MS = 300;   // staying this long on an image swaps its JPEG for the exact PNG
const MAX_PREVIEW_SCALE = 8;  // as the server's

// State, also read by the browser tests.
const viewer = window.viewer = {
  ready: false, frames: [], list: [], position: 0, layer: "gtFine", alpha: 0.5, zoom: false, zoomFactor: 3,
  playing: false, shown: null, shownCount: 0, lastSwitchMs: null, switchTimes: [], layers: {}, pred: null,
  mouse: null, showPaths: true,
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

// A frame with the current overlay: {frame, base: {image, width, height, exact, info}, overlay, layerError}.
// The camera image, the frame's files and the overlay are fetched in parallel; the camera image as a
// JPEG at the canvas's size on screen, which the server makes and the browser decodes in a fraction of
// the PNG's time (and a fraction of its bytes through an SSH forward).
async function load(frame) {
  const [layer, from] = [viewer.layer, source()];
  const [base, drawn] = await Promise.all([
    cached(frameCache, frame.key, FRAME_CACHE_SIZE, async () => {
      const [preview, info] = await Promise.all([loadPreview(frame, previewScale()),
        api(pathUrl("/api/frame/", frame.key))]);
      return {...preview, exact: false, info};
    }),
    cached(layerCache, `${frame.key}|${layer}|${from}`, LAYER_CACHE_SIZE, () => fetchLayer(frame, layer, from)),
  ]);
  return {frame, base, ...drawn};
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
  return {overlay: await decodeLayer(payload)};
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

// A raster layer's index map coloured by its table (one lookup per pixel), or boxes drawn.
async function decodeLayer(payload) {
  const {width, height} = payload;
  const canvas = new OffscreenCanvas(width, height);
  if (payload.kind === "boxes") {
    drawBoxes(canvas.getContext("2d"), payload.boxes);
    return {kind: "boxes", boxes: payload.boxes, canvas, width, height};
  }
  const table = new Uint32Array(payload.colors.map(([r, g, b, a]) => (r | g << 8 | b << 16 | a << 24) >>> 0));
  const index = payload.array;
  const rgba = new ImageData(width, height);
  const out = new Uint32Array(rgba.data.buffer);  // RGBA bytes as little-endian words
  for (let i = 0; i < index.length; i++) out[i] = table[index[i]];
  canvas.getContext("2d").putImageData(rgba, 0, 0);
  return {kind: "raster", index, names: payload.names, canvas, width, height};
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
  viewer.shown = loaded;
  draw();
  describe(loaded);
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
  if (viewer.pred) $("scores").replaceChildren();  // never another image's scores beside this one
  if (!viewer.playing) settle(loaded);
}

// For an image looked at (not each one stepped or played past): its exact pixels and its scores, which
// take the server a while.  Also when play stops on it.
function settle(loaded) {
  const token = showToken;
  const current = () => token === showToken && viewer.shown === loaded;
  setTimeout(() => current() && loadExact(loaded).catch((e) => status(e.message, true)), EXACT_DELAY_MS);
  if (viewer.pred) setTimeout(() => current() && showScores(loaded, current), SCORES_DELAY_MS);
}

function draw() {
  const shown = viewer.shown;
  if (!shown) return;
  const canvas = $("canvas");
  const {base: {image, width, height}, overlay} = shown;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext("2d");
  context.globalAlpha = 1;
  context.drawImage(image, 0, 0, width, height);
  if (overlay) {
    context.globalAlpha = viewer.alpha;
    context.drawImage(overlay.canvas, 0, 0, width, height);
    context.globalAlpha = 1;
  }
  drawLens();
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
  $("problem").hidden = !info.problem;
  $("problem").textContent = info.problem || "";
  for (const option of $("layer").options) {
    option.textContent = (viewer.layers[option.value] || "no overlay") +
      (option.value === "none" || option.value in info.layers ? "" : " (none here)");
  }
}

async function showScores(loaded, current) {
  let scores;
  try { scores = await api(pathUrl("/api/scores/", loaded.frame.key)); } catch (e) { scores = {error: e.message}; }
  if (!current()) return;
  $("scores").replaceChildren(...Object.entries(scores).map(([metric, value]) => {
    const row = document.createElement("tr");
    row.innerHTML = "<td></td><td class=value></td>";
    row.cells[0].textContent = metric;
    row.cells[1].textContent = typeof value === "number" ? value.toFixed(3) : (value === null ? "n/a" : value);
    return row;
  }));
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
  const overlay = viewer.shown && viewer.shown.overlay;
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

// The frames of the chosen split/city, in the chosen order (scores: worst first, unscored last).
async function rebuildList(keepKey) {
  const choice = $("city").value;
  let list = viewer.frames.filter((f) => choice === "" || `${f.split}/${f.city}` === choice);
  const order = $("order").value;
  if (order !== "name") {
    status("computing the scores of every image ...");
    const scores = await api("/api/scores");
    const value = (f) => (scores[f.key] || {})[order];
    list = list.slice().sort((a, b) => {
      const va = value(a), vb = value(b);
      if (va == null || vb == null) return (va == null) - (vb == null);
      return va - vb;
    });
  }
  viewer.list = list;
  $("frame-names").replaceChildren(...list.map((f) => new Option(f.id)));
  const position = keepKey ? list.findIndex((f) => f.key === keepKey) : 0;
  await show(Math.max(0, position));
}

// Keys a focused dropdown keeps: moving through its options.  Every other shortcut works whatever
// control was used last (a slider or checkbox would take the arrows or space).
const DROPDOWN_KEYS = new Set(["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End", "Enter"]);

function onKey(event) {
  const target = event.target;
  if (target.tagName === "INPUT" && target.type === "text") {
    if (event.key === "Enter") jump();
    if (event.key === "Escape") target.blur();
    return;
  }
  if (target.tagName === "SELECT" && DROPDOWN_KEYS.has(event.key)) return;
  const actions = {
    ArrowRight: () => show(viewer.position + 1, performance.now()),
    ArrowLeft: () => show(viewer.position - 1, performance.now()),
    " ": togglePlay,
    "+": () => setAlpha(viewer.alpha + 0.1),
    "=": () => setAlpha(viewer.alpha + 0.1),
    "-": () => setAlpha(viewer.alpha - 0.1),
    z: () => setZoom(!viewer.zoom),
    h: () => { $("help").hidden = !$("help").hidden; },
    i: () => $("jump").focus(),
    o: () => $("city").focus(),
    l: () => $("layer").focus(),
    s: () => $("order").focus(),
    p: () => { $("from-png").checked = !$("from-png").checked; show(viewer.position); },
    f: () => { viewer.showPaths = !viewer.showPaths; $("paths").hidden = !viewer.showPaths; },
    Escape: () => { $("help").hidden = true; target.blur && target.blur(); if (viewer.playing) togglePlay(); },
  };
  if (event.ctrlKey || event.metaKey || event.altKey || !(event.key in actions)) return;
  event.preventDefault();
  actions[event.key]();
}

function onWheel(event) {
  if (event.ctrlKey) {
    event.preventDefault();
    setAlpha(viewer.alpha + (event.deltaY < 0 ? 0.1 : -0.1));
  } else if (viewer.zoom) {
    event.preventDefault();
    viewer.zoomFactor = Math.max(1, Math.min(16, viewer.zoomFactor * (event.deltaY < 0 ? 1.25 : 0.8)));
    drawLens();
  }
}

async function start() {
  const data = await api("/api/frames");
  viewer.frames = data.frames;
  viewer.layers = data.layers;
  viewer.pred = data.pred;
  const cities = [...new Set(data.frames.map((f) => `${f.split}/${f.city}`))];
  $("city").replaceChildren(new Option("all images", ""), ...cities.map((c) => new Option(c.replace("/", " / "), c)));
  $("layer").replaceChildren(new Option("no overlay", "none"),
    ...Object.entries(data.layers).map(([name, title]) => new Option(title, name)));
  $("layer").value = viewer.layer;
  if (data.pred) {
    for (const metric of ["mIoU", "AP", "PQ"]) $("order").append(new Option(`worst ${metric} first`, metric));
  }
  const wanted = decodeURIComponent(location.hash.slice(1));
  const first = data.frames.find((f) => f.key === wanted) || data.frames[0];
  $("city").value = `${first.split}/${first.city}`;
  // a choice made leaves the arrow keys to stepping
  $("city").onchange = () => { $("city").blur(); rebuildList(); };
  $("order").onchange = () => { $("order").blur(); rebuildList(viewer.shown && viewer.shown.frame.key); };
  $("layer").onchange = () => { viewer.layer = $("layer").value; $("layer").blur(); show(viewer.position); };
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
  document.addEventListener("keydown", onKey);
  await rebuildList(first.key);
  viewer.ready = true;
}

start().catch((e) => status(e.message, true));
