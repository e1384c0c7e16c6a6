// toynn explore: the page. Plain JavaScript, no library, nothing fetched but this server's /api/.
// Sections: talking to the API, arrays and colours, the input (draw, upload, test images), the Layers view and
// the unit panel, the Filters view, the Backward view, the Train view, and the start.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, x: null, forward: null, view: "layers", testStart: 0, filterLayer: null, filter: null,
  latencies: [] };
window.toynnExplore = { state }; // for the browser tests and the curious: the current model, input and answers

// ---- talking to the API --------------------------------------------------------------------------------------
function pending(delta) {
  document.body.dataset.pending = String(Number(document.body.dataset.pending) + delta);
}

async function api(method, path, body) {
  pending(+1);
  try {
    const init = method === "GET" ? {} : { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    const res = await fetch(path, init);
    let data;
    try {
      data = await res.json();
    } catch (e) {
      data = { error: `${path}: the answer is not JSON (HTTP ${res.status})` };
    }
    if (!res.ok) throw new Error(data.error || `${path}: HTTP ${res.status}`);
    return data;
  } finally {
    pending(-1);
  }
}

function showError(err) {
  $("error-text").textContent = err && err.message ? err.message : String(err);
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

// ---- arrays and colours ----------------------------------------------------------------------------------------
function decode(enc) {
  const bin = atob(enc.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return { shape: enc.shape, data: new Float32Array(bytes.buffer) };
}

function range(data, from = 0, to = data.length) {
  let lo = Infinity, hi = -Infinity;
  for (let i = from; i < to; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo === Infinity ? 0 : lo, hi === -Infinity ? 0 : hi];
}

// a perceptual dark-to-yellow map (inferno's anchors) for values >= 0, blue-white-red for signed values
const SEQ = [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]];
const NAN_RGB = [140, 178, 242]; // outside the image
const BLANK = [255, 255, 255]; // cells after a layer's last unit, gaps between a filter's channels (-Infinity)

function sequential(t) {
  t = Math.min(1, Math.max(0, t)) * (SEQ.length - 1);
  const i = Math.min(SEQ.length - 2, Math.floor(t)), f = t - i;
  return SEQ[i].map((a, k) => a + (SEQ[i + 1][k] - a) * f);
}

function diverging(t) { // t in [-1, 1]
  t = Math.min(1, Math.max(-1, t));
  const end = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.abs(t);
  return [255 + (end[0] - 255) * a, 255 + (end[1] - 255) * a, 255 + (end[2] - 255) * a];
}

// a scale for values: signed (symmetric, diverging) when any is negative, else 0..max (sequential)
function scaleFor(lo, hi, forceSigned = false) {
  if (forceSigned || lo < 0) {
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return (v) => diverging(v / m);
  }
  const m = hi || 1;
  return (v) => sequential(v / m);
}

const grey = (v) => { const g = Math.min(1, Math.max(0, v)) * 255; return [g, g, g]; };

// paints h x w values data[offset...] into canvas (one pixel each; CSS enlarges it), colour(v) -> [r, g, b]
function paint(canvas, data, offset, h, w, colour) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    const v = data[offset + p];
    const c = offset + p >= data.length || v === -Infinity ? BLANK : Number.isNaN(v) ? NAN_RGB : colour(v);
    img.data[4 * p] = c[0];
    img.data[4 * p + 1] = c[1];
    img.data[4 * p + 2] = c[2];
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// an image (C, H, W) with C = 1 (grey) or 3 (colour), values in [0, 1]
function paintImage(canvas, data, offset, c, h, w, lo = 0, hi = 1) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  const s = (v) => Math.round(Math.min(1, Math.max(0, (v - lo) / ((hi - lo) || 1))) * 255);
  for (let p = 0; p < h * w; p++) {
    const nan = Number.isNaN(data[offset + p]);
    for (let k = 0; k < 3; k++) {
      const v = data[offset + (c === 3 ? k * h * w : 0) + p];
      img.data[4 * p + k] = nan ? NAN_RGB[k] : s(v);
    }
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// the model's input x as (C, H, W) for drawing: a flat square input is shown as one channel
function imageShape(shape) {
  if (shape.length === 3) return shape;
  const side = Math.round(Math.sqrt(shape[0]));
  return side * side === shape[0] ? [1, side, side] : [1, 1, shape[0]];
}

function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "pad";
  const s = Number(v).toFixed(digits);
  return s === (-0).toFixed(digits) ? (0).toFixed(digits) : s;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data-")) e.dataset[k.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = v;
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

function num(v, id, digits = 4) { // a number with its full value in data-value (the tests compare it)
  const attrs = { class: "n", text: fmt(v, digits), "data-value": String(v) };
  if (id) attrs.id = id;
  return el("span", attrs);
}

// ---- the input -------------------------------------------------------------------------------------------------
const draw = { canvas: null, ctx: null, down: false, last: null, inFlight: false, dirty: false };

function setupDrawing() {
  draw.canvas = $("draw");
  draw.ctx = draw.canvas.getContext("2d");
  clearCanvas();
  const pos = (e) => {
    const r = draw.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * draw.canvas.width / r.width, (e.clientY - r.top) * draw.canvas.height / r.height];
  };
  draw.canvas.addEventListener("pointerdown", (e) => {
    draw.down = true;
    draw.canvas.setPointerCapture(e.pointerId);
    draw.last = pos(e);
    stroke(draw.last, draw.last);
  });
  draw.canvas.addEventListener("pointermove", (e) => {
    if (!draw.down) return;
    const p = pos(e);
    stroke(draw.last, p);
    draw.last = p;
  });
  const up = () => {
    if (draw.down) requestUpdate();
    draw.down = false;
  };
  draw.canvas.addEventListener("pointerup", up);
  draw.canvas.addEventListener("pointercancel", up);
  $("clear").addEventListener("click", () => { clearCanvas(); requestUpdate(); });
  $("upload").addEventListener("change", upload);
}

function clearCanvas() {
  draw.ctx.fillStyle = "#000";
  draw.ctx.fillRect(0, 0, draw.canvas.width, draw.canvas.height);
}

function stroke(a, b) {
  const ctx = draw.ctx;
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = Number($("brush").value);
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0], b[1]);
  ctx.stroke();
  requestUpdate();
}

