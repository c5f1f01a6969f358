// along.js: latent_pad's move-along control (issue 27), concatenated before pad.js by the component's Python.
//
// `data.along` ({vector, name, t, min, max, step} or null) is a direction d in z. Its slider sets t, and the pad
// decodes z_shown = z + t d instead of z on every move of t, a latent slider or the pad (training.analysis.
// directions.along is the same line). z stays the sliders' own point: a release sends it and t apart.
"use strict";

function createAlong(root, {moved, released}) {
  const $ = sel => root.querySelector(sel);
  const block = $("#along"), input = $("#along-t"), value = $("#along-value");
  const label = $("#along-label"), readout = $("#along-readout");
  let along = null, t = 0, shown = new Float32Array(0);  // along.vector: d; shown: z + t d, what is decoded
  let key = null, fromPython = null, lastSent = null, texts = {};
  const fmt = v => (Math.abs(v) < 1e-9 ? 0 : v).toFixed(2);
  const onGrid = v => Number(Math.min(along.max, Math.max(along.min, Math.round(v / along.step) * along.step))
    .toFixed(4));

  function sync() {
    block.hidden = !along;
    if (!along) return;
    input.value = String(t);
    value.textContent = fmt(t);
    readout.textContent = String(texts.along_readout || "t = {t}").replace("{t}", () => fmt(t));
  }

  input.addEventListener("input", () => { if (along) { t = parseFloat(input.value); sync(); moved(); } });
  input.addEventListener("change", () => { if (along) released(); });

  return {
    // The direction Python sent (or null). Its t is taken when it is new, or changed since the last data and is
    // not the echo of our own release (which must not move t while it is being dragged).
    apply(a, zDim, rebuilt, words) {
      texts = words;
      if (!a || !Array.isArray(a.vector) || a.vector.length !== zDim) {
        along = null; key = null; fromPython = null; lastSent = null;
        sync();
        return;
      }
      const k = JSON.stringify([a.name, a.vector]), fresh = rebuilt || k !== key;
      along = {vector: Float32Array.from(a.vector), name: String(a.name), min: a.min, max: a.max, step: a.step};
      if (shown.length !== zDim) shown = new Float32Array(zDim);
      Object.assign(input, {min: a.min, max: a.max, step: a.step});
      const name = String(texts.along || "{name}").replace("{name}", () => along.name);
      label.textContent = name;
      input.setAttribute("aria-label", name);
      const echo = lastSent !== null && Math.abs(a.t - lastSent) <= a.step / 2 + 1e-6;
      if (fresh || (a.t !== fromPython && !echo)) t = onGrid(Number(a.t) || 0);
      if (fresh) lastSent = null;
      key = k; fromPython = a.t;
      sync();
    },
    decoded(z) {  // z_shown = z + t d along a direction, else z itself
      if (!along) return z;
      const d = along.vector;
      for (let i = 0; i < z.length; i++) shown[i] = z[i] + t * d[i];
      return shown;
    },
    sent() {  // t for a release (on the grid), or null without a direction
      if (!along) return null;
      t = onGrid(t);
      sync();
      return (lastSent = t);
    },
    get t() { return along ? t : null; },
    get info() { return along && {name: along.name, vector: Array.from(along.vector), t}; },
  };
}
