// prepare.js: the drawing prepared as the model's data was made, in the browser: training/data/preprocess.py's
// prepare(image, dataset, shape) step by step (the same names), for draw_pad's live preview. The source is the same
// 112x112 drawing Python receives as a PNG (dark ink on white, grey), so the steps see the same pixels.
//
// Resampling mirrors PIL's Image.resize on a float ("F") image, which prepare uses: separable filters with PIL's
// coefficients (box when shrinking, bilinear, with the support widened by the scale as PIL does), a horizontal
// pass stored as float32, then a vertical one. What may still differ from Python, by float rounding only (~1e-6):
// the grey level (Python weighs R, G, B by the ITU-R 601 luminance in float32; here R, G and B are equal and
// read as R / 255), sums taken in another order, and the centre of mass in float64 here where numpy sums float32
// first; a centre of mass lying within ~1e-6 of half a pixel could round to the other whole-pixel shift.
"use strict";

const PREPARE = {MNIST_BOX: 20, MNIST_FIELD: 28, INK_SHARE: 0.1, BLANK: 0.05, PAPER_QUANTILE: 0.99};

// Python's round(): halves go to the even neighbour.
function pyRound(v) {
  const f = Math.floor(v), d = v - f;
  if (d !== 0.5) return d > 0.5 ? f + 1 : f;
  return f % 2 === 0 ? f : f + 1;
}

function median(values) {  // numpy's median: the middle value, or the mean of the two middle ones
  const a = Float64Array.from(values).sort(), n = a.length;
  return n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

function quantile(values, q) {  // numpy's quantile: linear between the two nearest of the sorted values
  const a = Float64Array.from(values).sort(), pos = (a.length - 1) * q, lo = Math.floor(pos);
  return lo + 1 < a.length ? a[lo] + (a[lo + 1] - a[lo]) * (pos - lo) : a[lo];
}

// A plane: {v: Float32Array(h * w), h, w}, row-major.
const plane = (h, w) => ({v: new Float32Array(h * w), h, w});

// The ink, bright on dark, and whether it was inverted: a light background (the border's median above 0.5); the
// paper's own level (at PAPER_QUANTILE of the border's paper side, below the middle between its median ink and full
// ink: strokes touching the edge are not paper) taken off and the rest stretched back to [0, 1].
function inkOf(grey) {
  const {v, h, w} = grey, border = [];
  for (let x = 0; x < w; x++) border.push(v[x]);
  for (let x = 0; x < w; x++) border.push(v[(h - 1) * w + x]);
  for (let y = 0; y < h; y++) border.push(v[y * w]);
  for (let y = 0; y < h; y++) border.push(v[y * w + w - 1]);
  const inverted = median(border) > 0.5;
  const ink = plane(h, w);
  for (let i = 0; i < v.length; i++) ink.v[i] = inverted ? 1 - v[i] : v[i];
  const borderInk = inverted ? border.map(x => 1 - x) : border, middle = (median(borderInk) + 1) / 2;
  const paper = quantile(borderInk.filter(x => x <= middle), PREPARE.PAPER_QUANTILE);
  if (paper <= 0) return {ink, inverted};
  for (let i = 0; i < ink.v.length; i++) {
    ink.v[i] = paper >= 1 ? 0 : Math.min(1, Math.max(0, (ink.v[i] - Math.fround(paper)) / Math.fround(1 - paper)));
  }
  return {ink, inverted};
}

const maxOf = p => p.v.reduce((m, x) => (x > m ? x : m), -Infinity);

// [top, left, bottom, right], ends excluded, of the pixels holding more than INK_SHARE of the most ink.
function inkBox(ink) {
  const {v, h, w} = ink, limit = PREPARE.INK_SHARE * maxOf(ink);
  let top = h, left = w, bottom = -1, right = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (v[y * w + x] > limit) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return [top, left, bottom + 1, right + 1];
}

function crop(p, [top, left, bottom, right]) {
  const out = plane(bottom - top, right - left);
  for (let y = 0; y < out.h; y++) out.v.set(p.v.subarray((top + y) * p.w + left, (top + y) * p.w + right), y * out.w);
  return out;
}

// SIZE [h, w] scaled by one factor so that it just fits LIMIT (the longer side fills it; at least 1 pixel).
function fitted([h, w], [lh, lw]) {
  const f = Math.min(lh / h, lw / w);
  return [Math.max(1, Math.min(lh, pyRound(h * f))), Math.max(1, Math.min(lw, pyRound(w * f)))];
}

const FILTERS = {
  BOX: {support: 0.5, f: x => (x > -0.5 && x <= 0.5 ? 1 : 0)},
  BILINEAR: {support: 1, f: x => { x = Math.abs(x); return x < 1 ? 1 - x : 0; }},
};

// PIL's precompute_coeffs: for each output pixel, the first input pixel and its normalised weights.
function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = filter.support * filterscale;
  const rows = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale, ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = new Float64Array(Math.max(xmax, 0));
    let ww = 0;
    for (let x = 0; x < xmax; x++) { k[x] = filter.f((x + xmin - center + 0.5) * ss); ww += k[x]; }
    if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    rows.push({xmin, k});
  }
  return rows;
}