// while drawing, one request at a time: the newest drawing goes as soon as the last answer is in
function requestUpdate() {
  draw.dirty = true;
  if (!draw.inFlight) sendDrawing();
}

async function sendDrawing() {
  draw.dirty = false;
  draw.inFlight = true;
  try {
    await runForward({ image: draw.canvas.toDataURL("image/png") });
  } finally {
    draw.inFlight = false;
    if (draw.dirty) sendDrawing();
  }
}

function upload(e) {
  const file = e.target.files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => runForward({ image: reader.result });
  reader.onerror = () => showError(`could not read ${file.name}`);
  reader.readAsDataURL(file);
  e.target.value = "";
}

async function loadTests() {
  const m = state.model;
  if (!m.test_images) {
    $("tests").textContent = m.test_error || "no test images";
    return;
  }
  const ans = await api("GET", `/api/test_images?start=${state.testStart}&count=24`);
  const box = $("tests");
  box.textContent = "";
  const [c, h, w] = imageShape(m.input_shape);
  for (const item of ans.items) {
    const cv = el("canvas", { class: "pixels" });
    const x = decode(item.x);
    paintImage(cv, x.data, 0, c, h, w);
    const fig = el("figure", { title: `test image ${item.index}: ${item.name}`, "data-index": String(item.index) },
      cv, el("figcaption", { text: item.name }));
    fig.addEventListener("click", () => runForward({ test_index: item.index }));
    box.append(fig);
  }
}

async function runForward(request) {
  const t0 = performance.now();
  let f;
  try {
    f = await api("POST", "/api/forward", request);
  } catch (err) {
    showError(err);
    return;
  }
  clearError();
  state.forward = f;
  state.x = f.x;
  showInput(f);
  showLayers(f);
  const rt = performance.now() - t0; // request, answer, and drawing every layer: what one update costs
  state.latencies.push([rt, f.ms]);
  $("latency").textContent = `update: ${rt.toFixed(0)} ms round trip, ${f.ms.toFixed(1)} ms of it in the server`;
  document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
  if (!$("unit-panel").hidden && state.unit) openUnit(state.unit.layer, state.unit.index);
  if (state.view === "backward") showBackward();
}

function showInput(f) {
  const m = state.model;
  const [c, h, w] = imageShape(m.input_shape);
  const x = decode(f.x);
  paintImage($("seen"), x.data, 0, c, h, w);
  $("seen-note").textContent = `${m.input_shape.join("x")}` + (f.inverted ? ", inverted (dark on light)" : "");
  $("predicted").textContent = f.predicted_name;
  $("label").textContent = f.label !== null ? `(label: ${m.classes[f.label]})` : "";
  const box = $("probs");
  box.textContent = "";
  f.probs.forEach((p, k) => {
    const fill = el("div", { class: "fill" });
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    box.append(el("div", { class: k === f.predicted ? "bar top" : "bar", "data-class": String(k) },
      el("span", { text: m.classes[k] }), el("div", {}, fill), el("span", { class: "v", text: p.toFixed(3) })));
  });
}

