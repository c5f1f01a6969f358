// map_canvas: the Latent map's points drawn by regl-scatterplot (Streamlit components v2).
//
// regl_scatterplot.js, put before this file by Python (explorer/widgets/map_canvas/__init__.py), defines
// `reglScatterplot` = {createScatterplot, createRenderer}. Python sends (data):
//   points   an Arrow table x, y (float32, the plotted plane mapped onto [-1, 1]), c (colour class), i (point
//            index), or null when this browser already holds the table named `key` (state "has")
//   palette  [r, g, b, a] per colour class (0..1);  legend  what the classes and lines are
//   lines    polylines [{vertices, color, width}] in the same [-1, 1] square (contours, ellipses, crosses)
//   image    a PNG data URL filling the square (the decoded grid), or null
//   extent   [x0, x1, y0, y1]: the plotted plane's values at the square's edges (for the axes' ticks)
//   titles   the axes' titles;  picked  the point index to ring (the library's selection outline), or null
// It reports:  state "has" (the table it holds), trigger "selected" (point indices of a click or a lasso).
// window.mapCanvas: {n, firstPaint, draws, ready, screenOf(index)} for the benchmarks and browser tests.
"use strict";

const {createScatterplot, createRenderer} = reglScatterplot;
const tables = new Map();          // key -> {x, y, c, i, at}: at[index] = position in x, y (or -1)
const instances = new WeakMap();   // parentElement -> instance
// Level of detail: while the camera moves, a map of more than MOVING_POINTS points draws an even share of them
// (every k-th, so the greyed and the selected keep their proportions), and all of them again REST_MS after it
// stops. Software WebGL is bound by the points it draws each frame (docs/benchmarks.md).
const MOVING_POINTS = 100000;     // window.mapCanvas.movingPoints changes it (a browser test, on 1,000 points)
const REST_MS = 180;

function readTable(table) {
  const x = table.getChild("x").toArray(), y = table.getChild("y").toArray();
  const c = Float32Array.from(table.getChild("c").toArray(), Number);
  const i = Int32Array.from(table.getChild("i").toArray(), Number);
  let top = -1;
  for (let k = 0; k < i.length; k++) if (i[k] > top) top = i[k];
  const at = new Int32Array(top + 1).fill(-1);
  for (let k = 0; k < i.length; k++) at[i[k]] = k;
  return {x, y, c, i, at};
}

function niceStep(span, count) {
  const raw = span / Math.max(1, count), power = 10 ** Math.floor(Math.log10(raw)), unit = raw / power;
  return power * (unit < 1.5 ? 1 : unit < 3.5 ? 2 : unit < 7.5 ? 5 : 10);
}

