// Intersection and union of two simple polygons, for csLabelTool's intersect / merge (the original's
// Ctrl+Shift / Ctrl+Alt click with a drawn polygon).  Greiner-Hormann clipping: the crossings of the
// two outlines are inserted in both, marked as entering or leaving the other polygon, and the result is
// traced from crossing to crossing.  Cityscapes polygons share borders (a neighbour's edge traced
// again), which Greiner-Hormann cannot take (a vertex on the other outline, collinear edges), so the
// first polygon is moved by a distinct sub-pixel amount per vertex first, and the result is rounded back
// to whole pixels, as the tool's vertices are.
"use strict";

// Rings of `a` op `b` (op "intersect" or "union"), largest first, whole-pixel vertices; [] when the
// intersection is empty, or the union is not one piece (the polygons do not overlap).
function clipPolygons(a, b, op) {
  const moved = a.map(([x, y], i) => [x + 1e-6 * Math.SQRT2 * (i + 1), y + 1e-6 * Math.sqrt(3) * (i + 1)]);
  const [first, second] = [ring(moved), ring(b)];
  let crossings = 0;
  for (const p of first) {  // the arrays hold the original vertices; crossings go into the rings
    for (const q of second) crossings += cross(p, nextOriginal(p), q, nextOriginal(q));
  }
  if (!crossings) {  // nested or apart
    const aInB = pointInPolygon(moved[0], b), bInA = pointInPolygon(b[0], moved);
    if (op === "intersect") return aInB ? [snapRing(a)] : (bInA ? [snapRing(b)] : []);
    return aInB ? [snapRing(b)] : (bInA ? [snapRing(a)] : []);
  }
  markEntries(first, b, op);
  markEntries(second, moved, op);
  const starts = [];  // the crossings, in the order of the first outline
  for (let node = first[0].next; node !== first[0]; node = node.next) if (node.crossing) starts.push(node);
  const rings = [];
  for (const start of starts) {
    if (start.visited) continue;
    const points = [];
    let current = start;
    do {
      current.visited = current.neighbour.visited = true;
      const forward = current.entry;
      do {
        current = forward ? current.next : current.prev;
        points.push([current.x, current.y]);
      } while (!current.crossing);
      current = current.neighbour;
    } while (!current.visited);
    const snapped = snapRing(points);
    if (snapped.length >= 3) rings.push(snapped);
  }
  rings.sort((p, q) => Math.abs(area(q)) - Math.abs(area(p)));
  return op === "union" ? rings.slice(0, 1) : rings;  // a union's other rings are its holes
}

// A polygon as a doubly linked ring of vertices.
function ring(points) {
  const nodes = points.map(([x, y]) => ({x, y, crossing: false, entry: false, visited: false, neighbour: null,
    alpha: 0, next: null, prev: null}));
  nodes.forEach((n, i) => { n.next = nodes[(i + 1) % nodes.length]; n.prev = nodes[(i + nodes.length - 1) % nodes.length]; });
  return nodes;
}

function nextOriginal(node) {
  let n = node.next;
  while (n.crossing) n = n.next;
  return n;
}

// Insert the crossing of edges p-p2 and q-q2 (if any) into both rings; 1 when inserted.
function cross(p, p2, q, q2) {
  const [dx, dy, ex, ey] = [p2.x - p.x, p2.y - p.y, q2.x - q.x, q2.y - q.y];
  const d = dx * ey - dy * ex;
  if (d === 0) return 0;
  const s = ((q.x - p.x) * ey - (q.y - p.y) * ex) / d;
  const t = ((q.x - p.x) * dy - (q.y - p.y) * dx) / d;
  if (!(s > 0 && s < 1 && t > 0 && t < 1)) return 0;
  const [x, y] = [p.x + s * dx, p.y + s * dy];
  const u = insertAt(p, p2, s, x, y), v = insertAt(q, q2, t, x, y);
  u.neighbour = v;
  v.neighbour = u;
  return 1;
}

function insertAt(from, to, alpha, x, y) {
  let after = from;
  while (after.next !== to && after.next.alpha < alpha) after = after.next;
  const node = {x, y, crossing: true, entry: false, visited: false, neighbour: null, alpha, next: after.next, prev: after};
  after.next.prev = node;
  after.next = node;
  return node;
}

// Crossings alternate entering and leaving `other`; a union traces the outside parts, so the reverse.
function markEntries(nodes, other, op) {
  let inside = pointInPolygon([nodes[0].x, nodes[0].y], other);
  let node = nodes[0];
  do {
    if (node.crossing) {
      node.entry = op === "union" ? inside : !inside;
      inside = !inside;
    }
    node = node.next;
  } while (node !== nodes[0]);
}

function pointInPolygon([x, y], polygon) {  // even-odd rule
  let result = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) result = !result;
  }
  return result;
}

// Whole pixels, without repeated or collinear vertices.
function snapRing(points) {
  const out = [];
  for (const [x, y] of points) {
    const p = [Math.round(x), Math.round(y)];
    const last = out[out.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
  }
  while (out.length > 1 && out[0][0] === out[out.length - 1][0] && out[0][1] === out[out.length - 1][1]) out.pop();
  return out.filter((p, i) => {
    const [a, b] = [out[(i + out.length - 1) % out.length], out[(i + 1) % out.length]];
    return (p[0] - a[0]) * (b[1] - a[1]) !== (p[1] - a[1]) * (b[0] - a[0]);
  });
}

function area(points) {
  let sum = 0;
  points.forEach(([x, y], i) => { const [u, v] = points[(i + 1) % points.length]; sum += x * v - u * y; });
  return sum / 2;
}