// P resized to [oh, ow] as PIL resizes a float image (a horizontal pass, then a vertical one), clipped to [0, 1].
// RESAMPLE names the filter; null: box when shrinking both sides, else bilinear (preprocess.resized's choice).
function resized(p, [oh, ow], resample = null) {
  if (p.h === oh && p.w === ow) return p;
  if (resample === null) resample = oh <= p.h && ow <= p.w ? "BOX" : "BILINEAR";
  const filter = FILTERS[resample];
  let cur = p;
  if (ow !== cur.w) {
    const cs = coefficients(cur.w, ow, filter), out = plane(cur.h, ow);
    for (let y = 0; y < cur.h; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const {xmin, k} = cs[xx];
        let s = 0;
        for (let x = 0; x < k.length; x++) s += cur.v[y * cur.w + x + xmin] * k[x];
        out.v[y * ow + xx] = s;
      }
    }
    cur = out;
  }
  if (oh !== cur.h) {
    const cs = coefficients(cur.h, oh, filter), out = plane(oh, cur.w);
    for (let yy = 0; yy < oh; yy++) {
      const {xmin, k} = cs[yy];
      for (let x = 0; x < cur.w; x++) {
        let s = 0;
        for (let y = 0; y < k.length; y++) s += cur.v[(y + xmin) * cur.w + x] * k[y];
        out.v[yy * cur.w + x] = s;
      }
    }
    cur = out;
  }
  for (let i = 0; i < cur.v.length; i++) cur.v[i] = Math.min(1, Math.max(0, cur.v[i]));
  return cur;
}

const clamped = (start, length, frame) => Math.min(Math.max(start, 0), frame - length);

// Where PATCH's top-left corner goes so that its centre of mass (pixel centres at index + 0.5) lands on FRAME's
// centre: rounded to whole pixels (halves up), clamped so the patch stays whole inside.
function massOffset(patch, [fh, fw]) {
  let total = 0, row = 0, col = 0;
  for (let y = 0; y < patch.h; y++) {
    for (let x = 0; x < patch.w; x++) {
      const m = patch.v[y * patch.w + x];
      total += m; row += m * (y + 0.5); col += m * (x + 0.5);
    }
  }
  const top = Math.floor(fh / 2 - row / total + 0.5), left = Math.floor(fw / 2 - col / total + 0.5);
  return [clamped(top, patch.h, fh), clamped(left, patch.w, fw)];
}

const boxOffset = ([h, w], [fh, fw]) => [Math.floor((fh - h) / 2), Math.floor((fw - w) / 2)];

function paste(patch, [fh, fw], [top, left]) {
  const field = plane(fh, fw);
  for (let y = 0; y < patch.h; y++) {
    field.v.set(patch.v.subarray(y * patch.w, (y + 1) * patch.w), (top + y) * fw + left);
  }
  return field;
}

// The grey plane repeated into the model's C channels: x as Float32Array(C * H * W), C order.
function withChannels(p, channels) {
  const x = new Float32Array(channels * p.v.length);
  for (let c = 0; c < channels; c++) x.set(p.v, c * p.v.length);
  return x;
}

// GREY (the drawing, 1 = paper) prepared in STYLE for a model of SHAPE [C, H, W]: {x, inverted, box}, or null
// for a blank drawing (Python refuses it with a sentence).
function prepareDrawing(grey, style, [channels, height, width]) {
  if (style === "photo" || style === "plain") {  // a square drawing is its own centre square; nothing inverted
    const stretched = resized(grey, [height, width], style === "plain" ? "BILINEAR" : null);
    return {x: withChannels(stretched, channels), inverted: false, box: null};
  }
  const {ink, inverted} = inkOf(grey);
  if (maxOf(ink) < PREPARE.BLANK) return null;
  if (style === "shapes") {  // the strongest ink made 1; a square drawing is of a square model's aspect already
    const top = maxOf(ink);
    for (let i = 0; i < ink.v.length; i++) ink.v[i] = Math.fround(ink.v[i] / top);
    return {x: withChannels(resized(ink, [height, width]), channels), inverted, box: null};
  }
  const box = inkBox(ink), part = crop(ink, box);
  let field;
  if (style === "mnist") {
    const inner = [pyRound(height * PREPARE.MNIST_BOX / PREPARE.MNIST_FIELD),
                   pyRound(width * PREPARE.MNIST_BOX / PREPARE.MNIST_FIELD)];
    const patch = resized(part, fitted([part.h, part.w], inner));
    field = paste(patch, [height, width], massOffset(patch, [height, width]));
  } else {  // digits and fashion: the box fills the frame along its longer side, centred by the box
    const patch = resized(part, fitted([part.h, part.w], [height, width]));
    field = paste(patch, [height, width], boxOffset([patch.h, patch.w], [height, width]));
  }
  return {x: withChannels(field, channels), inverted, box};
}