// ---- the Layers view -------------------------------------------------------------------------------------------
// a layer's output for one image: (C, H, W) maps or (n,) units laid out as a grid of cells
function layout(shape) {
  if (shape.length === 3) {
    const [c, h, w] = shape;
    const scale = Math.max(2, Math.floor(Math.max(50, Math.min(112, 4 * w)) / w));
    return { maps: true, c, h, w, scale };
  }
  const n = shape.reduce((a, b) => a * b, 1);
  let cols = n <= 20 ? n : Math.ceil(Math.sqrt(4 * n)); // about twice as wide as high; a divisor of n if one is near
  for (let d = 0; n > 20 && d <= cols / 4; d++) {
    if (n % (cols + d) === 0) { cols += d; break; }
    if (n % (cols - d) === 0) { cols -= d; break; }
  }
  const rows = Math.ceil(n / cols);
  return { maps: false, n, cols, rows, cell: Math.max(6, Math.min(24, Math.floor(480 / cols))) };
}

function layerCard(layer, clickable, idPrefix) {
  const L = layout(layer.shape);
  const card = el("div", { class: "layer", id: `${idPrefix}-${layer.name}` },
    el("h3", {}, `${layer.name} · ${layer.type} `, el("span", { class: "note", text: `${layer.shape.join("x")}` })));
  const maps = el("div", { class: "maps" });
  const canvases = [];
  const count = L.maps ? L.c : 1;
  for (let c = 0; c < count; c++) {
    const cv = el("canvas", { class: "pixels", "data-layer": layer.name, "data-channel": String(c) });
    cv.style.width = `${L.maps ? L.w * L.scale : L.cols * L.cell}px`;
    cv.style.height = `${L.maps ? L.h * L.scale : L.rows * L.cell}px`;
    if (clickable) {
      cv.title = "click a unit";
      cv.addEventListener("click", (e) => {
        const fx = e.offsetX / cv.clientWidth, fy = e.offsetY / cv.clientHeight;
        if (L.maps) openUnit(layer.name, [c, Math.floor(fy * L.h), Math.floor(fx * L.w)], cv);
        else {
          const k = Math.floor(fy * L.rows) * L.cols + Math.floor(fx * L.cols);
          if (k < L.n) openUnit(layer.name, [k], cv);
        }
      });
    }
    canvases.push(cv);
    maps.append(cv);
  }
  card.append(maps);
  return { card, canvases, L };
}

function buildLayers() {
  const box = $("layers");
  box.textContent = "";
  state.layerCards = state.model.layers.map((layer) => {
    const made = layerCard(layer, true, "layer");
    box.append(made.card);
    return made;
  });
}

function paintLayer(made, values, signed = false) {
  const a = decode(values);
  const [lo, hi] = range(a.data);
  const colour = scaleFor(lo, hi, signed);
  const L = made.L;
  if (L.maps) {
    made.canvases.forEach((cv, c) => paint(cv, a.data, c * L.h * L.w, L.h, L.w, colour));
  } else {
    paint(made.canvases[0], a.data, 0, L.rows, L.cols, colour);
  }
}

function showLayers(f) {
  f.layers.forEach((layer, n) => paintLayer(state.layerCards[n], layer.values));
}

// ---- the unit panel: how one output was computed ---------------------------------------------------------------
async function openUnit(layer, index, canvas) {
  if (!state.x) return;
  document.querySelectorAll("canvas.selected").forEach((c) => c.classList.remove("selected"));
  if (canvas) canvas.classList.add("selected");
  state.unit = { layer, index };
  let u;
  try {
    u = await api("POST", "/api/unit", { x: state.x, layer, unit: index });
  } catch (err) {
    showError(err);
    return;
  }
  state.unitAnswer = u;
  renderUnit(u);
}

function table(rows, cols, value, cls) { // rows x cols numbers; value(r, c) -> number or null; cls(r, c) -> class
  const t = el("table", { class: "nums" });
  const head = el("tr", {}, el("th", { text: "" }));
  cols.forEach((c) => head.append(el("th", { text: String(c) })));
  t.append(head);
  rows.forEach((r, i) => {
    const tr = el("tr", {}, el("th", { text: String(r) }));
    cols.forEach((_, j) => {
      const v = value(i, j);
      const td = el("td", { text: fmt(v), "data-value": String(v) });
      const k = cls ? cls(i, j) : "";
      if (k) td.className = k;
      tr.append(td);
    });
    t.append(tr);
  });
  return t;
}

