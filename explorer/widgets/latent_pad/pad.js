// latent_pad: decode a VAE decoder in the browser on every slider/pad move (Streamlit components v2).
//
// Streamlit calls the default export with {data, parentElement, setStateValue, setTriggerValue} when the
// component mounts and again whenever `data` changes. The first call for a parentElement builds the
// controls; every call applies the new data. Python reads two values (explorer/latent_pad.py):
//   state   "has"     the model_id whose weights this instance holds (so they are sent only once)
//   trigger "release" {z} when a slider or the pad is let go ({z, t} when moving along a direction: z is the
//                     sliders' own point, without t d)
// `data.along`: a direction d in z; its control (along.js) sets t, and every frame decodes z + t d instead of z.
// `data.posterior` ({mu, sigma, source} or null): the visitor's own input's p(z|x) = N(mu, diag sigma^2), drawn
// on the pad as the 2-sigma ellipse of the pad's two dimensions (their marginal: exact for a diagonal Gaussian).
// Both architectures the library builds are decoded by makeDecoder, in ../nets.js (the networks the browser runs,
// concatenated before this file by the component's Python): dense layers and transposed convolutions exactly as
// PyTorch computes them, a ReLU between layers, the sigmoid of the first C channels as the image.
"use strict";

// ---- one instance per mounted component ----
function createPad(root) {
  const $ = sel => root.querySelector(sel);
  const slidersEl = $("#sliders"), pad = $("#pad"), dot = $("#pad-dot"), padX = $("#pad-x"), padY = $("#pad-y");
  const postSvg = $("#pad-posterior"), postEllipse = $("#posterior-ellipse"), postMu = $("#posterior-mu");
  const postLabel = $("#posterior-label");
  const readout = $("#pad-readout"), statsEl = $("#stats"), canvas = $("#decoded-canvas");
  const ctx = canvas.getContext("2d");
  const small = document.createElement("canvas");
  const smallCtx = small.getContext("2d");

  const stats = {decodes: 0, frames: 0, events: 0, lastMs: 0, light: 0};  // light: renders without weights
  let decoder = null, modelId = null, pixels = null, imageData = null;
  let z = new Float32Array(0), zDim = 0;
  let limit = 4, step = 0.05, pair = [0, 1], order = [];
  let posterior = null, drawn = null;  // drawn: the ellipse on the pad now, in z units (for tests)
  let rafPending = false, lastSent = null, lastZ0Key = null, uiKey = null;
  const along = createAlong(root, {moved: schedule, released: release});  // z + t d (along.js)
  let send = {state: () => {}, trigger: () => {}};
  let texts = {stats: "{frames} / {ms} ms"};
  const rowsByDim = new Map();

  function setupCanvas() {
    const [, h, w] = decoder.imageShape;
    small.width = w; small.height = h;
    imageData = smallCtx.createImageData(w, h);
    pixels = decoder.pixels();
    const scale = Math.max(1, Math.floor(280 / Math.max(h, w)));
    canvas.width = w * scale; canvas.height = h * scale;
  }

  function draw(img) {
    const [c, h, w] = decoder.imageShape;
    const hw = h * w, d = imageData.data;
    for (let p = 0; p < hw; p++) {
      const q = 4 * p;
      if (c >= 3) {
        d[q] = img[p] * 255 + 0.5; d[q + 1] = img[hw + p] * 255 + 0.5; d[q + 2] = img[2 * hw + p] * 255 + 0.5;
      } else {
        const v = img[p] * 255 + 0.5;
        d[q] = v; d[q + 1] = v; d[q + 2] = v;
      }
      d[q + 3] = 255;
    }
    smallCtx.putImageData(imageData, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  }

  function decode(values, out) {
    stats.decodes++;
    return decoder.decodeInto(values, out);
  }

  function frame() {
    rafPending = false;
    if (!decoder) return;
    const t0 = performance.now();
    draw(decode(along.decoded(z), pixels));
    stats.lastMs = performance.now() - t0;
    stats.frames++;
    statsEl.textContent = texts.stats.replace("{frames}", stats.frames).replace("{ms}", stats.lastMs.toFixed(2));
  }

  function schedule() {
    stats.events++;
    if (!rafPending) { rafPending = true; requestAnimationFrame(frame); }
  }

  const round = v => Math.min(limit, Math.max(-limit, Math.round(v / step) * step));
  const fmt = v => (Math.abs(v) < 1e-9 ? 0 : v).toFixed(2);

  function release() {
    for (let i = 0; i < zDim; i++) z[i] = round(z[i]);
    syncControls();
    schedule();
    lastSent = Array.from(z, v => Number(v.toFixed(4)));
    const t = along.sent();
    send.trigger("release", t === null ? {z: lastSent, model_id: modelId} : {z: lastSent, model_id: modelId, t});
  }

  function buildControls(labels, active) {
    slidersEl.innerHTML = "";
    rowsByDim.clear();
    const cols = zDim > 8 ? 2 : 1;
    slidersEl.style.setProperty("--cols", cols);
    const perCol = Math.ceil(order.length / cols);  // read down the first column, then the second
    order.forEach((i, rank) => {
      const row = document.createElement("div");
      row.className = "row" + (active[i] ? "" : " inactive");
      row.dataset.dim = i;
      row.style.gridColumn = String(Math.floor(rank / perCol) + 1);
      row.style.gridRow = String((rank % perCol) + 1);
      const label = document.createElement("span");
      label.className = "label"; label.textContent = labels[i]; label.title = labels[i];
      const input = document.createElement("input");
      Object.assign(input, {type: "range", min: -limit, max: limit, step: step, value: z[i]});
      input.id = `z-${i}`;
      input.setAttribute("aria-label", labels[i]);
      const value = document.createElement("span");
      value.className = "value";
      input.addEventListener("input", () => { z[i] = parseFloat(input.value); value.textContent = fmt(z[i]); syncPad(); schedule(); });
      input.addEventListener("change", release);
      row.append(label, input, value);
      slidersEl.append(row);
      rowsByDim.set(i, {row, input, value});
    });
    for (const sel of [padX, padY]) {  // named as the sliders are: index, factor, KL
      sel.innerHTML = "";
      for (const i of order) sel.append(new Option(labels[i], String(i)));
    }
    padX.value = String(pair[0]); padY.value = String(pair[1]);
    const t = v => (v > 0 ? "+" : v < 0 ? "\u2212" : "") + String(Math.abs(Number(v.toFixed(2))));
    for (const [id, v] of [["#x-min", -limit], ["#x-max", limit], ["#y-min", -limit], ["#y-max", limit]]) $(id).textContent = t(v);
  }

  function syncPad() {
    const toPct = v => 50 + 50 * Math.max(-limit, Math.min(limit, v)) / limit;
    dot.style.left = toPct(z[pair[0]]) + "%";
    dot.style.top = (100 - toPct(z[pair[1]])) + "%";
    readout.textContent = `z_${pair[0]} = ${fmt(z[pair[0]])}, z_${pair[1]} = ${fmt(z[pair[1]])}`;
    rowsByDim.forEach((r, i) => r.row.classList.toggle("on-pad", i === pair[0] || i === pair[1]));
    syncPosterior();
  }

  function syncPosterior() {  // centre mu, half-axes 2 sigma along the pad's two axes, in percent of the pad
    const [i, j] = pair, p = posterior;
    const ok = p && i !== j && i < p.mu.length && j < p.mu.length;
    drawn = ok ? {cx: p.mu[i], cy: p.mu[j], rx: 2 * p.sigma[i], ry: 2 * p.sigma[j]} : null;
    postSvg.style.display = ok ? "" : "none";
    postLabel.hidden = !ok;
    if (!ok) return;
    const pct = v => 50 * v / limit;
    const set = (el, attrs) => { for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v)); };
    set(postEllipse, {cx: 50 + pct(drawn.cx), cy: 50 - pct(drawn.cy), rx: pct(drawn.rx), ry: pct(drawn.ry)});
    set(postMu, {cx: 50 + pct(drawn.cx), cy: 50 - pct(drawn.cy)});
    const text = p.mu.length > 2 ? texts.posterior_marginal : texts.posterior;
    postLabel.textContent = "\u25CC " + String(text || "").replace("{source}", () => p.source)
      .replace("{i}", i).replace("{j}", j);
  }

  function syncControls() {
    rowsByDim.forEach((r, i) => { r.input.value = String(z[i]); r.value.textContent = fmt(z[i]); });
    syncPad();
  }

  function onPair() {
    pair = [parseInt(padX.value, 10), parseInt(padY.value, 10)];
    syncPad();
  }
  padX.addEventListener("change", onPair);
  padY.addEventListener("change", onPair);

  let dragging = false;
  function padMove(ev) {
    const r = pad.getBoundingClientRect();
    const fx = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
    const fy = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
    z[pair[0]] = (2 * fx - 1) * limit;
    z[pair[1]] = (1 - 2 * fy) * limit;
    for (const i of pair) { const c = rowsByDim.get(i); if (c) { c.input.value = String(z[i]); c.value.textContent = fmt(z[i]); } }
    syncPad();
    schedule();
  }
  pad.addEventListener("pointerdown", ev => { dragging = true; pad.setPointerCapture(ev.pointerId); padMove(ev); });
  pad.addEventListener("pointermove", ev => { if (dragging) padMove(ev); });
  const padUp = ev => { if (!dragging) return; dragging = false; padMove(ev); release(); };
  pad.addEventListener("pointerup", padUp);
  pad.addEventListener("pointercancel", padUp);

  function setZ(values) {
    for (let i = 0; i < zDim; i++) z[i] = Math.max(-limit, Math.min(limit, Number(values[i]) || 0));
    syncControls();
    schedule();
  }

  function applyTexts(t) {  // the words Python sent, in the visitor's language
    texts = Object.assign({}, texts, t);
    if (t.waiting && !decoder) statsEl.textContent = t.waiting;
    if (t.pad) pad.title = t.pad;
    if (t.pad_x) padX.setAttribute("aria-label", t.pad_x);
    if (t.pad_y) padY.setAttribute("aria-label", t.pad_y);
    if (t.sliders) slidersEl.setAttribute("aria-label", t.sliders);
    if (t.image) canvas.setAttribute("aria-label", t.image);
    if (t.details) $("#details-title").textContent = t.details;
  }

  const near = (a, b) => a && b && a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= step / 2 + 1e-6);

  function render(data, setStateValue, setTriggerValue) {
    send = {state: setStateValue, trigger: setTriggerValue};
    applyTexts(data.texts || {});
    limit = data.limit; step = data.step;
    posterior = data.posterior || null;
    let rebuilt = false;
    if (!data.model) stats.light++;
    if (data.model_id !== modelId) {   // parse the weights only for a new model
      if (!data.model) {                // Python believes we hold them (e.g. this instance was remounted)
        send.state("has", null);
        return;
      }
      decoder = makeDecoder(data.model);
      zDim = decoder.zDim;
      modelId = data.model_id;
      setupCanvas();
      z = new Float32Array(zDim);
      pair = data.pair;
      lastSent = null; lastZ0Key = null; uiKey = null;
      rebuilt = true;
      send.state("has", modelId);       // from now on Python renders us without the weights
    }
    const key = JSON.stringify([data.order, data.labels, data.active]);
    if (key !== uiKey) {
      uiKey = key;
      order = data.order;
      buildControls(data.labels, data.active);
    }
    const z0Key = JSON.stringify(data.z0);
    if (z0Key !== lastZ0Key) {
      lastZ0Key = z0Key;
      // The echo of our own release (rounded by Python) must not move a slider being dragged now.
      if (rebuilt || !near(data.z0, lastSent)) setZ(data.z0);
    }
    along.apply(data.along, zDim, rebuilt, texts);
    syncControls();
    schedule();
  }

  // Hooks for tests and benchmarks (one component per page).
  const api = {
    decode(values) { return decode(Float32Array.from(values), decoder.pixels()); },
    get decodes() { return stats.decodes; },
    get frames() { return stats.frames; },
    get events() { return stats.events; },
    get lightRenders() { return stats.light; },  // Python has heard "has": it renders without the weights
    get modelId() { return modelId; },
    get z() { return Array.from(z); },
    get t() { return along.t; },
    get shown() { return Array.from(along.decoded(z)); },  // the z decoded: z + t d along a direction, else z
    get along() { return along.info; },
    get posterior() { return drawn && Object.assign({label: postLabel.textContent}, drawn); },
    get dims() { return [...slidersEl.querySelectorAll(".row")].map(r => +r.dataset.dim); },  // display order
    image() { return canvas.toDataURL(); },
    slider(rank) { return slidersEl.querySelectorAll("input[type=range]")[rank]; },
    setZ,
  };
  return {render, api};
}

const instances = new WeakMap();  // parentElement -> its pad, kept across renders

export default function (component) {
  const {data, parentElement, setStateValue, setTriggerValue} = component;
  let pad = instances.get(parentElement);
  if (!pad) {
    pad = createPad(parentElement);
    instances.set(parentElement, pad);
  }
  window.latentPad = pad.api;
  pad.render(data, setStateValue, setTriggerValue);
  return () => {
    if (window.latentPad === pad.api) delete window.latentPad;
  };
}
