// map_thumbs: draw the hovered dot's test image beside the pointer (Streamlit components v2).
//
// Python (explorer/map_thumbs.py) sends the test images once per test set as one PNG atlas: tiles of
// `side` pixels, `cols` per row, tile i at row floor(i / cols), column i % cols. This listens to the
// latent map's Plotly events (graphDiv.on("plotly_hover"), Plotly's public API) on the chart whose
// Streamlit key is `chart`; a dot's customdata is its test index. It reports two state values (the regl map, explorer/widgets/map_canvas, calls show and hide itself):
//   state "has"       the atlas_id whose atlas it holds (then Python stops sending it)
//   state "captions"  the captions_id of the captions it holds (likewise)
"use strict";

const atlases = new Map();         // atlas_id -> loaded HTMLImageElement, kept across renders and remounts
const captionLists = new Map();    // captions_id -> the captions (the latest one only)
const instances = new WeakMap();   // parentElement -> its instance

function create(root) {
  const box = root.querySelector(".thumb");
  const canvas = root.querySelector(".tile");
  const caption = root.querySelector(".caption");
  let data = null, bound = null, timer = null, shown = null;

  function show(index, event) {
    const image = data && atlases.get(data.atlas_id);
    if (!image || !image.complete || !(index >= 0 && index < data.n)) return hide();
    const s = data.side, w = Math.max(s, Math.round(data.width / s) * s);
    canvas.width = w; canvas.height = w;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(image, (index % data.cols) * s, Math.floor(index / data.cols) * s, s, s, 0, 0, w, w);
    const captions = data.captions_id && captionLists.get(data.captions_id);
    const label = captions && captions[index];
    caption.textContent = label ? `${index} · ${label}` : String(index);
    box.hidden = false;
    const x = event && event.clientX != null ? event.clientX : 0, y = event && event.clientY != null ? event.clientY : 0;
    const bw = box.offsetWidth, bh = box.offsetHeight;
    // Above the pointer, centred (Plotly's own hover label is off for these dots: map_thumbs.quiet_hover).
    box.style.left = `${Math.max(4, Math.min(x - bw / 2, window.innerWidth - bw - 4))}px`;
    box.style.top = `${y - bh - 30 >= 4 ? y - bh - 30 : Math.min(y + 30, window.innerHeight - bh - 4)}px`;
    shown = index;
  }

  function hide() { box.hidden = true; shown = null; }

  function onHover(ev) {
    const point = ev && ev.points && ev.points[0];
    if (!point) return;
    let index = point.customdata;
    if (Array.isArray(index)) index = index[0];
    show(Number(index), ev.event);
  }

  function attach() {  // the chart is replaced when the page redraws it: follow the current one
    const graph = data && document.querySelector(`.st-key-${data.chart} .js-plotly-plot`);
    if (!graph || graph === bound || typeof graph.on !== "function") return;
    bound = graph;
    graph.on("plotly_hover", onHover);
    graph.on("plotly_unhover", hide);
  }

  function render(next, setStateValue) {
    data = next;
    if (data.captions_id && data.captions) {
      captionLists.clear();
      captionLists.set(data.captions_id, data.captions);
      setStateValue("captions", data.captions_id);
    } else if (data.captions_id && !captionLists.has(data.captions_id)) {
      setStateValue("captions", null);  // Python thinks we hold them: ask again
    }
    if (!atlases.has(data.atlas_id)) {
      if (!data.atlas) { setStateValue("has", null); return; }  // Python thinks we hold it: ask again
      // Held from the moment it arrives (decoding takes a while): said at once, in the same render as the
      // captions and the map's points, so that the reruns these answers cause do not send it again.
      const image = new Image();
      image.src = data.atlas;
      atlases.set(data.atlas_id, image);
      setStateValue("has", data.atlas_id);
    }
    attach();
    clearInterval(timer);
    timer = setInterval(attach, 250);
  }

  const api = {
    get shown() { return shown; },
    get ready() { return !!(data && atlases.has(data.atlas_id) && atlases.get(data.atlas_id).complete); },
    get bound() { return !!bound; },
    get size() { return canvas.width; },
    get visible() { return !box.hidden; },
    show, hide,
    pixels() { return canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data; },
  };
  return {render, api, stop() { clearInterval(timer); hide(); }};
}

export default function (component) {
  const {data, parentElement, setStateValue} = component;
  let instance = instances.get(parentElement);
  if (!instance) {
    instance = create(parentElement);
    instances.set(parentElement, instance);
  }
  window.mapThumbs = instance.api;
  instance.render(data, setStateValue);
  return () => {
    instance.stop();
    if (window.mapThumbs === instance.api) delete window.mapThumbs;
  };
}