function renderUnit(u) {
  $("unit-panel").hidden = false;
  $("unit-title").textContent = `layer ${u.layer} (${u.type}), unit (${u.unit.join(", ")})`;
  drawField(u.field);
  const summary = $("unit-summary");
  summary.textContent = "";
  summary.append(el("div", { class: "eq" }, "the layer's output here: ", num(u.value, "unit-value")));
  const f = u.field;
  summary.append(el("div", { class: "small note", text: f.whole ? "sees the whole input" :
    `sees input rows ${f.top}..${f.bottom - 1}, columns ${f.left}..${f.right - 1}` }));
  const body = $("unit-body");
  body.textContent = "";
  const ok = (a, b) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));
  if (u.kind === "conv") {
    const g = u.geometry;
    body.append(el("p", { class: "small note", text: `kernel ${g.kernel.join("x")}, stride ${g.stride.join(",")}, ` +
      `padding ${g.padding.join(",")}, dilation ${g.dilation.join(",")}: the window of each input channel ` +
      "times the kernel, element by element, summed; cells marked pad are the zero padding." }));
    u.window.forEach((win, k) => {
      const rows = u.rows, cols = u.cols;
      const inside = (i, j) => (u.rows[i] >= 0 && u.cols[j] >= 0 && u.rows[i] < u.in_size[0] && u.cols[j] < u.in_size[1]);
      body.append(el("h4", { text: `input channel ${u.channels[k]}` }));
      const row = el("div", { class: "row" });
      row.append(el("figure", {}, table(rows, cols, (i, j) => win[i][j], (i, j) => inside(i, j) ? "" : "pad"),
        el("figcaption", { text: "window (input rows x columns)" })));
      row.append(el("figure", {}, table(rows.map((_, i) => i), cols.map((_, j) => j), (i, j) => u.kernel[k][i][j]),
        el("figcaption", { text: "kernel" })));
      row.append(el("figure", { class: "products" }, table(rows.map((_, i) => i), cols.map((_, j) => j), (i, j) => u.products[k][i][j]),
        el("figcaption", {}, "products, sum ", num(u.channel_sums[k]))));
      body.append(row);
    });
    if (u.channel_sums.length > 1) {
      body.append(el("div", { class: "eq small", text: `sum over the ${u.channel_sums.length} input channels: ` +
        u.channel_sums.map((s) => fmt(s)).join(" + ") }));
    }
    body.append(el("div", { class: "eq" }, "Σ window × kernel = ", num(u.sum, "unit-sum")));
    body.append(el("div", { class: "eq" }, "+ bias ", num(u.bias, "unit-bias")));
    body.append(el("div", { class: "eq" }, "= z = ", el("b", {}, num(u.z, "unit-z")),
      el("span", { class: ok(u.z, u.value) ? "ok" : "", text: ok(u.z, u.value) ? "  ✓ the layer's output" : "" })));
    if (u.activation) {
      body.append(el("div", { class: "eq" }, `then ${u.activation.type} (layer ${u.activation.layer}): ${u.activation.type}(z) = `,
        el("b", {}, num(u.activation.value, "unit-activation")),
        el("span", { class: "ok", text: ok(u.activation.value, u.activation.output) ? "  ✓" : "" })));
    }
  } else if (u.kind === "pool") {
    const win = u.window;
    const isWin = (i, j) => u.switch && u.switch[0] === i && u.switch[1] === j;
    const inside = (i, j) => !u.inside || u.inside[i][j];
    body.append(el("figure", {}, table(u.rows, u.cols, (i, j) => win[i][j], (i, j) => isWin(i, j) ? "win" : inside(i, j) ? "" : "pad"),
      el("figcaption", { text: `window of input channel ${u.unit[0]} (rows x columns)` })));
    if (u.op === "max") {
      body.append(el("div", { class: "eq" }, "max = ", el("b", {}, num(u.result, "unit-result")),
        `, from input (${u.switch_input.join(", ")}): the switch`,
        el("span", { class: "ok", text: ok(u.result, u.value) ? "  ✓" : "" })));
    } else {
      body.append(el("div", { class: "eq" }, `mean of ${u.count} values = `, el("b", {}, num(u.result, "unit-result")),
        el("span", { class: "ok", text: ok(u.result, u.value) ? "  ✓" : "" })));
    }
  } else if (u.kind === "linear") {
    const order = u.products.map((p, k) => k).sort((a, b) => Math.abs(u.products[b]) - Math.abs(u.products[a]));
    const top = order.slice(0, 12);
    const rest = order.slice(12).reduce((s, k) => s + u.products[k], 0);
    const t = el("table", { class: "nums" }, el("tr", {}, ...["input k", "x_k", "w_k", "x_k w_k"].map((h) => el("th", { text: h }))));
    top.forEach((k) => t.append(el("tr", {}, el("th", { text: String(k) }),
      ...[u.inputs[k], u.weights[k], u.products[k]].map((v) => el("td", { text: fmt(v), "data-value": String(v) })))));
    body.append(el("p", { class: "small note", text: `the ${Math.min(12, order.length)} largest of ${order.length} terms x_k w_k:` }), t);
    if (order.length > 12) body.append(el("div", { class: "eq small", text: `+ the other ${order.length - 12} terms: ${fmt(rest)}` }));
    body.append(el("div", { class: "eq" }, "Σ x_k w_k = ", num(u.sum, "unit-sum")));
    body.append(el("div", { class: "eq" }, "+ bias ", num(u.bias, "unit-bias")));
    body.append(el("div", { class: "eq" }, "= ", el("b", {}, num(u.z, "unit-z")),
      el("span", { class: "ok", text: ok(u.z, u.value) ? "  ✓ the layer's output" : "" })));
  } else if (u.kind === "flatten") {
    body.append(el("div", { class: "eq" }, `unit ${u.unit[0]} = the input at (${u.source.join(", ")}) = `, el("b", {}, num(u.input, "unit-result"))));
  } else if (u.kind === "pointwise") {
    body.append(el("div", { class: "eq" }, `${u.type}(`, num(u.input, "unit-input"), ") = ", el("b", {}, num(u.value, "unit-result"))));
  } else {
    body.append(el("p", { class: "note", text: `no worked arithmetic for ${u.type} layers; the value is shown above` }));
  }
}

