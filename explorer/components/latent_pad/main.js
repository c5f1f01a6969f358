// latent_pad: decode an MLP VAE decoder in the browser on every slider/pad move.
// Streamlit's component iframe protocol, by hand (no streamlit-component-lib, no build step):
//   iframe -> parent  {isStreamlitMessage: true, type: "streamlit:componentReady", apiVersion: 1}
//   parent -> iframe  {type: "streamlit:render", args, dfs, disabled, theme}   (on every script run)
//   iframe -> parent  {isStreamlitMessage: true, type: "streamlit:setComponentValue", value, dataType: "json"}
//   iframe -> parent  {isStreamlitMessage: true, type: "streamlit:setFrameHeight", height}
"use strict";

(function () {
  const send = (type, data) => window.parent.postMessage(Object.assign({isStreamlitMessage: true, type}, data), "*");

  // ---- the decoder: Float32Array weights, parsed once per model_id ----
  let modelId = null;
  let layers = [];          // [{w: Float32Array(out*in), b: Float32Array(out), nIn, nOut}]
  let buffers = [];         // one activation buffer per layer output
  let imageShape = [1, 1, 1];
  let zDim = 0;

  function b64ToFloat32(s) {
    const bin = atob(s);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);  // little-endian, as numpy "<f4" wrote it
  }

  function loadModel(model) {
    layers = model.layers.map(l => ({w: b64ToFloat32(l.w), b: b64ToFloat32(l.b), nIn: l.n_in, nOut: l.n_out}));
    buffers = layers.map(l => new Float32Array(l.nOut));
    imageShape = model.image_shape;
    zDim = layers[0].nIn;
  }

  // z -> sigmoid of the first C*H*W outputs; writes into and returns OUT (Float32Array(C*H*W)).
  function decodeInto(z, out) {
    let h = z;
    for (let k = 0; k < layers.length; k++) {
      const {w, b, nIn, nOut} = layers[k];
      const o = buffers[k];
      const last = k === layers.length - 1;
      for (let j = 0; j < nOut; j++) {
        let s = b[j];
        const row = j * nIn;
        for (let i = 0; i < nIn; i++) s += w[row + i] * h[i];
        o[j] = last ? s : (s > 0 ? s : 0);  // ReLU between layers
      }
      h = o;
    }
    const n = out.length;  // gaussian-learned: the mean is the first half of the outputs
    for (let p = 0; p < n; p++) out[p] = 1 / (1 + Math.exp(-h[p]));
    stats.decodes++;
    return out;
  }

  // ---- drawing: ImageData into an H x W offscreen canvas, then drawImage scaled (pixelated) ----
  const canvas = document.getElementById("decoded-canvas");
  const ctx = canvas.getContext("2d");
  const small = document.createElement("canvas");
  const smallCtx = small.getContext("2d");
  let imageData = null;
  let pixels = null;

  function setupCanvas() {
    const [c, h, w] = imageShape;
    small.width = w; small.height = h;
    imageData = smallCtx.createImageData(w, h);
    pixels = new Float32Array(c * h * w);
    const scale = Math.max(1, Math.floor(280 / Math.max(h, w)));
    canvas.width = w * scale; canvas.height = h * scale;
  }

  function draw(img) {
    const [c, h, w] = imageShape;
    const hw = h * w;
    const d = imageData.data;
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

  // ---- state and the rAF-coalesced redraw ----
  const stats = {decodes: 0, frames: 0, events: 0, lastMs: 0};
  let z = new Float32Array(0);
  let limit = 4, step = 0.05;
  let pair = [0, 1];
  let order = [];
  let rafPending = false;
  let lastSent = null;      // z as last sent on release (rounded)
  let lastZ0Key = null;
  let uiKey = null;
  const rowsByDim = new Map();

  function frame() {
    rafPending = false;
    if (!layers.length) return;
    const t0 = performance.now();
    decodeInto(z, pixels);
    draw(pixels);
    stats.lastMs = performance.now() - t0;
    stats.frames++;
    statsEl.textContent = `decoded in the browser: ${stats.frames} frames, last ${stats.lastMs.toFixed(2)} ms`;
  }

  function schedule() {
    stats.events++;
    if (!rafPending) { rafPending = true; requestAnimationFrame(frame); }
  }

  const round = v => Math.min(limit, Math.max(-limit, Math.round(v / step) * step));
  const fmt = v => (Math.abs(v) < 1e-9 ? 0 : v).toFixed(2);

  // Every value says which model's weights this iframe holds, so Python sends them only when needed.
  let messages = 0;
  function sendValue(kind, extra) {
    send("streamlit:setComponentValue", {value: {kind, has: modelId, n: ++messages, ...extra}, dataType: "json"});
  }

  function release() {
    for (let i = 0; i < zDim; i++) z[i] = round(z[i]);
    syncControls();
    schedule();
    lastSent = Array.from(z, v => Number(v.toFixed(4)));
    sendValue("release", {z: lastSent});
  }

  // ---- the controls ----
  const slidersEl = document.getElementById("sliders");
  const pad = document.getElementById("pad");
  const dot = document.getElementById("pad-dot");
  const padX = document.getElementById("pad-x");
  const padY = document.getElementById("pad-y");
  const readout = document.getElementById("pad-readout");
  const statsEl = document.getElementById("stats");

  function buildControls(labels, active) {
    slidersEl.innerHTML = "";
    rowsByDim.clear();
    slidersEl.style.setProperty("--cols", zDim > 8 ? 2 : 1);
    // read down the first column, then the second (as the standard sliders page does)
    const perCol = Math.ceil(order.length / (zDim > 8 ? 2 : 1));
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
    for (const sel of [padX, padY]) {
      sel.innerHTML = "";
      for (const i of order) sel.append(new Option(`z_${i}`, String(i)));
    }
    padX.value = String(pair[0]); padY.value = String(pair[1]);
  }

  function syncPad() {
    const toPct = v => 50 + 50 * Math.max(-limit, Math.min(limit, v)) / limit;
    dot.style.left = toPct(z[pair[0]]) + "%";
    dot.style.top = (100 - toPct(z[pair[1]])) + "%";
    readout.textContent = `z_${pair[0]} = ${fmt(z[pair[0]])}, z_${pair[1]} = ${fmt(z[pair[1]])}`;
    rowsByDim.forEach((r, i) => r.row.classList.toggle("on-pad", i === pair[0] || i === pair[1]));
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

  function applyTheme(theme) {
    if (!theme) return;
    const root = document.documentElement.style;
    if (theme.textColor) root.setProperty("--text", theme.textColor);
    if (theme.backgroundColor) root.setProperty("--bg", theme.backgroundColor);
    if (theme.primaryColor) root.setProperty("--primary", theme.primaryColor);
    if (theme.font) root.setProperty("--font", theme.font);
  }

  const near = (a, b) => a && b && a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= step / 2 + 1e-6);

  function onRender(args, theme) {
    applyTheme(theme);
    limit = args.limit; step = args.step;
    let rebuilt = false;
    if (args.model_id !== modelId) {   // parse the weights only for a new model
      if (!args.model) {                // Python believes we hold them (e.g. this iframe was remounted)
        sendValue("need", {});
        return;
      }
      loadModel(args.model);
      modelId = args.model_id;
      setupCanvas();
      z = new Float32Array(zDim);
      pair = args.pair;
      lastSent = null; lastZ0Key = null; uiKey = null;
      rebuilt = true;
      sendValue("loaded", {});         // from now on Python renders us without the weights
    }
    const key = JSON.stringify([args.order, args.labels, args.active]);
    if (key !== uiKey) {
      uiKey = key;
      order = args.order;
      buildControls(args.labels, args.active);
    }
    const z0Key = JSON.stringify(args.z0);
    if (z0Key !== lastZ0Key) {
      lastZ0Key = z0Key;
      // The echo of our own release (rounded by Python) must not move a slider being dragged now.
      if (rebuilt || !near(args.z0, lastSent)) setZ(args.z0);
    }
    syncControls();
    schedule();
    resize();
  }

  let lastHeight = -1;
  function resize() {
    const h = Math.ceil(document.documentElement.getBoundingClientRect().height) + 2;
    if (h !== lastHeight) { lastHeight = h; send("streamlit:setFrameHeight", {height: h}); }
  }
  new ResizeObserver(resize).observe(document.body);

  window.addEventListener("message", ev => {
    const d = ev.data;
    if (d && d.type === "streamlit:render") onRender(d.args || {}, d.theme);  // d.dfs: no dataframes used
  });

  // Hooks for tests and benchmarks.
  window.latentPad = {
    decode(values) {
      const zz = Float32Array.from(values);
      return decodeInto(zz, new Float32Array(imageShape[0] * imageShape[1] * imageShape[2]));
    },
    get decodes() { return stats.decodes; },
    get frames() { return stats.frames; },
    get events() { return stats.events; },
    get modelId() { return modelId; },
    get z() { return Array.from(z); },
    setZ,
  };

  send("streamlit:componentReady", {apiVersion: 1});
})();
