// live.js: draw_pad's live preview, the reconstruction that follows the pen (concatenated after ../nets.js and
// prepare.js, before draw.js, by the component's Python). At most once per animation frame it paints the strokes
// (with the one being drawn) at PNG_SIDE exactly as the PNG Python receives is painted, prepares them as the
// model's data was made (prepareDrawing), encodes them to mu (E3) and decodes mu into a small canvas. Counters for
// tests and benchmarks join window.drawPad.
"use strict";

const REC_SIDE = 112;       // the reconstruction's side on screen (CSS pixels, a whole multiple of the image's)

// The model's networks, the drawing read back at PNG_SIDE, the reconstruction drawn at REC_SIDE.
function createLive(root) {
  const figure = root.querySelector("#live"), out = root.querySelector("#live-canvas");
  const outCtx = out.getContext("2d");
  const source = document.createElement("canvas");
  source.width = PNG_SIDE; source.height = PNG_SIDE;
  const sourceCtx = source.getContext("2d", {willReadFrequently: true});
  const image = document.createElement("canvas"), imageCtx = image.getContext("2d");
  const stats = {frames: 0, lastMs: 0, lastNetMs: 0, times: [], netTimes: []};
  let net = null, heldId = null, on = false, pending = false, mu = null, logvar = null, pixels = null, pixelData = null;
  let last = null, lastEnd = 0, strokesNow = () => [];

  function hold(id, model) {  // parse the weights of model ID (once per model)
    const encoder = makeEncoder(model.encoder), decoder = makeDecoder(model.decoder);
    net = {encoder, decoder, style: model.style, shape: model.encoder.image_shape};
    heldId = id;
    mu = new Float32Array(encoder.zDim); logvar = new Float32Array(encoder.zDim); pixels = decoder.pixels();
    const [, h, w] = decoder.imageShape;
    image.width = w; image.height = h;
    pixelData = imageCtx.createImageData(w, h);
    const scale = Math.max(1, Math.floor(REC_SIDE / Math.max(h, w)));
    out.width = w * scale; out.height = h * scale;
  }

  // The pipeline on STROKES: {x, mu, logvar, recon} (copies), or null for a blank drawing; times it.
  function run(strokes) {
    const t0 = performance.now();
    paint(sourceCtx, PNG_SIDE, strokes);
    const rgba = sourceCtx.getImageData(0, 0, PNG_SIDE, PNG_SIDE).data;
    const grey = {v: new Float32Array(PNG_SIDE * PNG_SIDE), h: PNG_SIDE, w: PNG_SIDE};
    for (let p = 0; p < grey.v.length; p++) grey.v[p] = rgba[4 * p] / 255;  // R = G = B: grey ink on white
    const prepared = prepareDrawing(grey, net.style, net.shape);
    if (!prepared) return null;
    const t1 = performance.now();
    net.encoder.encodeInto(prepared.x, mu, logvar);
    net.decoder.decodeInto(mu, pixels);
    const t2 = performance.now();
    return {x: prepared.x, mu: Array.from(mu), logvar: Array.from(logvar), recon: pixels, t0, netMs: t2 - t1};
  }

  function show(recon) {
    if (!recon) { outCtx.clearRect(0, 0, out.width, out.height); return; }
    const [c, h, w] = net.decoder.imageShape, hw = h * w, d = pixelData.data;
    for (let p = 0; p < hw; p++) {
      const q = 4 * p, g = recon[p] * 255 + 0.5;
      d[q] = g;
      d[q + 1] = c >= 3 ? recon[hw + p] * 255 + 0.5 : g;
      d[q + 2] = c >= 3 ? recon[2 * hw + p] * 255 + 0.5 : g;
      d[q + 3] = 255;
    }
    imageCtx.putImageData(pixelData, 0, 0);
    outCtx.imageSmoothingEnabled = false;
    outCtx.drawImage(image, 0, 0, out.width, out.height);
  }

  function frame() {
    pending = false;
    if (!on) return;
    const strokes = strokesNow();
    const r = strokes.length ? run(strokes) : null;
    show(r && r.recon);
    last = r && {x: Array.from(r.x), mu: r.mu, logvar: r.logvar};
    lastEnd = performance.now();
    if (!r) return;
    stats.frames++;
    stats.lastMs = lastEnd - r.t0; stats.lastNetMs = r.netMs;
    stats.times.push(stats.lastMs); stats.netTimes.push(r.netMs);
    if (stats.times.length > 500) { stats.times.shift(); stats.netTimes.shift(); }
  }

  function schedule() {  // at most once per animation frame; a slow model (over a frame) at most half the time
    if (!on || pending) return;
    pending = true;
    const wait = stats.lastMs > 16 ? Math.max(0, lastEnd + stats.lastMs - performance.now()) : 0;
    if (wait > 0) setTimeout(() => requestAnimationFrame(frame), wait); else requestAnimationFrame(frame);
  }

  // data.live: {model_id, model (null when Python knows we hold it)} or null (no live preview). Returns the model
  // id to report in "has" when it changed, else undefined.
  function apply(liveData, label) {
    if (label) { figure.querySelector("#live-label").textContent = label; out.setAttribute("aria-label", label); }
    let report;
    if (!liveData) {
      on = false;
    } else if (liveData.model_id !== heldId) {
      if (liveData.model) { hold(liveData.model_id, liveData.model); report = heldId; } else report = null;
      on = Boolean(liveData.model);
    } else {
      on = true;
    }
    figure.hidden = !on;
    schedule();
    return report;
  }

  const api = {
    get liveFrames() { return stats.frames; },
    get lastEncodeMs() { return stats.lastMs; },   // the whole frame: paint, prepare, encode, decode
    get lastNetMs() { return stats.lastNetMs; },   // encode + decode
    get liveTimes() { return stats.times.slice(); },
    get liveNetTimes() { return stats.netTimes.slice(); },
    get liveModelId() { return on ? heldId : null; },
    get liveLast() { return last; },               // the last frame's x, mu and logvar (null: blank)
    preview() { if (!on) return null; const r = strokesNow().length ? run(strokesNow()) : null;
                return r && {x: Array.from(r.x), mu: r.mu, logvar: r.logvar, recon: Array.from(r.recon)}; },
    liveImage() { return out.toDataURL("image/png"); },
    timeNets(n) {  // ms per encode + decode of the last frame's x, over N runs (for benchmarks: the clock is coarse)
      if (!on || !last) return null;
      const x = Float32Array.from(last.x), t0 = performance.now();
      for (let i = 0; i < n; i++) { net.encoder.encodeInto(x, mu, logvar); net.decoder.decodeInto(mu, pixels); }
      return (performance.now() - t0) / n;
    },
  };
  return {apply, schedule, api, follow(f) { strokesNow = f; }};
}