function drawField(field) {
  const m = state.model;
  const [c, h, w] = imageShape(m.input_shape);
  const x = decode(state.x);
  const s = Math.max(1, Math.floor(140 / Math.max(h, w)));
  const cv = $("unit-field");
  const tmp = document.createElement("canvas");
  paintImage(tmp, x.data, 0, c, h, w);
  cv.width = w * s;
  cv.height = h * s;
  const ctx = cv.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, w * s, h * s);
  if (!field.whole || field.top !== undefined) {
    ctx.strokeStyle = "#ff3b30";
    ctx.lineWidth = 2;
    ctx.strokeRect(field.left * s + 1, field.top * s + 1, (field.right - field.left) * s - 2, (field.bottom - field.top) * s - 2);
  }
}

// ---- the Filters view ------------------------------------------------------------------------------------------
function setupFilters() {
  const sel = $("filter-layer");
  sel.textContent = "";
  for (const name of state.model.filter_layers) {
    const layer = state.model.layers.find((l) => l.name === name);
    sel.append(el("option", { value: name, text: `${name} · ${layer.type} ${layer.shape.join("x")}` }));
  }
  sel.addEventListener("change", () => showFilters(sel.value));
}

async function paintFilters(box, layer, onClick) {
  const ans = await api("GET", `/api/filters?layer=${encodeURIComponent(layer)}`);
  const w = decode(ans.weights);
  const [o, c, kh, kw] = w.shape;
  box.textContent = "";
  const per = c * kh * kw;
  const scale = Math.max(3, Math.floor(48 / Math.max(kh, kw)));
  const canvases = [];
  for (let f = 0; f < o; f++) {
    const cv = el("canvas", { class: "pixels", title: `filter ${f}`, "data-filter": String(f) });
    const [lo, hi] = range(w.data, f * per, (f + 1) * per);
    const colour = scaleFor(lo, hi, true);
    if (c === 3) {
      paintImage(cv, w.data.map((v) => 0.5 + v / (2 * (Math.max(Math.abs(lo), Math.abs(hi)) || 1))), f * per, 3, kh, kw);
      cv.style.width = `${kw * scale}px`;
    } else if (c <= 8) { // the c input channels side by side
      const strip = new Float32Array(kh * (c * (kw + 1) - 1)).fill(-Infinity);
      const sw = c * (kw + 1) - 1;
      for (let k = 0; k < c; k++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
        strip[i * sw + k * (kw + 1) + j] = w.data[f * per + k * kh * kw + i * kw + j];
      }
      paint(cv, strip, 0, kh, sw, colour);
      cv.style.width = `${sw * scale}px`;
    } else { // many input channels: their mean
      const mean = new Float32Array(kh * kw);
      for (let k = 0; k < c; k++) for (let p = 0; p < kh * kw; p++) mean[p] += w.data[f * per + k * kh * kw + p] / c;
      const [l2, h2] = range(mean);
      paint(cv, mean, 0, kh, kw, scaleFor(l2, h2, true));
      cv.style.width = `${kw * scale}px`;
    }
    cv.style.height = `${kh * scale}px`;
    if (onClick) cv.addEventListener("click", () => onClick(f, cv));
    canvases.push(cv);
    box.append(cv);
  }
  return { ans, w, canvases };
}

async function showFilters(layer) {
  state.filterLayer = layer;
  try {
    const { ans, w } = await paintFilters($("filters"), layer, (f, cv) => openFilter(layer, f, cv));
    state.filterWeights = { ans, w };
  } catch (err) {
    showError(err);
  }
}

