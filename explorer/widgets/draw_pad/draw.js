// draw_pad: a canvas to draw a digit on with a mouse, a pen or a finger (Streamlit components v2).
//
// Streamlit calls the default export with {data, parentElement, setTriggerValue} when the component mounts and
// again whenever `data` changes. The first call for a parentElement builds the canvas; every call applies the
// new data. Python (explorer/widgets/draw_pad/__init__.py) reads one value:
//   trigger "drawing"  {png, strokes, version} on each stroke's release, on Undo and on Clear
// where png is the drawing at PNG_SIDE x PNG_SIDE as a data URL (null when empty), strokes the list of strokes as
// [x, y] points in [0, 1] (3 decimals) and version a counter. Python sends back {strokes, version, texts}: the
// canvas redraws Python's strokes when they are newer than or differ from its own (a remount, a clear from Python).
//
// With a model (data.live = {model_id, model}), the reconstruction follows the pen: at most once per animation frame
// while a stroke is drawn (and after each release, undo or clear) the drawing is painted at PNG_SIDE as Python gets
// it, prepared as the model's data was made (prepareDrawing, prepare.js), encoded to mu (makeEncoder, ../nets.js) and
// mu decoded (makeDecoder) into the small canvas beside it (createLive, live.js). The weights travel once per model:
// the state "has" names the model this instance holds. Python still receives the drawing on release and computes
// everything itself.
"use strict";

const INK = "#000000", PAPER = "#ffffff";
const WIDTH = 1 / 14;       // the stroke, as a fraction of the side (MNIST's strokes once scaled into 20x20)
const PNG_SIDE = 112;       // what Python gets: 4x the 28x28 the model sees
const DECIMALS = 3;         // points are sent rounded (1/1000 of the side, well under a pixel at 280 px)

const round = v => Number(Math.min(1, Math.max(0, v)).toFixed(DECIMALS));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Paint STROKES (points in [0, 1]) on CTX, a square of SIDE pixels: white paper, dark round-capped ink.
function paint(ctx, side, strokes) {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = PAPER;
  ctx.fillRect(0, 0, side, side);
  for (const s of strokes) inkPath(ctx, side, s, 0);
}