function create(root) {
  const box = root.querySelector(".plot");
  const canvas = root.querySelector("canvas.points"), axes = root.querySelector("canvas.axes");
  const count = root.querySelector(".count"), legendBox = root.querySelector(".legend");
  const hint = root.querySelector(".hint"), resetButton = root.querySelector(".reset");
  const modes = [...root.querySelectorAll("button.mode")];  // how Shift-drag selects: lasso or box
  let plot = null, renderer = null, data = null, table = null, shownKey = null, drawing = null, send = null;
  let view = null, shownFrame = null;
  let pointer = {clientX: 0, clientY: 0}, quiet = false, width = 0, height = 0;
  const stats = {n: 0, firstPaint: null, draws: 0, ready: false};

  // The data's aspect ratio: x and y were each mapped onto [-1, 1], so one unit of z is as long across as up
  // only when the library stretches x by the extent's width / height (a prior's circle stays round).
  const dataAspect = () => (data.extent[1] - data.extent[0]) / (data.extent[3] - data.extent[2]) || 1;
  // normalised [-1, 1] -> CSS pixels in the canvas: projection * view * model, as the library's own
  // getScreenPosition (model: x times the data's aspect; projection: x over the canvas's)
  function toScreen(nx, ny) {
    const v = view || [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], dar = dataAspect(), var_ = width / height;
    const cx = (v[0] * dar * nx + v[4] * ny + v[12]) / var_, cy = v[1] * dar * nx + v[5] * ny + v[13];
    return [width * (cx + 1) / 2, height * (0.5 - cy / 2)];
  }
  function toNorm(sx, sy) {  // the inverse, for a view without rotation (the library's 2-D camera)
    const v = view || [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], dar = dataAspect(), var_ = width / height;
    return [((2 * sx / width - 1) * var_ - v[12]) / (v[0] * dar), ((1 - 2 * sy / height) - v[13]) / v[5]];
  }

  function fitView() {  // every point (and the decoded grid) in view, with a margin: the start and Reset view
    if (!table || !table.x.length) return;
    let lx = data.image ? -1 : Infinity, hx = data.image ? 1 : -Infinity, ly = lx, hy = hx;
    for (let k = 0; k < table.x.length; k++) {
      const x = table.x[k], y = table.y[k];
      if (x < lx) lx = x; if (x > hx) hx = x; if (y < ly) ly = y; if (y > hy) hy = y;
    }
    const mx = 0.04 * (hx - lx || 1), my = 0.04 * (hy - ly || 1);
    plot.zoomToArea({x: lx - mx, y: ly - my, width: hx - lx + 2 * mx, height: hy - ly + 2 * my});
  }

  function drawAxes() {
    if (!data || !width) return;
    const dpr = window.devicePixelRatio || 1;
    if (axes.width !== Math.round(width * dpr) || axes.height !== Math.round(height * dpr)) {
      axes.width = Math.round(width * dpr); axes.height = Math.round(height * dpr);
      axes.style.width = `${width}px`; axes.style.height = `${height}px`;
    }
    const ctx = axes.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const [x0, x1, y0, y1] = data.extent;
    const [a, b] = [toNorm(0, height), toNorm(width, 0)];  // bottom-left and top-right corners, normalised
    const dataX = (n) => x0 + (n + 1) / 2 * (x1 - x0), dataY = (n) => y0 + (n + 1) / 2 * (y1 - y0);
    const normX = (v) => 2 * (v - x0) / (x1 - x0) - 1, normY = (v) => 2 * (v - y0) / (y1 - y0) - 1;
    ctx.font = "11px sans-serif"; ctx.lineJoin = "round";
    const label = (text, px, py) => {  // dark on a white halo: legible over points and the decoded grid
      ctx.lineWidth = 3; ctx.strokeStyle = "rgba(255,255,255,0.85)"; ctx.strokeText(text, px, py);
      ctx.fillText(text, px, py); ctx.lineWidth = 1; ctx.strokeStyle = "rgba(0,0,0,0.45)";
    };
    ctx.fillStyle = "#444"; ctx.strokeStyle = "rgba(0,0,0,0.45)";
    const lx = dataX(a[0]), hx = dataX(b[0]), ly = dataY(a[1]), hy = dataY(b[1]);
    const sx = niceStep(hx - lx, width / 110), sy = niceStep(hy - ly, height / 80);
    const digits = (s) => Math.max(0, -Math.floor(Math.log10(s) + 1e-9));
    const number = (t, step) => (Math.abs(t) < step / 2 ? 0 : t).toFixed(digits(step)).replace("-", "\u2212");
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    for (let t = Math.ceil(lx / sx) * sx; t <= hx; t += sx) {
      const [px] = toScreen(normX(t), 0);
      if (px < 40) continue;  // the corner is the y axis's
      ctx.beginPath(); ctx.moveTo(px, height); ctx.lineTo(px, height - 4); ctx.stroke();
      label(number(t, sx), px, height - 7);
    }
    ctx.textAlign = "left"; ctx.textBaseline = "middle";
    for (let t = Math.ceil(ly / sy) * sy; t <= hy; t += sy) {
      const [, py] = toScreen(0, normY(t));
      if (py > height - 22 || py < 26) continue;  // clear of the x axis's numbers and the y title
      ctx.beginPath(); ctx.moveTo(0, py); ctx.lineTo(4, py); ctx.stroke();
      label(number(t, sy), 9, py);
    }
    ctx.font = "12px sans-serif"; ctx.fillStyle = "#31333f";
    ctx.textAlign = "right"; ctx.textBaseline = "bottom";
    label(data.titles[0] ? `${data.titles[0]} \u2192` : "", width - 6, height - 22);  // above the x numbers
    ctx.textAlign = "left"; ctx.textBaseline = "top";
    label(data.titles[1] ? `\u2191 ${data.titles[1]}` : "", 6, 6);  // above the y numbers
  }

  function fit() {
    const w = Math.max(100, Math.round(box.getBoundingClientRect().width)), h = data.height;
    if (w === width && h === height) return;
    width = w; height = h;
    canvas.style.height = `${h}px`;
    renderer.resize(w, h);  // the library's shared canvas sized to the plot, not the window: far fewer pixels
    plot.set({width: w, height: h});
    drawAxes();
  }

  function ensure() {
    if (plot) return;
    width = Math.max(100, Math.round(box.getBoundingClientRect().width)); height = data.height;
    canvas.style.height = `${height}px`;
    renderer = createRenderer();
    renderer.resize(width, height);
    plot = createScatterplot({
      canvas, renderer, width, height, aspectRatio: dataAspect(), backgroundColor: [1, 1, 1, 1],
      pointSize: 3, pointSizeSelected: 6, pointOutlineWidth: 3, colorBy: "valueA", lassoOnLongPress: true,
      lassoColor: [0.12, 0.12, 0.12, 1], lassoMinDelay: 0, lassoMinDist: 1, deselectOnDblClick: false,
      deselectOnEscape: false,
    });
    plot.subscribe("draw", () => { stats.draws++; });  // the axes follow the camera ("view"), not every frame
    plot.subscribe("view", (event) => { view = event.view; drawAxes(); moved(); });
    plot.subscribe("pointOver", (k) => {  // not while a button is down: a drag or a lasso is no hover
      if (table && window.mapThumbs && !pointer.buttons) window.mapThumbs.show(table.i[k], pointer);
    });
    plot.subscribe("lassoStart", () => { if (window.mapThumbs) window.mapThumbs.hide(); });
    plot.subscribe("pointOut", () => { if (window.mapThumbs) window.mapThumbs.hide(); });
    // The click that ends a lasso's drag also reaches the library as a click on the point under it: that
    // one-point select would replace the lasso's before Python reads it, so it is not sent.
    let lassoed = false;
    plot.subscribe("lassoEnd", () => { lassoed = true; });
    canvas.addEventListener("pointerdown", () => { lassoed = false; });
    plot.subscribe("select", ({points}) => {
      if (quiet || !table || !send || (lassoed && points.length === 1)) return;
      send.trigger("selected", Array.from(points, (k) => table.i[k]));
    });
    canvas.addEventListener("pointermove", (event) => { pointer = event; });
    for (const name of ["pointerleave", "pointerdown"]) {  // no thumbnail left behind by a drag or a lasso
      canvas.addEventListener(name, () => { if (window.mapThumbs) window.mapThumbs.hide(); });
    }
    new ResizeObserver(() => fit()).observe(box);
    window.addEventListener("resize", () => { width = 0; fit(); });  // after the library's own handler
    resetButton.onclick = () => fitView();
    for (const button of modes) {
      button.onclick = () => {
        const type = button.classList.contains("rectangle") ? "rectangle" : "freeform";
        plot.set({lassoType: type});
        for (const b of modes) b.classList.toggle("on", b === button);
      };
    }
    modes[0].classList.add("on");
  }

  let moving = false, rest = null, movingPoints = MOVING_POINTS;
  function moved() {
    if (!table || table.x.length <= movingPoints || quiet) return;
    if (!moving) {
      moving = true;
      const k = Math.ceil(table.x.length / movingPoints), share = [];
      for (let j = 0; j < table.x.length; j += k) share.push(j);
      quiet = true;
      plot.filter(share, {preventEvent: true});
      quiet = false;
    }
    clearTimeout(rest);
    rest = setTimeout(() => {
      moving = false;
      quiet = true;
      plot.unfilter({preventEvent: true});
      quiet = false;
      mark();
    }, REST_MS);
  }

  function mark() {  // ring the picked point with the library's selection outline, without reporting it
    if (!table) return;
    const k = data.picked != null && data.picked < table.at.length ? table.at[data.picked] : -1;
    quiet = true;
    if (k >= 0) plot.select([k], {preventEvent: true}); else plot.deselect({preventEvent: true});
    quiet = false;
  }

  function legend() {
    legendBox.textContent = "";
    for (const entry of data.legend) {
      const item = document.createElement("span"), sign = document.createElement("i");
      item.className = "item";
      if (entry.ramp) {
        sign.className = "ramp";
        sign.style.background = `linear-gradient(to right, ${entry.ramp.map((c) =>
          `rgb(${c.slice(0, 3).map((v) => Math.round(255 * v)).join(",")})`).join(",")})`;
        item.append(`${entry.name} ${entry.low}`, sign, entry.high);
      } else {
        const rgb = `rgba(${(entry.color || entry.line).slice(0, 3).map((v) => Math.round(255 * v)).join(",")},1)`;
        sign.className = entry.line ? `line${entry.dash ? " dash" : ""}` : "dot";
        if (entry.line) sign.style.borderTopColor = rgb; else sign.style.background = rgb;
        item.append(sign, entry.name);
      }
      legendBox.append(item);
    }
  }

  async function render(next, setStateValue, setTriggerValue) {
    data = next;
    send = {state: setStateValue, trigger: setTriggerValue};
    count.textContent = data.texts.points.replace("{n}", data.n.toLocaleString("en-US"));
    hint.textContent = data.texts.hint;
    resetButton.textContent = data.texts.reset;
    modes[0].textContent = data.texts.lasso;
    modes[1].textContent = data.texts.box;
    if (data.points) {  // held from now on: said at once, so the reruns of this first render do not resend it
      tables.set(data.key, readTable(data.points));
      setStateValue("has", data.key);
    }
    for (const old of [...tables.keys()]) if (old !== data.key) tables.delete(old);  // one table kept
    if (!tables.has(data.key)) { setStateValue("has", null); return; }  // Python thinks we hold it: ask again
    ensure();
    fit();
    legend();
    plot.set({pointColor: data.palette, pointColorActive: data.palette, pointColorHover: data.palette,
              pointSize: data.n > 100000 ? 2 : data.n > 20000 ? 3 : 5});
    plot.drawAnnotations(data.lines.map((l) => ({vertices: l.vertices, lineColor: l.color, lineWidth: l.width})));
    if (data.image !== (plot.__image || null)) {
      plot.__image = data.image;
      plot.set({backgroundImage: data.image ? await plot.createTextureFromUrl(data.image) : null});
    }
    if (shownKey !== data.key && drawing !== data.key) {  // a render while it draws does not draw it twice
      const t = tables.get(data.key), frame = JSON.stringify([data.extent, data.titles]);
      drawing = data.key;
      if (plot.get("aspectRatio") !== dataAspect()) plot.set({aspectRatio: dataAspect()});
      await plot.draw({x: t.x, y: t.y, valueA: t.c}, {zDataType: "categorical"});
      table = t; shownKey = data.key; drawing = null;
      if (frame !== shownFrame) { shownFrame = frame; fitView(); }  // another plane: the camera starts over
      stats.n = t.x.length; stats.ready = true;
      if (stats.firstPaint === null) stats.firstPaint = performance.now();
    }
    mark();
    drawAxes();
  }

  const api = {
    get n() { return stats.n; }, get firstPaint() { return stats.firstPaint; }, get draws() { return stats.draws; },
    get ready() { return stats.ready; },
    get movingPoints() { return movingPoints; }, set movingPoints(n) { movingPoints = n; },
    screenOf(index) {  // client coordinates of the point with INDEX, or null (not drawn, or off the canvas)
      const k = table && index < table.at.length ? table.at[index] : -1;
      if (k < 0) return null;
      const [px, py] = toScreen(table.x[k], table.y[k]), r = canvas.getBoundingClientRect();
      return px < 0 || py < 0 || px > width || py > height ? null : [r.left + px, r.top + py];
    },
    libraryScreenOf(index) {  // the same, by the library's own getScreenPosition (a test compares the two)
      const k = api.at(index);
      if (k < 0) return null;
      const [px, py] = plot.getScreenPosition(k), r = canvas.getBoundingClientRect();
      return [r.left + px, r.top + py];
    },
    at(index) { return table && index < table.at.length ? table.at[index] : -1; },  // its position in the table
    colourOf(index) { const k = api.at(index); return k < 0 ? null : data.palette[table.c[k]]; },
    plot: () => plot,
  };
  return {render, api, stop() { if (plot) plot.destroy(); if (renderer) renderer.destroy(); plot = null; }};
}

export default function (component) {
  const {data, parentElement, setStateValue, setTriggerValue} = component;
  let instance = instances.get(parentElement);
  if (!instance) {
    instance = create(parentElement);
    instances.set(parentElement, instance);
  }
  window.mapCanvas = instance.api;
  instance.render(data, setStateValue, setTriggerValue);
  return () => {  // after a re-render the element is still there; gone, its WebGL context is freed
    setTimeout(() => {
      if (!parentElement.isConnected) { instance.stop(); instances.delete(parentElement); }
    }, 0);
  };
}