async function openFilter(layer, f, cv) {
  document.querySelectorAll("#filters canvas.selected").forEach((c) => c.classList.remove("selected"));
  cv.classList.add("selected");
  state.filter = { layer, channel: f };
  $("filter-detail").hidden = false;
  $("filter-title").textContent = `layer ${layer}, filter ${f}`;
  const big = $("filter-big");
  const ctx = big.getContext("2d");
  big.width = cv.width;
  big.height = cv.height;
  ctx.drawImage(cv, 0, 0);
  big.style.width = `${Math.min(280, cv.width * 28)}px`;
  big.style.height = `${Math.min(280, cv.width * 28) * cv.height / cv.width}px`;
  const { ans, w } = state.filterWeights;
  const [, c, kh, kw] = w.shape;
  const nums = $("filter-numbers");
  nums.textContent = "";
  if (c <= 3 && kh * kw <= 49) {
    for (let k = 0; k < c; k++) {
      const off = f * c * kh * kw + k * kh * kw;
      nums.append(table([...Array(kh).keys()], [...Array(kw).keys()], (i, j) => w.data[off + i * kw + j]));
    }
  }
  if (ans.bias) nums.append(el("div", { class: "eq" }, "bias ", num(ans.bias[f])));
  $("crops").textContent = "";
  $("deconv").textContent = "";
  const layerInfo = state.model.layers.find((l) => l.name === layer);
  if (!state.model.topk_layers.includes(layer)) {
    $("topk-progress").textContent = layerInfo.kind === "linear" ? "(a Linear unit sees the whole input: no crops)" : "";
    return;
  }
  await showTopk(layer, f);
}

async function showTopk(layer, f) {
  const bar = $("topk-bar");
  let t;
  for (;;) {
    try {
      t = await api("GET", `/api/topk?layer=${encodeURIComponent(layer)}&channel=${f}`);
    } catch (err) {
      showError(err);
      return;
    }
    if (t.state === "error") {
      showError(t.error);
      return;
    }
    if (t.state === "done") break;
    bar.hidden = false;
    bar.value = t.progress;
    $("topk-progress").textContent = `computing over the test set (once per run): ${(100 * t.progress).toFixed(0)}%`;
    await new Promise((r) => setTimeout(r, 300));
    if (!state.filter || state.filter.layer !== layer || state.filter.channel !== f) return;
  }
  bar.hidden = true;
  $("topk-progress").textContent = `(receptive field ${t.field.size.join("x")}, ${t.items.length} of ${state.model.test_images} test images)`;
  const crops = decode(t.crops);
  const [, c, h, w] = crops.shape;
  const [lo, hi] = range(crops.data.filter((v) => !Number.isNaN(v)));
  const box = $("crops");
  box.textContent = "";
  t.items.forEach((item, r) => {
    const cv = el("canvas", { class: "pixels" });
    paintImage(cv, crops.data, r * c * h * w, c, h, w, Math.min(0, lo), Math.max(1, hi));
    box.append(el("figure", { class: "crop", "data-index": String(item.index) }, cv,
      el("figcaption", { text: `${fmt(item.value, 2)} · ${item.label}` })));
  });
  showDeconv(layer, f, c, h, w);
}

async function showDeconv(layer, f, c, h, w) {
  let d;
  try {
    d = await api("GET", `/api/deconv?layer=${encodeURIComponent(layer)}&channel=${f}`);
  } catch (err) {
    showError(err);
    return;
  }
  const box = $("deconv");
  box.textContent = "";
  if (state.model.layers.findIndex((l) => l.name === layer) === state.model.layers.findIndex((l) => l.kind === "conv")) {
    box.append(el("p", { class: "small note", text: "In the first layer a unit's projection is its filter " +
      "scaled by the activation, the same for every image; deeper layers show what in each image made the unit fire." }));
  }
  if (!d.available) {
    box.append(el("p", { class: "note", text: `not available: ${d.reason}` }));
    return;
  }
  const p = decode(d.projections);
  const per = c * h * w;
  for (let r = 0; r < p.shape[0]; r++) {
    const cv = el("canvas", { class: "pixels" });
    const vals = p.data.slice(r * per, (r + 1) * per).filter((v) => !Number.isNaN(v));
    const [lo, hi] = range(vals);
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    if (c === 3) paintImage(cv, p.data, r * per, 3, h, w, -m, m);
    else paint(cv, p.data, r * per, h, w, scaleFor(lo, hi, true));
    box.append(el("figure", { class: "projection" }, cv, el("figcaption", { text: `rank ${r + 1}` })));
  }
}

// ---- the Backward view -----------------------------------------------------------------------------------------
function setupBackward() {
  const sel = $("target");
  sel.append(el("option", { value: "", text: "the predicted class" }));
  state.model.classes.forEach((name, k) => sel.append(el("option", { value: String(k), text: name })));
  sel.addEventListener("change", showBackward);
  state.gradCards = state.model.layers.map((layer) => {
    const made = layerCard(layer, false, "grad");
    $("grads").append(made.card);
    return made;
  });
}