// Ink the part of STROKE from point FROM on (a dot for a one-point stroke).
function inkPath(ctx, side, stroke, from) {
  const w = WIDTH * side;
  ctx.strokeStyle = INK; ctx.fillStyle = INK;
  ctx.lineWidth = w; ctx.lineCap = "round"; ctx.lineJoin = "round";
  if (stroke.length === 1) {
    ctx.beginPath();
    ctx.arc(stroke[0][0] * side, stroke[0][1] * side, w / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  const start = Math.max(0, from - 1);
  ctx.beginPath();
  ctx.moveTo(stroke[start][0] * side, stroke[start][1] * side);
  for (let i = start + 1; i < stroke.length; i++) ctx.lineTo(stroke[i][0] * side, stroke[i][1] * side);
  ctx.stroke();
}

function createPad(root) {
  const $ = sel => root.querySelector(sel);
  const canvas = $("#canvas"), undoBtn = $("#undo"), clearBtn = $("#clear");
  const ctx = canvas.getContext("2d");
  const small = document.createElement("canvas");
  small.width = PNG_SIDE; small.height = PNG_SIDE;
  const smallCtx = small.getContext("2d");
  const live = createLive(root);

  let strokes = [];      // committed strokes
  let active = null;     // {id, points} while a pointer draws
  let version = -1;      // -1: nothing heard from Python yet
  let side = 0;          // the canvas's backing-store side in device pixels
  let trigger = () => {}, setState = () => {};
  let lastPng = null, sent = 0;
  live.follow(() => (active ? [...strokes, active.points] : strokes));

  function resize() {  // crisp on high-DPI screens: as many backing pixels as device pixels
    const css = canvas.clientWidth || 280;
    const next = Math.max(1, Math.round(css * (window.devicePixelRatio || 1)));
    if (next === side) return;
    side = next;
    canvas.width = side; canvas.height = side;
    repaint();
  }

  function repaint() {
    paint(ctx, side, strokes);
    if (active) inkPath(ctx, side, active.points, 0);
    undoBtn.disabled = clearBtn.disabled = strokes.length === 0;
    live.schedule();
  }

  function send() {
    version += 1;
    if (strokes.length) {
      paint(smallCtx, PNG_SIDE, strokes);
      lastPng = small.toDataURL("image/png");
    } else {
      lastPng = null;
    }
    sent += 1;
    trigger("drawing", {png: lastPng, strokes: strokes.map(s => s.map(p => p.slice())), version});
  }

  function point(ev) {  // the pointer in [0, 1] of the drawing area (inside the border)
    const r = canvas.getBoundingClientRect();
    const w = canvas.clientWidth || r.width, h = canvas.clientHeight || r.height;
    return [round((ev.clientX - r.left - canvas.clientLeft) / w), round((ev.clientY - r.top - canvas.clientTop) / h)];
  }

  function add(ev) {
    const p = point(ev), pts = active.points, last = pts[pts.length - 1];
    if (last && last[0] === p[0] && last[1] === p[1]) return false;
    pts.push(p);
    return true;
  }

  canvas.addEventListener("pointerdown", ev => {
    if (active || (ev.pointerType === "mouse" && ev.button !== 0)) return;
    ev.preventDefault();
    canvas.setPointerCapture(ev.pointerId);
    active = {id: ev.pointerId, points: []};
    add(ev);
    inkPath(ctx, side, active.points, 0);
    live.schedule();
  });

  canvas.addEventListener("pointermove", ev => {
    if (!active || ev.pointerId !== active.id) return;
    const from = active.points.length;
    const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [];
    let moved = false;
    for (const e of (events.length ? events : [ev])) moved = add(e) || moved;
    if (moved) { inkPath(ctx, side, active.points, from); live.schedule(); }
  });

  function release(ev) {
    if (!active || ev.pointerId !== active.id) return;
    if (ev.type === "pointerup") add(ev);
    strokes.push(active.points);
    active = null;
    repaint();
    send();
  }
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("lostpointercapture", release);

  undoBtn.addEventListener("click", () => { if (strokes.length) { strokes.pop(); repaint(); send(); } });
  clearBtn.addEventListener("click", () => { if (strokes.length) { strokes = []; repaint(); send(); } });

  if (window.ResizeObserver) new ResizeObserver(resize).observe(canvas);

  function applyTexts(t) {  // the words Python sent, in the visitor's language
    if (t.undo) undoBtn.textContent = t.undo;
    if (t.clear) clearBtn.textContent = t.clear;
    if (t.canvas) canvas.setAttribute("aria-label", t.canvas);
  }

  function render(data, setStateValue, setTriggerValue) {
    trigger = setTriggerValue;
    setState = setStateValue || setState;
    applyTexts(data.texts || {});
    const report = live.apply(data.live || null, (data.texts || {}).live);
    if (report !== undefined) setState("has", report);  // the weights held (null: Python must send them again)
    const theirs = Array.isArray(data.strokes) ? data.strokes : [];
    const v = Number.isInteger(data.version) ? data.version : 0;
    // Python's strokes win when they are newer, or as new and different (a clear from Python); the echo of our
    // own last release is the same drawing and changes nothing (nor a stroke being drawn meanwhile).
    if (version < 0 || v > version || (v === version && !same(theirs, strokes))) {
      strokes = theirs.map(s => s.map(p => [Number(p[0]), Number(p[1])]));
      version = v;
      active = null;
    }
    resize();
    repaint();
  }

  // Hooks for tests (one canvas per page): what it holds and sent, and a stroke drawn from given points.
  const api = {
    get strokes() { return strokes.map(s => s.map(p => p.slice())); },
    get version() { return version; },
    get sent() { return sent; },
    get png() { return lastPng; },
    get side() { return side; },
    stroke(points) { strokes.push(points.map(p => [round(p[0]), round(p[1])])); repaint(); send(); },
    image() { return canvas.toDataURL("image/png"); },
  };
  Object.defineProperties(api, Object.getOwnPropertyDescriptors(live.api));  // the live preview's counters
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
  window.drawPad = pad.api;
  pad.render(data || {}, setStateValue, setTriggerValue);
  return () => {
    if (window.drawPad === pad.api) delete window.drawPad;
  };
}
