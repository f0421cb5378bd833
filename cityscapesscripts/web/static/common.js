// Shared by the pages of csViewer and csLabelTool: error capture, JSON and image loading.
"use strict";

// Errors are kept for the browser tests (tests/browser.py reports them on a timeout).
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));

// GET (or POST with a JSON body) and parse the JSON answer; throws Error(the server's message), its
// `data` the whole answer.
async function api(url, body) {
  const options = body === undefined ? {} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(url, options);
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(data.error || `${response.status} ${url}`);
    error.data = data;  // the rest of the server's answer (a save conflict sends the file as it is now)
    throw error;
  }
  return data;
}

// fetch, throwing Error(the server's message) on an error status.
async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) {
    let message = `${response.status} ${url}`;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

// An image as an ImageBitmap with its stored pixel values (no colour management), so that
// label maps read back exactly.
async function loadBitmap(url) {
  const response = await fetchOk(url);
  return createImageBitmap(await response.blob(),
    {colorSpaceConversion: "none", premultiplyAlpha: "none"});
}

// The RGBA pixels of a bitmap as an ImageData.
function pixelsOf(bitmap) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", {willReadFrequently: true});
  context.drawImage(bitmap, 0, 0);
  return context.getImageData(0, 0, bitmap.width, bitmap.height);
}

// A URL path from segments, each percent-encoded.
function pathUrl(prefix, relpath) {
  return prefix + relpath.split("/").map(encodeURIComponent).join("/");
}

// A binary_response of the server: {header fields..., array} with the array typed by header.dtype
// ("uint8", "uint16", "uint32", "int32") and header.shape.
async function fetchBinary(url) {
  const response = await fetchOk(url);
  if ((response.headers.get("Content-Type") || "").startsWith("application/json")) return response.json();
  const buffer = await response.arrayBuffer();
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  const types = {uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int32: Int32Array};
  const count = header.shape.reduce((a, b) => a * b, 1);
  header.array = new types[header.dtype](buffer, 4 + length, count);
  return header;
}