async function showBackward() {
  if (!state.x) return;
  const v = $("target").value;
  const target = v === "" ? state.forward.predicted : Number(v);
  let s;
  try {
    s = await api("POST", "/api/saliency", { x: state.x, target });
  } catch (err) {
    showError(err);
    return;
  }
  state.saliency = s;
  const [c, h, w] = imageShape(state.model.input_shape);
  const g = decode(s.input);
  const plane = new Float32Array(h * w); // channels summed (signed) and their largest magnitude
  const mag = new Float32Array(h * w);
  for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) {
    plane[p] += g.data[k * h * w + p];
    mag[p] = Math.max(mag[p], Math.abs(g.data[k * h * w + p]));
  }
  const [lo, hi] = range(plane);
  paint($("saliency"), plane, 0, h, w, scaleFor(lo, hi, true));
  paint($("saliency-abs"), mag, 0, h, w, scaleFor(0, range(mag)[1]));
  s.layers.forEach((layer, n) => paintLayer(state.gradCards[n], layer.values, true));
  if (!state.graphDrawn) showGraph();
}

async function showGraph() {
  let g;
  try {
    g = await api("POST", "/api/graph", { x: state.x });
  } catch (err) {
    showError(err);
    return;
  }
  state.graphDrawn = true;
  const NS = "http://www.w3.org/2000/svg";
  const mk = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const byRank = new Map();
  g.nodes.forEach((n, i) => { if (!byRank.has(n.rank)) byRank.set(n.rank, []); byRank.get(n.rank).push(i); });
  // top to bottom, one row per rank (inputs and parameters above the op that uses them)
  const colW = 104, rowH = 40, pos = [];
  let maxCol = 0;
  for (const [rank, ids] of byRank) {
    ids.forEach((i, k) => { pos[i] = [12 + k * colW, 12 + rank * rowH]; maxCol = Math.max(maxCol, k); });
  }
  const maxRank = Math.max(...g.nodes.map((n) => n.rank));
  const svg = mk("svg", { width: 40 + (maxCol + 1) * colW, height: 30 + (maxRank + 1) * rowH });
  for (const [a, b] of g.edges) {
    svg.append(mk("line", { x1: pos[a][0] + 40, y1: pos[a][1] + 24, x2: pos[b][0] + 40, y2: pos[b][1], stroke: "#9aa3b0" }));
  }
  g.nodes.forEach((n, i) => {
    const [x, y] = pos[i];
    const fill = n.kind === "op" ? "#fff4d6" : n.role === "param" ? "#e8f0fe" : n.role === "input" ? "#e6f4ea" : "#f3f4f6";
    svg.append(mk("rect", { x, y, width: 80, height: 24, rx: n.kind === "op" ? 2 : 10, fill, stroke: "#8892a0" }));
    const t = mk("text", { x: x + 40, y: y + 10, "text-anchor": "middle" });
    t.textContent = n.label || "";
    svg.append(t);
    if (n.shape) {
      const s = mk("text", { x: x + 40, y: y + 20, "text-anchor": "middle", fill: "#6a7280" });
      s.textContent = n.shape.join("x");
      svg.append(s);
    }
  });
  $("graph").textContent = "";
  $("graph").append(svg);
}

// ---- the Train view --------------------------------------------------------------------------------------------
function setupTrain() {
  for (const action of ["start", "pause", "step"]) {
    $(`train-${action}`).addEventListener("click", async () => {
      try {
        const s = await api("POST", "/api/train", { action, reset: $("train-reset").checked });
        showTrain(s);
        pollTrain();
      } catch (err) {
        showError(err);
      }
    });
  }
}

let polling = false, lastRefresh = 0;
async function pollTrain() {
  if (polling) return;
  polling = true;
  try {
    for (;;) {
      const s = await api("GET", "/api/train");
      showTrain(s);
      const now = performance.now();
      if (now - lastRefresh > 1500 || s.state !== "running") { // the views follow the weights, not every poll
        lastRefresh = now;
        await refreshTrainViews();
      }
      if (s.state !== "running") break;
      await new Promise((r) => setTimeout(r, 600));
    }
  } catch (err) {
    showError(err);
  } finally {
    polling = false;
  }
}

