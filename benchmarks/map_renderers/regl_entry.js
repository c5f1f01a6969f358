// regl-scatterplot as a minimal Streamlit components v2 front end: the app's vendored library
// (explorer/widgets/map_canvas/regl_scatterplot.js, which defines `reglScatterplot`) is put before this file.
// data.points: an Arrow table (components v2 sends a DataFrame as Arrow bytes, not JSON) with float32 columns
// x, y in [-1, 1] and an int column c (the colour class); data.colors: one CSS colour per class.
// window.mapBench counts the library's own 'draw' events and notes when draw() of all points resolved.
const {createScatterplot, createRenderer} = reglScatterplot;

export default function ({ data, parentElement }) {
  const canvas = parentElement.querySelector("canvas");
  let plot = parentElement.__plot;
  const bench = (window.mapBench = window.mapBench || { draws: 0, n: 0, firstPaint: null });
  if (!plot) {
    const { width } = canvas.getBoundingClientRect();
    const { fitRenderer, ...options } = data.options || {};
    // fitRenderer: the shared WebGL canvas the library draws into (and copies from every frame) sized to the plot,
    // not to the window (its default); a window resize sets it back to the window's size
    let renderer;
    if (fitRenderer) { renderer = createRenderer(); renderer.resize(width, 600); }
    plot = createScatterplot({ canvas, width, height: 600, pointSize: 3, colorBy: "valueA", renderer,
                               pointColor: data.colors, lassoOnLongPress: true, ...options });
    plot.subscribe("draw", () => { bench.draws++; });
    parentElement.__plot = plot;
  }
  const t = data.points;
  const x = t.getChild("x").toArray(), y = t.getChild("y").toArray();
  const c = Float32Array.from(t.getChild("c").toArray(), Number);
  // draw() resolves once the points have been drawn (the library's README): that moment is the first paint
  plot.draw({ x, y, valueA: c }, { zDataType: "categorical" }).then(() => {
    bench.n = x.length;
    if (bench.firstPaint === null) bench.firstPaint = performance.now();
  });
  return () => {};
}