async function refreshTrainViews() {
  const layer = state.model.filter_layers[0];
  if (layer) await paintFilters($("train-filters"), layer, null);
  const st = await api("GET", "/api/stats");
  const t = $("stats");
  t.textContent = "";
  t.append(el("tr", {}, ...["layer", "type", "mean", "std", "min", "max", "zeros"].map((h, i) => el("th", { class: i < 2 ? "l" : "", text: h }))));
  for (const r of st.layers) {
    const bar = el("span", { class: "zbar" });
    bar.style.width = `${(60 * r.zeros).toFixed(0)}px`;
    t.append(el("tr", {}, el("td", { class: "l", text: r.layer }), el("td", { class: "l", text: r.type }),
      ...[r.mean, r.std, r.min, r.max].map((v) => el("td", { text: fmt(v, 3) })),
      el("td", {}, `${(100 * r.zeros).toFixed(1)}% `, bar)));
  }
  if (state.x) await runForward({ x: state.x });
}

function showTrain(s) {
  const where = s.run_dir ? ` → ${s.run_dir}` : "";
  const epoch = s.epochs ? `, epoch ${s.epoch.toFixed(2)} of ${s.epochs}` : "";
  $("train-state").textContent = `${s.state}: step ${s.step}${epoch}${where}` + (s.error ? ` (${s.error})` : "");
  if (s.error) showError(s.error);
  curve($("loss-curve"), s.losses, s.every || 1, s.steps_per_epoch, (s.history || []).map((e) => [e.epoch, e.val_loss]), "loss");
  curve($("acc-curve"), s.accs, s.every || 1, s.steps_per_epoch, (s.history || []).map((e) => [e.epoch, e.val_acc]), "accuracy", [0, 1]);
}

function curve(cv, ys, every, perEpoch, points, name, fixed) {
  const ctx = cv.getContext("2d");
  const W = cv.width, H = cv.height, pad = 30;
  ctx.clearRect(0, 0, W, H);
  ctx.strokeStyle = "#d9dde3";
  ctx.strokeRect(pad, 6, W - pad - 6, H - pad - 6);
  ctx.fillStyle = "#6a7280";
  ctx.font = "10px system-ui, sans-serif";
  if (!ys.length) {
    ctx.fillText(`no ${name} yet: press Start or Step`, pad + 10, H / 2);
    return;
  }
  const steps = ys.length * every;
  const vals = ys.concat(points.map((p) => p[1]).filter((v) => v !== undefined && v !== null));
  let [lo, hi] = fixed || range(Float32Array.from(vals));
  if (!fixed) lo = Math.min(0, lo);
  const X = (step) => pad + (W - pad - 6) * step / Math.max(steps, 1);
  const Y = (v) => 6 + (H - pad - 6) * (1 - (v - lo) / ((hi - lo) || 1));
  ctx.fillText(fmt(hi, 2), 2, 12);
  ctx.fillText(fmt(lo, 2), 2, H - pad);
  ctx.fillText("step", W - 30, H - 10);
  ctx.strokeStyle = "#8892a0";
  ctx.beginPath();
  ys.forEach((v, i) => (i ? ctx.lineTo(X(i * every), Y(v)) : ctx.moveTo(X(0), Y(v))));
  ctx.stroke();
  ctx.fillStyle = "#2f6fdb";
  for (const [e, v] of points) {
    if (v === undefined || v === null || e * perEpoch > steps) continue;
    ctx.beginPath();
    ctx.arc(X(e * perEpoch), Y(v), 4, 0, 2 * Math.PI);
    ctx.fill();
  }
}

// ---- the start -------------------------------------------------------------------------------------------------
function setupTabs() {
  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => {
    state.view = b.dataset.view;
    document.querySelectorAll("#tabs button").forEach((o) => o.classList.toggle("active", o === b));
    document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== `view-${state.view}`; });
    if (state.view === "backward") showBackward();
    if (state.view === "filters" && !state.filterLayer && state.model.filter_layers.length) showFilters(state.model.filter_layers[0]);
    if (state.view === "train") { refreshTrainViews().catch(showError); pollTrain(); }
  }));
}

async function start() {
  $("error-close").addEventListener("click", clearError);
  $("unit-close").addEventListener("click", () => { $("unit-panel").hidden = true; state.unit = null; });
  try {
    state.model = await api("GET", "/api/model");
  } catch (err) {
    showError(err);
    return;
  }
  const m = state.model;
  $("model-line").textContent = `${m.model} on ${m.data}: input ${m.input_shape.join("x")}, ${m.classes.length} classes, ` +
    `${m.params.toLocaleString("en")} parameters` + (m.run_dir ? `, run ${m.run_dir}` : "");
  setupDrawing();
  buildLayers();
  setupFilters();
  setupBackward();
  setupTrain();
  setupTabs();
  $("more-tests").addEventListener("click", () => {
    state.testStart = (state.testStart + 24) % Math.max(1, m.test_images);
    loadTests().catch(showError);
  });
  await loadTests().catch(showError);
  if (m.test_images) await runForward({ test_index: 0 });
  else await runForward({ image: draw.canvas.toDataURL("image/png") });
  document.body.dataset.ready = "1";
}

start();
